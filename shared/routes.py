"""Helpers for declaring operations the way every qgate contract needs them.

Every operation declares exactly one security requirement (:func:`requires`), its problem+json
error responses (:func:`problems`), and, when unsafe, the ``Idempotency-Key`` header
(:data:`IdempotencyKey`) and ``opt=IDEMPOTENT`` so the pipeline enforces it.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, NamedTuple

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, SecurityRequirement
from litestar.params import HeaderParameter

from shared.errors import (
    PROBLEM_JSON,
    PROBLEM_TYPE_BASE,
    BackendRejected,
    BadRequest,
    CapabilityUnsupported,
    ContentTooLarge,
    DownstreamRejected,
    DownstreamTimeout,
    DownstreamUnavailable,
    Forbidden,
    IdempotencyKeyInFlight,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    InsufficientScope,
    InvalidCursor,
    MalformedBody,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Problem,
    ProcurementHoldActive,
    QgateError,
    RateLimited,
    SelfApproval,
    TransitionNotAllowed,
    Unauthenticated,
    ValidationFailed,
)

__all__ = [
    "DOWNSTREAM",
    "HELD",
    "IDEMPOTENT",
    "PAGED",
    "READ",
    "REJECTABLE",
    "SELF_APPROVAL",
    "STATEFUL",
    "WRITE",
    "IdempotencyKey",
    "StatusGroup",
    "problems",
    "requires",
]


class StatusGroup(tuple[int, ...]):
    """Error statuses an operation can answer; ``unsafe`` groups are idempotent writes."""

    unsafe: bool = False
    rejectable: bool = False
    paged: bool = False
    stateful: bool = False
    approval: bool = False
    held: bool = False


class _UnsafeGroup(StatusGroup):
    unsafe = True


class _RejectableGroup(StatusGroup):
    rejectable = True


class _PagedGroup(StatusGroup):
    paged = True


class _StatefulGroup(StatusGroup):
    stateful = True


class _ApprovalGroup(StatusGroup):
    approval = True


class _HeldGroup(StatusGroup):
    held = True


class _Problem(NamedTuple):
    """One kind of problem a status can carry, as documented in the contracts."""

    error: type[QgateError]
    when: str
    unsafe_only: bool = False
    conflict_only: bool = False
    """Only on operations given the :data:`REJECTABLE` group (they change business state)."""
    paged_only: bool = False
    """Only on operations given the :data:`PAGED` group (lists with a cursor)."""
    stateful_only: bool = False
    """Only on operations given the :data:`STATEFUL` group (a state machine decides)."""
    approval_only: bool = False
    """Only on operations given the :data:`SELF_APPROVAL` group (four eyes)."""
    held_only: bool = False
    """Only on operations given the :data:`HELD` group (procurement holds apply)."""


_PROBLEMS: Final[dict[int, tuple[_Problem, ...]]] = {
    400: (
        _Problem(BadRequest, "a header or parameter is not acceptable"),
        _Problem(MalformedBody, "the body is not valid JSON", unsafe_only=True),
        _Problem(InvalidCursor, "the cursor is not one this list issued", paged_only=True),
        _Problem(IdempotencyKeyMissing, "the Idempotency-Key header is missing", unsafe_only=True),
    ),
    401: (
        _Problem(
            Unauthenticated, "no access token, or one that is invalid, expired or not for qgate"
        ),
    ),
    403: (
        _Problem(InsufficientScope, "the token lacks a scope this operation requires"),
        _Problem(Forbidden, "the client may not act on behalf of another caller"),
        _Problem(
            SelfApproval,
            "the caller requested this change and cannot approve it (four eyes)",
            approval_only=True,
        ),
    ),
    404: (_Problem(NotFound, "no such resource (or not visible to this caller)"),),
    409: (
        _Problem(
            BackendRejected,
            "the system of record refused the change (the detail gives its reason)",
            conflict_only=True,
        ),
        _Problem(
            TransitionNotAllowed,
            "the current state does not allow this change (the detail says why)",
            stateful_only=True,
        ),
        _Problem(
            ProcurementHoldActive,
            "purchasing of this item from this supplier is on hold (a containment case)",
            held_only=True,
        ),
        _Problem(
            IdempotencyKeyInFlight,
            "a request with this Idempotency-Key is still running",
            unsafe_only=True,
        ),
    ),
    412: (_Problem(PreconditionFailed, "the If-Match ETag is stale"),),
    413: (_Problem(ContentTooLarge, "the request body is too large"),),
    422: (
        _Problem(ValidationFailed, "the request does not match the contract (`errors` lists all)"),
        _Problem(
            IdempotencyKeyReused,
            "the Idempotency-Key was used before with a different request",
            unsafe_only=True,
        ),
    ),
    428: (_Problem(PreconditionRequired, "this operation requires If-Match"),),
    429: (_Problem(RateLimited, "rate limit exceeded; see Retry-After and RateLimit"),),
    500: (_Problem(QgateError, "unexpected failure; quote the correlation id"),),
    501: (
        _Problem(CapabilityUnsupported, "the connected ERP or QMS cannot do this (see the detail)"),
    ),
    502: (_Problem(DownstreamRejected, "the layer or system below gave an unusable answer"),),
    503: (
        _Problem(
            DownstreamUnavailable,
            "the layer below, or a store qgate depends on, is unavailable; retry later",
        ),
    ),
    504: (_Problem(DownstreamTimeout, "the layer or system below did not answer in time"),),
}
_EXAMPLE_CORRELATION_ID: Final = "5f0c6c1e-8f2a-4b7e-9a57-3f6d2b1c0a9e"

READ: Final = StatusGroup((400, 401, 403, 422, 429, 500, 503))
"""Errors every secured read can answer (503: the rate-limit store is down, fail-closed)."""
WRITE: Final = _UnsafeGroup((400, 401, 403, 409, 413, 422, 429, 500, 503))
"""Errors every secured unsafe (idempotent) operation can answer."""
DOWNSTREAM: Final = StatusGroup((502, 503, 504))
"""Errors of operations that call the layer below."""
PAGED: Final = _PagedGroup((400,))
"""Lists paginated with a cursor (400 ``invalid-cursor``)."""
REJECTABLE: Final = _RejectableGroup((409,))
"""Operations the system of record may refuse (409 ``backend-rejected``)."""
STATEFUL: Final = _StatefulGroup((409,))
"""Operations a state machine may refuse (409 ``transition-not-allowed``)."""
SELF_APPROVAL: Final = _ApprovalGroup((403,))
"""Approvals under the four-eyes principle (403 ``self-approval``)."""
HELD: Final = _HeldGroup((409,))
"""Receipts and inspections a procurement hold refuses (409 ``procurement-hold``)."""

IDEMPOTENT: Final[dict[str, Any]] = {"idempotent": True}

IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        description=(
            "Unique key for this request (draft-ietf-httpapi-idempotency-key-header), 1 to 255 "
            "visible ASCII characters, reused unchanged on every retry (the structured-field "
            'string form `"key"` names the same key as `key`). Keys are scoped to the '
            "client; a completed response is replayed with `Idempotent-Replayed: true` for 24 "
            "hours (QGATE_IDEMPOTENCY_RETENTION_SECONDS). Reusing a key with a different request "
            "answers 422; while the first request runs, 409. An error response frees the key."
        ),
        min_length=1,
        max_length=255,
        pattern=r'^(?!""$)[\x21-\x7e]+$',
    ),
]


def requires(*scopes: str) -> list[SecurityRequirement]:
    """Exactly one security requirement: OAuth 2.0 with these scopes (all required)."""
    return [{"oauth2": list(scopes)}]


def _example(status: int, problem: _Problem) -> Example:
    error = problem.error
    value: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + error.slug,
        "title": error.title,
        "status": status,
        "correlationId": _EXAMPLE_CORRELATION_ID,
    }
    if problem.error is ValidationFailed:
        value["errors"] = [{"location": "body.note", "message": "Expected `str` of length <= 200"}]
    return Example(summary=problem.when[:1].upper() + problem.when[1:], value=value)


def problems(*groups: tuple[int, ...] | int) -> dict[int, ResponseSpec]:
    """problem+json responses for the given statuses (groups of statuses or single ones).

    Each response is described and exemplified with every problem its status can carry; the
    Idempotency-Key problems only on operations given the :data:`WRITE` group.
    """
    statuses: set[int] = set()
    flags: set[str] = set()
    for group in groups:
        statuses.update(group if isinstance(group, tuple) else (group,))
        if isinstance(group, StatusGroup):
            flags.update(
                flag
                for flag in ("unsafe", "rejectable", "paged", "stateful", "approval", "held")
                if getattr(group, flag)
            )
    specs: dict[int, ResponseSpec] = {}
    for status in sorted(statuses):
        kinds = [
            kind
            for kind in _PROBLEMS[status]
            if ("unsafe" in flags or not kind.unsafe_only)
            and ("rejectable" in flags or not kind.conflict_only)
            and ("paged" in flags or not kind.paged_only)
            and ("stateful" in flags or not kind.stateful_only)
            and ("approval" in flags or not kind.approval_only)
            and ("held" in flags or not kind.held_only)
        ]
        description = "; or ".join(kind.when for kind in kinds)
        specs[status] = ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=description[:1].upper() + description[1:] + ".",
            generate_examples=False,
            examples=[_example(status, kind) for kind in kinds],
        )
    return specs
