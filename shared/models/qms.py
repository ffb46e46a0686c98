"""Canonical QMS records: specifications, inspections, decisions, nonconformances, CAPA."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.models._types import (
    BlockedFunction,
    CapaId,
    CapaStage,
    CapaType,
    CharacteristicId,
    CharacteristicValuation,
    DispositionCode,
    EventId,
    InspectionId,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    ItemId,
    LotId,
    MaterialDisposition,
    NcId,
    NonconformanceStatus,
    NonconformanceType,
    PlantId,
    Quantity,
    Reason,
    ReceiptId,
    Severity,
    ShortText,
    SpecId,
    StockCategory,
    SupplierId,
    SupplierQualityEventKind,
    SupplierQualityStatusCode,
    Text,
    Timestamp,
    UserId,
)
from shared.models.base import QgateStruct
from shared.models.records import Page, Record

__all__ = [
    "Capa",
    "CapaPage",
    "CapaStageRecord",
    "Characteristic",
    "CharacteristicResult",
    "DispositionDecision",
    "Inspection",
    "InspectionPage",
    "Nonconformance",
    "NonconformancePage",
    "SignatureMeaning",
    "Specification",
    "SpecificationPage",
    "SupplierQualityEvent",
    "SupplierQualityEventPage",
    "SupplierQualityStatus",
    "TargetQuantity",
]

Measure = Annotated[float, msgspec.Meta(ge=-1e12, le=1e12, examples=[12.02])]
SignatureMeaning = Annotated[
    str,
    msgspec.Meta(
        max_length=100,
        description="Meaning of the electronic signature (21 CFR 11.50), e.g. `Approved`.",
        examples=["Reviewed and approved"],
    ),
]


class Characteristic(QgateStruct, frozen=True, kw_only=True):
    """One inspected characteristic: quantitative (limits) or qualitative (conforming or not)."""

    characteristic_id: CharacteristicId
    name: ShortText
    quantitative: bool
    lower_limit: Measure | None = None
    upper_limit: Measure | None = None
    target: Measure | None = None
    uom: Annotated[str, msgspec.Meta(max_length=8, examples=["mm"])] | None = None
    critical: bool = False
    """A rejected critical characteristic fails the inspection; others give CONDITIONAL_PASS."""


class Specification(Record, frozen=True, kw_only=True):
    spec_id: SpecId
    spec_version: Annotated[int, msgspec.Meta(ge=1, examples=[2])]
    item_id: ItemId
    title: ShortText
    valid_from: Timestamp
    characteristics: list[Characteristic]


class CharacteristicResult(QgateStruct, frozen=True, kw_only=True):
    characteristic_id: CharacteristicId
    valuation: CharacteristicValuation
    measured_value: Measure | None = None
    conforming: bool | None = None
    """For qualitative characteristics: the inspector's verdict."""
    note: Text | None = None


class TargetQuantity(QgateStruct, frozen=True, kw_only=True):
    """How much of the lot goes to which stock category."""

    category: StockCategory
    quantity: Quantity


class DispositionDecision(QgateStruct, frozen=True, kw_only=True):
    """A usage decision on a lot (SAP: usage decision; the QMS half of a disposition)."""

    decision: DispositionCode
    lot_id: LotId
    inspection_id: InspectionId | None = None
    quantities: list[TargetQuantity] = msgspec.field(default_factory=list)
    decided_by: UserId
    decided_at: Timestamp
    reason: Reason
    signature_meaning: SignatureMeaning | None = None
    source_code: Annotated[str, msgspec.Meta(max_length=40, examples=["A1"])] | None = None
    """The source system's own decision code, e.g. an SAP usage-decision code."""


class Inspection(Record, frozen=True, kw_only=True):
    inspection_id: InspectionId
    origin: InspectionOrigin
    status: InspectionStatus
    result: InspectionResult
    lot_id: LotId
    item_id: ItemId
    plant_id: PlantId
    supplier_id: SupplierId | None = None
    spec_id: SpecId
    spec_version: Annotated[int, msgspec.Meta(ge=1, examples=[2])]
    quantity: Quantity
    goods_receipt_id: ReceiptId | None = None
    created_at: Timestamp
    results: list[CharacteristicResult] = msgspec.field(default_factory=list)
    """One entry per characteristic of the specification, NOT_EVALUATED until recorded."""
    decision: DispositionDecision | None = None


class Nonconformance(Record, frozen=True, kw_only=True):
    nc_id: NcId
    type: NonconformanceType
    status: NonconformanceStatus
    severity: Severity
    title: ShortText
    description: Text = ""
    plant_id: PlantId
    supplier_id: SupplierId | None = None
    item_id: ItemId | None = None
    lot_ids: list[LotId] = msgspec.field(default_factory=list)
    inspection_id: InspectionId | None = None
    material_disposition: MaterialDisposition | None = None
    created_at: Timestamp
    updated_at: Timestamp


class CapaStageRecord(QgateStruct, frozen=True, kw_only=True):
    stage: CapaStage
    completed_at: Timestamp
    summary: Text


class Capa(Record, frozen=True, kw_only=True):
    capa_id: CapaId
    type: CapaType
    status: NonconformanceStatus
    stage: CapaStage
    """The 8D stage being worked on (D8 once closed)."""
    title: ShortText
    plant_id: PlantId
    supplier_id: SupplierId | None = None
    nc_ids: list[NcId] = msgspec.field(default_factory=list)
    owner: UserId
    created_at: Timestamp
    updated_at: Timestamp
    completed_stages: list[CapaStageRecord] = msgspec.field(default_factory=list)
    effectiveness_verified_at: Timestamp | None = None


class SupplierQualityEvent(Record, frozen=True, kw_only=True):
    event_id: EventId
    supplier_id: SupplierId
    kind: SupplierQualityEventKind
    occurred_at: Timestamp
    plant_id: PlantId | None = None
    item_id: ItemId | None = None
    lot_id: LotId | None = None
    inspection_id: InspectionId | None = None
    nc_id: NcId | None = None
    description: Text = ""


class SupplierQualityStatus(Record, frozen=True, kw_only=True):
    """A supplier's quality status as the QMS keeps it."""

    supplier_id: SupplierId
    status: SupplierQualityStatusCode
    blocked_functions: list[BlockedFunction] = msgspec.field(default_factory=list)
    reason: Reason | None = None
    updated_at: Timestamp


class SpecificationPage(Page[Specification], frozen=True, kw_only=True):
    pass


class InspectionPage(Page[Inspection], frozen=True, kw_only=True):
    pass


class NonconformancePage(Page[Nonconformance], frozen=True, kw_only=True):
    pass


class CapaPage(Page[Capa], frozen=True, kw_only=True):
    pass


class SupplierQualityEventPage(Page[SupplierQualityEvent], frozen=True, kw_only=True):
    pass
