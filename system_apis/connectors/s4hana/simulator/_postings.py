"""What S/4HANA does on a posting: material documents move stock by stock type, a goods receipt
of a QM-managed material creates an inspection lot, a usage decision and its stock postings
empty the lot's quality-inspection stock. Errors are raised as SAP raises them (message class
and number, text) before anything changes: a document posts whole or not at all.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any, Final

from system_apis.connectors.s4hana.simulator._inspection import (
    lot_defaults,
    mark_inspection_completed,
    open_inspection_lot,
    plan_of,
)
from system_apis.connectors.s4hana.simulator._query import edm_decimal
from system_apis.connectors.s4hana.simulator._state import SapError, State

__all__ = [
    "GR_BLOCK_CODES",
    "UD_MOVEMENT",
    "active_inspection_lot",
    "create_inspection_lot",
    "post_material_document",
    "post_ud_stock",
    "record_usage_decision",
    "stock_of_batch",
]

Entity = dict[str, Any]

GR_BLOCK_CODES: Final = frozenset({"Q2", "Q3"})
"""The simulator's customizing: procurement block keys that block goods receipts."""

UD_MOVEMENT: Final = {"01": "321", "07": "350", "08": "Z25", "03": "Z34", "SCRAP": "553"}
"""Usage-decision stock posting (target stock type) -> movement type out of QI stock."""

_ISSUE_TYPES: Final = {
    "201": "01",
    "261": "01",
    "551": "01",
    "553": "02",
    "555": "07",
    "Z51": "08",
    "Z52": "03",
    "122": "01",
}
"""Goods issues and scrapping: movement type -> the stock type it takes from by default."""

_STOCK_NAMES: Final = {
    "01": "Unrestricted-use",
    "02": "Quality inspection",
    "03": "Returns",
    "07": "Blocked",
    "08": "Restricted-use",
}
_ZERO: Final = Decimal("0.000")


def _stock_key(
    material: str, plant: str, sloc: str, batch: str, stock_type: str
) -> tuple[str, ...]:
    return (material, plant, sloc, batch, "", "", "", "", "", "", stock_type)


def _stock_qty(state: State, key: tuple[str, ...]) -> Decimal:
    row = state.get("A_MatlStkInAcctMod", key)
    return Decimal(row["MatlWrhsStkQtyInMatlBaseUnit"]) if row else _ZERO


def stock_of_batch(state: State, plant: str, batch: str) -> list[Entity]:
    return [
        row
        for row in state.rows("A_MatlStkInAcctMod")
        if row["Plant"] == plant and row["Batch"] == batch
    ]


def _apply(state: State, moves: dict[tuple[str, ...], Decimal], units: dict[str, str]) -> None:
    """Check every resulting quantity (SAP M7/021: deficit), then book them all."""
    for key, delta in moves.items():
        after = _stock_qty(state, key) + delta
        if after < 0:
            material, plant, sloc, batch, stock_type = key[0], key[1], key[2], key[3], key[10]
            raise SapError(
                400,
                "M7/021",
                f"Deficit of {_STOCK_NAMES.get(stock_type, stock_type)} stock {-after} "
                f"{units.get(material, '')} : {material} {plant} {sloc} {batch}",
            )
    for key, delta in moves.items():
        row = state.get("A_MatlStkInAcctMod", key)
        if row is None:
            material, plant, sloc, batch, stock_type = key[0], key[1], key[2], key[3], key[10]
            row = state.put(
                "A_MatlStkInAcctMod",
                {
                    "Material": material,
                    "Plant": plant,
                    "StorageLocation": sloc,
                    "Batch": batch,
                    "Supplier": "",
                    "Customer": "",
                    "WBSElementInternalID": "",
                    "SDDocument": "",
                    "SDDocumentItem": "",
                    "InventorySpecialStockType": "",
                    "InventoryStockType": stock_type,
                    "WBSElementExternalID": "",
                    "MaterialBaseUnit": units.get(material, ""),
                    "MatlWrhsStkQtyInMatlBaseUnit": "0.000",
                },
            )
            if state.get("A_MaterialStock", (material,)) is None:
                state.put(
                    "A_MaterialStock",
                    {"Material": material, "MaterialBaseUnit": units.get(material, "")},
                )
        row["MatlWrhsStkQtyInMatlBaseUnit"] = str(
            Decimal(row["MatlWrhsStkQtyInMatlBaseUnit"]) + delta
        )


def active_inspection_lot(state: State, material: str, plant: str, batch: str) -> Entity | None:
    """The batch's inspection lot whose quality-inspection stock is not posted yet."""
    for lot in state.rows("A_InspectionLot"):
        if (lot["Material"], lot["Plant"], lot["Batch"]) == (material, plant, batch) and not lot[
            "InspLotIsStockPostingCompleted"
        ]:
            return lot
    return None


