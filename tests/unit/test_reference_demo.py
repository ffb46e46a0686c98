"""The reference connectors' demo data: deterministic, complete, and consistent across ERP/QMS."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import timedelta

import msgspec
import pytest

from shared.errors import NotFound
from shared.models import (
    ID_PATTERN,
    CapaStage,
    InspectionResult,
    InspectionStatus,
    LotDisposition,
    MaterialDisposition,
    NonconformanceStatus,
    NonconformanceType,
    Record,
    StockCategory,
)
from shared.models.commands import GoodsReceiptCreate
from system_apis.connectors.base import GoodsReceiptFilter, LotFilter, PageRequest
from system_apis.connectors.reference import (
    ALLOWED_CATEGORIES,
    BASE_TIME,
    ErpDataset,
    QmsDataset,
    ReferenceErpConnector,
    ReferenceQmsConnector,
    build_demo,
    demo_lot_ids,
)
from system_apis.connectors.reference._valuation import overall

ERP, QMS = build_demo()
_OPEN = {
    NonconformanceStatus.OPEN,
    NonconformanceStatus.IN_PROGRESS,
    NonconformanceStatus.IN_REVIEW,
}


def _records() -> list[Record]:
    erp: list[Record] = [*ERP.plants, *ERP.items, *ERP.suppliers, *ERP.purchase_orders]
    erp += [*ERP.goods_receipts, *ERP.lots]
    qms: list[Record] = [*QMS.specifications, *QMS.inspections, *QMS.nonconformances]
    qms += [*QMS.capas, *QMS.supplier_quality_events, *QMS.supplier_quality_statuses]
    return erp + qms


def test_two_builds_are_equal() -> None:
    again_erp, again_qms = build_demo()
    assert (again_erp, again_qms) == (ERP, QMS)
    assert msgspec.json.encode(again_erp) == msgspec.json.encode(ERP)
    assert msgspec.json.encode(again_qms) == msgspec.json.encode(QMS)


def test_the_datasets_pass_the_wire_constraints() -> None:
    assert msgspec.json.decode(msgspec.json.encode(ERP), type=ErpDataset) == ERP
    assert msgspec.json.decode(msgspec.json.encode(QMS), type=QmsDataset) == QMS


def test_every_record_has_an_external_ref_in_step_with_its_version_and_a_source_status() -> None:
    for record in _records():
        assert record.source_status
        assert len(record.external_refs) == 1
        assert record.external_refs[0].system in {"reference-erp", "reference-qms"}
        assert record.external_refs[0].etag == str(record.version)


def test_timestamps_are_at_or_before_the_base_time() -> None:
    stamps = [lot.updated_at for lot in ERP.lots] + [r.received_at for r in ERP.goods_receipts]
    stamps += [i.created_at for i in QMS.inspections] + [n.updated_at for n in QMS.nonconformances]
    stamps += [e.occurred_at for e in QMS.supplier_quality_events]
    assert max(stamps) <= BASE_TIME


def test_master_data() -> None:
    assert [(p.plant_id, p.country) for p in ERP.plants] == [("1000", "DE"), ("2000", "US")]
    suppliers = {s.supplier_id: s for s in ERP.suppliers}
    assert {"SUP-0001", "SUP-0002", "SUP-0003", "SUP-0004"} <= set(suppliers)
    assert len({s.quality_status for s in ERP.suppliers}) >= 3
    assert any(s.purchasing_blocked and s.purchasing_block for s in ERP.suppliers)
    expiring = [
        s for s in ERP.suppliers
        if s.qms_certification
        and s.qms_certification.valid_to <= (BASE_TIME + timedelta(days=90)).date()
    ]  # fmt: skip
    assert len(expiring) >= 2
    assert len(ERP.items) >= 8
    flags = {(p.plant_id, p.inspection_required_on_receipt) for i in ERP.items for p in i.plants}
    assert flags == {("1000", True), ("1000", False), ("2000", True), ("2000", False)}


def test_every_item_has_specifications_with_2_to_5_characteristics() -> None:
    versions = Counter(s.item_id for s in QMS.specifications)
    assert set(versions) == {i.item_id for i in ERP.items}
    assert sum(n >= 2 for n in versions.values()) >= 2
    chars = [c for s in QMS.specifications for c in s.characteristics]
    assert all(2 <= len(s.characteristics) <= 5 for s in QMS.specifications)
    assert any(c.quantitative and c.uom and c.lower_limit is not None for c in chars)
    assert any(not c.quantitative for c in chars)
    assert any(c.critical for c in chars)
    assert all(any(c.critical for c in s.characteristics) for s in QMS.specifications)


def test_lots_cover_every_disposition_with_consistent_stock() -> None:
    assert len(ERP.lots) >= 30
    assert {lot.disposition for lot in ERP.lots} == set(LotDisposition)
    for lot in ERP.lots:
        assert [b.category for b in lot.stock] == list(StockCategory)
        assert round(sum(b.quantity for b in lot.stock), 3) == lot.total_quantity
        held = {b.category for b in lot.stock if b.quantity > 0}
        assert held <= ALLOWED_CATEGORIES[lot.disposition], lot.lot_id
        if lot.disposition is LotDisposition.SCRAPPED:
            assert lot.total_quantity == 0


def test_receipts_orders_and_lots_agree() -> None:
    lots = {lot.lot_id: lot for lot in ERP.lots}
    orders = {o.po_id: o for o in ERP.purchase_orders}
    received: defaultdict[tuple[str, int], float] = defaultdict(float)
    for receipt in ERP.goods_receipts:
        lot = lots[receipt.lot_id]
        order = orders[receipt.po_id]
        line = next(ln for ln in order.lines if ln.line_no == receipt.line_no)
        assert (lot.item_id, lot.plant_id, lot.supplier_id) == (
            receipt.item_id, receipt.plant_id, receipt.supplier_id
        )  # fmt: skip
        assert (line.item_id, line.plant_id, order.supplier_id) == (
            receipt.item_id, receipt.plant_id, receipt.supplier_id
        )  # fmt: skip
        received[receipt.po_id, receipt.line_no] += receipt.quantity
    for order in ERP.purchase_orders:
        for line in order.lines:
            assert line.received_quantity == received[order.po_id, line.line_no]
            assert line.quantity > line.received_quantity


def test_inspections_refer_to_real_records_and_cover_every_status_and_result() -> None:
    lots = {lot.lot_id: lot for lot in ERP.lots}
    receipts = {r.receipt_id: r for r in ERP.goods_receipts}
    specs = {(s.spec_id, s.spec_version): s for s in QMS.specifications}
    assert {i.status for i in QMS.inspections} == set(InspectionStatus)
    assert {i.result for i in QMS.inspections} == set(InspectionResult)
    for insp in QMS.inspections:
        lot = lots[insp.lot_id]
        assert (insp.item_id, insp.plant_id, insp.supplier_id) == (
            lot.item_id, lot.plant_id, lot.supplier_id
        )  # fmt: skip
        spec = specs[insp.spec_id, insp.spec_version]
        assert spec.item_id == insp.item_id
        assert [r.characteristic_id for r in insp.results] == [
            c.characteristic_id for c in spec.characteristics
        ]
        if insp.status is not InspectionStatus.CANCELLED:
            expected = overall(spec.characteristics, insp.results)
            after = {InspectionStatus.DECIDED: InspectionStatus.RESULTS_RECORDED}
            assert expected == (after.get(insp.status, insp.status), insp.result)
        assert (insp.decision is not None) == (insp.status is InspectionStatus.DECIDED)
        if insp.goods_receipt_id is not None:
            assert receipts[insp.goods_receipt_id].lot_id == insp.lot_id


def test_a_lot_is_quarantined_exactly_where_its_item_needs_inspection() -> None:
    items = {i.item_id: i for i in ERP.items}
    inspected = {i.lot_id for i in QMS.inspections if i.goods_receipt_id}
    for lot in ERP.lots:
        needs = next(
            p.inspection_required_on_receipt for p in items[lot.item_id].plants
            if p.plant_id == lot.plant_id
        )  # fmt: skip
        assert (lot.lot_id in inspected) == needs, lot.lot_id
        if lot.disposition is LotDisposition.QUARANTINE:
            assert needs


def test_quality_records_for_the_demos() -> None:
    lots = {lot.lot_id: lot for lot in ERP.lots}
    open_ncs = [nc for nc in QMS.nonconformances if nc.status in _OPEN]
    assert len(open_ncs) >= 3
    use_as_is = [
        nc for nc in open_ncs
        if nc.type is NonconformanceType.SUPPLIER_NC
        and nc.material_disposition is MaterialDisposition.USE_AS_IS
    ]  # fmt: skip
    assert len(use_as_is) == 1
    assert use_as_is[0].lot_ids == [demo_lot_ids()["housing-a-use-as-is"]]
    assert lots[use_as_is[0].lot_ids[0]].disposition is LotDisposition.BLOCKED
    assert {nc.status for nc in QMS.nonconformances} == set(NonconformanceStatus)
    for nc in QMS.nonconformances:
        assert all(lot_id in lots for lot_id in nc.lot_ids)
        if nc.status is NonconformanceStatus.CLOSED:
            assert nc.material_disposition is not None
    assert any(
        c.status is NonconformanceStatus.IN_PROGRESS and CapaStage.D0 < c.stage < CapaStage.D8
        for c in QMS.capas
    )
    nc_ids = {nc.nc_id for nc in QMS.nonconformances}
    assert all(set(c.nc_ids) <= nc_ids for c in QMS.capas)


def test_supplier_quality_agrees_with_the_erp() -> None:
    statuses = {s.supplier_id: s for s in QMS.supplier_quality_statuses}
    assert set(statuses) == {s.supplier_id for s in ERP.suppliers}
    for supplier in ERP.suppliers:
        status = statuses[supplier.supplier_id]
        assert status.status is supplier.quality_status
        functions = supplier.purchasing_block.functions if supplier.purchasing_block else []
        assert status.blocked_functions == functions
    assert {e.supplier_id for e in QMS.supplier_quality_events} <= set(statuses)
    assert len({e.kind for e in QMS.supplier_quality_events}) >= 5


def test_every_id_is_a_valid_identifier_and_unique() -> None:
    pattern = re.compile(ID_PATTERN)
    ids = [lot.lot_id for lot in ERP.lots] + [r.receipt_id for r in ERP.goods_receipts]
    ids += [o.po_id for o in ERP.purchase_orders] + [i.inspection_id for i in QMS.inspections]
    ids += [n.nc_id for n in QMS.nonconformances] + [c.capa_id for c in QMS.capas]
    ids += [e.event_id for e in QMS.supplier_quality_events]
    assert all(pattern.match(record_id) for record_id in ids)
    assert len(ids) == len(set(ids))
    assert sorted(demo_lot_ids().values()) == sorted(lot.lot_id for lot in ERP.lots)


async def test_the_connectors_default_to_the_demo_and_can_start_empty() -> None:
    demo = await ReferenceErpConnector().list_lots(LotFilter(), PageRequest(limit=200))
    assert demo.items == sorted(ERP.lots, key=lambda lot: lot.lot_id)
    empty = ReferenceErpConnector(data=ErpDataset())
    assert (await empty.list_lots(LotFilter(), PageRequest())).items == []
    with pytest.raises(NotFound):
        await empty.post_goods_receipt(
            GoodsReceiptCreate(po_id="PO-1", line_no=10, quantity=1), actor="test"
        )
    empty_qms = ReferenceQmsConnector(data=QmsDataset())
    with pytest.raises(NotFound):
        await empty_qms.get_supplier_quality_status("SUP-0001")


async def test_new_ids_continue_after_the_demo_ids() -> None:
    erp = ReferenceErpConnector()
    order = next(o for o in ERP.purchase_orders if o.supplier_id == "SUP-0001")
    receipt = await erp.post_goods_receipt(
        GoodsReceiptCreate(po_id=order.po_id, line_no=10, quantity=1), actor="test"
    )
    assert receipt.receipt_id == f"GR-{len(ERP.goods_receipts) + 1:06d}"
    plant_lots = [lot for lot in ERP.lots if lot.plant_id == order.plant_id]
    assert receipt.lot_id == f"LOT-{order.plant_id}-{len(plant_lots) + 1:04d}"
    assert receipt.lot_number not in {lot.lot_number for lot in ERP.lots}


async def test_a_seeded_receipt_is_found_by_its_delivery_note() -> None:
    erp_connector = ReferenceErpConnector()
    receipts = await erp_connector.list_goods_receipts(GoodsReceiptFilter(), PageRequest(limit=200))
    known = next(r for r in receipts.items if r.delivery_note is not None)
    assert known.delivery_note is not None
    order = await erp_connector.get_purchase_order(known.po_id)
    again = await erp_connector.post_goods_receipt(
        GoodsReceiptCreate(
            po_id=known.po_id,
            line_no=known.line_no,
            quantity=1,
            delivery_note=known.delivery_note,
        ),
        actor="demo-test",
    )
    assert again == known
    assert (await erp_connector.get_purchase_order(known.po_id)).version == order.version
