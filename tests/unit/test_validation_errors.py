"""Validation answers 422 problem+json whose ``errors[]`` lists every error with its location.

msgspec stops at the first error; :mod:`shared.errors` re-validates a JSON body field by field
against the handler's ``data`` type, so one answer names every wrong, missing and unknown field.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

import httpx
import msgspec
import pytest
from litestar import Litestar, get, post
from litestar.params import Body, HeaderParameter, QueryParameter

from shared.auth import DevIssuer
from shared.composition import create_all_in_one
from shared.errors import PROBLEM_JSON, PROBLEM_TYPE_BASE, exception_handlers
from shared.models import QgateStruct, RequestStruct
from shared.settings import Settings


class Line(RequestStruct, frozen=True, kw_only=True):
    sku: Annotated[str, msgspec.Meta(min_length=1, max_length=20)]
    qty: Annotated[int, msgspec.Meta(ge=1)]
    lot_number: str | None = None


class Address(RequestStruct, frozen=True, kw_only=True):
    plant: str
    dock: int = 1


class Window(RequestStruct, frozen=True, kw_only=True):
    start: int
    end: int

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("end is before start")


class Order(RequestStruct, frozen=True, kw_only=True):
    note: Annotated[str, msgspec.Meta(max_length=10)] = ""
    items: Annotated[list[Line], msgspec.Meta(max_length=5)]
    ship_to: Address | None = None
    tags: dict[str, int] = msgspec.field(default_factory=dict)
    window: Window | None = None


class Accepted(QgateStruct, frozen=True, kw_only=True):
    count: int


@post("/orders", status_code=201, sync_to_thread=False)
def create_order(
    data: Annotated[Order, Body()],
    request_id: Annotated[str, HeaderParameter(name="X-Request-Id", min_length=4)],
    limit: Annotated[int, QueryParameter(ge=1, le=10)] = 5,
) -> Accepted:
    return Accepted(count=len(data.items))


@post("/lines", status_code=201, sync_to_thread=False)
def create_lines(data: Annotated[list[Line], Body()]) -> Accepted:
    return Accepted(count=len(data))


@post("/broken", status_code=201, sync_to_thread=False)
def broken(data: Annotated[Line, Body()]) -> Accepted:
    b"\xff".decode("utf-8")  # a server bug, not the client's body
    return Accepted(count=0)


@get("/search", sync_to_thread=False)
def search(
    limit: Annotated[int, QueryParameter(ge=1, le=10)],
    page: Annotated[int, QueryParameter(ge=1)] = 1,
) -> Accepted:
    return Accepted(count=limit * page)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    app = Litestar(
        route_handlers=[create_order, create_lines, search, broken],
        exception_handlers=exception_handlers(),
        openapi_config=None,
        logging_config=None,
    )
    transport = httpx.ASGITransport(app=cast("Any", app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


HEADERS = {"X-Request-Id": "req-1", "Content-Type": "application/json"}


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


def _errors(response: httpx.Response) -> dict[str, str]:
    problem = _problem(response, 422)
    assert problem["type"] == PROBLEM_TYPE_BASE + "validation-failed"
    return {error["location"]: error["message"] for error in problem["errors"]}


async def test_a_valid_body_is_accepted(client: httpx.AsyncClient) -> None:
    body = {"items": [{"sku": "A", "qty": 1}], "shipTo": {"plant": "1000"}}
    response = await client.post("/orders", json=body, headers=HEADERS)
    assert response.status_code == 201, response.text
    assert response.json() == {"count": 1}


async def test_every_body_error_is_listed_with_its_location(client: httpx.AsyncClient) -> None:
    body = {
        "note": "far too long for ten",
        "items": [
            {"sku": "A", "qty": 1},
            {"sku": "", "qty": 0},
            {"sku": "C", "qty": "many", "colour": "red"},
            {"qty": 2},
        ],
        "shipTo": {"plant": 1000},
        "tags": {"a": 1, "b": "two"},
        "x": True,
    }
    errors = _errors(await client.post("/orders", json=body, headers=HEADERS))
    assert errors == {
        "body.note": "Expected `str` of length <= 10",
        "body.items[1].sku": "Expected `str` of length >= 1",
        "body.items[1].qty": "Expected `int` >= 1",
        "body.items[2].qty": "Expected `int`, got `str`",
        "body.items[2].colour": "Unknown field",
        "body.items[3].sku": "Missing required field",
        "body.shipTo.plant": "Expected `str`, got `int`",
        "body.tags.b": "Expected `int`, got `str`",
        "body.x": "Unknown field",
    }


async def test_missing_required_fields_and_wrong_types(client: httpx.AsyncClient) -> None:
    errors = _errors(await client.post("/orders", json={"note": 5, "shipTo": []}, headers=HEADERS))
    assert errors == {
        "body.note": "Expected `str`, got `int`",
        "body.items": "Missing required field",
        "body.shipTo": "Expected `object`, got `array`",
    }


async def test_struct_level_checks_run_once_its_fields_are_valid(
    client: httpx.AsyncClient,
) -> None:
    body = {"items": [{"sku": "A", "qty": 0}], "window": {"start": 5, "end": 1}}
    errors = _errors(await client.post("/orders", json=body, headers=HEADERS))
    assert errors == {
        "body.items[0].qty": "Expected `int` >= 1",
        "body.window": "end is before start",
    }


async def test_container_constraints_are_checked_with_the_items(
    client: httpx.AsyncClient,
) -> None:
    items = [{"sku": "A", "qty": 1}] * 5 + [{"sku": "B", "qty": -1}]
    errors = _errors(await client.post("/orders", json={"items": items}, headers=HEADERS))
    assert errors == {
        "body.items[5].qty": "Expected `int` >= 1",
        "body.items": "Expected `array` of length <= 5",
    }


async def test_a_top_level_array_body(client: httpx.AsyncClient) -> None:
    body = [{"sku": "A", "qty": 0}, {"sku": "B"}, "C"]
    errors = _errors(await client.post("/lines", json=body, headers=HEADERS))
    assert errors == {
        "body[0].qty": "Expected `int` >= 1",
        "body[1].qty": "Missing required field",
        "body[2]": "Expected `object`, got `str`",
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[1, 2]", "Expected `object`, got `array`"),
        (b"null", "Expected `object`, got `null`"),
        (b"", "A JSON request body is required"),
    ],
)
async def test_the_body_itself_has_the_wrong_shape(
    client: httpx.AsyncClient, content: bytes, message: str
) -> None:
    errors = _errors(await client.post("/orders", content=content, headers=HEADERS))
    assert errors == {"body": message}


async def test_the_error_list_is_bounded(client: httpx.AsyncClient) -> None:
    body = {"items": [{"sku": "", "qty": 0}] * 5, **{f"extra{n}": n for n in range(100)}}
    problem = _problem(await client.post("/orders", json=body, headers=HEADERS), 422)
    assert len(problem["errors"]) == 50
    assert "first 50" in problem["detail"]


@pytest.mark.parametrize(
    "content",
    [b"{bad", b'{"note": "x"', b"\xff\xfe", b'{"items": [}', b'{"note": "\xff", "items": []}'],
)
async def test_invalid_json_is_a_client_error_not_a_crash(
    client: httpx.AsyncClient, content: bytes
) -> None:
    response = await client.post("/orders", content=content, headers=HEADERS)
    assert response.status_code in (400, 422), response.text
    problem = _problem(response, response.status_code)
    assert "JSON" in (problem.get("detail") or "") + str(problem.get("errors"))


async def test_deeply_nested_json_is_a_client_error(client: httpx.AsyncClient) -> None:
    content = b'{"items": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = await client.post("/orders", content=content, headers=HEADERS)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == PROBLEM_JSON


async def test_parameter_errors_keep_their_locations(client: httpx.AsyncClient) -> None:
    errors = _errors(await client.get("/search", params={"limit": "0", "page": "x"}))
    assert set(errors) == {"query.limit", "query.page"}


async def test_a_missing_query_parameter_is_located(client: httpx.AsyncClient) -> None:
    errors = _errors(await client.get("/search"))
    assert errors == {"query.limit": "Missing required query parameter"}


async def test_parameter_and_body_errors_are_listed_together(client: httpx.AsyncClient) -> None:
    headers = {**HEADERS, "X-Request-Id": "r"}
    response = await client.post(
        "/orders", params={"limit": "99"}, json={"items": [], "x": 1}, headers=headers
    )
    errors = _errors(response)
    assert set(errors) == {"header.X-Request-Id", "query.limit", "body.x"}


async def test_json_body_errors_stay_distinct_from_server_bugs(client: httpx.AsyncClient) -> None:
    response = await client.post("/broken", json={"sku": "A", "qty": 1})
    problem = _problem(response, 500)
    assert problem["type"] == PROBLEM_TYPE_BASE + "internal-error"


async def test_the_idempotency_pipeline_refuses_undecodable_bodies_as_client_errors() -> None:
    """The all-in-one app: the pipeline fingerprints the body before Litestar decodes it."""
    settings = Settings()
    issuer = DevIssuer(
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        clients=settings.dev_issuer.clients,
    )
    app = create_all_in_one(settings, issuer=issuer)
    token = issuer.issue("operations").access_token
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with (
        _lifespan(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=cast("Any", app)), base_url="http://test"
        ) as http,
    ):
        for key, content in (
            ("a", b'{"note": "\xff"}'),
            ("b", b'{"note": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        ):
            response = await http.post(
                "/system/erp/v1/connectivity-checks",
                content=content,
                headers={**headers, "Idempotency-Key": key},
            )
            problem = _problem(response, 400)
            assert problem["type"] == PROBLEM_TYPE_BASE + "malformed-body"
        response = await http.post(
            "/system/erp/v1/connectivity-checks",
            json={"note": 5, "colour": "red"},
            headers={**headers, "Idempotency-Key": "c"},
        )
        assert _errors(response) == {
            "body.note": "Expected `str`, got `int`",
            "body.colour": "Unknown field",
        }


@contextlib.asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    """Drive the ASGI lifespan (httpx.ASGITransport runs none)."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    task = asyncio.create_task(app({"type": "lifespan", "state": {}}, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    assert (await from_app.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        assert (await from_app.get())["type"] == "lifespan.shutdown.complete"
        await task
