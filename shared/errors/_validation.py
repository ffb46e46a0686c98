"""422 with every validation error: Litestar's per-parameter list and every error in a JSON
body, found by re-validating the decoded body field by field against the handler's type."""

from __future__ import annotations

import enum
import json
import logging
import re
from collections import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import UnionType
from typing import Annotated, Any, Final, Union, get_args, get_origin

import msgspec
from litestar import Request, Response
from litestar.dto import DTOData
from litestar.enums import RequestEncodingType
from litestar.exceptions import (
    ValidationException,
)
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg, ParameterKwarg
from litestar.response.base import ASGIResponse
from litestar.types import Receive, Scope, Send

from shared.errors._render import problem_response
from shared.errors._tree import PROBLEM_JSON, FieldError, ValidationFailed

_log = logging.getLogger("qgate.errors")


_MAX_FIELD_ERRORS: Final = 50
"""At most this many entries in ``errors[]``; ``detail`` says when more were found."""
_MAX_DEPTH: Final = 32
"""Below this nesting depth a value is checked as a whole (first error only)."""
_MSGSPEC_PATH: Final = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING_PARAMETER: Final = re.compile(
    r"^Missing required (?P<kind>\w+) parameter '(?P<name>[^']*)'"
)
_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_JSON_TYPES: Final = (
    (bool, "bool"),
    (int, "int"),
    (float, "float"),
    (str, "str"),
    (list, "array"),
    (dict, "object"),
)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _child(location: str, key: str) -> str:
    """``body.note``, or ``body["odd key"]`` when the key is not a plain name."""
    return f"{location}.{key}" if _IDENTIFIER.match(key) else f"{location}[{json.dumps(key)}]"


def _msgspec_message(exc: Exception) -> tuple[str, str]:
    """(message, path below the converted value) from a msgspec error: ``- at `$.a[0]```."""
    match = _MSGSPEC_PATH.match(str(exc))
    if match is None:  # pragma: no cover - the pattern matches any string
        return str(exc), ""
    return match.group("message"), match.group("path") or ""


def _unwrap(type_: Any) -> tuple[Any, tuple[msgspec.Meta, ...]]:
    """The bare type and its msgspec constraints; other ``Annotated`` metadata is dropped."""
    metas: list[msgspec.Meta] = []
    while True:
        if get_origin(type_) is Annotated:
            metas.extend(m for m in type_.__metadata__ if isinstance(m, msgspec.Meta))
            type_ = type_.__origin__
        elif hasattr(type_, "__supertype__"):  # typing.NewType
            type_ = type_.__supertype__
        else:
            return type_, tuple(metas)


def _annotate(type_: Any, metas: Sequence[msgspec.Meta]) -> Any:
    return Annotated.__class_getitem__((type_, *metas)) if metas else type_  # type: ignore[attr-defined]


_ARRAY_ORIGINS: Final = frozenset(
    {
        list,
        set,
        frozenset,
        abc.Sequence,
        abc.MutableSequence,
        abc.Set,
        abc.MutableSet,
        abc.Collection,
    }
)
_MAP_ORIGINS: Final = frozenset({dict, abc.Mapping, abc.MutableMapping})


