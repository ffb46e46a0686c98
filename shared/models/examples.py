"""Canonical records as contract examples, for the layers above the system APIs.

The system contracts cut their examples from the reference demo; the process and experience
contracts, which may not import the system layer, use these: records of the same demo
(LOT-1000-0016, the BLOCKED housing lot of SUP-0002, its failed inspection and its
nonconformance NC-000001), valid by construction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.models._types import (
    CharacteristicValuation,
    DispositionCode,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    LotDisposition,
    MaterialDisposition,
    NonconformanceStatus,
    NonconformanceType,
    Severity,
    StockCategory,
)
from shared.models.erp import Lot, StockBalance
from shared.models.qms import CharacteristicResult, DispositionDecision, Inspection, Nonconformance

__all__ = ["example_inspection", "example_lot", "example_nonconformance"]

_RECEIVED = datetime(2026, 10, 22, 6, 0, tzinfo=UTC)
_DECIDED = datetime(2026, 10, 23, 9, 30, tzinfo=UTC)


def example_lot() -> Lot:
    quantities = {StockCategory.BLOCKED: 120.0}
    return Lot(
        version=3,
        lot_id="LOT-1000-0016",
        lot_number="B1000-00016",
        item_id="HSG-A100",
        plant_id="1000",
        supplier_id="SUP-0002",
        supplier_lot_number="MPC-7781",
        disposition=LotDisposition.BLOCKED,
        stock=[
            StockBalance(category=category, quantity=quantities.get(category, 0.0))
            for category in StockCategory
        ],
        total_quantity=120.0,
        uom="PC",
        updated_at=_DECIDED,
    )


def example_inspection() -> Inspection:
    return Inspection(
        version=3,
        inspection_id="INSP-000017",
        origin=InspectionOrigin.GOODS_RECEIPT,
        status=InspectionStatus.DECIDED,
        result=InspectionResult.FAIL,
        lot_id="LOT-1000-0016",
        item_id="HSG-A100",
        plant_id="1000",
        supplier_id="SUP-0002",
        spec_id="SPEC-HSG-A100",
        spec_version=2,
        quantity=120.0,
        goods_receipt_id="GR-000016",
        created_at=_RECEIVED,
        results=[
            CharacteristicResult(
                characteristic_id="C010",
                valuation=CharacteristicValuation.REJECT,
                measured_value=0.8,
                note="Pores on the non-sealing flange face",
            ),
        ],
        decision=DispositionDecision(
            decision=DispositionCode.BLOCK,
            lot_id="LOT-1000-0016",
            inspection_id="INSP-000017",
            decided_by="qa.lead.1000",
            decided_at=_DECIDED,
            reason="Porosity above the limit",
            signature_meaning="Reviewed and approved",
            source_code="R1",
        ),
    )


def example_nonconformance() -> Nonconformance:
    return Nonconformance(
        version=3,
        nc_id="NC-000001",
        type=NonconformanceType.SUPPLIER_NC,
        status=NonconformanceStatus.IN_REVIEW,
        severity=Severity.MAJOR,
        title="Porosity on non-sealing flange face, gearbox housing A100",
        description="Engineering: no effect on strength or sealing; use as is.",
        plant_id="1000",
        supplier_id="SUP-0002",
        item_id="HSG-A100",
        lot_ids=["LOT-1000-0016"],
        inspection_id="INSP-000017",
        material_disposition=MaterialDisposition.USE_AS_IS,
        created_at=_RECEIVED,
        updated_at=_DECIDED,
    )
