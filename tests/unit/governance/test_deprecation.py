"""Deprecated operations: the contract carries deprecated/x-sunset/x-successor, every response of
the operation (errors included) carries Deprecation, Sunset and Link, and the diff accepts its
removal only after the sunset."""

from __future__ import annotations

import datetime as dt
from email.utils import parsedate_to_datetime
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar, get

from shared.appfactory import build_layer_app
from shared.contracts import Surface, surface_document
from shared.deprecation import deprecated
from shared.governance import Contract, diff_contracts
from shared.routes import READ, problems, requires
from shared.settings import Settings

SINCE = dt.date(2025, 7, 1)
SUNSET = dt.date(2026, 6, 30)
SUCCESSOR = "/demo/v2/things"
SURFACE = Surface(
    name="demo", prefix="/demo/v1", title="demo", description="demo", contract="demo.v1.yaml"
)


@get(
    "/demo/v1/things",
    operation_id="listThings",
    tags=["Demo"],
    security=[],
    sync_to_thread=False,
    **deprecated(since=SINCE, sunset=SUNSET, successor=SUCCESSOR),
)
def list_things() -> dict[str, str]:
    return {"thing": "one"}


@get(
    "/demo/v1/secret-things",
    operation_id="listSecretThings",
    tags=["Demo"],
    security=requires("plant.read"),
    responses=problems(READ),
    sync_to_thread=False,
    **deprecated(since=SINCE, sunset=SUNSET),
)
def list_secret_things() -> dict[str, str]:
    return {"thing": "secret"}


@get("/demo/v1/current", operation_id="current", tags=["Demo"], security=[], sync_to_thread=False)
def current() -> dict[str, str]:
    return {"thing": "current"}


@pytest.fixture
def app() -> Litestar:
    return build_layer_app(
        layer="demo",
        settings=Settings(),
        surfaces=[SURFACE],
        route_handlers=[list_things, list_secret_things, current],
    )


async def _get(app: Litestar, path: str) -> httpx.Response:
    # The lifespan in the test's own task: it closes what the app opened.
    async with app.lifespan():
        transport = httpx.ASGITransport(app=cast("Any", app))  # Litestar's ASGI types are narrower
        async with httpx.AsyncClient(transport=transport, base_url="http://demo") as client:
            return await client.get(path)


async def test_a_deprecated_operation_answers_with_deprecation_sunset_and_link(
    app: Litestar,
) -> None:
    response = await _get(app, "/demo/v1/things")
    assert response.status_code == 200
    since = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    assert response.headers["Deprecation"] == f"@{int(since.timestamp())}"  # RFC 9745
    assert parsedate_to_datetime(response.headers["Sunset"]) == dt.datetime(
        2026, 6, 30, tzinfo=dt.UTC
    )  # RFC 8594 HTTP-date
    assert response.headers["Sunset"] == "Tue, 30 Jun 2026 00:00:00 GMT"
    assert response.headers["Link"] == f'<{SUCCESSOR}>; rel="successor-version"'


async def test_its_error_responses_carry_the_headers_too(app: Litestar) -> None:
    response = await _get(app, "/demo/v1/secret-things")  # no token
    assert response.status_code == 401
    assert response.headers["Deprecation"].startswith("@")
    assert response.headers["Sunset"] == "Tue, 30 Jun 2026 00:00:00 GMT"
    assert "Link" not in response.headers  # no successor declared


async def test_an_operation_not_deprecated_carries_none(app: Litestar) -> None:
    response = await _get(app, "/demo/v1/current")
    assert response.status_code == 200
    assert not {"deprecation", "sunset", "link"} & set(response.headers)


def _document(app: Litestar) -> dict[str, Any]:
    return surface_document(app, SURFACE)


def test_the_contract_carries_the_deprecation(app: Litestar) -> None:
    operation = _document(app)["paths"]["/demo/v1/things"]["get"]
    assert operation["deprecated"] is True
    assert operation["x-sunset"] == "2026-06-30"
    assert operation["x-deprecated-since"] == "2025-07-01"
    assert operation["x-successor"] == SUCCESSOR
    headers = operation["responses"]["200"]["headers"]
    assert {"Deprecation", "Sunset", "Link"} <= set(headers)
    assert "x-sunset" not in _document(app)["paths"]["/demo/v1/current"]["get"]


def test_the_diff_accepts_removal_only_after_the_sunset(app: Litestar) -> None:
    base = _document(app)
    revision = _document(app)
    del revision["paths"]["/demo/v1/things"]
    early = diff_contracts(Contract(base, "b"), Contract(revision, "r"), today=dt.date(2026, 6, 29))
    assert [(c.rule, c.level.value) for c in early] == [
        ("operation-removed-before-sunset", "error")
    ]
    late = diff_contracts(Contract(base, "b"), Contract(revision, "r"), today=SUNSET)
    assert [(c.rule, c.level.value) for c in late] == [("operation-removed-after-sunset", "info")]


def test_a_sunset_must_follow_the_deprecation() -> None:
    with pytest.raises(ValueError, match="must come after"):
        deprecated(since=SUNSET, sunset=SINCE)


def test_the_handlers_own_opt_is_kept() -> None:
    kwargs = deprecated(since=SINCE, sunset=SUNSET, opt={"idempotent": True})
    assert kwargs["opt"]["idempotent"] is True
    assert kwargs["deprecated"] is True
