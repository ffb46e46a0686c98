"""One exception tree for qgate, rendered once as RFC 9457 ``application/problem+json``.

::

    QgateError                         (500, generic; never shows its message to callers)
    ├── ClientError                    (4xx; ``detail`` is shown to the caller)
    │   ├── BadRequest                 400
    │   │   └── IdempotencyKeyMissing  400
    │   ├── Unauthenticated            401  (``WWW-Authenticate: Bearer error="invalid_token"``)
    │   ├── InsufficientScope          403  (``WWW-Authenticate: error="insufficient_scope"``)
    │   ├── Forbidden                  403
    │   ├── NotFound                   404
    │   ├── MethodNotAllowed           405
    │   ├── Conflict                   409
    │   │   └── IdempotencyKeyInFlight 409
    │   ├── PreconditionFailed         412
    │   ├── UnprocessableContent       422  (``errors[]`` lists every validation error)
    │   │   ├── ValidationFailed       422
    │   │   └── IdempotencyKeyReused   422
    │   ├── ContentTooLarge            413
    │   ├── PreconditionRequired       428
    │   └── RateLimited                429  (``Retry-After`` and ``RateLimit`` headers)
    └── ServiceError                   (5xx)
        ├── DownstreamRejected         502  (the layer below answered something unusable)
        ├── DownstreamUnavailable      503  (retryable: the layer below or a backend is down)
        └── DownstreamTimeout          504  (retryable)

Services raise these, never HTTP exceptions; :func:`exception_handlers` turns them (and every
Litestar or unexpected exception) into problem+json. A 5xx never carries a stack trace, an
exception message from a library or a backend secret: only the generic title and the
correlation id to quote when reporting it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap

from shared.correlation import current_correlation_id

__all__ = [
    "PROBLEM_JSON",
    "PROBLEM_TYPE_BASE",
    "BadRequest",
    "ClientError",
    "Conflict",
    "ContentTooLarge",
    "DownstreamRejected",
    "DownstreamTimeout",
    "DownstreamUnavailable",
    "FieldError",
    "Forbidden",
    "IdempotencyKeyInFlight",
    "IdempotencyKeyMissing",
    "IdempotencyKeyReused",
    "InsufficientScope",
    "MethodNotAllowed",
    "NotFound",
    "PreconditionFailed",
    "PreconditionRequired",
    "Problem",
    "QgateError",
    "RateLimited",
    "ServiceError",
    "Unauthenticated",
    "UnprocessableContent",
    "ValidationFailed",
    "exception_handlers",
    "problem_response",
    "render_error",
]

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://qgate.dev/problems/"

_log = logging.getLogger("qgate.errors")


class FieldError(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One validation error: where it is (``body.note``, ``header.Idempotency-Key``) and why."""

    location: str
    message: str


class Problem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """RFC 9457 problem details, with qgate's ``correlationId`` and ``errors`` extensions."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    correlationId: str | None = None  # noqa: N815 - wire name
    errors: list[FieldError] | None = None


class QgateError(Exception):
    """Base of every error qgate raises on purpose. Unknown subclasses render as 500."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal-error"
    title: ClassVar[str] = "Internal server error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[FieldError] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.errors = list(errors) if errors else None
        self.headers = dict(headers or {})

    @property
    def type_uri(self) -> str:
        return PROBLEM_TYPE_BASE + self.slug


class ClientError(QgateError):
    status = 400
    slug = "bad-request"
    title = "Bad request"


class BadRequest(ClientError):
    pass


class IdempotencyKeyMissing(BadRequest):
    slug = "idempotency-key-missing"
    title = "Idempotency-Key header required"


class Unauthenticated(ClientError):
    """401: the bearer token is missing or not acceptable (RFC 6750 ``invalid_token``)."""

    status = 401
    slug = "unauthenticated"
    title = "Authentication required"

    def __init__(self, detail: str, *, token_present: bool = True) -> None:
        # RFC 6750 §3.1: a request without credentials gets no error code, a bad token gets
        # invalid_token. The description never echoes token content.
        challenge = 'Bearer realm="qgate"'
        if token_present:
            challenge += f', error="invalid_token", error_description="{_quote(detail)}"'
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class InsufficientScope(ClientError):
    """403: the token is valid but lacks a scope the operation declares."""

    status = 403
    slug = "insufficient-scope"
    title = "Insufficient scope"

    def __init__(self, missing: Sequence[str]) -> None:
        scopes = " ".join(missing)
        super().__init__(
            f"This operation requires the scope(s): {scopes}",
            headers={
                "WWW-Authenticate": (
                    f'Bearer realm="qgate", error="insufficient_scope", scope="{scopes}"'
                )
            },
        )
        self.missing = list(missing)


