"""What a plant app sees and sends: views of its plants' lots and inspections, its commands."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from experience_apis.clients.models import AuditRecordRead, DispositionRead, ResultsOutcomeRead
from shared.models import (
    DispositionCode,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    LotDisposition,
    QgateStruct,
    RequestStruct,
    Timestamp,
)
from shared.models._types import (
    InspectionId,
    ItemId,
    LotId,
    LotNumber,
    NcId,
    PlantId,
    Reason,
    SpecId,
    SupplierId,
    SupplierLotNumber,
)
from shared.models.commands import TargetQuantityInput
from shared.models.erp import Lot, StockBalance
from shared.models.qms import (
    CharacteristicResult,
    DispositionDecision,
    Inspection,
    SignatureMeaning,
)

__all__ = [
    "DispositionCommand",
    "HeldGroup",
    "HeldInventory",
    "HeldItem",
    "PlantDisposition",
    "PlantDispositionRequest",
    "PlantInspection",
    "PlantInspectionPage",
    "PlantLot",
    "PlantLotPage",
    "PlantResultsOutcome",
    "Timeline",
    "TimelineEntry",
]

_Quantity = Annotated[float, msgspec.Meta(ge=0)]


class PlantLot(QgateStruct, frozen=True, kw_only=True):
    """A lot at one of my plants: disposition and stock by category."""

    lot_id: LotId
    lot_number: LotNumber
    item_id: ItemId
    plant_id: PlantId
    supplier_id: SupplierId | None = None
    supplier_lot_number: SupplierLotNumber | None = None
    disposition: LotDisposition
    stock: list[StockBalance]
    total_quantity: _Quantity
    uom: str
    updated_at: Timestamp

    @classmethod
    def of(cls, lot: Lot) -> PlantLot:
        return cls(
            lot_id=lot.lot_id,
            lot_number=lot.lot_number,
            item_id=lot.item_id,
            plant_id=lot.plant_id,
            supplier_id=lot.supplier_id,
            supplier_lot_number=lot.supplier_lot_number,
            disposition=lot.disposition,
            stock=list(lot.stock),
            total_quantity=lot.total_quantity,
            uom=lot.uom,
            updated_at=lot.updated_at,
        )


class PlantLotPage(QgateStruct, frozen=True, kw_only=True):
    items: list[PlantLot]
    next_cursor: str | None = None


class HeldItem(QgateStruct, frozen=True, kw_only=True):
    item_id: ItemId
    uom: str
    lots: int
    quantity: _Quantity


class HeldGroup(QgateStruct, frozen=True, kw_only=True):
    """The lots of one plant in one holding disposition, by item."""

    plant_id: PlantId
    disposition: LotDisposition
    lots: int
    items: list[HeldItem]


class HeldInventory(QgateStruct, frozen=True, kw_only=True):
    """Blocked and quarantined inventory at my plants."""

    groups: list[HeldGroup]
    complete: bool
    """False when a plant holds more lots than one summary reads (then the figures are a
    lower bound: list the lots with a ``disposition`` filter for the rest)."""


class PlantInspection(QgateStruct, frozen=True, kw_only=True):
    """An inspection at one of my plants, with its results and decision."""

    inspection_id: InspectionId
    origin: InspectionOrigin
    status: InspectionStatus
    result: InspectionResult
    lot_id: LotId
    item_id: ItemId
    plant_id: PlantId
    supplier_id: SupplierId | None = None
    spec_id: SpecId
    spec_version: int
    quantity: _Quantity
    created_at: Timestamp
    results: list[CharacteristicResult]
    decision: DispositionDecision | None = None

    @classmethod
    def of(cls, inspection: Inspection) -> PlantInspection:
        return cls(
            inspection_id=inspection.inspection_id,
            origin=inspection.origin,
            status=inspection.status,
            result=inspection.result,
            lot_id=inspection.lot_id,
            item_id=inspection.item_id,
            plant_id=inspection.plant_id,
            supplier_id=inspection.supplier_id,
            spec_id=inspection.spec_id,
            spec_version=inspection.spec_version,
            quantity=inspection.quantity,
            created_at=inspection.created_at,
            results=list(inspection.results),
            decision=inspection.decision,
        )


class PlantInspectionPage(QgateStruct, frozen=True, kw_only=True):
    items: list[PlantInspection]
    next_cursor: str | None = None


class PlantDispositionRequest(RequestStruct, frozen=True, kw_only=True):
    """Decide what happens to the lot (applied in QMS and ERP by the process layer)."""

    decision: DispositionCode
    reason: Reason
    inspection_id: InspectionId | None = None
    """The inspection this decision concludes; default: the lot's one awaiting a decision."""
    nc_id: NcId | None = None
    """Releasing a BLOCKED lot needs a nonconformance decided USE_AS_IS naming the lot, and a
    second person's approval."""
    quantities: Annotated[list[TargetQuantityInput], msgspec.Meta(max_length=5)] = msgspec.field(
        default_factory=list
    )
    signature_meaning: SignatureMeaning | None = None


