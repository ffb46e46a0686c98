"""The committed contracts: equal to the code, and declared the way qgate needs.

The governance policy (operationId and tags, one security requirement, problem+json errors,
429 documented, Idempotency-Key on unsafe operations, closed request bodies, examples) is
linted by ``shared.governance`` on every committed contract
(``tests/unit/governance/test_committed_contracts.py``). This module adds what is specific to
qgate's own platform:

- ``openapi/**`` is what ``qgate contracts export`` writes from the code today (no drift);
- the one security requirement names scopes qgate defines, and errors use its Problem schema;
- a 429 documents an integer ``Retry-After``; every response documents the correlation
  headers; an unsafe operation documents the key's limits, 409, 422 and ``Idempotent-Replayed``;
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