class Forbidden(ClientError):
    status = 403
    slug = "forbidden"
    title = "Forbidden"


class NotFound(ClientError):
    status = 404
    slug = "not-found"
    title = "Not found"


class MethodNotAllowed(ClientError):
    status = 405
    slug = "method-not-allowed"
    title = "Method not allowed"


class Conflict(ClientError):
    status = 409
    slug = "conflict"
    title = "Conflict"


class IdempotencyKeyInFlight(Conflict):
    slug = "idempotency-key-in-flight"
    title = "A request with this Idempotency-Key is still being processed"


class PreconditionFailed(ClientError):
    status = 412
    slug = "precondition-failed"
    title = "Precondition failed"


class UnprocessableContent(ClientError):
    status = 422
    slug = "unprocessable-content"
    title = "Unprocessable content"


class ValidationFailed(UnprocessableContent):
    slug = "validation-failed"
    title = "Request validation failed"


class IdempotencyKeyReused(UnprocessableContent):
    slug = "idempotency-key-reused"
    title = "Idempotency-Key reused with a different request"


class ContentTooLarge(ClientError):
    status = 413
    slug = "content-too-large"
    title = "Content too large"


class PreconditionRequired(ClientError):
    status = 428
    slug = "precondition-required"
    title = "Precondition required"


class RateLimited(ClientError):
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class ServiceError(QgateError):
    status = 500


class DownstreamUnavailable(ServiceError):
    status = 503
    slug = "downstream-unavailable"
    title = "A system qgate depends on is unavailable"


class DownstreamRejected(ServiceError):
    status = 502
    slug = "downstream-rejected"
    title = "A system qgate depends on gave an unusable answer"


class DownstreamTimeout(ServiceError):
    status = 504
    slug = "downstream-timeout"
    title = "A system qgate depends on did not answer in time"


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


def problem_response(
    request: Request[Any, Any, Any] | None,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    """Render one problem+json response (used by every handler below)."""
    problem = Problem(
        type=PROBLEM_TYPE_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        correlationId=current_correlation_id(),
        errors=list(errors) if errors else None,
    )
    return Response(
        content=msgspec.json.encode(problem),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def render_error(request: Request[Any, Any, Any], exc: QgateError) -> Response[bytes]:
    """The problem+json response for one of qgate's own errors."""
    if exc.status >= 500:
        _log.error("request failed: %s", exc.title, exc_info=exc)
        # The class's own title only: a ServiceError's message may carry backend detail.
        return problem_response(
            request,
            status=exc.status,
            slug=exc.slug,
            title=exc.title,
            detail="See the server log under this correlation id.",
            headers=exc.headers,
        )
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )


def _validation_errors(exc: ValidationException) -> list[FieldError]:
    found: list[FieldError] = []
    extra = exc.extra
    items: list[Any] = extra if isinstance(extra, list) else ([extra] if extra else [])
    for item in items:
        if isinstance(item, Mapping):
            source = str(item.get("source") or "body")
            key = item.get("key")
            location = f"{source}.{key}" if key else source
            found.append(FieldError(location=location, message=str(item.get("message", ""))))
        else:
            found.append(FieldError(location="body", message=str(item)))
    if not found:
        found.append(FieldError(location="body", message=exc.detail))
    return found


def _litestar_validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[bytes]:
    return problem_response(
        request,
        status=422,
        slug=ValidationFailed.slug,
        title=ValidationFailed.title,
        detail="The request does not match the operation's contract; see errors.",
        errors=_validation_errors(exc),
    )


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
    if isinstance(exc, NotFoundException):
        detail = f"No resource at {request.url.path}"
    elif isinstance(exc, MethodNotAllowedException):
        detail = f"{request.method} is not allowed on {request.url.path}"
    else:
        detail = exc.detail
    return problem_response(
        request, status=status, slug=slug, title=title, detail=detail, headers=headers
    )


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
        Exception: _unexpected,
    }
