"""What a supplier portal sees: views built from canonical records, with only what a supplier
may see of its own material (no other supplier, no internal notes, no who-decided-what)."""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

from experience_apis.clients.models import (
    ContainmentActionRead,
    ContainmentCaseRead,
    ContainmentSummaryRead,
)
from shared.models import (
    CharacteristicValuation,
    DispositionCode,
    InspectionResult,
    InspectionStatus,
    LotDisposition,
    MaterialDisposition,
    NonconformanceStatus,
    NonconformanceType,
    QgateStruct,
    RequestStruct,
    Severity,
    SupplierQualityStatusCode,
    Timestamp,
)
from shared.models._types import (
    CharacteristicId,
    InspectionId,
    ItemId,
    LotId,
    LotNumber,
    NcId,
    PlantId,
    SupplierId,
    SupplierLotNumber,
)
from shared.models.erp import Lot
from shared.models.qms import Inspection, Nonconformance

__all__ = [
    "Case",
    "CaseAcknowledgement",
    "CaseLot",
    "CaseResponse",
    "CaseStatus",
    "CaseSummary",
    "CaseSummaryPage",
    "ContainmentAction",
    "DocumentReference",
    "GivenResponse",
    "PartnerCharacteristic",
    "PartnerInspection",
    "PartnerInspectionPage",
    "PartnerLot",
    "PartnerLotPage",
    "PartnerNonconformance",
    "PartnerNonconformancePage",
    "Scorecard",
    "Trend",
]

_Quantity = Annotated[float, msgspec.Meta(ge=0)]


class PartnerLot(QgateStruct, frozen=True, kw_only=True):
    """One of the supplier's lots at a customer plant, and what was decided about it."""

    lot_id: LotId
    lot_number: LotNumber
    item_id: ItemId
    plant_id: PlantId
    supplier_lot_number: SupplierLotNumber | None = None
    disposition: LotDisposition
    quantity: _Quantity
    uom: str
    updated_at: Timestamp

    @classmethod
    def of(cls, lot: Lot) -> PartnerLot:
        return cls(
            lot_id=lot.lot_id,
            lot_number=lot.lot_number,
            item_id=lot.item_id,
            plant_id=lot.plant_id,
            supplier_lot_number=lot.supplier_lot_number,
            disposition=lot.disposition,
            quantity=lot.total_quantity,
            uom=lot.uom,
            updated_at=lot.updated_at,
        )


class PartnerLotPage(QgateStruct, frozen=True, kw_only=True):
    items: list[PartnerLot]
    next_cursor: str | None = None


class PartnerCharacteristic(QgateStruct, frozen=True, kw_only=True):
    """One characteristic's outcome: the measured value and its valuation, no inspector notes."""

    characteristic_id: CharacteristicId
    valuation: CharacteristicValuation
    measured_value: float | None = None


class PartnerInspection(QgateStruct, frozen=True, kw_only=True):
    """A summary of an inspection of the supplier's material."""

    inspection_id: InspectionId
    lot_id: LotId
    item_id: ItemId
    plant_id: PlantId
    status: InspectionStatus
    result: InspectionResult
    quantity: _Quantity
    inspected_at: Timestamp
    characteristics: list[PartnerCharacteristic]
    decision: DispositionCode | None = None
    decided_at: Timestamp | None = None

    @classmethod
    def of(cls, inspection: Inspection) -> PartnerInspection:
        decision = inspection.decision
        return cls(
            inspection_id=inspection.inspection_id,
            lot_id=inspection.lot_id,
            item_id=inspection.item_id,
            plant_id=inspection.plant_id,
            status=inspection.status,
            result=inspection.result,
            quantity=inspection.quantity,
            inspected_at=inspection.created_at,
            characteristics=[
                PartnerCharacteristic(
                    characteristic_id=result.characteristic_id,
                    valuation=result.valuation,
                    measured_value=result.measured_value,
                )
                for result in inspection.results
            ],
            decision=decision.decision if decision else None,
            decided_at=decision.decided_at if decision else None,
        )


class PartnerInspectionPage(QgateStruct, frozen=True, kw_only=True):
    items: list[PartnerInspection]
    next_cursor: str | None = None


class PartnerNonconformance(QgateStruct, frozen=True, kw_only=True):
    """A nonconformance about the supplier's material (its internal description is left out)."""

    nc_id: NcId
    type: NonconformanceType
    status: NonconformanceStatus
    severity: Severity
    title: str
    plant_id: PlantId
    item_id: ItemId | None = None
    lot_ids: list[LotId]
    inspection_id: InspectionId | None = None
    material_disposition: MaterialDisposition | None = None
    opened_at: Timestamp
    updated_at: Timestamp

    @classmethod
    def of(cls, nc: Nonconformance) -> PartnerNonconformance:
        return cls(
            nc_id=nc.nc_id,
            type=nc.type,
            status=nc.status,
            severity=nc.severity,
            title=nc.title,
            plant_id=nc.plant_id,
            item_id=nc.item_id,
            lot_ids=list(nc.lot_ids),
            inspection_id=nc.inspection_id,
            material_disposition=nc.material_disposition,
            opened_at=nc.created_at,
            updated_at=nc.updated_at,
        )


class PartnerNonconformancePage(QgateStruct, frozen=True, kw_only=True):
    items: list[PartnerNonconformance]
    next_cursor: str | None = None


class Trend(enum.StrEnum):
    """The recent rejection rate against the whole window's."""

    IMPROVING = "IMPROVING"
    STABLE = "STABLE"
    WORSENING = "WORSENING"


