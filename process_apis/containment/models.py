"""Wire and stored types of a supplier containment case.

A :class:`ContainmentCase` is both what ``GET /process/v1/containments/{id}`` answers and what the
store keeps: the trigger (the failed incoming inspection), the supplier, item and supplier lot,
the lots found across plants, every saga step with its status, attempts and last error, the
supplier's responses, and the times that matter (opened, contained, closed).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Final

import msgspec

from shared.audit import AuditCaller
from shared.ids import time_ordered_id
from shared.models import LotDisposition, QgateStruct, RequestStruct, Text, Timestamp
from shared.models._types import (
    InspectionId,
    ItemId,
    LotId,
    NcId,
    PlantId,
    Reason,
    ReceiptId,
    SupplierId,
    SupplierLotNumber,
)

__all__ = [
    "CONTAINMENT_ID_PATTERN",
    "OPEN_STATUSES",
    "SETTLED",
    "AffectedLot",
    "CaseStatus",
    "ContainmentAction",
    "ContainmentCase",
    "ContainmentId",
    "ContainmentPage",
    "ContainmentResponseCreate",
    "ContainmentStep",
    "ContainmentSummary",
    "DocumentReference",
    "LotAction",
    "StepName",
    "StepResolution",
    "StepStatus",
    "SupplierAcknowledgement",
    "SupplierResponse",
    "Trigger",
    "TriggerLot",
    "new_containment_id",
    "seconds_between",
]

CONTAINMENT_ID_PATTERN: Final = r"^CNT-[0-9A-F]{20}$"
ContainmentId = Annotated[
    str,
    msgspec.Meta(
        pattern=CONTAINMENT_ID_PATTERN,
        description="A containment case's id (time-ordered: later cases sort after).",
        examples=["CNT-019A6B2C3D4E5F607182"],
    ),
]


def new_containment_id() -> str:
    """``CNT-`` + a time-ordered id (``shared.ids``)."""
    return time_ordered_id("CNT")


class CaseStatus(enum.StrEnum):
    CONTAINING = "CONTAINING"
    """Steps are being applied (or retried while a system is unavailable)."""
    ATTENTION = "ATTENTION"
    """A step failed for good and waits for an operator to retry or close it (MANUAL)."""
    CONTAINED = "CONTAINED"
    """Every step is done (or skipped, or closed by an operator): the material is contained.
    The case stays open until the supplier's CAPA is verified and the hold is lifted."""
    CLOSED = "CLOSED"
    """The nonconformance is closed, the CAPA verified at D8 and the procurement hold lifted."""


OPEN_STATUSES: Final = frozenset({CaseStatus.CONTAINING, CaseStatus.ATTENTION})
"""Cases the worker still drives."""


class StepName(enum.StrEnum):
    """The saga's steps, in the order they are tried (each one on its own: an unavailable ERP
    does not hold back the QMS nonconformance)."""

    BLOCK_LOT = "BLOCK_LOT"
    """The failed lot BLOCKED in the ERP (a lot disposition)."""
    QUARANTINE_LOTS = "QUARANTINE_LOTS"
    """The same supplier lot at every plant: quarantined where released and not consumed."""
    SUPPLIER_NC = "SUPPLIER_NC"
    """A supplier nonconformance open in the QMS."""
    PROCUREMENT_HOLD = "PROCUREMENT_HOLD"
    """Purchasing on hold for the supplier and item (in qgate; in the ERP where configured)."""
    PORTAL_CASE = "PORTAL_CASE"
    """The case published to the supplier's portal."""
    NOTIFY_SUBSCRIBERS = "NOTIFY_SUBSCRIBERS"
    """``containment.opened`` handed to the event bus for the webhook subscribers."""


class StepStatus(enum.StrEnum):
    PENDING = "PENDING"
    """Not tried yet."""
    RETRYING = "RETRYING"
    """Tried; a system was unavailable (or a disposition is still pending): tried again at
    ``nextAttemptAt``."""
    DONE = "DONE"
    MANUAL = "MANUAL"
    """Failed for good (or out of attempts): an operator retries or closes it."""
    CLOSED = "CLOSED"
    """Resolved by an operator outside qgate (the reason is recorded)."""
    SKIPPED = "SKIPPED"
    """Nothing to do (e.g. the lot was already blocked)."""


