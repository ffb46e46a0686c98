"""Deterministic demo data for the reference ERP and QMS, consistent across the two.

:func:`build_demo` returns equal datasets on every call (no randomness; fixed timestamps at or
before :data:`BASE_TIME`, 2026-11-01T06:00Z): 2 plants (``1000`` DE, ``2000`` US), 5 suppliers
(``SUP-0001`` … ``SUP-0005``), 10 items with specifications (4 in two versions), 34 lots in
every disposition received against purchase orders, an inspection per inspected receipt in every
status and result, nonconformances, CAPAs, supplier quality events and statuses.
:func:`demo_lot_ids` names the lots (``housing-a-use-as-is`` is the BLOCKED lot of the
nonconformance decided USE_AS_IS). ``ErpDataset()`` / ``QmsDataset()`` are the empty datasets.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Final

from shared.models import LotDisposition, StockCategory
from shared.models.erp import (
    GoodsReceipt,
    Item,
    ItemPlant,
    Lot,
    Plant,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchasingBlock,
    QmsCertification,
    Supplier,
)
from shared.models.lifecycle import DEFAULT_CATEGORY
from shared.models.qms import Inspection
from system_apis.connectors.reference._codes import LOT_CODES, po_code, supplier_code
from system_apis.connectors.reference._dataset import ErpDataset, QmsDataset
from system_apis.connectors.reference._demo_catalog import (
    BASE_TIME,
    ITEMS,
    PLANTS,
    SUPPLIERS,
    DemoItem,
    DemoSupplier,
)
from system_apis.connectors.reference._demo_inspections import (
    inspection,
    specifications,
    stock_check,
)
from system_apis.connectors.reference._demo_lots import SCENARIOS, Scenario
from system_apis.connectors.reference._demo_quality import quality_records
from system_apis.connectors.reference._records import ERP_SYSTEM, external_refs, qty
from system_apis.connectors.reference._stock import ISSUABLE, stock_list

__all__ = ["BASE_TIME", "build_demo", "demo_lot_ids"]

_ITEMS: Final = {item.item_id: item for item in ITEMS}
_SUPPLIERS: Final = {supplier.supplier_id: supplier for supplier in SUPPLIERS}


def build_demo() -> tuple[ErpDataset, QmsDataset]:
    """The demo ERP and QMS datasets (equal on every call; the connectors copy them)."""
    specs = specifications()
    lots: dict[str, Lot] = {}
    receipts: list[GoodsReceipt] = []
    inspections: dict[str, Inspection] = {}
    lot_ids = demo_lot_ids()
    for number, scenario in enumerate(SCENARIOS, start=1):
        lot = _lot(scenario, lot_ids[scenario.key], number)
        receipt = _receipt(scenario, lot, f"GR-{number:06d}")
        lots[scenario.key] = lot
        receipts.append(receipt)
        if scenario.status is not None:
            inspection_id = f"INSP-{len(inspections) + 1:06d}"
            inspections[scenario.key] = inspection(scenario, lot, receipt, inspection_id, specs)
    cancelled = stock_check(lots["seal-1000"], f"INSP-{len(inspections) + 1:06d}", specs)
    ncs, capas, events, statuses = quality_records(lots, inspections, BASE_TIME)
    erp = ErpDataset(
        plants=[_plant(*row) for row in PLANTS],
        items=[_item(item) for item in ITEMS],
        suppliers=[_supplier(supplier) for supplier in SUPPLIERS],
        purchase_orders=_purchase_orders(receipts),
        goods_receipts=receipts,
        lots=list(lots.values()),
    )
    qms = QmsDataset(
        specifications=specs,
        inspections=[*inspections.values(), cancelled],
        nonconformances=ncs,
        capas=capas,
        supplier_quality_events=events,
        supplier_quality_statuses=statuses,
    )
    return erp, qms


def demo_lot_ids() -> dict[str, str]:
    """Scenario key -> lot id, e.g. ``housing-a-use-as-is`` -> ``LOT-1000-0016``."""
    seq: dict[str, int] = defaultdict(int)
    ids = {}
    for scenario in SCENARIOS:
        seq[scenario.plant_id] += 1
        ids[scenario.key] = f"LOT-{scenario.plant_id}-{seq[scenario.plant_id]:04d}"
    return ids


def _received_at(scenario: Scenario) -> datetime:
    return BASE_TIME - timedelta(days=scenario.days_ago, hours=4)


def _later(start: datetime, days: float) -> datetime:
    return min(start + timedelta(days=days), BASE_TIME)


def _line_no(item_id: str) -> int:
    """Lines are numbered 10, 20, … over the supplier's items in id order."""
    supplier_id = _ITEMS[item_id].supplier_id
    same = sorted(i.item_id for i in ITEMS if i.supplier_id == supplier_id)
    return 10 * (same.index(item_id) + 1)


def _po_id(scenario: Scenario) -> str:
    """One purchase order per supplier and plant (numbered in catalog order)."""
    supplier_no = int(_ITEMS[scenario.item_id].supplier_id.removeprefix("SUP-"))
    return f"PO-45000{supplier_no:03d}{scenario.plant_id[0]}0"


def _plant(plant_id: str, name: str, country: str) -> Plant:
    return Plant(
        external_refs=external_refs(ERP_SYSTEM, "Plant", plant_id, 1),
        source_status="ACTIVE",
        plant_id=plant_id,
        name=name,
        country=country,
    )