def _base_unit(state: State, material: str) -> str:
    product = state.get("A_Product", (material,))
    if product is None:
        raise SapError(400, "M7/001", f"Material {material} does not exist")
    return str(product["BaseUnit"])


def _receipt(state: State, item: Entity) -> Entity:
    po = str(item.get("PurchaseOrder") or "")
    po_item = str(item.get("PurchaseOrderItem") or "")
    order = state.get("A_PurchaseOrder", (po,))
    line = state.get("A_PurchaseOrderItem", (po, po_item))
    if order is None or line is None:
        raise SapError(400, "M7/029", f"Purchase order item {po} {po_item} does not exist")
    supplier = state.require("A_Supplier", (str(order["Supplier"]),))
    if supplier.get("SupplierProcurementBlock") in GR_BLOCK_CODES:
        raise SapError(
            400,
            "M7/136",
            f"Supplier {supplier['Supplier']} is blocked for goods receipts "
            f"(procurement block {supplier['SupplierProcurementBlock']})",
        )
    quantity = edm_decimal(item.get("QuantityInEntryUnit"), "QuantityInEntryUnit")
    received = sum(
        (
            Decimal(row["QuantityInEntryUnit"]) * (-1 if row["GoodsMovementType"] == "102" else 1)
            for row in state.where(
                "A_MaterialDocumentItem", PurchaseOrder=po, PurchaseOrderItem=po_item
            )
            if row["GoodsMovementType"] in ("101", "102")
        ),
        _ZERO,
    )
    tolerance = Decimal(str(line.get("OverdelivTolrtdLmtRatioInPct") or "0"))
    limit = Decimal(line["OrderQuantity"]) * (1 + tolerance / 100)
    if received + quantity > limit.quantize(Decimal("0.001")):
        raise SapError(
            400,
            "M7/022",
            f"PO quantity exceeded by {received + quantity - Decimal(line['OrderQuantity'])} "
            f"{line['PurchaseOrderQuantityUnit']} : {line['Material']} {po} {po_item}",
        )
    material, plant = str(line["Material"]), str(line["Plant"])
    qm = state.get("A_ProductPlantQualityMgmt", (material, plant))
    stock_type = "02" if qm is not None and qm.get("HasPostToInspectionStock") else "01"
    batch = str(item.get("Batch") or "")
    used = {row["Batch"] for row in state.where("A_MaterialDocumentItem", Plant=plant)}
    while not batch or (batch in used and not item.get("Batch")):
        batch = f"{state.next_number('batch', 1):04d}"
    return {
        **item,
        "Material": material,
        "Plant": plant,
        "StorageLocation": item.get("StorageLocation") or line.get("StorageLocation") or "0001",
        "Batch": batch,
        "Supplier": order["Supplier"],
        "InventoryStockType": stock_type,
        "EntryUnit": line["PurchaseOrderQuantityUnit"],
        "MaterialBaseUnit": line["PurchaseOrderQuantityUnit"],
        "QuantityInBaseUnit": str(quantity),
        "QuantityInEntryUnit": str(quantity),
    }


def post_material_document(
    state: State, header: Entity, user: str, *, ud_lot: Entity | None = None
) -> Entity:
    """Post a material document (header with ``to_MaterialDocumentItem``) all or nothing.

    ``ud_lot``: the inspection lot whose usage decision posts this (its QI stock may move)."""
    raw_items = header.get("to_MaterialDocumentItem") or {}
    items = raw_items.get("results") if isinstance(raw_items, dict) else raw_items
    if not isinstance(items, list) or not items:
        raise SapError(400, "M7/077", "Enter at least one item in the material document")
    moves: dict[tuple[str, ...], Decimal] = defaultdict(lambda: _ZERO)
    units: dict[str, str] = {}
    posted: list[Entity] = []
    for raw in items:
        movement = str(raw.get("GoodsMovementType") or "")
        if movement == "101":
            item = _receipt(state, raw)
        else:
            item = dict(raw)
            item["QuantityInEntryUnit"] = str(
                edm_decimal(raw.get("QuantityInEntryUnit"), "QuantityInEntryUnit")
            )
        material, plant = str(item.get("Material") or ""), str(item.get("Plant") or "")
        units[material] = _base_unit(state, material)
        quantity = Decimal(item["QuantityInEntryUnit"])
        if quantity <= 0:
            raise SapError(400, "M7/056", "Enter a quantity greater than zero")
        batch, sloc = str(item.get("Batch") or ""), str(item.get("StorageLocation") or "")
        if movement == "101":
            moves[_stock_key(material, plant, sloc, batch, item["InventoryStockType"])] += quantity
        elif movement in _ISSUE_TYPES:
            source = str(item.get("InventoryStockType") or _ISSUE_TYPES[movement])
            item["InventoryStockType"] = source
            moves[_stock_key(material, plant, sloc, batch, source)] -= quantity
        else:
            source = str(item.get("InventoryStockType") or "")
            target = str(item.get("IssuingOrReceivingStockType") or "")
            if not source or not target:
                raise SapError(400, "M7/094", f"Movement type {movement}: enter both stock types")
            lot = active_inspection_lot(state, material, plant, batch) if source == "02" else None
            if lot is not None and lot is not ud_lot:
                raise SapError(
                    400,
                    "QA/495",
                    f"Stock in quality inspection of batch {batch} belongs to inspection lot "
                    f"{lot['InspectionLot']}: post it with the usage decision",
                )
            to_sloc = str(item.get("IssuingOrReceivingStorageLoc") or sloc)
            moves[_stock_key(material, plant, sloc, batch, source)] -= quantity
            moves[_stock_key(material, plant, to_sloc, batch, target)] += quantity
        item["MaterialBaseUnit"] = units[material]
        item["QuantityInBaseUnit"] = item["QuantityInEntryUnit"]
        posted.append(item)
    _apply(state, dict(moves), units)
    return _book(state, header, posted, user)


