"""The exception tree and the problem+json wire types (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import msgspec

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_BASE = "https://qgate.dev/problems/"


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
    retryable: ClassVar[bool] = False
    """True when the same request may succeed later (the cause is transient)."""
    public_detail: ClassVar[bool] = False
    """For a 5xx: True when ``detail`` is qgate's own text, safe to show (never a backend's)."""

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


class MalformedBody(BadRequest):
    slug = "malformed-body"
    title = "Malformed request body"


class InvalidCursor(BadRequest):
    """400: a list's ``cursor`` is not one that list issued (pass ``nextCursor`` back as is)."""

    slug = "invalid-cursor"
    title = "Invalid pagination cursor"


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


class SelfApproval(Forbidden):
    """403: four-eyes principle; the person who requested a change cannot approve it."""

    slug = "self-approval"
    title = "A second person must approve"


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
    retryable = True
    slug = "idempotency-key-in-flight"
    title = "A request with this Idempotency-Key is still being processed"


class BackendRejected(Conflict):
    """409: the system of record refused the change for good (its message is the detail)."""

    slug = "backend-rejected"
    title = "Rejected by the system of record"


class TransitionNotAllowed(Conflict):
    """409: the record's current state does not allow this change (a state machine said no)."""

    slug = "transition-not-allowed"
    title = "Not allowed in the current state"


class ProcurementHoldActive(Conflict):
    """409: purchasing of this item from this supplier is on hold (a containment case)."""

    slug = "procurement-hold"
    title = "Purchasing from this supplier is on hold"


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
    retryable = True
    status = 429
    slug = "rate-limited"
    title = "Too many requests"


class ServiceError(QgateError):
    status = 500


class DownstreamUnavailable(ServiceError):
    retryable = True
    status = 503
    slug = "downstream-unavailable"
    title = "A system qgate depends on is unavailable"


class DownstreamRejected(ServiceError):
    status = 502
    slug = "downstream-rejected"
    title = "A system qgate depends on gave an unusable answer"


class DownstreamTimeout(ServiceError):
    retryable = True
    status = 504
    slug = "downstream-timeout"
    title = "A system qgate depends on did not answer in time"


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


class CapabilityUnsupported(ServiceError):
    """501: the connected ERP or QMS cannot do this (e.g. Tryton has no purchasing block)."""

    status = 501
    slug = "capability-unsupported"
    title = "Not supported by the connected system"
    public_detail = True
