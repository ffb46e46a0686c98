"""The committed contracts: equal to the code, and every operation declared the way qgate needs.

- ``openapi/**`` is what ``qgate contracts export`` writes from the code today (no drift);
- every operation has an ``operationId``, tags, exactly one security requirement with declared
  scopes, problem+json for every error it lists, a 429 with ``Retry-After`` and ``RateLimit``,
  the correlation headers on every response, a required ``Idempotency-Key`` header when unsafe,
  and closed (``additionalProperties: false``) request body objects;
- in the live apps, every handler in the schema declares its one security requirement itself:
  OpenAPI security requirements add up across app, router and handler and mean OR, so one
  declared higher up would let a token without the handler's scopes through.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from litestar import Litestar
from litestar.handlers import HTTPRouteHandler

from shared.auth import SCOPES
from shared.cli import contract_apps
from shared.contracts import Surface, check_contracts
from shared.errors import PROBLEM_JSON
from shared.governance import committed_contracts

OPENAPI_DIR: Final = Path(__file__).resolve().parents[2] / "openapi"
# The committed contracts, without the released baselines and the waiver file beside them.
CONTRACTS: Final = committed_contracts(OPENAPI_DIR)
UNSAFE: Final = frozenset({"post", "put", "patch", "delete"})
METHODS: Final = frozenset({"get", "head", "options", "trace", *UNSAFE})

Operation = tuple[str, str, dict[str, Any]]


@pytest.fixture(scope="module")
def apps() -> list[tuple[Litestar, list[Surface]]]:
    return [(app, list(surfaces)) for app, surfaces in contract_apps()]


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def _operations(document: dict[str, Any]) -> Iterator[Operation]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def _contract_id(path: Path) -> str:
    return str(path.relative_to(OPENAPI_DIR))


def test_every_surface_has_a_committed_contract(apps: list[tuple[Litestar, list[Surface]]]) -> None:
    expected = {surface.contract for _, surfaces in apps for surface in surfaces}
    assert expected == {_contract_id(path) for path in CONTRACTS}


def test_the_committed_contracts_equal_the_code(apps: list[tuple[Litestar, list[Surface]]]) -> None:
    drifts = check_contracts(apps, OPENAPI_DIR)
    assert not drifts, "run `qgate contracts export`:\n" + "\n".join(
        f"{drift.contract}:\n{drift.diff}" for drift in drifts
    )


@pytest.fixture(params=CONTRACTS, ids=_contract_id)
def contract(request: pytest.FixtureRequest) -> dict[str, Any]:
    document = _load(request.param)
    assert list(_operations(document)), f"{request.param} has no operations"
    return document


def test_operations_are_named_and_tagged(contract: dict[str, Any]) -> None:
    ids = []
    declared_tags = {tag["name"] for tag in contract.get("tags", [])}
    for path, method, operation in _operations(contract):
        assert operation.get("operationId"), f"{method.upper()} {path} has no operationId"
        ids.append(operation["operationId"])
        assert operation.get("tags"), f"{method.upper()} {path} has no tags"
        assert set(operation["tags"]) <= declared_tags, f"{method.upper()} {path}: undeclared tag"
    assert len(ids) == len(set(ids)), "operationIds must be unique"


def test_one_security_requirement_with_declared_scopes(contract: dict[str, Any]) -> None:
    schemes = contract["components"]["securitySchemes"]
    assert "security" not in contract, "document-level security adds to every operation's"
    for path, method, operation in _operations(contract):
        requirements = operation.get("security")
        assert isinstance(requirements, list), f"{method.upper()} {path} declares no security"
        assert len(requirements) == 1, f"{method.upper()} {path}: {requirements} (OR of several)"
        ((scheme_name, scopes),) = requirements[0].items()
        scheme = schemes[scheme_name]
        declared = scheme["flows"]["clientCredentials"]["scopes"]
        assert scopes, f"{method.upper()} {path} requires no scope"
        for scope in scopes:
            assert scope in declared, f"{method.upper()} {path}: scope {scope} not in the scheme"
            assert scope in SCOPES


def test_every_error_response_is_problem_json(contract: dict[str, Any]) -> None:
    for path, method, operation in _operations(contract):
        for status, declared in operation["responses"].items():
            if int(status) < 400:
                continue
            response = _resolve(contract, declared)
            where = f"{method.upper()} {path} {status}"
            assert set(response.get("content", {})) == {PROBLEM_JSON}, where
            schema = _resolve(contract, response["content"][PROBLEM_JSON]["schema"])
            assert {"type", "title", "status"} <= set(schema["required"]), where
            assert "errors" in schema["properties"], where
            assert response.get("description"), where


def test_every_response_documents_the_correlation_headers(contract: dict[str, Any]) -> None:
    for path, method, operation in _operations(contract):
        for status, response in operation["responses"].items():
            headers = _resolve(contract, response).get("headers", {})
            for name in ("X-Correlation-ID", "traceparent"):
                assert headers.get(name, {}).get("required"), f"{method.upper()} {path} {status}"


def test_rate_limiting_is_documented(contract: dict[str, Any]) -> None:
    for path, method, operation in _operations(contract):
        where = f"{method.upper()} {path}"
        assert "429" in operation["responses"], f"{where} does not document 429"
        headers = _resolve(contract, operation["responses"]["429"])["headers"]
        assert headers["Retry-After"]["required"] is True, where
        assert headers["Retry-After"]["schema"]["type"] == "integer", where
        assert {"RateLimit", "RateLimit-Policy"} <= set(headers), where


def test_unsafe_operations_require_an_idempotency_key(contract: dict[str, Any]) -> None:
    for path, method, operation in _operations(contract):
        if method not in UNSAFE:
            continue
        where = f"{method.upper()} {path}"
        keys = [
            parameter
            for parameter in (_resolve(contract, p) for p in operation.get("parameters", []))
            if parameter["in"] == "header" and parameter["name"] == "Idempotency-Key"
        ]
        assert len(keys) == 1, f"{where} does not take an Idempotency-Key header"
        (key,) = keys
        assert key["required"] is True, where
        assert key["schema"]["type"] == "string", where
        assert key["schema"]["minLength"] == 1, where
        assert key["schema"]["maxLength"] == 255, where
        for status in ("409", "422"):
            assert status in operation["responses"], f"{where} does not document {status}"
        replayed = [
            status
            for status, response in operation["responses"].items()
            if status.startswith("2")
            and "Idempotent-Replayed" in _resolve(contract, response).get("headers", {})
        ]
        assert replayed, f"{where} does not document Idempotent-Replayed"


def _object_schemas(
    document: dict[str, Any], node: Any, seen: set[str] | None = None
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every object schema reachable from ``node``, named by where it was found."""
    seen = set() if seen is None else seen
    if isinstance(node, list):
        for item in node:
            yield from _object_schemas(document, item, seen)
        return
    if not isinstance(node, dict):
        return
    if "$ref" in node:
        if node["$ref"] in seen:
            return
        seen.add(node["$ref"])
        yield from _object_schemas(document, _resolve(document, node), seen)
        return
    if node.get("type") == "object" or "properties" in node:
        yield node.get("title", "(inline object)"), node
    for key, value in node.items():
        if key in ("properties", "patternProperties", "$defs"):
            for child in value.values():
                yield from _object_schemas(document, child, seen)
        elif key in ("items", "oneOf", "anyOf", "allOf", "additionalProperties", "not"):
            yield from _object_schemas(document, value, seen)


