"""What a supplier portal sees: views built from canonical records, with only what a supplier
may see of its own material (no other supplier, no internal notes, no who-decided-what)."""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

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