def _book(state: State, header: Entity, items: list[Entity], user: str) -> Entity:
    now = state.clock()
    year = f"{now.year:04d}"
    number = f"{state.next_number('matdoc', 4900000001):010d}"
    document = {
        "MaterialDocumentYear": year,
        "MaterialDocument": number,
        "InventoryTransactionType": "",
        "DocumentDate": header.get("DocumentDate") or now,
        "PostingDate": header.get("PostingDate") or now,
        "CreationDate": now,
        "CreationTime": f"PT{now.hour:02d}H{now.minute:02d}M{now.second:02d}S",
        "CreatedByUser": user,
        "MaterialDocumentHeaderText": header.get("MaterialDocumentHeaderText") or "",
        "ReferenceDocument": header.get("ReferenceDocument") or "",
        "GoodsMovementCode": header.get("GoodsMovementCode") or "",
        "_posted_at": now,
    }
    state.put("A_MaterialDocumentHeader", document)
    for index, item in enumerate(items, start=1):
        row = {k: v for k, v in item.items() if not k.startswith("to_")}
        row.update(
            MaterialDocumentYear=year,
            MaterialDocument=number,
            MaterialDocumentItem=f"{index:04d}",
            _posted_at=now,
        )
        state.put("A_MaterialDocumentItem", row)
        if row.get("GoodsMovementType") == "101" and row["InventoryStockType"] == "02":
            create_inspection_lot(state, row, user)
    return document


def create_inspection_lot(state: State, receipt: Entity, user: str) -> Entity:
    """Origin 01 (goods receipt): SAP creates it itself when the receipt goes to QI stock, with
    the characteristics of the material's inspection plan at the plant."""
    number = f"{state.next_number('insplot', 10000000001):012d}"
    quantity = str(receipt["QuantityInEntryUnit"])
    order = state.get("A_PurchaseOrder", (str(receipt.get("PurchaseOrder") or ""),)) or {}
    lot = lot_defaults(state, number, user)
    lot.update(
        {
            "Material": receipt["Material"],
            "Batch": receipt["Batch"],
            "Plant": receipt["Plant"],
            "InspectionLotOrigin": "01",
            "InspectionLotType": "01",
            "InspectionLotQuantity": quantity,
            "InspectionLotActualQuantity": quantity,
            "InspectionLotQuantityUnit": receipt["EntryUnit"],
            "InspLotQtyToBePosted": quantity,
            "InspectionLotHasQuantity": True,
            "Supplier": order.get("Supplier", receipt.get("Supplier", "")),
            "PurchasingDocument": receipt.get("PurchaseOrder") or "",
            "PurchasingDocumentItem": receipt.get("PurchaseOrderItem") or "",
            "MaterialDocumentYear": receipt["MaterialDocumentYear"],
            "MaterialDocument": receipt["MaterialDocument"],
            "MaterialDocumentItem": receipt["MaterialDocumentItem"],
            "GoodsMovementType": "101",
            "InspectionLotStorageLocation": receipt["StorageLocation"],
            "BatchStorageLocation": receipt["StorageLocation"],
        }
    )
    return open_inspection_lot(
        state, lot, plan_of(state, str(receipt["Material"]), str(receipt["Plant"]))
    )