SETTLED: Final = frozenset({StepStatus.DONE, StepStatus.CLOSED, StepStatus.SKIPPED})
"""Step statuses that count as contained."""


class LotAction(enum.StrEnum):
    BLOCK = "BLOCK"
    QUARANTINE = "QUARANTINE"
    NONE = "NONE"
    """Already held (QUARANTINE, BLOCKED, REJECTED), final, or consumed."""


class ContainmentStep(QgateStruct, frozen=True, kw_only=True):
    name: StepName
    status: StepStatus = StepStatus.PENDING
    attempts: Annotated[int, msgspec.Meta(ge=0)] = 0
    last_error: str | None = None
    next_attempt_at: Timestamp | None = None
    reference: str | None = None
    """What the step produced: a disposition, nonconformance or hold id, an event id."""
    detail: str | None = None
    """What was done or why nothing was (or the operator's reason for closing it)."""
    completed_at: Timestamp | None = None


class AffectedLot(QgateStruct, frozen=True, kw_only=True):
    """A lot of the same supplier lot, and what the saga did about it."""

    lot_id: LotId
    plant_id: PlantId
    trigger: bool = False
    """The lot whose inspection failed."""
    disposition_before: LotDisposition
    action: LotAction
    status: StepStatus = StepStatus.PENDING
    disposition_id: str | None = None
    """The lot disposition that holds it (``/lot-dispositions/{id}``)."""
    detail: str | None = None


class TriggerLot(QgateStruct, frozen=True, kw_only=True):
    lot_id: LotId
    plant_id: PlantId
    goods_receipt_id: ReceiptId | None = None


class Trigger(QgateStruct, frozen=True, kw_only=True):
    """What started the case: an incoming inspection that failed."""

    inspection_id: InspectionId
    lot: TriggerLot
    failed_characteristics: list[str] = msgspec.field(default_factory=list)
    event_id: str | None = None
    """The ``inspection.completed`` event the case was opened from."""
    occurred_at: Timestamp
    """When the inspection was completed (the event's time): the clock of time to containment."""


class DocumentReference(RequestStruct, frozen=True, kw_only=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["8D report"])]
    reference: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=500,
            description="Where the document is: a URL or the supplier's document number.",
            examples=["https://supplier.example/8d/2026-117.pdf"],
        ),
    ]


class ContainmentAction(RequestStruct, frozen=True, kw_only=True):
    """One containment action the supplier took (8D D3)."""

    description: Annotated[
        str,
        msgspec.Meta(
            min_length=1, max_length=2000, examples=["Sorted 2 400 pieces at our warehouse"]
        ),
    ]
    completed_at: Timestamp | None = None
    lot_numbers: Annotated[list[SupplierLotNumber], msgspec.Meta(max_length=50)] = msgspec.field(
        default_factory=list
    )
    """The supplier's own lot numbers the action covered."""


