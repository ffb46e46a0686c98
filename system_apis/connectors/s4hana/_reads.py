"""SAP entities read into canonical records (the connector's read side)."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from shared.models import (
    BlockedFunction,
    ExternalRef,
    LotDisposition,
    StockCategory,
    SupplierQualityStatusCode,
)
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
    StockBalance,
    Supplier,
)
from shared.settings import S4HanaSettings
from system_apis.connectors.s4hana._mapping import SYSTEM, PlantCodes, gr_id, lot_id, po_id
from system_apis.connectors.s4hana._notes import BlockNote
from system_apis.connectors.s4hana._odata import Entity, parse_decimal, parse_odata_date

__all__ = [
    "LotFacts",
    "block_functions",
    "build_lot",
    "item_of",
    "plant_of",
    "purchase_order_of",
    "receipt_of",
    "supplier_of",
]

_TIME: Final = re.compile(r"^PT(?P<h>\d+)H(?P<m>\d+)M(?P<s>\d+)S$")
_QM_STANDARDS: Final = {"IATF": "IATF 16949", "ISO9": "ISO 9001"}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _ref(entity_type: str, key: str, etag: str) -> list[ExternalRef]:
    return [ExternalRef(system=SYSTEM, type=entity_type, id=key, etag=etag)]


def _date(value: object) -> datetime | None:
    return parse_odata_date(value) if isinstance(value, str) and value else None


def _results(entity: Entity, nav: str) -> list[Entity]:
    value = entity.get(nav)
    if isinstance(value, dict) and isinstance(value.get("results"), list):
        return [row for row in value["results"] if isinstance(row, dict)]
    return []


def plant_of(row: Entity, settings: S4HanaSettings) -> Plant:
    plant = str(row["Plant"])
    return Plant(
        external_refs=_ref("A_Plant", plant, "1"),
        source_status=str(row.get("CompanyCode") or ""),
        plant_id=plant,
        name=str(row.get("PlantName") or plant),
        country=PlantCodes.of(settings, plant).codes.country,
    )


def item_of(row: Entity) -> Item:
    descriptions = {
        str(d.get("Language")): str(d.get("ProductDescription"))
        for d in _results(row, "to_Description")
    }
    plants = []
    for plant in _results(row, "to_Plant"):
        quality = plant.get("to_PlantQualityMgmt")
        inspect = (
            bool(quality.get("HasPostToInspectionStock")) if isinstance(quality, dict) else False
        )
        plants.append(
            ItemPlant(plant_id=str(plant["Plant"]), inspection_required_on_receipt=inspect)
        )
    product = str(row["Product"])
    return Item(
        external_refs=_ref("A_Product", product, "1"),
        source_status=str(row.get("ProductType") or ""),
        item_id=product,
        description=descriptions.get("EN") or next(iter(descriptions.values()), product),
        base_uom=str(row.get("BaseUnit") or "PC"),
        batch_managed=bool(row.get("IsBatchManagementRequired")),
        plants=sorted(plants, key=lambda p: p.plant_id),
    )


def block_functions(row: Entity) -> list[BlockedFunction]:
    code = str(row.get("SupplierProcurementBlock") or "")
    found = []
    if code in ("Q1", "Q3"):
        found.append(BlockedFunction.RFQ)
    if row.get("PurchasingIsBlocked"):
        found.append(BlockedFunction.PURCHASE_ORDER)
    if code in ("Q2", "Q3"):
        found.append(BlockedFunction.GOODS_RECEIPT)
    if row.get("PaymentIsBlockedForSupplier"):
        found.append(BlockedFunction.PAYMENT)
    return found


def supplier_of(
    row: Entity, country: str, procurement_blocked: bool, note: BlockNote | None
) -> Supplier:
    """``note``: qgate's note of the last block it set (see ``_notes``); shown only while SAP's
    indicators are still the ones it set, else the version moves on past it."""
    supplier = str(row["Supplier"])
    functions = block_functions(row)
    current = note is not None and note.functions == tuple(sorted(f.value for f in functions))
    version = 1 if note is None else note.version if current else note.version + 1
    block = None
    if functions:
        reason, actor, at = (
            (note.reason, note.actor, note.at)
            if note is not None and current
            else ("Blocked in S/4HANA", "S/4HANA", _EPOCH)
        )
        block = PurchasingBlock(functions=functions, reason=reason, blocked_at=at, blocked_by=actor)
    qm_system = str(row.get("SuplrQualityManagementSystem") or "")
    valid_to = _date(row.get("SuplrQltyInProcmtCertfnValidTo"))
    certification = None
    if qm_system and valid_to is not None:
        certification = QmsCertification(
            standard=_QM_STANDARDS.get(qm_system, qm_system),
            certificate_id=qm_system,
            valid_to=valid_to.date(),
        )
    return Supplier(
        version=version,
        external_refs=_ref("A_Supplier", supplier, str(version)),
        source_status=str(
            row.get("SupplierProcurementBlock")
            or ("PURCH_BLOCKED" if row.get("PurchasingIsBlocked") else "ACTIVE")
        ),
        supplier_id=supplier,
        name=str(row.get("SupplierName") or supplier)[:200],
        country=country if re.fullmatch(r"[A-Z]{2}", country) else "ZZ",
        quality_status=SupplierQualityStatusCode.PROBATION
        if procurement_blocked
        else SupplierQualityStatusCode.APPROVED,
        purchasing_blocked=bool(functions),
        purchasing_block=block,
        qms_certification=certification,
    )


def posted_at(header: Entity) -> datetime:
    day = _date(header.get("CreationDate")) or _EPOCH
    match = _TIME.match(str(header.get("CreationTime") or ""))
    if match is None or day.time() != datetime.min.time():
        return day
    return day + timedelta(hours=int(match["h"]), minutes=int(match["m"]), seconds=int(match["s"]))


def purchase_order_of(row: Entity, receipts: list[Entity]) -> PurchaseOrder:
    received: dict[str, float] = defaultdict(float)
    for item in receipts:
        sign = -1 if item.get("GoodsMovementType") == "102" else 1
        received[str(item["PurchaseOrderItem"])] += sign * parse_decimal(
            item.get("QuantityInEntryUnit")
        )
    lines = [
        PurchaseOrderLine(
            line_no=int(item["PurchaseOrderItem"]),
            item_id=str(item["Material"]),
            plant_id=str(item["Plant"]),
            quantity=parse_decimal(item.get("OrderQuantity")),
            received_quantity=round(received[str(item["PurchaseOrderItem"])], 3),
            uom=str(item.get("PurchaseOrderQuantityUnit") or "PC"),
        )
        for item in sorted(
            _results(row, "to_PurchaseOrderItem"), key=lambda i: int(i["PurchaseOrderItem"])
        )
    ]
    version = 1 + len(receipts)
    number = str(row["PurchaseOrder"])
    return PurchaseOrder(
        version=version,
        external_refs=_ref("A_PurchaseOrder", number, str(version)),
        source_status=str(row.get("PurchasingProcessingStatus") or ""),
        po_id=po_id(number),
        supplier_id=str(row["Supplier"]),
        plant_id=lines[0].plant_id if lines else "",
        ordered_at=_date(row.get("PurchaseOrderDate")) or _EPOCH,
        lines=lines,
    )


def receipt_of(item: Entity, codes: PlantCodes) -> GoodsReceipt:
    header = item.get("to_MaterialDocumentHeader")
    header = header if isinstance(header, dict) else {}
    key = gr_id(
        str(item["MaterialDocumentYear"]),
        str(item["MaterialDocument"]),
        str(item["MaterialDocumentItem"]),
    )
    category = codes.category(str(item.get("InventoryStockType") or "")) or StockCategory.AVAILABLE
    return GoodsReceipt(
        external_refs=_ref("A_MaterialDocumentItem", key.removeprefix("GR-"), "1"),
        source_status=str(item.get("GoodsMovementType") or ""),
        receipt_id=key,
        po_id=po_id(str(item["PurchaseOrder"])),
        line_no=int(item["PurchaseOrderItem"]),
        item_id=str(item["Material"]),
        plant_id=str(item["Plant"]),
        supplier_id=str(item.get("Supplier") or ""),
        lot_id=lot_id(str(item["Plant"]), str(item["Batch"])),
        lot_number=str(item["Batch"]),
        supplier_lot_number=str(item.get("MaterialDocumentItemText") or "") or None,
        delivery_note=str(header.get("ReferenceDocument") or "") or None,
        quantity=parse_decimal(item.get("QuantityInEntryUnit")),
        stock_category=category,
        received_at=posted_at(header),
    )


@dataclass
class LotFacts:
    """What SAP holds about one batch at one plant."""

    items: list[Entity] = field(default_factory=list)
    """Its material document items (with their headers), in posting order."""
    stock: list[Entity] = field(default_factory=list)
    """Its stock rows (A_MatlStkInAcctMod)."""
    ud_documents: dict[tuple[str, str], str] = field(default_factory=dict)
    """(year, material document) of usage-decision stock postings -> inspection lot."""
    ud_codes: dict[str, str] = field(default_factory=dict)
    """Inspection lot -> its usage decision code."""


def build_lot(plant: str, batch: str, facts: LotFacts, codes: PlantCodes) -> Lot:
    documents: dict[tuple[str, str], list[Entity]] = defaultdict(list)
    for item in facts.items:
        documents[(str(item["MaterialDocumentYear"]), str(item["MaterialDocument"]))].append(item)
    version, disposition, status = 0, LotDisposition.RELEASED, ""
    seen_lots: set[str] = set()
    first = facts.items[0]
    updated = _EPOCH
    for key in sorted(documents):
        items = documents[key]
        movement = str(items[0].get("GoodsMovementType") or "")
        header = items[0].get("to_MaterialDocumentHeader")
        updated = max(updated, posted_at(header if isinstance(header, dict) else {}))
        inspection_lot = facts.ud_documents.get(key)
        if inspection_lot is None or inspection_lot not in seen_lots:
            version += 1
        if inspection_lot is not None:
            seen_lots.add(inspection_lot)
            by_ud = codes.disposition_of_ud(facts.ud_codes.get(inspection_lot, ""))
            disposition = by_ud or disposition
            status = f"UD {facts.ud_codes.get(inspection_lot, '')}".strip()
            continue
        reason = codes.disposition_of_reason(str(items[0].get("GoodsMovementReasonCode") or ""))
        if reason is not None:
            disposition, status = reason, f"{movement}/{items[0].get('GoodsMovementReasonCode')}"
        elif movement == "101" and version == 1:
            qi = codes.stock_type(StockCategory.QUALITY_INSPECTION)
            disposition = (
                LotDisposition.QUARANTINE
                if items[0].get("InventoryStockType") == qi
                else LotDisposition.RELEASED
            )
            status = movement
    quantities: dict[StockCategory, float] = defaultdict(float)
    for row in facts.stock:
        category = codes.category(str(row.get("InventoryStockType") or ""))
        if category is not None:
            quantities[category] += parse_decimal(row.get("MatlWrhsStkQtyInMatlBaseUnit"))
    stock = [
        StockBalance(category=c, quantity=round(quantities.get(c, 0.0), 3)) for c in StockCategory
    ]
    receipt = next((i for i in facts.items if i.get("GoodsMovementType") == "101"), first)
    identifier = lot_id(plant, batch)
    return Lot(
        version=version,
        external_refs=[
            ExternalRef(
                system=SYSTEM,
                type="Batch",
                id=f"{first['Material']}/{plant}/{batch}",
                etag=str(version),
            ),
        ],
        source_status=status or "-",
        lot_id=identifier,
        lot_number=batch,
        item_id=str(first["Material"]),
        plant_id=plant,
        supplier_id=str(receipt.get("Supplier") or "") or None,
        supplier_lot_number=str(receipt.get("MaterialDocumentItemText") or "") or None,
        disposition=disposition,
        stock=stock,
        total_quantity=round(sum(b.quantity for b in stock), 3),
        uom=str(first.get("EntryUnit") or first.get("MaterialBaseUnit") or "PC"),
        updated_at=updated,
    )