class Scorecard(QgateStruct, frozen=True, kw_only=True):
    """The supplier's incoming quality as its customer sees it."""

    supplier_id: SupplierId
    status: SupplierQualityStatusCode
    reasons: list[str]
    ppm: _Quantity
    """Rejected quantity per million inspected over ``windowDays``."""
    window_days: int
    recent_ppm: _Quantity
    """The same over the last ``recentDays``."""
    recent_days: int
    trend: Trend
    inspections: int
    failed_inspections: int
    open_nonconformances: int
    open_critical_nonconformances: int
    open_capas: int


class CaseStatus(enum.StrEnum):
    """Where the customer stands with containing the material (see the case's lots)."""

    CONTAINING = "CONTAINING"
    ATTENTION = "ATTENTION"
    CONTAINED = "CONTAINED"
    CLOSED = "CLOSED"


class CaseSummary(QgateStruct, frozen=True, kw_only=True):
    """A containment case about my material."""

    containment_id: str
    status: str
    item_id: ItemId
    supplier_lot_number: SupplierLotNumber | None = None
    plant_ids: list[PlantId]
    inspection_id: InspectionId
    nc_id: NcId | None = None
    opened_at: Timestamp
    contained_at: Timestamp | None = None
    closed_at: Timestamp | None = None
    acknowledged_at: Timestamp | None = None

    @classmethod
    def of(cls, case: ContainmentSummaryRead) -> CaseSummary:
        return cls(
            containment_id=case.containment_id,
            status=case.status,
            item_id=case.item_id,
            supplier_lot_number=case.supplier_lot_number,
            plant_ids=list(case.plant_ids),
            inspection_id=case.inspection_id,
            nc_id=case.nc_id,
            opened_at=case.opened_at,
            contained_at=case.contained_at,
            closed_at=case.closed_at,
            acknowledged_at=case.acknowledged_at,
        )


class CaseSummaryPage(QgateStruct, frozen=True, kw_only=True):
    items: list[CaseSummary]
    next_cursor: str | None = None


class CaseLot(QgateStruct, frozen=True, kw_only=True):
    """One of my lots at a customer plant and what containment does with it."""

    lot_id: LotId
    plant_id: PlantId
    failed_inspection: bool
    """The lot whose inspection failed (the others share its supplier lot or item)."""
    action: str
    status: str


class DocumentReference(RequestStruct, frozen=True, kw_only=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["8D report"])]
    reference: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=500,
            description="Where the document is: a URL or my document number.",
            examples=["https://supplier.example/8d/2026-117.pdf"],
        ),
    ]


class ContainmentAction(RequestStruct, frozen=True, kw_only=True):
    """One containment action I took (8D D3)."""

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
    """My own lot numbers the action covered."""


class CaseResponse(RequestStruct, frozen=True, kw_only=True):
    """My answer to a containment case: actions taken, the 8D D3 answer, documents."""

    actions: Annotated[list[ContainmentAction], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )
    d3_answer: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)] | None = None
    """The interim containment action (8D D3) in my words."""
    documents: Annotated[list[DocumentReference], msgspec.Meta(max_length=20)] = msgspec.field(
        default_factory=list
    )


class CaseAcknowledgement(RequestStruct, frozen=True, kw_only=True):
    """I confirm I have seen the case."""

    note: Annotated[str, msgspec.Meta(max_length=4000)] | None = None


def _action(action: ContainmentActionRead) -> ContainmentAction:
    return ContainmentAction(
        description=action.description,
        completed_at=action.completed_at,
        lot_numbers=list(action.lot_numbers),
    )


class GivenResponse(QgateStruct, frozen=True, kw_only=True):
    response_id: str
    actions: list[ContainmentAction]
    d3_answer: str | None = None
    documents: list[DocumentReference]
    responded_by: str
    responded_at: Timestamp


class Case(QgateStruct, frozen=True, kw_only=True):
    """A containment case about my material: my lots at every plant and my responses."""

    containment_id: str
    status: str
    item_id: ItemId
    supplier_lot_number: SupplierLotNumber | None = None
    inspection_id: InspectionId
    failed_characteristics: list[str]
    nc_id: NcId | None = None
    lots: list[CaseLot]
    responses: list[GivenResponse]
    acknowledged_at: Timestamp | None = None
    opened_at: Timestamp
    contained_at: Timestamp | None = None
    closed_at: Timestamp | None = None

    @classmethod
    def of(cls, case: ContainmentCaseRead) -> Case:
        return cls(
            containment_id=case.containment_id,
            status=case.status,
            item_id=case.item_id,
            supplier_lot_number=case.supplier_lot_number,
            inspection_id=case.trigger.inspection_id,
            failed_characteristics=list(case.trigger.failed_characteristics),
            nc_id=case.nc_id,
            lots=[
                CaseLot(
                    lot_id=lot.lot_id,
                    plant_id=lot.plant_id,
                    failed_inspection=lot.trigger,
                    action=lot.action,
                    status=lot.status,
                )
                for lot in case.lots
            ],
            responses=[
                GivenResponse(
                    response_id=given.response_id,
                    actions=[_action(action) for action in given.actions],
                    d3_answer=given.d3_answer,
                    documents=[
                        DocumentReference(title=doc.title, reference=doc.reference)
                        for doc in given.documents
                    ],
                    responded_by=given.responded_by.subject,
                    responded_at=given.responded_at,
                )
                for given in case.responses
            ],
            acknowledged_at=case.acknowledged_at,
            opened_at=case.opened_at,
            contained_at=case.contained_at,
            closed_at=case.closed_at,
        )