class ContainmentResponseCreate(RequestStruct, frozen=True, kw_only=True):
    """The supplier's answer to a containment case: actions taken, the 8D D3 answer, documents."""

    actions: Annotated[list[ContainmentAction], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    d3_answer: Text | None = None
    """The interim containment action (8D D3) in the supplier's words."""
    documents: Annotated[list[DocumentReference], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )


class SupplierAcknowledgement(RequestStruct, frozen=True, kw_only=True):
    """The supplier confirms it has seen the case."""

    note: Text | None = None


class StepResolution(RequestStruct, frozen=True, kw_only=True):
    """An operator closes a step resolved outside qgate."""

    reason: Reason


class SupplierResponse(QgateStruct, frozen=True, kw_only=True):
    response_id: Annotated[str, msgspec.Meta(examples=["RSP-1"])]
    actions: list[ContainmentAction] = msgspec.field(default_factory=list)
    d3_answer: Text | None = None
    documents: list[DocumentReference] = msgspec.field(default_factory=list)
    responded_by: AuditCaller
    responded_at: Timestamp


class ContainmentCase(QgateStruct, frozen=True, kw_only=True):
    """A supplier containment case and how far each step of the saga is."""

    containment_id: ContainmentId
    version: Annotated[int, msgspec.Meta(ge=1)] = 1
    status: CaseStatus
    trigger: Trigger
    supplier_id: SupplierId
    item_id: ItemId
    supplier_lot_number: SupplierLotNumber | None = None
    plant_ids: list[PlantId] = msgspec.field(default_factory=list)
    """Every plant holding a lot of the supplier lot."""
    lots: list[AffectedLot] = msgspec.field(default_factory=list)
    steps: list[ContainmentStep]
    nc_id: NcId | None = None
    hold_id: str | None = None
    capa_id: str | None = None
    """The supplier's CAPA for the nonconformance, once the QMS has one."""
    responses: list[SupplierResponse] = msgspec.field(default_factory=list)
    acknowledged_at: Timestamp | None = None
    acknowledged_by: AuditCaller | None = None
    published_at: Timestamp | None = None
    """When the case became visible in the supplier's portal."""
    opened_at: Timestamp
    contained_at: Timestamp | None = None
    time_to_containment_seconds: Annotated[float, msgspec.Meta(ge=0)] | None = None
    """From the failed inspection to every step settled."""
    closed_at: Timestamp | None = None
    close_reason: str | None = None
    next_attempt_at: Timestamp | None = None
    """When the worker looks at the case next (the earliest step due; none once contained)."""
    correlation_id: str | None = None
    """One correlation id for every step's audit record and event."""
    updated_at: Timestamp

    def step(self, name: StepName) -> ContainmentStep:
        return next(s for s in self.steps if s.name is name)

    def with_step(self, step: ContainmentStep) -> list[ContainmentStep]:
        return [step if s.name is step.name else s for s in self.steps]

    def for_supplier(self) -> ContainmentCase:
        """The case as the supplier sees it: no internal error text or correlation id."""
        return msgspec.structs.replace(
            self,
            steps=[msgspec.structs.replace(s, last_error=None) for s in self.steps],
            correlation_id=None,
        )


class ContainmentSummary(QgateStruct, frozen=True, kw_only=True):
    containment_id: ContainmentId
    status: CaseStatus
    supplier_id: SupplierId
    item_id: ItemId
    supplier_lot_number: SupplierLotNumber | None = None
    plant_ids: list[PlantId]
    inspection_id: InspectionId
    nc_id: NcId | None = None
    steps: dict[str, StepStatus]
    """Each step's status by name."""
    opened_at: Timestamp
    contained_at: Timestamp | None = None
    time_to_containment_seconds: float | None = None
    closed_at: Timestamp | None = None
    acknowledged_at: Timestamp | None = None

    @classmethod
    def of(cls, case: ContainmentCase) -> ContainmentSummary:
        return cls(
            containment_id=case.containment_id,
            status=case.status,
            supplier_id=case.supplier_id,
            item_id=case.item_id,
            supplier_lot_number=case.supplier_lot_number,
            plant_ids=case.plant_ids,
            inspection_id=case.trigger.inspection_id,
            nc_id=case.nc_id,
            steps={s.name.value: s.status for s in case.steps},
            opened_at=case.opened_at,
            contained_at=case.contained_at,
            time_to_containment_seconds=case.time_to_containment_seconds,
            closed_at=case.closed_at,
            acknowledged_at=case.acknowledged_at,
        )


class ContainmentPage(QgateStruct, frozen=True, kw_only=True):
    """Cases, oldest first; pass ``nextCursor`` back as ``cursor`` for more."""

    items: list[ContainmentSummary]
    next_cursor: str | None = None


def seconds_between(start: datetime, end: datetime) -> float:
    return round(max((end - start).total_seconds(), 0.0), 3)