def _item(item: DemoItem) -> Item:
    return Item(
        external_refs=external_refs(ERP_SYSTEM, "Item", item.item_id, 1),
        source_status="ACTIVE",
        item_id=item.item_id,
        description=item.description,
        base_uom=item.uom,
        plants=[
            ItemPlant(plant_id="1000", inspection_required_on_receipt=item.inspect_1000),
            ItemPlant(plant_id="2000", inspection_required_on_receipt=item.inspect_2000),
        ],
    )


def _supplier(supplier: DemoSupplier) -> Supplier:
    block = None
    if supplier.blocked:
        block = PurchasingBlock(
            functions=list(supplier.blocked),
            reason=supplier.reason or "Blocked by purchasing",
            blocked_at=BASE_TIME - timedelta(days=21),
            blocked_by="purchasing.lead",
        )
    certification = None
    if supplier.certification is not None:
        standard, certificate_id, valid_to = supplier.certification
        certification = QmsCertification(
            standard=standard, certificate_id=certificate_id, valid_to=valid_to
        )
    version = 2 if block is not None else 1
    return Supplier(
        version=version,
        external_refs=external_refs(ERP_SYSTEM, "Supplier", supplier.supplier_id, version),
        source_status=supplier_code(blocked=block is not None),
        supplier_id=supplier.supplier_id,
        name=supplier.name,
        country=supplier.country,
        quality_status=supplier.status,
        purchasing_blocked=block is not None,
        purchasing_block=block,
        qms_certification=certification,
    )


def _lot(scenario: Scenario, lot_id: str, number: int) -> Lot:
    item = _ITEMS[scenario.item_id]
    inspected = item.inspect_1000 if scenario.plant_id == "1000" else item.inspect_2000
    if inspected != (scenario.status is not None):
        raise ValueError(f"scenario {scenario.key}: inspection does not match the item's flag")
    initial = LotDisposition.QUARANTINE if inspected else LotDisposition.RELEASED
    default = DEFAULT_CATEGORY[scenario.disposition]
    stock = dict(scenario.split) or ({default: scenario.quantity} if default else {})
    if scenario.issued:
        category = ISSUABLE[scenario.disposition]
        stock[category] = stock[category] - scenario.issued
    changed = scenario.disposition is not initial
    version = 1 + changed + (scenario.issued > 0)
    received_at = _received_at(scenario)
    updated_at = _later(received_at, 3 if scenario.issued else 2 if changed else 0)
    return Lot(
        version=version,
        external_refs=external_refs(ERP_SYSTEM, "Lot", lot_id, version),
        source_status=LOT_CODES[scenario.disposition],
        lot_id=lot_id,
        lot_number=f"B{scenario.plant_id}-{number:05d}",
        item_id=scenario.item_id,
        plant_id=scenario.plant_id,
        supplier_id=item.supplier_id,
        supplier_lot_number=f"{_SUPPLIERS[item.supplier_id].lot_prefix}-{4100 + number}",
        disposition=scenario.disposition,
        stock=stock_list(stock),
        total_quantity=qty(sum(stock.values())),
        uom=item.uom,
        updated_at=updated_at,
    )


def _receipt(scenario: Scenario, lot: Lot, receipt_id: str) -> GoodsReceipt:
    inspected = scenario.status is not None
    return GoodsReceipt(
        external_refs=external_refs(ERP_SYSTEM, "GoodsReceipt", receipt_id, 1),
        source_status="POSTED",
        receipt_id=receipt_id,
        po_id=_po_id(scenario),
        line_no=_line_no(scenario.item_id),
        item_id=scenario.item_id,
        plant_id=scenario.plant_id,
        supplier_id=_ITEMS[scenario.item_id].supplier_id,
        lot_id=lot.lot_id,
        lot_number=lot.lot_number,
        supplier_lot_number=lot.supplier_lot_number,
        delivery_note=f"DN-{receipt_id}",
        quantity=qty(scenario.quantity),
        stock_category=StockCategory.QUALITY_INSPECTION if inspected else StockCategory.AVAILABLE,
        received_at=_received_at(scenario),
    )


def _purchase_orders(receipts: list[GoodsReceipt]) -> list[PurchaseOrder]:
    """Each PO line ordered half as much again as was received, so every line is still open."""
    by_line: dict[str, dict[int, list[GoodsReceipt]]] = defaultdict(lambda: defaultdict(list))
    for receipt in receipts:
        by_line[receipt.po_id][receipt.line_no].append(receipt)
    orders = []
    for po_id, lines in sorted(by_line.items()):
        first = min(r.received_at for line in lines.values() for r in line)
        po_lines = []
        for line_no, line_receipts in sorted(lines.items()):
            received = qty(sum(r.quantity for r in line_receipts))
            item = _ITEMS[line_receipts[0].item_id]
            po_lines.append(
                PurchaseOrderLine(
                    line_no=line_no,
                    item_id=item.item_id,
                    plant_id=line_receipts[0].plant_id,
                    quantity=qty(math.ceil(received * 1.5 / 10) * 10),
                    received_quantity=received,
                    uom=item.uom,
                )
            )
        version = 1 + sum(len(line) for line in lines.values())
        sample = next(iter(lines.values()))[0]
        orders.append(
            PurchaseOrder(
                version=version,
                external_refs=external_refs(ERP_SYSTEM, "PurchaseOrder", po_id, version),
                source_status=po_code(po_lines),
                po_id=po_id,
                supplier_id=sample.supplier_id,
                plant_id=sample.plant_id,
                ordered_at=first - timedelta(days=10),
                lines=po_lines,
            )
        )
    return orders
