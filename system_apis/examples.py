"""Examples for the system contracts, cut from the reference connectors' demo data.

Every example is a real instance of the Struct its schema describes (so it is valid by
construction) and names records that exist in the embedded demo, so a client trying an example
against ``qgate serve`` gets a real answer.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import msgspec

from shared.models import (
    BlockedFunction,
    CapaStage,
    CapaType,
    DispositionCode,
    InspectionOrigin,
    InspectionStatus,
    LotDisposition,
    MaterialDisposition,
    NonconformanceStatus,
    NonconformanceType,
    Severity,
    StockCategory,
    SupplierQualityEventKind,
    SupplierQualityStatusCode,
)
from shared.models.commands import (
    CapaCreate,
    CapaStageAdvance,
    GoodsIssueCreate,
    GoodsReceiptCreate,
    InspectionCreate,
    LotDispositionChange,
    Measurement,
    NonconformanceCreate,
    NonconformanceUpdate,
    PurchasingBlockChange,
    ResultsRecord,
    SupplierQualityEventCreate,
    SupplierQualityStatusChange,
    TargetQuantityInput,
    UsageDecisionCreate,
)
from system_apis.connectors.reference import ErpDataset, QmsDataset, build_demo
from system_apis.erp.schemas import LotStock

__all__ = ["erp_examples", "qms_examples"]


@functools.cache
def _demo() -> tuple[ErpDataset, QmsDataset]:
    # Both contracts are cut from one build of the demo (read only).
    return build_demo()


def _page(record: msgspec.Struct) -> dict[str, Any]:
    return {"items": [msgspec.to_builtins(record)], "nextCursor": None}


def _examples(structs: Mapping[str, msgspec.Struct]) -> dict[str, Any]:
    return {name: msgspec.to_builtins(value) for name, value in structs.items()}


def erp_examples() -> dict[str, Any]:
    """Component schema name -> example value, for the ERP contract."""
    erp, _ = _demo()
    lot = next(lot for lot in erp.lots if lot.disposition is LotDisposition.QUARANTINE)
    released = next(lot for lot in erp.lots if lot.disposition is LotDisposition.RELEASED)
    supplier = next((s for s in erp.suppliers if s.purchasing_block), erp.suppliers[0])
    order = erp.purchase_orders[0]
    line = order.lines[0]
    half = round(lot.total_quantity / 2, 3)
    records = {
        "Plant": erp.plants[0],
        "Item": erp.items[0],
        "Supplier": supplier,
        "PurchaseOrder": order,
        "GoodsReceipt": erp.goods_receipts[0],
        "Lot": lot,
        "LotStock": LotStock.of(lot),
        "LotDispositionChange": LotDispositionChange(
            disposition=LotDisposition.RELEASED,
            reason="Sorted: 100 % inspection of the bore diameter, rejects blocked",
            quantities=[
                TargetQuantityInput(category=StockCategory.AVAILABLE, quantity=half),
                TargetQuantityInput(
                    category=StockCategory.BLOCKED, quantity=round(lot.total_quantity - half, 3)
                ),
            ],
            reference="DISP-000001",
        ),
        "GoodsIssueCreate": GoodsIssueCreate(
            quantity=min(5.0, released.total_quantity), reference="PRD-ORDER-1001"
        ),
        "GoodsReceiptCreate": GoodsReceiptCreate(
            po_id=order.po_id,
            line_no=line.line_no,
            quantity=10.0,
            supplier_lot_number="SL-88-1234",
            delivery_note="DN-2026-0042",
        ),
        "PurchasingBlockChange": PurchasingBlockChange(
            functions=[BlockedFunction.PURCHASE_ORDER, BlockedFunction.GOODS_RECEIPT],
            reason="Containment: two failed incoming inspections in one week",
        ),
    }
    examples = _examples(records)
    examples.update(
        {
            "PlantPage": _page(erp.plants[0]),
            "ItemPage": _page(erp.items[0]),
            "SupplierPage": _page(supplier),
            "PurchaseOrderPage": _page(order),
            "GoodsReceiptPage": _page(erp.goods_receipts[0]),
            "LotPage": _page(lot),
        }
    )
    return examples


def qms_examples() -> dict[str, Any]:
    """Component schema name -> example value, for the QMS contract."""
    erp, qms = _demo()
    decided = next(i for i in qms.inspections if i.status is InspectionStatus.DECIDED)
    pending = next(i for i in qms.inspections if i.status is InspectionStatus.CREATED)
    spec = next(s for s in qms.specifications if s.spec_id == pending.spec_id)
    nc = qms.nonconformances[0]
    capa = qms.capas[0]
    event = qms.supplier_quality_events[0]
    status = qms.supplier_quality_statuses[0]
    quarantined = next(lot for lot in erp.lots if lot.disposition is LotDisposition.QUARANTINE)
    measurements = [
        Measurement(
            characteristic_id=c.characteristic_id,
            measured_value=c.target if c.target is not None else c.lower_limit,
        )
        if c.quantitative
        else Measurement(characteristic_id=c.characteristic_id, conforming=True)
        for c in spec.characteristics
    ]
    records = {
        "Specification": spec,
        "Inspection": decided,
        "Nonconformance": nc,
        "Capa": capa,
        "SupplierQualityEvent": event,
        "SupplierQualityStatus": status,
        "InspectionCreate": InspectionCreate(
            origin=InspectionOrigin.GOODS_RECEIPT,
            lot_id=quarantined.lot_id,
            item_id=quarantined.item_id,
            plant_id=quarantined.plant_id,
            quantity=quarantined.total_quantity,
            supplier_id=quarantined.supplier_id,
        ),
        "ResultsRecord": ResultsRecord(results=measurements),
        "UsageDecisionCreate": UsageDecisionCreate(
            decision=DispositionCode.RELEASE,
            reason="All characteristics within limits",
            decided_by="qa.lead",
            signature_meaning="Reviewed and approved",
            source_code="A1",
        ),
        "NonconformanceCreate": NonconformanceCreate(
            type=NonconformanceType.SUPPLIER_NC,
            severity=Severity.MAJOR,
            title="Bore diameter above the upper limit",
            plant_id=quarantined.plant_id,
            description="3 of 5 samples above 52.03 mm.",
            supplier_id=quarantined.supplier_id,
            item_id=quarantined.item_id,
            lot_ids=[quarantined.lot_id],
        ),
        "NonconformanceUpdate": NonconformanceUpdate(
            reason="Investigation started with the supplier",
            status=NonconformanceStatus.IN_PROGRESS,
            material_disposition=MaterialDisposition.SORT_AND_SCREEN,
        ),
        "CapaCreate": CapaCreate(
            type=CapaType.SUPPLIER_CORRECTIVE,
            title="Grinding wheel wear not detected",
            plant_id=nc.plant_id,
            owner="qa.lead",
            supplier_id=nc.supplier_id,
            nc_ids=[nc.nc_id],
        ),
        "CapaStageAdvance": CapaStageAdvance(
            stage=CapaStage.D0, summary="Team formed with the supplier's quality engineer"
        ),
        "SupplierQualityEventCreate": SupplierQualityEventCreate(
            supplier_id=status.supplier_id,
            kind=SupplierQualityEventKind.INSPECTION_FAILED,
            plant_id=quarantined.plant_id,
            lot_id=quarantined.lot_id,
            description="Incoming inspection failed on the bore diameter",
        ),
        "SupplierQualityStatusChange": SupplierQualityStatusChange(
            status=SupplierQualityStatusCode.PROBATION,
            reason="Two failed incoming inspections in one quarter",
            blocked_functions=[BlockedFunction.RFQ],
        ),
    }
    examples = _examples(records)
    examples.update(
        {
            "SpecificationPage": _page(spec),
            "InspectionPage": _page(decided),
            "NonconformancePage": _page(nc),
            "CapaPage": _page(capa),
            "SupplierQualityEventPage": _page(event),
        }
    )
    return examples