class _BodyChecker:
    """Every error in a decoded JSON body against the handler's ``data`` type, with locations.

    msgspec stops at the first error; this walks Structs, arrays, maps and optional values
    itself and lets msgspec judge each leaf (with the same lax conversions Litestar applies),
    so one response lists every wrong, missing and unknown field. Bounded by
    :data:`_MAX_FIELD_ERRORS` and :data:`_MAX_DEPTH`.
    """

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self.truncated = False

    def add(self, location: str, message: str) -> None:
        if len(self.errors) >= _MAX_FIELD_ERRORS:
            self.truncated = True
            return
        self.errors.append(FieldError(location=location, message=message))

    def leaf(self, value: Any, type_: Any, location: str) -> None:
        """Let msgspec judge ``value`` as a whole: its first error, at the path it names."""
        try:
            msgspec.convert(value, type_, strict=False, str_keys=True)
        except msgspec.ValidationError as exc:
            message, path = _msgspec_message(exc)
            self.add(location + path, message)
        except (TypeError, ValueError):
            # A type msgspec cannot convert by itself (Litestar may decode it with its own hooks):
            # nothing certain to report here; the fallback keeps Litestar's own message.
            return

    def walk(self, value: Any, annotated: Any, location: str, depth: int = 0) -> None:
        if self.truncated:
            return
        type_, metas = _unwrap(annotated)
        origin = get_origin(type_) or type_
        before = len(self.errors)
        if depth >= _MAX_DEPTH or type_ is Any:
            if type_ is not Any:
                self.leaf(value, annotated, location)
            return
        if isinstance(type_, type) and issubclass(type_, msgspec.Struct):
            if not type_.__struct_config__.array_like:
                self._struct(value, type_, location, depth)
            if len(self.errors) == before:  # tags, __post_init__, array-like Structs
                self.leaf(value, annotated, location)
        elif origin in (Union, UnionType):
            self._union(value, type_, metas, location, depth)
        elif origin in _ARRAY_ORIGINS or (origin is tuple and get_args(type_)[1:] == (...,)):
            self._array(value, type_, metas, location, depth)
        elif origin in _MAP_ORIGINS:
            self._map(value, type_, metas, location, depth)
        else:
            self.leaf(value, annotated, location)

    def _struct(self, value: Any, type_: type[msgspec.Struct], location: str, depth: int) -> None:
        if not isinstance(value, dict):
            self.add(location, f"Expected `object`, got `{_json_type(value)}`")
            return
        config = type_.__struct_config__
        known: set[str] = set()
        if isinstance(config.tag_field, str):
            known.add(config.tag_field)
        for field in msgspec.structs.fields(type_):
            known.add(field.encode_name)
            if field.encode_name in value:
                self.walk(
                    value[field.encode_name],
                    field.type,
                    _child(location, field.encode_name),
                    depth + 1,
                )
            elif field.required:
                self.add(_child(location, field.encode_name), "Missing required field")
        if config.forbid_unknown_fields:
            for key in value:
                if key not in known:
                    self.add(_child(location, str(key)), "Unknown field")

    def _union(
        self, value: Any, type_: Any, metas: Sequence[msgspec.Meta], location: str, depth: int
    ) -> None:
        members = get_args(type_)
        if value is None and type(None) in members:
            return
        others = [member for member in members if member is not type(None)]
        if len(others) == 1 and not metas:
            self.walk(value, others[0], location, depth + 1)
        else:
            self.leaf(value, _annotate(type_, metas), location)

    def _array(
        self, value: Any, type_: Any, metas: Sequence[msgspec.Meta], location: str, depth: int
    ) -> None:
        if not isinstance(value, list):
            self.add(location, f"Expected `array`, got `{_json_type(value)}`")
            return
        args = get_args(type_)
        item_type = args[0] if args else Any
        before = len(self.errors)
        for index, item in enumerate(value):
            self.walk(item, item_type, f"{location}[{index}]", depth + 1)
            if self.truncated:
                return
        if len(self.errors) == before:
            self.leaf(value, _annotate(type_, metas), location)  # uniqueness, lengths
        elif metas:
            self.leaf(value, _annotate(list[Any], metas), location)  # lengths

    def _map(
        self, value: Any, type_: Any, metas: Sequence[msgspec.Meta], location: str, depth: int
    ) -> None:
        if not isinstance(value, dict):
            self.add(location, f"Expected `object`, got `{_json_type(value)}`")
            return
        args = get_args(type_)
        key_type, value_type = args if len(args) == 2 else (str, Any)
        for key, item in value.items():
            child = _child(location, str(key))
            self.leaf(key, key_type, child)
            self.walk(item, value_type, child, depth + 1)
            if self.truncated:
                return
        if metas:
            self.leaf(value, _annotate(dict[Any, Any], metas), location)


def _json_body_type(request: Request[Any, Any, Any]) -> Any | None:
    """The type of the handler's JSON ``data`` parameter, or ``None`` (no body, DTO, form...)."""
    handler = request.scope.get("route_handler")
    if not isinstance(handler, HTTPRouteHandler):
        return None
    field = handler.parsed_fn_signature.parameters.get("data")
    if field is None:
        return None
    kwarg = field.kwarg_definition
    if isinstance(kwarg, BodyKwarg) and kwarg.media_type is not RequestEncodingType.JSON:
        return None
    try:
        if handler.resolve_data_dto() is not None:
            return None
    except Exception:  # pragma: no cover - a handler outside an app
        return None
    if get_origin(field.annotation) is DTOData or field.annotation is DTOData:
        return None
    return field.raw


async def _body_errors(
    request: Request[Any, Any, Any], body_type: Any
) -> tuple[list[FieldError], bool]:
    """(errors, truncated) for the request's JSON body; the body is the one Litestar read."""
    body = await request.body()
    if not body.strip():
        return [FieldError(location="body", message="A JSON request body is required")], False
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        return [FieldError(location="body", message=f"Invalid JSON: {exc}")], False
    checker = _BodyChecker()
    checker.walk(value, body_type, "body")
    if not checker.errors:
        checker.leaf(value, _unwrap(body_type)[0], "body")
    return checker.errors, checker.truncated


def _parameter_location(request: Request[Any, Any, Any], source: str | None, key: str) -> str:
    """``header.Idempotency-Key``, ``query.limit``: the wire name where the handler declares one."""
    handler = request.scope.get("route_handler")
    kwarg = None
    if isinstance(handler, HTTPRouteHandler):
        field = handler.parsed_fn_signature.parameters.get(key)
        kwarg = field.kwarg_definition if field is not None else None
    if isinstance(kwarg, ParameterKwarg):
        name = kwarg.header or kwarg.query or kwarg.cookie or getattr(kwarg, "name", None) or key
        if source is None:
            source = "header" if kwarg.header else "cookie" if kwarg.cookie else "query"
        return f"{source}.{name}"
    return f"{source}.{key}" if source else key


