"""Raising again, in this layer, a business problem the layer below answered.

A view that forwards a command (a disposition request, recorded results) must tell its caller
why the process refused it: a 409 ``transition-not-allowed`` is the caller's business, not a
gateway fault. Only the problems a caller can act on are relayed, each as the same class of the
tree with the same detail and field errors; anything else from below means this layer sent
something the contract refuses or is misconfigured (its service token lacks a scope), which is
qgate's fault: :class:`DownstreamRejected` (502), logged by the caller of :func:`relayed_error`.
"""

from __future__ import annotations

from typing import Final

import msgspec

from shared.errors._tree import (
    BackendRejected,
    CapabilityUnsupported,
    Conflict,
    DownstreamRejected,
    DownstreamUnavailable,
    FieldError,
    InvalidCursor,
    NotFound,
    PreconditionFailed,
    ProcurementHoldActive,
    QgateError,
    SelfApproval,
    TransitionNotAllowed,
    ValidationFailed,
)

__all__ = ["relayed_error"]

_RELAYED: Final[dict[tuple[int, str], type[QgateError]]] = {
    (error.status, error.slug): error
    for error in (
        NotFound,
        InvalidCursor,
        Conflict,
        BackendRejected,
        TransitionNotAllowed,
        PreconditionFailed,
        SelfApproval,
        ValidationFailed,
        CapabilityUnsupported,
        ProcurementHoldActive,
    )
}


class _ProblemBody(msgspec.Struct, frozen=True):
    type: str = ""
    detail: str | None = None
    errors: list[FieldError] | None = None


def relayed_error(status: int, content: bytes) -> QgateError:
    """The error to raise for a non-success answer from the layer below (4xx, or 501: the
    connected system cannot do this; other 5xx are raised by the layer client already)."""
    try:
        body = msgspec.json.decode(content, type=_ProblemBody)
    except (msgspec.DecodeError, msgspec.ValidationError):
        body = _ProblemBody()
    slug = body.type.rsplit("/", 1)[-1]
    if status == 429 or (status == 409 and slug == "idempotency-key-in-flight"):
        return DownstreamUnavailable(f"The layer below is busy ({status}); retry later.")
    relayed = _RELAYED.get((status, slug))
    if relayed is None:
        return DownstreamRejected(f"The layer below refused the request ({status} {slug}).")
    return relayed(body.detail, errors=body.errors)
