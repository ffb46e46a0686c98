"""Goods receipts and supplier purchasing blocks."""

from __future__ import annotations

import pytest

from shared.errors import BackendRejected, NotFound, PreconditionFailed
from shared.models import BlockedFunction, LotDisposition, StockCategory
from shared.models.commands import GoodsReceiptCreate, PurchasingBlockChange
from system_apis.connectors.base import ErpConnector, GoodsReceiptFilter, SupplierFilter
from tests.contract.conformance._helpers import (
    ACTOR,
    MISSING_ID,
    assert_stock_consistent,
    open_line,
    stock,
    walk,
)

_F = BlockedFunction


async def test_a_receipt_creates_a_lot_and_counts_against_the_line(
    erp_connector: ErpConnector,
) -> None:
    order, line = await open_line(erp_connector)
    receipt = await erp_connector.post_goods_receipt(
        GoodsReceiptCreate(
            po_id=order.po_id, line_no=line.line_no, quantity=7.5, supplier_lot_number="SL-77"
        ),
        actor=ACTOR,
    )
    assert (receipt.po_id, receipt.line_no, receipt.quantity) == (order.po_id, line.line_no, 7.5)
    assert (receipt.item_id, receipt.plant_id) == (line.item_id, line.plant_id)
    assert receipt.supplier_id == order.supplier_id
    assert await erp_connector.get_goods_receipt(receipt.receipt_id) == receipt
    listed = await walk(
        lambda page: erp_connector.list_goods_receipts(GoodsReceiptFilter(po_id=order.po_id), page)
    )
    assert receipt in listed

    item = await erp_connector.get_item(line.item_id)
    inspect = any(
        p.inspection_required_on_receipt for p in item.plants if p.plant_id == line.plant_id
    )
    lot = await erp_connector.get_lot(receipt.lot_id)
    assert_stock_consistent(lot)
    assert (lot.item_id, lot.plant_id, lot.supplier_id) == (
        line.item_id,
        line.plant_id,
        order.supplier_id,
    )
    assert lot.lot_number == receipt.lot_number
    assert lot.supplier_lot_number == "SL-77"
    expected = StockCategory.QUALITY_INSPECTION if inspect else StockCategory.AVAILABLE
    assert receipt.stock_category is expected
    assert stock(lot, expected) == lot.total_quantity == 7.5
    assert lot.disposition is (LotDisposition.QUARANTINE if inspect else LotDisposition.RELEASED)

    after = await erp_connector.get_purchase_order(order.po_id)
    after_line = next(ln for ln in after.lines if ln.line_no == line.line_no)
    assert after_line.received_quantity == line.received_quantity + 7.5
    assert after.version == order.version + 1


async def test_a_repeated_delivery_note_is_not_posted_twice(erp_connector: ErpConnector) -> None:
    order, line = await open_line(erp_connector)
    request = GoodsReceiptCreate(
        po_id=order.po_id, line_no=line.line_no, quantity=5, delivery_note="DN-CONF-1"
    )
    first = await erp_connector.post_goods_receipt(request, actor=ACTOR)
    assert first.delivery_note == "DN-CONF-1"
    again = await erp_connector.post_goods_receipt(request, actor=ACTOR)
    assert again == first
    after = await erp_connector.get_purchase_order(order.po_id)
    received = next(ln.received_quantity for ln in after.lines if ln.line_no == line.line_no)
    assert received == line.received_quantity + 5
    other = await erp_connector.post_goods_receipt(
        GoodsReceiptCreate(
            po_id=order.po_id, line_no=line.line_no, quantity=5, delivery_note="DN-CONF-2"
        ),
        actor=ACTOR,
    )
    assert other.receipt_id != first.receipt_id


async def test_a_receipt_into_the_same_batch_adds_to_its_lot(erp_connector: ErpConnector) -> None:
    order, line = await open_line(erp_connector)
    first = await erp_connector.post_goods_receipt(
        GoodsReceiptCreate(
            po_id=order.po_id, line_no=line.line_no, quantity=4, lot_number="CONF-B1"
        ),
        actor=ACTOR,
    )
    second = await erp_connector.post_goods_receipt(
        GoodsReceiptCreate(
            po_id=order.po_id, line_no=line.line_no, quantity=6, lot_number="CONF-B1"
        ),
        actor=ACTOR,
    )
    assert second.lot_id == first.lot_id
    lot = await erp_connector.get_lot(first.lot_id)
    assert lot.total_quantity == 10
    assert lot.version == 2
    assert_stock_consistent(lot)