def _parameter_errors(
    request: Request[Any, Any, Any], exc: ValidationException
) -> tuple[list[FieldError], bool]:
    """(Litestar's per-parameter errors with wire locations, whether the body failed too)."""
    found: list[FieldError] = []
    body_failed = False
    extra = exc.extra
    items: list[Any] = extra if isinstance(extra, list) else ([extra] if extra else [])
    for item in items:
        if not isinstance(item, Mapping):
            found.append(FieldError(location="request", message=str(item)))
            continue
        source = item.get("source")
        source = str(source.value if isinstance(source, enum.Enum) else source) if source else None
        key = str(item.get("key") or "")
        if source == "body":
            body_failed = True
            continue
        message = str(item.get("message") or "Invalid value")
        if message == repr(key):  # Litestar's KeyError text for an absent value
            message = "Missing required value"
        found.append(
            FieldError(location=_parameter_location(request, source, key), message=message)
        )
    if not items:
        missing = _MISSING_PARAMETER.match(exc.detail)
        if missing is not None:
            kind, name = missing.group("kind"), missing.group("name")
            found.append(
                FieldError(location=f"{kind}.{name}", message=f"Missing required {kind} parameter")
            )
        else:
            found.append(FieldError(location="request", message=exc.detail))
    return found, body_failed


def _validation_problem(
    request: Request[Any, Any, Any], errors: Sequence[FieldError], *, truncated: bool = False
) -> Response[bytes]:
    detail = "The request does not match the operation's contract; see errors."
    if truncated:
        detail = (
            "The request does not match the operation's contract; errors lists the first "
            f"{_MAX_FIELD_ERRORS} problems found."
        )
    return problem_response(
        request,
        status=422,
        slug=ValidationFailed.slug,
        title=ValidationFailed.title,
        detail=detail,
        errors=errors,
    )


class _DeferredASGIResponse(ASGIResponse):
    """Sends the response ``render`` builds when the response is sent (and may await)."""

    def __init__(
        self,
        render: Callable[[], Awaitable[Response[bytes]]],
        request: Request[Any, Any, Any],
    ) -> None:
        super().__init__()
        self._render = render
        self._request = request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self._render()
        await response.to_asgi_response(app=None, request=self._request)(scope, receive, send)


class _BodyValidationResponse(Response[bytes]):
    """A 422 whose body errors are found when it is sent.

    Litestar calls exception handlers synchronously, and reading the request body is
    asynchronous (it is cached by then: Litestar read it before validating it).
    """

    def __init__(
        self,
        request: Request[Any, Any, Any],
        parameter_errors: Sequence[FieldError],
        body_type: Any,
        fallback: Sequence[FieldError],
    ) -> None:
        super().__init__(content=b"", status_code=422, media_type=PROBLEM_JSON)
        self._request = request
        self._parameter_errors = list(parameter_errors)
        self._body_type = body_type
        self._fallback = list(fallback)

    async def _render(self) -> Response[bytes]:
        try:
            body_errors, truncated = await _body_errors(self._request, self._body_type)
        except Exception:
            _log.warning("could not re-validate the request body", exc_info=True)
            body_errors, truncated = [], False
        errors = [*self._parameter_errors, *(body_errors or self._fallback)]
        if len(errors) > _MAX_FIELD_ERRORS:
            errors, truncated = errors[:_MAX_FIELD_ERRORS], True
        return _validation_problem(self._request, errors, truncated=truncated)

    def to_asgi_response(
        self, app: Any, request: Request[Any, Any, Any], **kwargs: Any
    ) -> ASGIResponse:
        return _DeferredASGIResponse(self._render, request)


def _litestar_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[bytes]:
    """422 with every error: Litestar's per-parameter list, and every error in a JSON body."""
    errors, body_failed = _parameter_errors(request, exc)
    if body_failed:
        fallback = _litestar_body_errors(exc)
        body_type = _json_body_type(request)
        if body_type is not None:
            return _BodyValidationResponse(request, errors, body_type, fallback)
        errors.extend(fallback)
    return _validation_problem(request, errors)


def _litestar_body_errors(exc: ValidationException) -> list[FieldError]:
    """Litestar's own (first) body error, located ``body.<path>``, for when re-validation fails."""
    found: list[FieldError] = []
    items = exc.extra if isinstance(exc.extra, list) else []
    for item in items:
        if isinstance(item, Mapping) and str(item.get("source") or "") == "body":
            key = str(item.get("key") or "")
            location = "body" if key in ("", "data") else f"body.{key}"
            found.append(FieldError(location=location, message=str(item.get("message") or "")))
    return found
