"""``lint_contract``: a contract that follows the policy has no finding; each rule, broken on its
own, gives exactly its finding."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from shared.governance import LINT_RULES, Contract, lint_contract

Doc = dict[str, Any]
PROBLEM = {"$ref": "#/components/schemas/Problem"}


def _response(status: str) -> Doc:
    if status.startswith("2"):
        return {
            "description": "ok",
            "content": {
                "application/json": {
                    "schema": {"$ref": "#/components/schemas/Lot"},
                    "example": {"lotId": "L1"},
                }
            },
        }
    response: Doc = {
        "description": "problem",
        "content": {"application/problem+json": {"schema": PROBLEM}},
    }
    if status == "429":
        response["headers"] = {
            name: {"schema": {"type": "string"}}
            for name in ("Retry-After", "RateLimit", "RateLimit-Policy")
        }
    return response


def _good() -> Doc:
    responses = {status: _response(status) for status in ("200", "400", "429")}
    key = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1.2.0"},
        "tags": [{"name": "Lots"}],
        "paths": {
            "/erp/v1/lots": {
                "get": {
                    "operationId": "listLots",
                    "tags": ["Lots"],
                    "security": [{"oauth2": ["erp.read"]}],
                    "responses": copy.deepcopy(responses),
                },
                "post": {
                    "operationId": "createLot",
                    "tags": ["Lots"],
                    "security": [{"oauth2": ["erp.write"]}],
                    "parameters": [key],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/LotCreate"}
                            }
                        },
                    },
                    "responses": copy.deepcopy(responses),
                },
            }
        },
        "components": {
            "schemas": {
                "Problem": {"type": "object", "properties": {"type": {"type": "string"}}},
                "Lot": {"type": "object", "properties": {"lotId": {"type": "string"}}},
                "LotCreate": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["lotId", "line"],
                    "properties": {
                        "lotId": {"type": "string", "examples": ["L1"]},
                        "line": {
                            "type": "object",
                            "additionalProperties": False,
                            "example": {"no": 1},
                            "properties": {"no": {"type": "integer"}},
                        },
                    },
                },
            },
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "/t",
                            "scopes": {"erp.read": "", "erp.write": ""},
                        }
                    },
                }
            },
        },
    }


def _lint(document: Doc, name: str = "system_apis/erp.v1.yaml") -> list[tuple[str, str]]:
    return [(f.rule, f.operation) for f in lint_contract(Contract(document, name), name)]


def test_a_contract_that_follows_the_policy_has_no_finding() -> None:
    assert _lint(_good()) == []


def _post(d: Doc) -> Doc:
    post: Doc = d["paths"]["/erp/v1/lots"]["post"]
    return post


def _get(d: Doc) -> Doc:
    get: Doc = d["paths"]["/erp/v1/lots"]["get"]
    return get


def _schemas(d: Doc) -> Doc:
    schemas: Doc = d["components"]["schemas"]
    return schemas


BREAKS: dict[str, tuple[Callable[[Doc], Any], str, str]] = {
    "no-operation-id": (lambda d: _get(d).pop("operationId"), "operation-id-missing", "GET"),
    "duplicate-operation-id": (
        lambda d: _post(d).update(operationId="listLots"),
        "operation-id-duplicate",
        "POST",
    ),
    "no-tags": (lambda d: _get(d).pop("tags"), "tags-missing", "GET"),
    "undeclared-tag": (lambda d: _get(d).update(tags=["Other"]), "tag-undeclared", "GET"),
    "document-security": (
        lambda d: d.update(security=[{"oauth2": []}]),
        "security-document-level",
        "",
    ),
    "two-requirements": (
        lambda d: _get(d)["security"].append({"oauth2": ["erp.write"]}),
        "security-requirement-count",
        "GET",
    ),
    "no-security": (lambda d: _get(d).pop("security"), "security-requirement-count", "GET"),
    "no-scopes": (
        lambda d: _get(d).update(security=[{"oauth2": []}]),
        "security-scopes-missing",
        "GET",
    ),
    "undeclared-scope": (
        lambda d: _get(d).update(security=[{"oauth2": ["erp.admin"]}]),
        "security-scope-undeclared",
        "GET",
    ),
    "error-as-json": (
        lambda d: _get(d)["responses"]["400"].update(content={"application/json": {}}),
        "problem-json-missing",
        "GET",
    ),
    "no-429": (lambda d: _get(d)["responses"].pop("429"), "rate-limit-undocumented", "GET"),
    "429-without-ratelimit": (
        lambda d: _get(d)["responses"]["429"]["headers"].pop("RateLimit"),
        "rate-limit-undocumented",
        "GET",
    ),
    "no-idempotency-key": (lambda d: _post(d).pop("parameters"), "idempotency-key-missing", "POST"),
    "optional-idempotency-key": (
        lambda d: _post(d)["parameters"][0].update(required=False),
        "idempotency-key-missing",
        "POST",
    ),
    "opt-out-without-reason": (
        lambda d: _post(d).update({"x-qgate-idempotency": {"required": False}}),
        "idempotency-opt-out-unexplained",
        "POST",
    ),
    "open-body": (
        lambda d: _schemas(d)["LotCreate"].pop("additionalProperties"),
        "request-body-open",
        "POST",
    ),
    "open-nested-object": (
        lambda d: _schemas(d)["LotCreate"]["properties"]["line"].pop("additionalProperties"),
        "request-body-open",
        "POST",
    ),
    "request-without-example": (
        lambda d: _schemas(d)["LotCreate"]["properties"]["lotId"].pop("examples"),
        "example-missing",
        "POST",
    ),
    "response-without-example": (
        lambda d: _get(d)["responses"]["200"]["content"]["application/json"].pop("example"),
        "example-missing",
        "GET",
    ),
    "info-version": (
        lambda d: d["info"].update(version="2.0.0"),
        "version-mismatch",
        "",
    ),
    "path-version": (
        lambda d: d["paths"].update({"/erp/v2/lots": d["paths"].pop("/erp/v1/lots")}),
        "version-mismatch",
        "/erp/v2/lots",
    ),
}


@pytest.mark.parametrize("name", sorted(BREAKS))
def test_each_rule_reports_its_break(name: str) -> None:
    document = _good()
    breaks, rule_id, operation = BREAKS[name]
    breaks(document)
    findings = _lint(document)
    assert findings, "no finding"
    assert {r for r, _ in findings} == {rule_id}, findings
    assert all(o.startswith(operation) for _, o in findings), findings


def test_every_lint_rule_is_exercised() -> None:
    assert {rule_id for _, rule_id, _ in BREAKS.values()} == set(LINT_RULES)


def test_an_explained_opt_out_needs_no_idempotency_key() -> None:
    document = _good()
    _post(document).pop("parameters")
    _post(document)["x-qgate-idempotency"] = {"required": False, "reason": "a search, no change"}
    assert _lint(document) == []


@pytest.mark.parametrize(
    "where",
    [
        "media-type-example",
        "media-type-examples",
        "schema-example",
        "required-properties",
        "enum-names-its-values",
        "array-of-exemplified-items",
    ],
)
def test_examples_are_accepted_wherever_the_policy_allows(where: str) -> None:
    document = _good()
    media = _get(document)["responses"]["200"]["content"]["application/json"]
    media.pop("example")
    lot = _schemas(document)["Lot"]
    if where == "media-type-example":
        media["example"] = {"lotId": "L1"}
    elif where == "media-type-examples":
        media["examples"] = {"one": {"value": {"lotId": "L1"}}}
    elif where == "schema-example":
        lot["examples"] = [{"lotId": "L1"}]
    elif where == "required-properties":
        lot["required"] = ["lotId"]
        lot["properties"]["lotId"]["example"] = "L1"
    elif where == "enum-names-its-values":
        lot["required"] = ["lotId"]
        lot["properties"]["lotId"]["enum"] = ["L1", "L2"]
    else:
        lot["required"] = ["lines"]
        lot["properties"]["lines"] = {"type": "array", "items": {"type": "string", "example": "a"}}
    assert _lint(document) == []


def test_a_generic_array_or_object_is_no_example() -> None:
    document = _good()
    _get(document)["responses"]["200"]["content"]["application/json"].pop("example")
    lot = _schemas(document)["Lot"]
    lot["required"] = ["lines"]
    lot["properties"]["lines"] = {"type": "array", "items": {"type": "object"}}
    assert _lint(document) == [("example-missing", "GET /erp/v1/lots")]


def test_a_file_without_a_version_in_its_name_is_not_version_checked() -> None:
    document = _good()
    document["info"]["version"] = "7.0.0"
    assert _lint(document, "erp.yaml") == []


def test_a_typeless_alternative_constrains_the_body_and_is_no_open_object() -> None:
    # "At least one of these properties" as anyOf: the alternatives describe no object.
    document = _good()
    _schemas(document)["LotCreate"]["anyOf"] = [
        {"required": ["lotId"], "properties": {"lotId": {"minLength": 1}}},
    ]
    assert _lint(document) == []
    # An alternative that is an object of its own must still be closed.
    _schemas(document)["LotCreate"]["anyOf"] = [
        {"type": "object", "properties": {"lotId": {"type": "string"}}},
    ]
    assert "request-body-open" in {rule for rule, _ in _lint(document)}
