"""Contracts: one OpenAPI document per surface, cut from its layer's app, deterministic.

A layer app may serve several surfaces (the system layer serves ERP and QMS); each surface is a
path prefix with its own versioned contract in ``openapi/``. :func:`surface_document` keeps the
surface's paths, only the components they reference, the tags they use and the OAuth2 scheme
with only the surface's scopes; it marks every :class:`~shared.models.RequestStruct` schema
``additionalProperties: false``. :func:`to_yaml` is byte-identical run to run, so the committed
files can be diffed and checked in CI (``qgate contracts check``).
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import msgspec
import msgspec.inspect
import yaml
from litestar import Litestar

from shared.auth import SCOPES
from shared.models import request_struct_names, struct_classes

__all__ = [
    "CONTRACTS_DIR",
    "ContractDrift",
    "Link",
    "Surface",
    "check_contracts",
    "export_contracts",
    "surface_document",
    "to_yaml",
]

CONTRACTS_DIR: Final = Path("openapi")
TOKEN_URL: Final = "/oauth/token"  # noqa: S105 - a URL, not a secret


class Link(msgspec.Struct, frozen=True, kw_only=True):
    """An OpenAPI link from an operation's success response to another operation."""

    operation_id: str
    parameters: Mapping[str, str]
    """Target parameter (``lot_id``, ``header.If-Match``) -> runtime expression."""
    description: str = ""


class Surface(msgspec.Struct, frozen=True, kw_only=True):
    """One versioned API surface served by a layer."""

    name: str
    prefix: str
    title: str
    description: str
    contract: str
    """Path of the committed contract below ``openapi/``."""
    excludes: tuple[str, ...] = ()
    """Path prefixes below ``prefix`` that another surface of the layer serves (its own
    contract), left out of this one's."""
    version: str = "1.0.0"
    tags: Mapping[str, str] = msgspec.field(default_factory=dict)
    """Tag name -> description."""
    links: Mapping[str, Mapping[str, Link]] = msgspec.field(default_factory=dict)
    """Source operationId -> link name -> link, added to its success response."""
    examples: Callable[[], Mapping[str, Any]] | None = None
    """Component schema name -> example value, built when the contract is rendered."""


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _component_closure(paths: Mapping[str, Any], components: Mapping[str, Any]) -> dict[str, Any]:
    kept: dict[str, dict[str, Any]] = {}
    pending = list(_refs(paths))
    while pending:
        ref = pending.pop()
        parts = ref.removeprefix("#/components/").split("/")
        if len(parts) != 2:
            continue
        kind, name = parts
        if name in kept.get(kind, {}):
            continue
        target = components.get(kind, {}).get(name)
        if target is None:
            continue
        kept.setdefault(kind, {})[name] = target
        pending.extend(_refs(target))
    return kept


