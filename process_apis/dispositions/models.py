"""Wire and stored types of a lot disposition: the request, the approval, and the resource.

A :class:`Disposition` is both what ``GET /process/v1/lot-dispositions/{id}`` answers and what the
store keeps (Redis in deployments): it holds everything a worker in any replica needs to finish
the job after a restart, including the callers to act for and the lot version (``If-Match``)
fixed before the first ERP attempt.
"""

from __future__ import annotations

import enum
from typing import Annotated, Final

import msgspec

from shared.audit import AuditCaller
from shared.ids import time_ordered_id
from shared.models import DispositionCode, LotDisposition, QgateStruct, RequestStruct, Timestamp
from shared.models._types import InspectionId, LotId, NcId, Reason
from shared.models.commands import TargetQuantityInput
from shared.models.qms import SignatureMeaning, TargetQuantity

__all__ = [
    "ACTIVE",
    "DISPOSITION_ID_PATTERN",
    "TERMINAL",
    "Approval",
    "ApprovalDecision",
    "Disposition",
    "DispositionApproval",
    "DispositionId",
    "DispositionPage",
    "DispositionStatus",
    "DispositionSummary",
    "LotDispositionRequest",
    "StepStatus",
    "SystemStep",
    "new_disposition_id",
]

DISPOSITION_ID_PATTERN: Final = r"^DSP-[0-9A-F]{20}$"
DispositionId = Annotated[
    str,
    msgspec.Meta(
        pattern=DISPOSITION_ID_PATTERN,
        description="A lot disposition's id (time-ordered: later requests sort after).",
        examples=["DSP-019A6B2C3D4E5F607182"],
    ),
]


def new_disposition_id() -> str:
    """``DSP-`` + a time-ordered id (``shared.ids``)."""
    return time_ordered_id("DSP")


class DispositionStatus(enum.StrEnum):
    PENDING_APPROVAL = "PENDING_APPROVAL"
    """A release of a BLOCKED lot waits for a second person holding the approve scope."""
    PENDING_QMS = "PENDING_QMS"
    """Accepted; the QMS usage decision is not confirmed yet (the worker retries)."""
    PENDING_ERP = "PENDING_ERP"
    """Accepted; the ERP change of the lot is not confirmed yet (the worker retries)."""
    APPLIED = "APPLIED"
    """Confirmed by every system concerned."""
    FAILED = "FAILED"
    """A system refused it for good, or the retry limit was reached: see ``lastError``."""
    DECLINED = "DECLINED"
    """The approver declined it; nothing was applied."""


ACTIVE: Final = frozenset(
    {
        DispositionStatus.PENDING_APPROVAL,
        DispositionStatus.PENDING_QMS,
        DispositionStatus.PENDING_ERP,
    }
)
"""A lot has at most one disposition in these states at a time."""
TERMINAL: Final = frozenset(
    {DispositionStatus.APPLIED, DispositionStatus.FAILED, DispositionStatus.DECLINED}
)


class StepStatus(enum.StrEnum):
    PENDING = "PENDING"
    APPLIED = "APPLIED"
    NOT_REQUIRED = "NOT_REQUIRED"
    """QMS only: no inspection awaits a usage decision for this change."""
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    """Not attempted because the disposition ended (declined, or failed at another step)."""


class ApprovalDecision(enum.StrEnum):
    APPROVE = "APPROVE"
    DECLINE = "DECLINE"


class LotDispositionRequest(RequestStruct, frozen=True, kw_only=True):
    """Decide what happens to a lot, in QMS and ERP at once."""

    lot_id: LotId
    decision: DispositionCode
    reason: Reason
    inspection_id: InspectionId | None = None
    """The inspection this decision concludes (its usage decision in the QMS); without it, the
    lot's one inspection awaiting a decision is used, if there is one."""
    nc_id: NcId | None = None
    """The nonconformance behind the decision; a release of a BLOCKED lot needs one decided
    USE_AS_IS that names the lot."""
    quantities: Annotated[list[TargetQuantityInput], msgspec.Meta(max_length=5)] = msgspec.field(
        default_factory=list
    )
    """Partial disposition: the lot's stock by category afterwards (adding up to the lot's
    quantity); empty moves all of it to the decision's default category."""
    signature_meaning: SignatureMeaning | None = None


class DispositionApproval(RequestStruct, frozen=True, kw_only=True):
    """A second person's answer to a disposition waiting for approval."""

    decision: ApprovalDecision
    reason: Reason
    signature_meaning: SignatureMeaning | None = None


class Approval(QgateStruct, frozen=True, kw_only=True):
    decision: ApprovalDecision
    approver: AuditCaller
    """The person who approved (the original caller when a layer acted on its behalf)."""
    reason: Reason
    signature_meaning: SignatureMeaning | None = None
    decided_at: Timestamp


class SystemStep(QgateStruct, frozen=True, kw_only=True):
    """Where one system of record stands with this disposition."""

    status: StepStatus = StepStatus.PENDING
    applied_at: Timestamp | None = None
    reference: str | None = None
    """QMS: the inspection decided; ERP: the lot version the change produced."""
    detail: str | None = None
    """Why the step failed or is not required."""


class Disposition(QgateStruct, frozen=True, kw_only=True):
    """A lot disposition and how far each system has applied it."""

    disposition_id: DispositionId
    version: Annotated[int, msgspec.Meta(ge=1)] = 1
    """Incremented on every change of this resource."""
    status: DispositionStatus
    lot_id: LotId
    decision: DispositionCode
    target_disposition: LotDisposition
    from_disposition: LotDisposition | None = None
    """The lot's disposition when the change was validated (unknown while the ERP is down)."""
    reason: Reason
    inspection_id: InspectionId | None = None
    nc_id: NcId | None = None
    quantities: list[TargetQuantity] = msgspec.field(default_factory=list)
    signature_meaning: SignatureMeaning | None = None
    requested_by: AuditCaller
    """The person who asked (the original caller when a layer acted on its behalf)."""
    requested_via: list[AuditCaller] = msgspec.field(default_factory=list)
    """The authenticated client and the layers the request came through, outermost first."""
    requires_approval: bool = False
    approval: Approval | None = None
    qms: SystemStep = msgspec.field(default_factory=SystemStep)
    erp: SystemStep = msgspec.field(default_factory=SystemStep)
    lot_etag: str | None = None
    """The ERP lot's ETag the change is sent with (``If-Match``), fixed before the first try."""
    attempts: Annotated[int, msgspec.Meta(ge=0)] = 0
    """Attempts to apply it so far (the request itself is the first)."""
    last_error: str | None = None
    next_attempt_at: Timestamp | None = None
    correlation_id: str | None = None
    created_at: Timestamp
    updated_at: Timestamp
    completed_at: Timestamp | None = None


class DispositionSummary(QgateStruct, frozen=True, kw_only=True):
    disposition_id: DispositionId
    status: DispositionStatus
    lot_id: LotId
    decision: DispositionCode
    qms: StepStatus
    erp: StepStatus
    attempts: int
    last_error: str | None = None
    next_attempt_at: Timestamp | None = None
    created_at: Timestamp
    age_seconds: Annotated[float, msgspec.Meta(ge=0)]
    """Seconds since the request was accepted."""


class DispositionPage(QgateStruct, frozen=True, kw_only=True):
    """Dispositions, oldest first; pass ``nextCursor`` back as ``cursor`` for more."""

    items: list[DispositionSummary]
    next_cursor: str | None = None
