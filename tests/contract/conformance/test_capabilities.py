"""A capability the connector does not declare is refused (501), never silently skipped."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from shared.errors import CapabilityUnsupported
from shared.models import (
    BlockedFunction,
    CapaStage,
    CapaType,
    DispositionCode,
    InspectionOrigin,
    LotDisposition,
    NonconformanceType,
    Severity,
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
    UsageDecisionCreate,
)
from system_apis.connectors.base import (
    CapaFilter,
    ErpCapability,
    ErpConnector,
    GoodsReceiptFilter,
    InspectionFilter,
    ItemFilter,
    LotFilter,
    NonconformanceFilter,
    PageRequest,
    PurchaseOrderFilter,
    QmsCapability,
    QmsConnector,
    SpecificationFilter,
    SupplierFilter,
    SupplierQualityEventFilter,
)
from tests.contract.conformance._helpers import ACTOR, Factory

Call = Callable[[Any], Awaitable[Any]]
_P = PageRequest()
_X = "X-1"

ERP_CALLS: list[tuple[ErpCapability, str, Call]] = [
    (ErpCapability.PLANTS, "list_plants", lambda c: c.list_plants(_P)),
    (ErpCapability.PLANTS, "get_plant", lambda c: c.get_plant(_X)),
    (ErpCapability.ITEMS, "list_items", lambda c: c.list_items(ItemFilter(), _P)),
    (ErpCapability.ITEMS, "get_item", lambda c: c.get_item(_X)),
    (ErpCapability.SUPPLIERS, "list_suppliers", lambda c: c.list_suppliers(SupplierFilter(), _P)),
    (ErpCapability.SUPPLIERS, "get_supplier", lambda c: c.get_supplier(_X)),
    (ErpCapability.PURCHASING_BLOCK, "set_purchasing_block", lambda c: c.set_purchasing_block(
        _X, PurchasingBlockChange(functions=[BlockedFunction.RFQ], reason="r"), actor=ACTOR)),
    (ErpCapability.PURCHASE_ORDERS, "list_purchase_orders",
     lambda c: c.list_purchase_orders(PurchaseOrderFilter(), _P)),
    (ErpCapability.PURCHASE_ORDERS, "get_purchase_order", lambda c: c.get_purchase_order(_X)),
    (ErpCapability.GOODS_RECEIPTS, "list_goods_receipts",
     lambda c: c.list_goods_receipts(GoodsReceiptFilter(), _P)),
    (ErpCapability.GOODS_RECEIPTS, "get_goods_receipt", lambda c: c.get_goods_receipt(_X)),
    (ErpCapability.GOODS_RECEIPT_POSTING, "post_goods_receipt", lambda c: c.post_goods_receipt(
        GoodsReceiptCreate(po_id=_X, line_no=10, quantity=1), actor=ACTOR)),
    (ErpCapability.LOTS, "list_lots", lambda c: c.list_lots(LotFilter(), _P)),
    (ErpCapability.LOTS, "get_lot", lambda c: c.get_lot(_X)),
    (ErpCapability.LOT_DISPOSITION, "change_lot_disposition", lambda c: c.change_lot_disposition(
        _X, LotDispositionChange(disposition=LotDisposition.BLOCKED, reason="r"), actor=ACTOR,
        expected_version=1)),
    (ErpCapability.GOODS_ISSUE, "issue_goods",
     lambda c: c.issue_goods(_X, GoodsIssueCreate(quantity=1), actor=ACTOR)),
]  # fmt: skip

QMS_CALLS: list[tuple[QmsCapability, str, Call]] = [
    (QmsCapability.SPECIFICATIONS, "list_specifications",
     lambda c: c.list_specifications(SpecificationFilter(), _P)),
    (QmsCapability.SPECIFICATIONS, "get_specification", lambda c: c.get_specification(_X)),
    (QmsCapability.INSPECTIONS, "list_inspections",
     lambda c: c.list_inspections(InspectionFilter(), _P)),
    (QmsCapability.INSPECTIONS, "get_inspection", lambda c: c.get_inspection(_X)),
    (QmsCapability.INSPECTIONS, "create_inspection", lambda c: c.create_inspection(
        InspectionCreate(origin=InspectionOrigin.OTHER, lot_id=_X, item_id=_X, plant_id=_X,
                         quantity=1), actor=ACTOR)),
    (QmsCapability.INSPECTION_RESULTS, "record_results", lambda c: c.record_results(
        _X, ResultsRecord(results=[Measurement(characteristic_id=_X, conforming=True)]),
        actor=ACTOR)),
    (QmsCapability.USAGE_DECISION, "record_usage_decision", lambda c: c.record_usage_decision(
        _X, UsageDecisionCreate(decision=DispositionCode.RELEASE, reason="r", decided_by=_X),
        actor=ACTOR)),
    (QmsCapability.NONCONFORMANCES, "list_nonconformances",
     lambda c: c.list_nonconformances(NonconformanceFilter(), _P)),
    (QmsCapability.NONCONFORMANCES, "get_nonconformance", lambda c: c.get_nonconformance(_X)),
    (QmsCapability.NONCONFORMANCES, "create_nonconformance", lambda c: c.create_nonconformance(
        NonconformanceCreate(type=NonconformanceType.DEVIATION, severity=Severity.MINOR,
                             title="t", plant_id=_X), actor=ACTOR)),
    (QmsCapability.NONCONFORMANCES, "update_nonconformance", lambda c: c.update_nonconformance(
        _X, NonconformanceUpdate(reason="r"), actor=ACTOR)),
    (QmsCapability.CAPA, "list_capas", lambda c: c.list_capas(CapaFilter(), _P)),
    (QmsCapability.CAPA, "get_capa", lambda c: c.get_capa(_X)),
    (QmsCapability.CAPA, "create_capa", lambda c: c.create_capa(
        CapaCreate(type=CapaType.CORRECTIVE, title="t", plant_id=_X, owner=_X), actor=ACTOR)),
    (QmsCapability.CAPA, "advance_capa", lambda c: c.advance_capa(
        _X, CapaStageAdvance(stage=CapaStage.D0, summary="s"), actor=ACTOR)),
    (QmsCapability.SUPPLIER_QUALITY_EVENTS, "list_supplier_quality_events",
     lambda c: c.list_supplier_quality_events(SupplierQualityEventFilter(), _P)),
    (QmsCapability.SUPPLIER_QUALITY_EVENTS, "record_supplier_quality_event",
     lambda c: c.record_supplier_quality_event(SupplierQualityEventCreate(
         supplier_id=_X, kind=SupplierQualityEventKind.AUDIT_FINDING), actor=ACTOR)),
    (QmsCapability.SUPPLIER_QUALITY_STATUS, "get_supplier_quality_status",
     lambda c: c.get_supplier_quality_status(_X)),
    (QmsCapability.SUPPLIER_QUALITY_STATUS, "set_supplier_quality_status",
     lambda c: c.set_supplier_quality_status(_X, SupplierQualityStatusChange(
         status=SupplierQualityStatusCode.APPROVED, reason="r"), actor=ACTOR)),
]  # fmt: skip


def test_every_capability_has_a_call() -> None:
    assert {cap for cap, _, _ in ERP_CALLS} == set(ErpCapability)
    assert {cap for cap, _, _ in QMS_CALLS} == set(QmsCapability)


async def test_a_connector_names_its_system_and_declares_capabilities(
    erp_connector: ErpConnector, qms_connector: QmsConnector
) -> None:
    assert erp_connector.system
    assert qms_connector.system
    assert erp_connector.capabilities
    assert erp_connector.capabilities <= frozenset(ErpCapability)
    assert qms_connector.capabilities
    assert qms_connector.capabilities <= frozenset(QmsCapability)
    await erp_connector.ping()
    await qms_connector.ping()


@pytest.mark.parametrize(
    ("capability", "call"), [pytest.param(c, f, id=n) for c, n, f in ERP_CALLS]
)
async def test_an_erp_method_without_its_capability_is_unsupported(
    erp_factory: Factory[ErpConnector, ErpCapability], capability: ErpCapability, call: Call
) -> None:
    connector = erp_factory.restricted(capability)
    assert capability not in connector.capabilities
    with pytest.raises(CapabilityUnsupported, match=connector.system):
        await call(connector)
    await connector.aclose()


@pytest.mark.parametrize(
    ("capability", "call"), [pytest.param(c, f, id=n) for c, n, f in QMS_CALLS]
)
async def test_a_qms_method_without_its_capability_is_unsupported(
    qms_factory: Factory[QmsConnector, QmsCapability], capability: QmsCapability, call: Call
) -> None:
    connector = qms_factory.restricted(capability)
    assert capability not in connector.capabilities
    with pytest.raises(CapabilityUnsupported, match=connector.system):
        await call(connector)
    await connector.aclose()