async def test_receiving_above_the_tolerance_is_rejected(erp_connector: ErpConnector) -> None:
    order, line = await open_line(erp_connector)
    limit = round(line.quantity * 1.1 - line.received_quantity, 3)
    with pytest.raises(BackendRejected, match=order.po_id):
        await erp_connector.post_goods_receipt(
            GoodsReceiptCreate(po_id=order.po_id, line_no=line.line_no, quantity=limit + 1),
            actor=ACTOR,
        )
    assert await erp_connector.get_purchase_order(order.po_id) == order
    receipt = await erp_connector.post_goods_receipt(
        GoodsReceiptCreate(po_id=order.po_id, line_no=line.line_no, quantity=limit), actor=ACTOR
    )
    assert receipt.quantity == limit


async def test_an_unknown_order_or_line_is_not_found(erp_connector: ErpConnector) -> None:
    order, _ = await open_line(erp_connector)
    with pytest.raises(NotFound):
        await erp_connector.post_goods_receipt(
            GoodsReceiptCreate(po_id=MISSING_ID, line_no=10, quantity=1), actor=ACTOR
        )
    with pytest.raises(NotFound):
        await erp_connector.post_goods_receipt(
            GoodsReceiptCreate(po_id=order.po_id, line_no=99999, quantity=1), actor=ACTOR
        )


async def test_a_purchasing_block_is_set_deduplicated_and_lifted(
    erp_connector: ErpConnector,
) -> None:
    order, line = await open_line(erp_connector)
    supplier = await erp_connector.get_supplier(order.supplier_id)
    blocked = await erp_connector.set_purchasing_block(
        supplier.supplier_id,
        PurchasingBlockChange(
            functions=[_F.GOODS_RECEIPT, _F.PURCHASE_ORDER, _F.GOODS_RECEIPT], reason="Conformance"
        ),
        actor=ACTOR,
        expected_version=supplier.version,
    )
    assert blocked.version == supplier.version + 1
    assert blocked.purchasing_blocked
    assert blocked.purchasing_block is not None
    assert sorted(blocked.purchasing_block.functions) == [_F.GOODS_RECEIPT, _F.PURCHASE_ORDER]
    assert blocked.purchasing_block.reason == "Conformance"
    assert blocked.quality_status is supplier.quality_status
    with pytest.raises(BackendRejected, match="blocked"):
        await erp_connector.post_goods_receipt(
            GoodsReceiptCreate(po_id=order.po_id, line_no=line.line_no, quantity=1), actor=ACTOR
        )
    listed = await walk(
        lambda page: erp_connector.list_suppliers(SupplierFilter(purchasing_blocked=True), page)
    )
    assert blocked in listed

    with pytest.raises(PreconditionFailed):
        await erp_connector.set_purchasing_block(
            supplier.supplier_id,
            PurchasingBlockChange(functions=[], reason="Stale"),
            actor=ACTOR,
            expected_version=supplier.version,
        )
    lifted = await erp_connector.set_purchasing_block(
        supplier.supplier_id,
        PurchasingBlockChange(functions=[], reason="Cleared"),
        actor=ACTOR,
        expected_version=blocked.version,
    )
    assert not lifted.purchasing_blocked
    assert lifted.purchasing_block is None
    assert lifted.version == blocked.version + 1
    await erp_connector.post_goods_receipt(
        GoodsReceiptCreate(po_id=order.po_id, line_no=line.line_no, quantity=1), actor=ACTOR
    )


async def test_blocking_an_unknown_supplier_is_not_found(erp_connector: ErpConnector) -> None:
    with pytest.raises(NotFound):
        await erp_connector.set_purchasing_block(
            MISSING_ID, PurchasingBlockChange(functions=[_F.RFQ], reason="x"), actor=ACTOR
        )