def _operations(paths: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every operation object of ``paths`` (skipping path-level keys such as parameters)."""
    for item in paths.values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                yield operation


def _scopes_used(paths: Mapping[str, Any]) -> set[str]:
    used: set[str] = set()
    for operation in _operations(paths):
        for requirement in operation.get("security", []):
            for values in requirement.values():
                used.update(values)
    return used


def _string_item_schema(item: Any) -> dict[str, Any] | None:
    extra: dict[str, Any] = {}
    if isinstance(item, msgspec.inspect.Metadata):
        extra = dict(item.extra_json_schema or {})
        item = item.type
    if not isinstance(item, msgspec.inspect.StrType):
        return None
    constraints = {
        "minLength": item.min_length,
        "maxLength": item.max_length,
        "pattern": item.pattern,
    }
    return {**extra, **{key: value for key, value in constraints.items() if value is not None}}


def _constrain_array_items(schemas: dict[str, Any]) -> None:
    """Constraints of list items: Litestar drops ``Meta`` on ``list[Annotated[str, Meta]]``
    (an id list would take any string), so they are taken from msgspec's view of the Struct."""
    classes = struct_classes()
    for key, schema in schemas.items():
        cls = classes.get(key) or classes.get(key.rsplit("_", 1)[-1])
        properties = schema.get("properties")
        if cls is None or not isinstance(properties, dict):
            continue
        info = msgspec.inspect.type_info(cls)
        assert isinstance(info, msgspec.inspect.StructType)
        for field in info.fields:
            kind = field.type
            if isinstance(kind, msgspec.inspect.Metadata):
                kind = kind.type
            prop = properties.get(field.encode_name)
            if not isinstance(kind, msgspec.inspect.ListType) or not isinstance(prop, dict):
                continue
            items = _string_item_schema(kind.item_type)
            if items is not None and prop.get("items", {}).get("type") == "string":
                prop["items"] = {**prop["items"], **items}


def _close_request_bodies(schemas: dict[str, Any]) -> None:
    names = request_struct_names()
    for key, schema in schemas.items():
        short = key.rsplit("_", 1)[-1]
        if (key in names or short in names) and schema.get("type") == "object":
            schema["additionalProperties"] = False


def _header(description: str, *, required: bool = False, type_: str = "string") -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": type_}}


_ALWAYS: Final = {
    "X-Correlation-ID": _header(
        "Correlation id of this request (echoed or created).", required=True
    ),
    "traceparent": _header("W3C trace context of this request.", required=True),
}
_RATE: Final = {
    "RateLimit-Policy": _header(
        'Quota policy (draft-ietf-httpapi-ratelimit-headers): `"standard";q=600;w=60`.'
    ),
    "RateLimit": _header('Remaining quota: `"standard";r=599;t=60`.'),
}


def _document_headers(paths: Mapping[str, Any]) -> None:
    """Response headers the platform adds, documented on every operation's responses."""
    for operation in _operations(paths):
        secured = any(operation.get("security", []))
        idempotent = any(
            p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])
        )
        for status, response in operation.get("responses", {}).items():
            headers = {**response.get("headers", {}), **_ALWAYS}
            if secured:
                headers.update(_RATE)
            if status == "429":
                headers["Retry-After"] = _header(
                    "Seconds until the quota frees up.", required=True, type_="integer"
                )
            if status == "401":
                headers["WWW-Authenticate"] = _header(
                    'RFC 6750 challenge: `Bearer realm="qgate"`, with `error="invalid_token"` '
                    "when a token was sent.",
                    required=True,
                )
            if status == "403":
                # Not on every 403: refusing an on-behalf-of header is no token problem.
                headers["WWW-Authenticate"] = _header(
                    'RFC 6750 challenge with `error="insufficient_scope"` and the missing '
                    "`scope`, when the token lacks a scope."
                )
            if idempotent and status.startswith("2"):
                headers["Idempotent-Replayed"] = _header(
                    "`true` when this is the stored response of an earlier request."
                )
            for header in headers.values():
                # Litestar's ResponseHeader carries no schema; every qgate header is text.
                header.setdefault("schema", {"type": "string"})
            response["headers"] = headers


def _document_deprecations(paths: Mapping[str, Any]) -> None:
    """The headers a deprecated operation answers with (see :mod:`shared.deprecation`)."""
    for operation in _operations(paths):
        if "x-sunset" not in operation:
            continue
        added = {
            "Deprecation": _header("RFC 9745: `@<unix seconds>` of the deprecation date."),
            "Sunset": _header(f"RFC 8594: from {operation['x-sunset']} on, it may be gone."),
        }
        if "x-successor" in operation:
            added["Link"] = _header('The successor: `<...>; rel="successor-version"`.')
        for response in operation.get("responses", {}).values():
            response["headers"] = {**response.get("headers", {}), **added}


def _unnull_parameters(paths: Mapping[str, Any]) -> None:
    """An optional parameter is absent, never null: ``X | None`` is documented as ``X``.

    Litestar renders ``str | None`` as ``oneOf: [string, null]``, but a path, query or header
    value cannot be null; clients and fuzzers would send the text ``null``.
    """
    for operation in _operations(paths):
        for parameter in operation.get("parameters", []):
            schema = parameter.get("schema", {})
            variants = schema.get("oneOf")
            if not isinstance(variants, list):
                continue
            kept = [variant for variant in variants if variant != {"type": "null"}]
            if len(kept) == 1 and len(kept) < len(variants):
                del schema["oneOf"]
                schema.update(kept[0])


def _add_examples(schemas: dict[str, Any], examples: Mapping[str, Any]) -> None:
    """Schema-level ``examples`` (JSON Schema 2020-12) for the schemas the surface has them for."""
    for name, schema in schemas.items():
        if name in examples and "examples" not in schema:
            schema["examples"] = [examples[name]]


