"""The exception handlers every qgate app installs: Litestar and unexpected exceptions too."""

from __future__ import annotations

import logging
from typing import Any, Final

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap

from shared.errors._render import problem_response, render_error
from shared.errors._tree import FieldError, MalformedBody, QgateError
from shared.errors._validation import _litestar_validation

_log = logging.getLogger("qgate.errors")


_HTTP_SLUGS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    408: ("request-timeout", "Request timeout"),
    409: ("conflict", "Conflict"),
    413: ("content-too-large", "Content too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("unprocessable-content", "Unprocessable content"),
    429: ("rate-limited", "Too many requests"),
}


def _litestar_http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    if status >= 500:
        _log.error("request failed with %s", status, exc_info=exc)
        return problem_response(
            request,
            status=status,
            slug="internal-error",
            title="Internal server error",
            detail="See the server log under this correlation id.",
        )
    slug, title = _HTTP_SLUGS.get(status, ("client-error", "Client error"))
    headers = dict(exc.headers or {})
    if isinstance(exc.__cause__, SerializationException):
        # Litestar could not decode the body (malformed JSON, bad UTF-8, truncated input).
        reason = str(exc.__cause__).removeprefix("JSON is malformed: ")
        return _malformed_body(request, f"The request body is not valid JSON: {reason}")
    if isinstance(exc, NotFoundException):
        detail = f"No resource at {request.url.path}"
    elif isinstance(exc, MethodNotAllowedException):
        detail = f"{request.method} is not allowed on {request.url.path}"
    else:
        detail = exc.detail
    return problem_response(
        request, status=status, slug=slug, title=title, detail=detail, headers=headers
    )


def _malformed_body(request: Request[Any, Any, Any], detail: str) -> Response[bytes]:
    return problem_response(
        request,
        status=MalformedBody.status,
        slug=MalformedBody.slug,
        title=MalformedBody.title,
        detail=detail,
        errors=[FieldError(location="body", message=detail)],
    )


def _recursion(request: Request[Any, Any, Any], exc: RecursionError) -> Response[bytes]:
    """msgspec refuses JSON nested deeper than it can decode: the client's fault, not a 500."""
    if "while deserializing" in str(exc):
        return _malformed_body(request, "The request body is nested too deeply to decode.")
    return _unexpected(request, exc)


_BODY_DECODERS: Final = frozenset(
    {
        ("litestar.serialization.msgspec_hooks", "decode_json"),  # Request.json()
    }
)
"""Where a request body is decoded as JSON: msgspec raises UnicodeDecodeError, not DecodeError,
for bytes that are not UTF-8 inside a JSON string."""


def _undecodable(request: Request[Any, Any, Any], exc: UnicodeDecodeError) -> Response[bytes]:
    """Non-UTF-8 bytes in a JSON request body: 400; any other UnicodeDecodeError is a bug (500)."""
    innermost = exc.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    if innermost is not None:
        frame = innermost.tb_frame
        if (frame.f_globals.get("__name__"), frame.f_code.co_name) in _BODY_DECODERS:
            return _malformed_body(request, "The request body is not valid JSON: not UTF-8.")
    return _unexpected(request, exc)


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    _log.error("unhandled exception", exc_info=exc)
    return problem_response(
        request,
        status=500,
        slug="internal-error",
        title="Internal server error",
        detail="See the server log under this correlation id.",
    )


def exception_handlers() -> ExceptionHandlersMap:
    """The handlers every qgate app installs: the only place errors become responses."""
    return {
        QgateError: render_error,
        ValidationException: _litestar_validation,
        HTTPException: _litestar_http,
        RecursionError: _recursion,
        UnicodeDecodeError: _undecodable,
        Exception: _unexpected,
    }