class DispositionCommand(QgateStruct, frozen=True, kw_only=True, omit_defaults=True):
    """The process API's ``LotDispositionRequest``, as sent."""

    lot_id: str
    decision: DispositionCode
    reason: str
    inspection_id: str | None = None
    nc_id: str | None = None
    quantities: list[TargetQuantityInput] = msgspec.field(default_factory=list)
    signature_meaning: str | None = None

    @classmethod
    def of(cls, lot_id: str, request: PlantDispositionRequest) -> DispositionCommand:
        return cls(
            lot_id=lot_id,
            decision=request.decision,
            reason=request.reason,
            inspection_id=request.inspection_id,
            nc_id=request.nc_id,
            quantities=list(request.quantities),
            signature_meaning=request.signature_meaning,
        )


class PlantDisposition(QgateStruct, frozen=True, kw_only=True):
    """A disposition requested for a lot at my plant, and how far it is applied."""

    disposition_id: str
    status: str
    """PENDING_APPROVAL, PENDING_QMS, PENDING_ERP, APPLIED, FAILED or DECLINED."""
    lot_id: LotId
    decision: DispositionCode
    target_disposition: LotDisposition
    from_disposition: LotDisposition | None = None
    reason: str
    requested_by: str
    """The person who asked."""
    requested_with: str
    """The app they asked with."""
    requires_approval: bool
    qms_step: str
    erp_step: str
    last_error: str | None = None
    created_at: Timestamp

    @classmethod
    def of(cls, disposition: DispositionRead) -> PlantDisposition:
        return cls(
            disposition_id=disposition.disposition_id,
            status=disposition.status,
            lot_id=disposition.lot_id,
            decision=disposition.decision,
            target_disposition=disposition.target_disposition,
            from_disposition=disposition.from_disposition,
            reason=disposition.reason,
            requested_by=disposition.requested_by.subject,
            requested_with=disposition.requested_by.client_id,
            requires_approval=disposition.requires_approval,
            qms_step=disposition.qms.status,
            erp_step=disposition.erp.status,
            last_error=disposition.last_error,
            created_at=disposition.created_at,
        )


class PlantResultsOutcome(QgateStruct, frozen=True, kw_only=True):
    inspection: PlantInspection
    proposed_decision: DispositionCode | None = None
    """What the results suggest, once every characteristic has one."""
    disposition: PlantDisposition | None = None
    """Requested at once when the gateway's policy is to apply the proposal."""
    disposition_problem: str | None = None

    @classmethod
    def of(cls, outcome: ResultsOutcomeRead) -> PlantResultsOutcome:
        return cls(
            inspection=PlantInspection.of(outcome.inspection),
            proposed_decision=outcome.proposed_decision,
            disposition=PlantDisposition.of(outcome.disposition) if outcome.disposition else None,
            disposition_problem=outcome.disposition_problem,
        )


class TimelineEntry(QgateStruct, frozen=True, kw_only=True):
    """One change of the lot, from the audit trail."""

    seq: int
    occurred_at: datetime
    action: str
    by: str
    """The person (the original caller) who made the change."""
    via: str
    """The app they made it with."""
    reason: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    signature_meaning: str | None = None
    correlation_id: str | None = None

    @classmethod
    def of(cls, record: AuditRecordRead) -> TimelineEntry:
        person = record.on_behalf_of[0] if record.on_behalf_of else record.actor
        return cls(
            seq=record.seq,
            occurred_at=record.occurred_at,
            action=record.action,
            by=person.subject,
            via=person.client_id,
            reason=record.reason,
            before=record.before,
            after=record.after,
            signature_meaning=record.signature_meaning,
            correlation_id=record.correlation_id,
        )


class Timeline(QgateStruct, frozen=True, kw_only=True):
    lot_id: LotId
    items: list[TimelineEntry]
    next_cursor: str | None = None