def _add_links(paths: Mapping[str, Any], links: Mapping[str, Mapping[str, Link]]) -> None:
    """Links from each source operation's success response (clients and stateful tests)."""
    found: set[str] = set()
    for operation in _operations(paths):
        if operation.get("operationId") not in links:
            continue
        found.add(operation["operationId"])
        success = min(code for code in operation["responses"] if code.startswith("2"))
        operation["responses"][success]["links"] = {
            name: {
                "operationId": link.operation_id,
                "parameters": dict(link.parameters),
                **({"description": link.description} if link.description else {}),
            }
            for name, link in sorted(links[operation["operationId"]].items())
        }
    missing = sorted(set(links) - found)
    if missing:
        raise ValueError(f"links declared from unknown operations: {', '.join(missing)}")


def surface_document(app: Litestar, surface: Surface) -> dict[str, Any]:
    """The surface's OpenAPI document, as committed in ``openapi/``."""
    full = app.openapi_schema.to_schema()
    paths = {
        path: item
        for path, item in full.get("paths", {}).items()
        if (path == surface.prefix or path.startswith(surface.prefix + "/"))
        and not any(path == other or path.startswith(other + "/") for other in surface.excludes)
    }
    paths = copy.deepcopy(paths)
    _document_headers(paths)
    _document_deprecations(paths)
    _add_links(paths, surface.links)
    _unnull_parameters(paths)
    components = _component_closure(paths, full.get("components", {}))
    _close_request_bodies(components.get("schemas", {}))
    _constrain_array_items(components.get("schemas", {}))
    if surface.examples is not None:
        _add_examples(components.get("schemas", {}), surface.examples())
    scopes = sorted(_scopes_used(paths))
    components["securitySchemes"] = {
        "oauth2": {
            "type": "oauth2",
            "description": (
                "OAuth 2.0 client credentials; JWT access tokens (RFC 9068) from the token "
                "endpoint of the configured issuer."
            ),
            "flows": {
                "clientCredentials": {
                    "tokenUrl": TOKEN_URL,
                    "scopes": {name: SCOPES[name] for name in scopes},
                }
            },
        }
    }
    used_tags = sorted(
        {tag for operation in _operations(paths) for tag in operation.get("tags", [])}
    )
    return {
        "openapi": full.get("openapi", "3.1.0"),
        "info": {
            "title": surface.title,
            "version": surface.version,
            "description": surface.description,
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": tag, "description": surface.tags.get(tag, "")} for tag in used_tags],
        "paths": paths,
        "components": components,
    }


def to_yaml(document: Mapping[str, Any]) -> str:
    """Deterministic YAML: sorted keys, no aliases, unicode kept."""

    class _NoAliases(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml.dump(document, Dumper=_NoAliases, sort_keys=True, allow_unicode=True, width=100)


class ContractDrift(msgspec.Struct, frozen=True):
    contract: str
    diff: str


def _documents(apps: Sequence[tuple[Litestar, Sequence[Surface]]]) -> Iterator[tuple[str, str]]:
    for app, surfaces in apps:
        for surface in surfaces:
            yield surface.contract, to_yaml(surface_document(app, surface))


def export_contracts(
    apps: Sequence[tuple[Litestar, Sequence[Surface]]], directory: Path = CONTRACTS_DIR
) -> list[Path]:
    """Write every surface's contract below ``directory``; returns the files written."""
    written: list[Path] = []
    for contract, text in _documents(apps):
        path = directory / contract
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def check_contracts(
    apps: Sequence[tuple[Litestar, Sequence[Surface]]], directory: Path = CONTRACTS_DIR
) -> list[ContractDrift]:
    """Every committed contract that differs from the code, with a unified diff."""
    drifts: list[ContractDrift] = []
    for contract, text in _documents(apps):
        path = directory / contract
        committed = path.read_text(encoding="utf-8") if path.exists() else ""
        if committed != text:
            diff = "".join(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    fromfile=f"committed/{contract}",
                    tofile=f"code/{contract}",
                )
            )
            drifts.append(ContractDrift(contract=contract, diff=diff or "(file missing)"))
    return drifts
