"""Helpers for declaring operations the way every qgate contract needs them.

Every operation declares exactly one security requirement (:func:`requires`), its problem+json
error responses (:func:`problems`), and, when unsafe, the ``Idempotency-Key`` header
(:data:`IdempotencyKey`) and ``opt=IDEMPOTENT`` so the pipeline enforces it.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, SecurityRequirement
from litestar.params import HeaderParameter

from shared.errors import PROBLEM_JSON, PROBLEM_TYPE_BASE, Problem

__all__ = [
    "DOWNSTREAM",
    "IDEMPOTENT",
    "READ",
    "WRITE",
    "IdempotencyKey",
    "problems",
    "requires",
]

_DESCRIPTIONS: Final = {
    400: ("bad-request", "Malformed request: a header or parameter is not acceptable."),
    401: ("unauthenticated", "No access token, or one that is invalid, expired or not for qgate."),
    403: ("insufficient-scope", "The token lacks a scope this operation requires."),
    404: ("not-found", "No such resource (or not visible to this caller)."),
    409: ("idempotency-key-in-flight", "A request with this Idempotency-Key is still running."),
    412: ("precondition-failed", "The If-Match ETag is stale."),
    413: ("content-too-large", "The request body is too large."),
    422: ("validation-failed", "The request does not match the contract (every error listed)."),
    428: ("precondition-required", "This operation requires If-Match."),
    429: ("rate-limited", "Rate limit exceeded; see Retry-After and RateLimit."),
    500: ("internal-error", "Unexpected failure; quote the correlation id."),
    502: ("downstream-rejected", "The layer or system below gave an unusable answer."),
    503: ("downstream-unavailable", "The layer or system below is unavailable; retry later."),
    504: ("downstream-timeout", "The layer or system below did not answer in time."),
}

READ: Final = (400, 401, 403, 422, 429, 500)
"""Errors every secured read can answer."""
WRITE: Final = (400, 401, 403, 409, 413, 422, 429, 500)
"""Errors every secured unsafe operation can answer."""
DOWNSTREAM: Final = (502, 503, 504)
"""Errors of operations that call the layer below."""

IDEMPOTENT: Final[dict[str, Any]] = {"idempotent": True}

IdempotencyKey = Annotated[
    str,
    HeaderParameter(
        name="Idempotency-Key",
        description=(
            "Unique key for this request (draft-ietf-httpapi-idempotency-key-header), 1 to 255 "
            "visible ASCII characters, reused unchanged on every retry. Keys are scoped to the "
            "client; a completed response is replayed with `Idempotent-Replayed: true` for 24 "
            "hours (QGATE_IDEMPOTENCY_RETENTION_SECONDS). Reusing a key with a different request "
            "answers 422; while the first request runs, 409. An error response frees the key."
        ),
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
    ),
]


def requires(*scopes: str) -> list[SecurityRequirement]:
    """Exactly one security requirement: OAuth 2.0 with these scopes (all required)."""
    return [{"oauth2": list(scopes)}]


def problems(*groups: tuple[int, ...] | int) -> dict[int, ResponseSpec]:
    """problem+json responses for the given statuses (groups of statuses or single ones)."""
    statuses: set[int] = set()
    for group in groups:
        statuses.update(group if isinstance(group, tuple) else (group,))
    specs: dict[int, ResponseSpec] = {}
    for status in sorted(statuses):
        slug, description = _DESCRIPTIONS[status]
        specs[status] = ResponseSpec(
            data_container=Problem,
            media_type=PROBLEM_JSON,
            description=description,
            generate_examples=False,
            examples=[
                Example(
                    summary=slug,
                    value={
                        "type": PROBLEM_TYPE_BASE + slug,
                        "title": description,
                        "status": status,
                        "correlationId": "5f0c6c1e-8f2a-4b7e-9a57-3f6d2b1c0a9e",
                    },
                )
            ],
        )
    return specs
