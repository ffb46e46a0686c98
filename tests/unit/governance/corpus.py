"""The diff corpus: small spec pairs, each change kind in both directions, with the rule ids and
levels the diff must report (no more, no fewer). Built from a few helpers so that each case shows
only what changes."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any, Final, NamedTuple

TODAY: Final = dt.date(2026, 1, 15)

Doc = dict[str, Any]
Expected = list[tuple[str, str]]


class Case(NamedTuple):
    id: str
    base: Doc
    revision: Doc
    expected: Expected


SCHEMES: Final[Doc] = {
    "oauth2": {
        "type": "oauth2",
        "flows": {
            "clientCredentials": {
                "tokenUrl": "/oauth/token",
                "scopes": {"a.read": "read", "a.write": "write"},
            }
        },
    }
}
READ: Final = [{"oauth2": ["a.read"]}]


def doc(
    paths: Doc, *, schemas: Doc | None = None, schemes: Doc | None = None, version: str = "3.1.0"
) -> Doc:
    return {
        "openapi": version,
        "info": {"title": "t", "version": "1.0.0"},
        "paths": paths,
        "components": {
            "schemas": schemas or {},
            "securitySchemes": copy.deepcopy(SCHEMES if schemes is None else schemes),
        },
    }


def op(
    *,
    params: list[Doc] | None = None,
    body: Doc | None = None,
    responses: Doc | None = None,
    security: list[Doc] | None = None,
    **extra: Any,
) -> Doc:
    operation: Doc = {
        "operationId": "op",
        "security": copy.deepcopy(READ if security is None else security),
        "responses": responses or {"200": {"description": "ok"}},
        **extra,
    }
    if params is not None:
        operation["parameters"] = params
    if body is not None:
        operation["requestBody"] = body
    return operation


def obj(properties: Doc, *required: str, **extra: Any) -> Doc:
    return {"type": "object", "properties": properties, "required": list(required), **extra}


def body_doc(schema: Doc, version: str = "3.1.0", schemas: Doc | None = None) -> Doc:
    body = {"required": True, "content": {"application/json": {"schema": schema}}}
    return doc({"/v1/x": {"post": op(body=body)}}, version=version, schemas=schemas)


def response_doc(schema: Doc, version: str = "3.1.0", schemas: Doc | None = None) -> Doc:
    responses = {"200": {"description": "ok", "content": {"application/json": {"schema": schema}}}}
    return doc({"/v1/x": {"get": op(responses=responses)}}, version=version, schemas=schemas)


def param_doc(*params: Doc, path: str = "/v1/x") -> Doc:
    return doc({path: {"get": op(params=list(params))}})


def q(name: str, schema: Doc | None = None, *, required: bool = False, where: str = "query") -> Doc:
    return {"name": name, "in": where, "required": required, "schema": schema or {"type": "string"}}


def both(
    name: str, a: Doc, b: Doc, forward: list[tuple[str, str]], backward: list[tuple[str, str]]
) -> Iterator[Case]:
    """The change a -> b, and its reverse b -> a."""
    yield Case(f"{name}/forward", a, b, forward)
    yield Case(f"{name}/backward", b, a, backward)


def request(
    name: str, a: Doc, b: Doc, fwd: Expected, bwd: Expected, v: str = "3.1.0"
) -> Iterator[Case]:
    yield from both(f"request-{name}", body_doc(a, v), body_doc(b, v), fwd, bwd)


def response(
    name: str, a: Doc, b: Doc, fwd: Expected, bwd: Expected, v: str = "3.1.0"
) -> Iterator[Case]:
    yield from both(f"response-{name}", response_doc(a, v), response_doc(b, v), fwd, bwd)


def _rq(suffix: str, level: str) -> tuple[str, str]:
    return (f"request-property-{suffix}", level)


def _rs(suffix: str, level: str) -> tuple[str, str]:
    return (f"response-property-{suffix}", level)


def _rp(suffix: str, level: str) -> tuple[str, str]:
    return (f"request-parameter-{suffix}", level)


S: Final[Doc] = {"type": "string"}
INT: Final[Doc] = {"type": "integer"}
N: Final[Doc] = {"type": "number"}


def _ref(name: str) -> Doc:
    return {"$ref": f"#/components/schemas/{name}"}


def _schema_cases() -> Iterator[Case]:
    E, W, N_ = "error", "warning", "info"  # noqa: N806 - read as a table
    yield from request(
        "type-int-number", INT, N, [_rq("type-widened", N_)], [_rq("type-narrowed", E)]
    )
    yield from request("type-changed", S, INT, [_rq("type-changed", E)], [_rq("type-changed", E)])
    yield from request(
        "nullable-3.0",
        obj({"v": {"type": "string", "nullable": True}}, "v"),
        obj({"v": S}, "v"),
        [_rq("type-narrowed", E)],
        [_rq("type-widened", N_)],
        v="3.0.3",
    )
    yield from request(
        "nullable-3.1-type-list",
        {"type": ["string", "null"]},
        S,
        [_rq("type-narrowed", E)],
        [_rq("type-widened", N_)],
    )
    yield from both(
        "nullable-3.0-equals-3.1-oneOf-null",
        body_doc({"type": "string", "nullable": True}, "3.0.3"),
        body_doc({"oneOf": [S, {"type": "null"}]}),
        [],
        [],
    )
    yield from both(
        "nullable-type-list-equals-anyOf-null",
        body_doc({"type": ["string", "null"]}),
        body_doc({"anyOf": [{"type": "null"}, S]}),
        [],
        [],
    )
    date = {"type": "string", "format": "date"}
    yield from request(
        "format-added", S, date, [_rq("format-narrowed", E)], [_rq("format-widened", N_)]
    )
    yield from request(
        "format-changed",
        date,
        {"type": "string", "format": "date-time"},
        [_rq("format-changed", E)],
        [_rq("format-changed", E)],
    )
    ab = {"type": "string", "enum": ["a", "b"]}
    a = {"type": "string", "enum": ["a"]}
    yield from request(
        "enum-value", ab, a, [_rq("enum-value-removed", E)], [_rq("enum-value-added", N_)]
    )
    yield from request(
        "enum-added", S, a, [_rq("enum-value-removed", E)], [_rq("enum-value-added", N_)]
    )
    pattern = {"type": "string", "pattern": "^[A-Z]+$"}
    yield from request(
        "pattern-added", S, pattern, [_rq("pattern-narrowed", E)], [_rq("pattern-widened", N_)]
    )
    yield from request(
        "pattern-changed",
        pattern,
        {"type": "string", "pattern": "^[a-z]+$"},
        [_rq("pattern-changed", E)],
        [_rq("pattern-changed", E)],
    )
    yield from request(
        "max-length",
        {"type": "string", "maxLength": 10},
        {"type": "string", "maxLength": 5},
        [_rq("limits-narrowed", E)],
        [_rq("limits-widened", N_)],
    )
    yield from request(
        "minimum-added",
        N,
        {"type": "number", "minimum": 1},
        [_rq("limits-narrowed", E)],
        [_rq("limits-widened", N_)],
    )
    yield from request(
        "exclusive-minimum-3.0",
        {"type": "number", "minimum": 0},
        {"type": "number", "minimum": 0, "exclusiveMinimum": True},
        [_rq("limits-narrowed", E)],
        [_rq("limits-widened", N_)],
        v="3.0.3",
    )
    yield from request(
        "exclusive-minimum-3.1",
        {"type": "number", "minimum": 0},
        {"type": "number", "exclusiveMinimum": 0},
        [_rq("limits-narrowed", E)],
        [_rq("limits-widened", N_)],
    )
    yield from request(
        "max-items",
        {"type": "array", "items": S, "maxItems": 5},
        {"type": "array", "items": S, "maxItems": 3},
        [_rq("limits-narrowed", E)],
        [_rq("limits-widened", N_)],
    )
    yield from request(
        "multiple-of",
        {"type": "integer", "multipleOf": 1},
        {"type": "integer", "multipleOf": 5},
        [_rq("limits-narrowed", E)],
        [_rq("limits-widened", N_)],
    )
    one = obj({"a": S}, "a")
    yield from request(
        "property-required-added",
        one,
        obj({"a": S, "b": S}, "a", "b"),
        [_rq("required-added", E)],
        [_rq("removed", E)],
    )
    yield from request(
        "property-optional-added",
        one,
        obj({"a": S, "b": S}, "a"),
        [_rq("added", N_)],
        [_rq("removed", E)],
    )
    yield from request(
        "property-required",
        obj({"a": S}),
        one,
        [_rq("became-required", E)],
        [_rq("became-optional", N_)],
    )
    yield from request(
        "property-renamed", one, obj({"b": S}, "b"), [_rq("renamed", E)], [_rq("renamed", E)]
    )
    yield from request(
        "property-replaced",
        obj({"a": S}),
        obj({"b": INT}),
        [_rq("removed", E), _rq("added", N_)],
        [_rq("removed", E), _rq("added", N_)],
    )
    yield from request(
        "closed",
        one,
        obj({"a": S}, "a", additionalProperties=False),
        [_rq("additional-properties-closed", E)],
        [_rq("additional-properties-opened", N_)],
    )
    yield from request(
        "default-changed",
        {"type": "string", "default": "x"},
        {"type": "string", "default": "y"},
        [_rq("default-changed", E)],
        [_rq("default-changed", E)],
    )
    yield from request(
        "default-added",
        S,
        {"type": "string", "default": "x"},
        [_rq("default-added", W)],
        [_rq("default-removed", W)],
    )
    yield from request(
        "nested-items-property",
        obj({"lines": {"type": "array", "items": obj({"q": N}, "q")}}),
        obj({"lines": {"type": "array", "items": obj({"q": N, "u": S}, "q", "u")}}),
        [_rq("required-added", E)],
        [_rq("removed", E)],
    )
    # $ref, allOf, oneOf/anyOf
    schemas = {"A": one, "B": obj({"b": INT}, "b"), "Alias": _ref("A")}
    yield from both(
        "ref-equals-inline",
        body_doc(_ref("A"), schemas=schemas),
        body_doc(one),
        [],
        [],
    )
    yield from both(
        "ref-chain-equals-inline", body_doc(_ref("Alias"), schemas=schemas), body_doc(one), [], []
    )
    yield from both(
        "ref-target-changed",
        body_doc(_ref("A"), schemas=schemas),
        body_doc(_ref("A"), schemas={"A": obj({"a": S, "c": S}, "a", "c")}),
        [_rq("required-added", E)],
        [_rq("removed", E)],
    )
    yield from both(
        "allOf-member-removed",
        body_doc({"allOf": [_ref("A"), obj({"x": S}, "x")]}, schemas=schemas),
        body_doc({"allOf": [_ref("A")]}, schemas=schemas),
        [_rq("removed", E)],
        [_rq("required-added", E)],
    )
    yield from both(
        "allOf-tightest-limit-equals-flat",
        body_doc({"allOf": [{"type": "string", "maxLength": 10}, {"maxLength": 5}]}),
        body_doc({"type": "string", "maxLength": 5}),
        [],
        [],
    )
    yield from both(
        "oneOf-alternative-removed",
        body_doc({"oneOf": [_ref("A"), _ref("B")]}, schemas=schemas),
        body_doc({"oneOf": [_ref("A")]}, schemas=schemas),
        [_rq("variants-narrowed", E)],
        [_rq("variants-widened", N_)],
    )
    yield from both(
        "anyOf-alternative-added-response",
        response_doc(_ref("A"), schemas=schemas),
        response_doc({"anyOf": [_ref("A"), _ref("B")]}, schemas=schemas),
        [_rs("variants-widened", E)],
        [_rs("variants-narrowed", N_)],
    )
    yield from both(
        "oneOf-alternative-changed-in-place",
        body_doc({"oneOf": [_ref("A"), _ref("B")]}, schemas=schemas),
        body_doc({"oneOf": [_ref("A"), _ref("B")]}, schemas={**schemas, "B": obj({"b": N}, "b")}),
        [_rq("type-widened", N_)],
        [_rq("type-narrowed", E)],
    )
    tree = obj({"name": S, "children": {"type": "array", "items": _ref("Node")}}, "name")
    deeper = obj(
        {"name": S, "id": S, "children": {"type": "array", "items": _ref("Node")}}, "name", "id"
    )
    yield from both(
        "recursive-schema",
        body_doc(_ref("Node"), schemas={"Node": tree}),
        body_doc(_ref("Node"), schemas={"Node": deeper}),
        [_rq("required-added", E)],
        [_rq("removed", E)],
    )
    # responses: widening breaks
    yield from response(
        "property-removed",
        obj({"a": S, "b": S}, "a", "b"),
        one,
        [_rs("removed", E)],
        [_rs("required-added", N_)],
    )
    yield from response(
        "optional-property-removed",
        obj({"a": S, "b": S}),
        obj({"a": S}),
        [_rs("removed", E)],
        [_rs("added", N_)],
    )
    yield from response(
        "became-optional",
        one,
        obj({"a": S}),
        [_rs("became-optional", E)],
        [_rs("became-required", N_)],
    )
    yield from response(
        "renamed", one, obj({"b": S}, "b"), [_rs("renamed", E)], [_rs("renamed", E)]
    )
    yield from response(
        "type-int-number", INT, N, [_rs("type-widened", E)], [_rs("type-narrowed", N_)]
    )
    yield from response(
        "enum-value", a, ab, [_rs("enum-value-added", E)], [_rs("enum-value-removed", W)]
    )
    yield from response(
        "nullable-3.0",
        obj({"v": S}, "v"),
        obj({"v": {"type": "string", "nullable": True}}, "v"),
        [_rs("type-widened", E)],
        [_rs("type-narrowed", N_)],
        v="3.0.3",
    )
    yield from response(
        "max-length",
        {"type": "string", "maxLength": 5},
        {"type": "string", "maxLength": 10},
        [_rs("limits-widened", E)],
        [_rs("limits-narrowed", N_)],
    )
    yield from response(
        "format-removed", date, S, [_rs("format-widened", E)], [_rs("format-narrowed", N_)]
    )
    yield from response(
        "default-changed",
        {"type": "string", "default": "x"},
        {"type": "string", "default": "y"},
        [_rs("default-changed", N_)],
        [_rs("default-changed", N_)],
    )
    yield from response(
        "opened",
        obj({"a": S}, "a", additionalProperties=False),
        one,
        [_rs("additional-properties-opened", W)],
        [_rs("additional-properties-closed", N_)],
    )


def _ok(**extra: Any) -> Doc:
    return {"description": "ok", **extra}


def _json(schema: Doc | None = None) -> Doc:
    return {"schema": schema or S}


def _structure_cases() -> Iterator[Case]:
    E, W, N_ = "error", "warning", "info"  # noqa: N806
    # parameters
    yield from both(
        "parameter-required-added",
        param_doc(),
        param_doc(q("a", required=True)),
        [("request-parameter-required-added", E)],
        [("request-parameter-removed", E)],
    )
    yield from both(
        "parameter-optional-added",
        param_doc(),
        param_doc(q("a")),
        [("request-parameter-added", N_)],
        [("request-parameter-removed", E)],
    )
    yield from both(
        "parameter-required",
        param_doc(q("a")),
        param_doc(q("a", required=True)),
        [_rp("became-required", E)],
        [_rp("became-optional", N_)],
    )
    yield from both(
        "parameter-renamed",
        param_doc(q("a")),
        param_doc(q("b")),
        [_rp("renamed", E)],
        [_rp("renamed", E)],
    )
    yield from both(
        "parameter-enum",
        param_doc(q("s", {"type": "string", "enum": ["x", "y"]})),
        param_doc(q("s", {"type": "string", "enum": ["x"]})),
        [_rp("enum-value-removed", E)],
        [_rp("enum-value-added", N_)],
    )
    yield from both(
        "parameter-type",
        param_doc(q("n", N)),
        param_doc(q("n", INT)),
        [_rp("type-narrowed", E)],
        [_rp("type-widened", N_)],
    )
    yield from both(
        "parameter-max-length",
        param_doc(q("a", {"type": "string", "maxLength": 10})),
        param_doc(q("a", {"type": "string", "maxLength": 5})),
        [_rp("limits-narrowed", E)],
        [_rp("limits-widened", N_)],
    )
    yield from both(
        "parameter-header-name-case",
        param_doc(q("X-Trace", where="header")),
        param_doc(q("x-trace", where="header")),
        [],
        [],
    )
    path_param = q("id", required=True, where="path")
    yield from both(
        "path-parameter-renamed-in-template",
        param_doc(path_param, path="/v1/x/{id}"),
        param_doc({**path_param, "name": "xId"}, path="/v1/x/{xId}"),
        [],
        [],
    )
    yield from both(
        "path-level-parameters-moved",
        doc({"/v1/x": {"parameters": [q("a")], "get": op()}}),
        param_doc(q("a")),
        [],
        [],
    )
    # request bodies
    bare = doc({"/v1/x": {"post": op()}})
    yield from both(
        "body-required-added",
        bare,
        body_doc(S),
        [("request-body-required-added", E)],
        [("request-body-removed", E)],
    )
    optional_body = {"required": False, "content": {"application/json": _json()}}
    optional = doc({"/v1/x": {"post": op(body=optional_body)}})
    yield from both(
        "body-optional-added",
        bare,
        optional,
        [("request-body-added", N_)],
        [("request-body-removed", E)],
    )
    yield from both(
        "body-required",
        optional,
        body_doc(S),
        [("request-body-became-required", E)],
        [("request-body-became-optional", N_)],
    )
    two_types = {"required": True, "content": {"application/json": _json(), "text/csv": _json()}}
    yield from both(
        "request-media-type",
        doc({"/v1/x": {"post": op(body=two_types)}}),
        body_doc(S),
        [("request-media-type-removed", E)],
        [("request-media-type-added", N_)],
    )

    # responses: statuses, media types, headers
    def responses(**statuses: Doc) -> Doc:
        return doc(
            {"/v1/x": {"get": op(responses={k.lstrip("_"): v for k, v in statuses.items()})}}
        )

    yield from both(
        "success-status-removed",
        responses(_200=_ok(), _201=_ok()),
        responses(_200=_ok()),
        [("response-success-status-removed", E)],
        [("response-status-added", N_)],
    )
    yield from both(
        "error-status-removed",
        responses(_200=_ok(), _404=_ok()),
        responses(_200=_ok()),
        [("response-error-status-removed", W)],
        [("response-status-added", N_)],
    )
    yield from both(
        "response-media-type",
        responses(_200=_ok(content={"application/json": _json(), "text/csv": _json()})),
        responses(_200=_ok(content={"application/json": _json()})),
        [("response-media-type-removed", E)],
        [("response-media-type-added", N_)],
    )
    required_header = {"X-A": {"required": True, "schema": S}}
    yield from both(
        "required-header-removed",
        responses(_200=_ok(headers=required_header)),
        responses(_200=_ok()),
        [("response-required-header-removed", E)],
        [("response-header-added", N_)],
    )
    yield from both(
        "optional-header-removed",
        responses(_200=_ok(headers={"X-A": {"schema": S}})),
        responses(_200=_ok()),
        [("response-header-removed", W)],
        [("response-header-added", N_)],
    )
    yield from both(
        "header-became-optional",
        responses(_200=_ok(headers=required_header)),
        responses(_200=_ok(headers={"X-A": {"required": False, "schema": S}})),
        [("response-header-became-optional", W)],
        [],
    )
    # operations
    get_post = doc({"/v1/x": {"get": op(), "post": op(operationId="p")}})
    yield from both(
        "operation-removed",
        get_post,
        doc({"/v1/x": {"get": op()}}),
        [("operation-removed", E)],
        [("operation-added", N_)],
    )
    x_only = doc({"/v1/x": {"get": op()}})
    yield from both(
        "path-removed",
        doc({"/v1/x": {"get": op()}, "/v1/y": {"get": op(operationId="y")}}),
        x_only,
        [("path-removed", E)],
        [("operation-added", N_)],
    )

    def with_y(**extra: Any) -> Doc:
        return doc({"/v1/x": {"get": op()}, "/v1/y": {"get": op(operationId="y", **extra)}})

    before_sunset = with_y(deprecated=True, **{"x-sunset": "2026-06-30"})
    after_sunset = with_y(deprecated=True, **{"x-sunset": dt.date(2025, 12, 31)})
    yield from both(
        "removed-before-sunset",
        before_sunset,
        x_only,
        [("operation-removed-before-sunset", E)],
        [("operation-added", N_)],
    )
    yield from both(
        "removed-after-sunset",
        after_sunset,
        x_only,
        [("operation-removed-after-sunset", N_)],
        [("operation-added", N_)],
    )
    yield from both(
        "removed-deprecated-without-sunset",
        with_y(deprecated=True),
        x_only,
        [("operation-removed-before-sunset", E)],
        [("operation-added", N_)],
    )
    yield from both(
        "deprecated",
        with_y(),
        with_y(deprecated=True),
        [("operation-deprecated", N_)],
        [("operation-undeprecated", N_)],
    )
    yield from both(
        "deprecated-with-sunset",
        with_y(),
        before_sunset,
        [("operation-deprecated", N_), ("operation-sunset-postponed", N_)],
        [("operation-undeprecated", N_)],
    )
    yield from both(
        "sunset-moved",
        before_sunset,
        with_y(deprecated=True, **{"x-sunset": "2026-03-31"}),
        [("operation-sunset-brought-forward", W)],
        [("operation-sunset-postponed", N_)],
    )
    yield from both(
        "operation-id",
        x_only,
        doc({"/v1/x": {"get": op(operationId="renamed")}}),
        [("operation-id-changed", W)],
        [("operation-id-changed", W)],
    )


def _security_cases() -> Iterator[Case]:
    E, W, N_ = "error", "warning", "info"  # noqa: N806
    write = [{"oauth2": ["a.read", "a.write"]}]
    yield from both(
        "scope-added-to-operation",
        doc({"/v1/x": {"get": op()}}),
        doc({"/v1/x": {"get": op(security=write)}}),
        [("security-scope-added", E)],
        [("security-scope-removed", N_)],
    )
    key_scheme = {"apiKey": {"type": "apiKey", "in": "header", "name": "X-Key"}}
    two = {**SCHEMES, **key_scheme}
    yield from both(
        "scheme-removed",
        doc({"/v1/x": {"get": op()}}, schemes=two),
        doc({"/v1/x": {"get": op()}}),
        [("security-scheme-removed", E)],
        [("security-scheme-added", N_)],
    )
    more = copy.deepcopy(SCHEMES)
    more["oauth2"]["flows"]["clientCredentials"]["scopes"]["a.admin"] = "admin"
    yield from both(
        "scheme-scope-removed",
        doc({"/v1/x": {"get": op()}}, schemes=more),
        doc({"/v1/x": {"get": op()}}),
        [("security-scheme-scope-removed", E)],
        [("security-scheme-scope-added", N_)],
    )
    yield from both(
        "requirement-added",
        doc({"/v1/x": {"get": op(security=[])}}),
        doc({"/v1/x": {"get": op()}}),
        [("security-requirement-added", E)],
        [("security-requirement-removed", N_)],
    )
    yield from both(
        "requirement-changed",
        doc({"/v1/x": {"get": op()}}, schemes=two),
        doc({"/v1/x": {"get": op(security=[{"apiKey": []}])}}, schemes=two),
        [("security-requirement-changed", E)],
        [("security-requirement-changed", E)],
    )
    moved = copy.deepcopy(SCHEMES)
    moved["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] = "/v2/token"
    yield from both(
        "scheme-token-url",
        doc({"/v1/x": {"get": op()}}),
        doc({"/v1/x": {"get": op()}}, schemes=moved),
        [("security-scheme-changed", W)],
        [("security-scheme-changed", W)],
    )

    def document_level(requirement: list[Doc]) -> Doc:
        document = doc({"/v1/x": {"get": op()}})
        del document["paths"]["/v1/x"]["get"]["security"]
        document["security"] = requirement
        return document

    yield from both(
        "document-level-scope-added",
        document_level(READ),
        document_level(write),
        [("security-scope-added", E)],
        [("security-scope-removed", N_)],
    )


def _identity_cases() -> Iterator[Case]:
    for version in ("3.0.3", "3.1.0"):
        document = body_doc(obj({"a": S, "b": {"type": "integer", "minimum": 1}}, "a"), version)
        yield Case(f"identical-{version}", document, copy.deepcopy(document), [])


CASES: Final = [*_schema_cases(), *_structure_cases(), *_security_cases(), *_identity_cases()]
