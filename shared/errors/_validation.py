"""422 with every validation error: Litestar's per-parameter list and every error in a JSON
body, found by re-validating the decoded body field by field against the handler's type."""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, get_origin

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

from shared.errors._bodycheck import (
    _MAX_FIELD_ERRORS,
    _MISSING_PARAMETER,
    _BodyChecker,
    _unwrap,
)
from shared.errors._render import problem_response
from shared.errors._tree import PROBLEM_JSON, FieldError, MalformedBody, ValidationFailed

_log = logging.getLogger("qgate.errors")


def _json_body_type(request: Request[Any, Any, Any]) -> Any | None:
    """The type of the handler's JSON ``data`` parameter, or ``None`` (no body, DTO, form...)."""
    handler = request.scope.get("route_handler")
    if not isinstance(handler, HTTPRouteHandler):
        return None
    return json_body_type(handler)


def json_body_type(handler: HTTPRouteHandler) -> Any | None:
    """The type of ``handler``'s JSON ``data`` parameter, or ``None`` (no body, DTO, form...)."""
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


def _integral_floats_as_ints(value: Any) -> Any:
    """JSON Schema counts ``3.0`` as an integer; msgspec's strict mode does not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value


def check_json_body(body: bytes, body_type: Any) -> None:
    """Validate a JSON body strictly (no ``"5"`` for a number, no ``0`` for a date-time).

    Litestar converts bodies leniently, as it must for query strings; a JSON body has real
    types, so a wrong one is a 422 listing every error. A number with no fraction counts as an
    integer, as in JSON Schema. Bodies that are empty or not JSON are left to Litestar's own
    answers; a body that is not UTF-8 is a 400.
    """
    if not body.strip():
        return
    try:
        value = _integral_floats_as_ints(msgspec.json.decode(body))
    except msgspec.DecodeError:
        return
    except UnicodeDecodeError as exc:
        raise MalformedBody("The request body is not valid UTF-8.") from exc
    try:
        msgspec.convert(value, body_type, strict=True, str_keys=True)
    except msgspec.ValidationError as exc:
        first = exc
    else:
        return
    checker = _BodyChecker(strict=True)
    checker.walk(value, body_type, "body")
    errors = checker.errors or [FieldError(location="body", message=str(first))]
    raise ValidationFailed(
        "The request does not match the operation's contract; see errors.", errors=errors
    )


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