def record_usage_decision(state: State, body: Entity, user: str) -> Entity:
    lot = state.require("A_InspectionLot", (str(body.get("InspectionLot") or ""),))
    if lot["InspectionLotHasUsageDecision"]:
        raise SapError(
            400, "QA/045", f"Usage decision already made for inspection lot {lot['InspectionLot']}"
        )
    code = str(body.get("InspectionLotUsageDecisionCode") or "")
    if not code or not body.get("InspLotUsageDecisionCodeGroup"):
        raise SapError(400, "QA/060", "Enter a usage decision code and its code group")
    now = state.clock()
    decision = {
        "InspectionLot": lot["InspectionLot"],
        "InspLotUsageDecisionLevel": body.get("InspLotUsageDecisionLevel") or "L",
        "InspectionLotQualityScore": "0",
        "InspLotUsageDecisionCatalog": body.get("InspLotUsageDecisionCatalog") or "3",
        "SelectedCodeSetPlant": body.get("SelectedCodeSetPlant") or lot["Plant"],
        "InspLotUsgeDcsnSelectedSet": body.get("InspLotUsgeDcsnSelectedSet") or "",
        "InspLotUsageDecisionCodeGroup": body.get("InspLotUsageDecisionCodeGroup"),
        "InspectionLotUsageDecisionCode": code,
        "InspLotUsageDecisionValuation": body.get("InspLotUsageDecisionValuation") or "",
        "InspectionLotUsageDecidedBy": user,
        "InspectionLotUsageDecidedOn": now,
        "InspLotUsgeDcsnHasLongText": False,
        "ChangedDateTime": now,
    }
    lot["InspectionLotHasUsageDecision"] = True
    state.touch(lot)
    mark_inspection_completed(state, lot["InspectionLot"])
    return state.put("A_InspLotUsageDecision", decision)


def post_ud_stock(state: State, body: Entity, user: str) -> Entity:
    """One stock posting of a decided lot: quality-inspection stock to the posting's stock type."""
    lot = state.require("A_InspectionLot", (str(body.get("InspectionLot") or ""),))
    if not lot["InspectionLotHasUsageDecision"]:
        raise SapError(
            400, "QA/102", f"Inspection lot {lot['InspectionLot']} has no usage decision yet"
        )
    quantity = edm_decimal(body.get("InspLotQtyPosted"), "InspLotQtyPosted")
    remaining = Decimal(lot["InspLotQtyToBePosted"])
    if quantity <= 0 or quantity > remaining:
        raise SapError(
            400,
            "QA/521",
            f"Quantity {quantity} exceeds the quantity to be posted ({remaining}) of inspection "
            f"lot {lot['InspectionLot']}",
        )
    target = str(body.get("UsageDecisionStockType") or "")
    if target not in UD_MOVEMENT:
        raise SapError(
            400, "QA/530", f"Stock posting '{target}' is not defined for usage decisions"
        )
    sloc = str(lot["InspectionLotStorageLocation"])
    document = post_material_document(
        state,
        {
            "GoodsMovementCode": "04",
            "to_MaterialDocumentItem": [
                {
                    "GoodsMovementType": UD_MOVEMENT[target],
                    "Material": lot["Material"],
                    "Plant": lot["Plant"],
                    "StorageLocation": sloc,
                    "Batch": lot["Batch"],
                    "InventoryStockType": "02",
                    **(
                        {}
                        if target == "SCRAP"
                        else {
                            "IssuingOrReceivingStockType": target,
                            "IssuingOrReceivingStorageLoc": body.get("StorageLocation") or sloc,
                        }
                    ),
                    "QuantityInEntryUnit": str(quantity),
                    "MaterialDocumentItemText": body.get("MaterialDocumentItemText") or "",
                }
            ],
        },
        user,
        ud_lot=lot,
    )
    left = remaining - quantity
    lot["InspLotQtyToBePosted"] = str(left)
    field = {
        "01": "InspLotQtyToFree",
        "07": "InspLotQtyToBlocked",
        "SCRAP": "InspLotQtyToScrap",
    }.get(target, "InspLotQtyToSpecialStock")
    lot[field] = str(Decimal(lot[field]) + quantity)
    lot["InspLotIsStockPostingCompleted"] = left == 0
    state.touch(lot)
    counter = len(state.where("A_InspLotMatlDocItem", InspectionLot=lot["InspectionLot"])) + 1
    return state.put(
        "A_InspLotMatlDocItem",
        {
            "InspectionLot": lot["InspectionLot"],
            "InspLotMatlDocItem": f"{counter:06d}",
            "InspLotQtyPosted": str(quantity),
            "InspLotMatlDocItmQtyUnit": lot["InspectionLotQuantityUnit"],
            "UsageDecisionStockType": target,
            "StorageLocation": body.get("StorageLocation") or sloc,
            "MaterialDocumentItemText": body.get("MaterialDocumentItemText") or "",
            "MaterialDocument": document["MaterialDocument"],
            "MaterialDocumentYear": document["MaterialDocumentYear"],
            "MaterialDocumentItem": "0001",
            "CreationDate": state.clock(),
            "ChangedDateTime": state.clock(),
        },
    )