def test_request_bodies_are_closed_objects(contract: dict[str, Any]) -> None:
    bodies = 0
    for path, method, operation in _operations(contract):
        if "requestBody" not in operation:
            continue
        body = _resolve(contract, operation["requestBody"])
        for media_type, content in body["content"].items():
            for name, schema in _object_schemas(contract, content["schema"]):
                bodies += 1
                assert schema.get("additionalProperties") is False, (
                    f"{method.upper()} {path} {media_type}: {name} accepts unknown properties"
                )
    # Every surface has at least its connectivity check's body.
    assert bodies


_PATH_PARAMETER_TYPE: Final = re.compile(r"\{(\w+):[^}]+\}")


def _schema_handlers(app: Litestar) -> Iterator[tuple[str, str, HTTPRouteHandler]]:
    """(path, method, handler) of every operation in the app's OpenAPI schema."""
    paths = app.openapi_schema.to_schema().get("paths", {})
    for route in app.routes:
        path = _PATH_PARAMETER_TYPE.sub(r"{\1}", route.path)
        if path not in paths:
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method.lower() in paths[path]:
                    yield path, method, handler


def test_live_handlers_declare_their_one_security_requirement(
    apps: list[tuple[Litestar, list[Surface]]],
) -> None:
    checked = 0
    for app, _ in apps:
        assert not app.openapi_config or not app.openapi_config.security, "app-level security"
        for path, method, handler in _schema_handlers(app):
            where = f"{method} {path}"
            own = handler.security
            assert own is not None, f"{where} declares no security on the handler"
            assert len(own) == 1, f"{where}: {own}"
            # Nothing added by a router or the app: the guard enforces exactly this requirement.
            assert handler.resolve_security() == list(own), f"{where}: security added above"
            ((_, scopes),) = own[0].items()
            assert scopes, f"{where} requires no scope"
            assert set(scopes) <= set(SCOPES), where
            if method.lower() in UNSAFE:
                assert handler.opt.get("idempotent") is True, f"{where} is not idempotent"
            checked += 1
    assert checked >= 10
