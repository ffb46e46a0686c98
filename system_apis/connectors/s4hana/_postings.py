"""The SAP documents a lot's change is made of: which stock moves where (a plan), and the
request bodies of the transfer posting (API_MATERIAL_DOCUMENT_SRV), the usage decision and its
stock postings (API_INSPECTIONLOT_SRV) that carry it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.models import LotDisposition, StockCategory
from system_apis.connectors.s4hana._mapping import PlantCodes
from system_apis.connectors.s4hana._odata import decimal_text, odata_date

__all__ = [
    "Bucket",
    "Move",
    "plan_moves",
    "transfer_document",
    "ud_stock_posting",
    "usage_decision",
]

Body = dict[str, Any]


@dataclass(frozen=True)
class Bucket:
    """Stock of one category in one storage location."""

    storage_location: str
    category: StockCategory
    quantity: float


@dataclass(frozen=True)
class Move:
    source: Bucket
    """Where the quantity is taken from (its quantity is the moved quantity)."""
    target_location: str
    target: StockCategory | None
    """None: the stock is written off (scrapped)."""


def plan_moves(
    current: list[Bucket], target: dict[StockCategory, float], location: str
) -> list[Move]:
    """The moves from ``current`` to ``target`` (all in ``location``): what already sits in
    place stays, the rest moves, category by category in enum order."""
    need = {cat: round(qty, 3) for cat, qty in target.items() if qty > 0}
    sources: list[Bucket] = []
    for bucket in current:
        keep = 0.0
        if bucket.storage_location == location and bucket.category in need:
            keep = min(bucket.quantity, need[bucket.category])
            need[bucket.category] = round(need[bucket.category] - keep, 3)
        rest = round(bucket.quantity - keep, 3)
        if rest > 0:
            sources.append(Bucket(bucket.storage_location, bucket.category, rest))
    moves: list[Move] = []
    for source in sources:
        left = source.quantity
        for category in StockCategory:
            wanted = need.get(category, 0.0)
            if left <= 0 or wanted <= 0:
                continue
            amount = round(min(left, wanted), 3)
            moves.append(
                Move(Bucket(source.storage_location, source.category, amount), location, category)
            )
            need[category] = round(wanted - amount, 3)
            left = round(left - amount, 3)
        if left > 0:
            moves.append(
                Move(Bucket(source.storage_location, source.category, left), location, None)
            )
    return moves


def transfer_document(
    codes: PlantCodes,
    *,
    material: str,
    batch: str,
    uom: str,
    moves: list[Move],
    disposition: LotDisposition,
    posted_at: datetime,
    text: str,
) -> Body:
    """One material document moving the batch's stock (transfer postings, scrapping)."""
    items = []
    for move in moves:
        source = move.source
        item: Body = {
            "Material": material,
            "Plant": codes.plant,
            "StorageLocation": source.storage_location,
            "Batch": batch,
            "GoodsMovementType": codes.movement_type(source.category, move.target),
            "InventoryStockType": codes.stock_type(source.category),
            "QuantityInEntryUnit": decimal_text(source.quantity),
            "EntryUnit": uom,
            "GoodsMovementReasonCode": codes.reason_code(disposition),
            "MaterialDocumentItemText": text[:50],
        }
        if move.target is not None:
            item.update(
                IssuingOrReceivingStockType=codes.stock_type(move.target),
                IssuingOrReceivingStorageLoc=move.target_location,
                IssgOrRcvgMaterial=material,
                IssgOrRcvgBatch=batch,
            )
        items.append(item)
    return {
        "GoodsMovementCode": "04",
        "PostingDate": odata_date(posted_at),
        "DocumentDate": odata_date(posted_at),
        "MaterialDocumentHeaderText": f"qgate {disposition.value}"[:25],
        "to_MaterialDocumentItem": {"results": items},
    }


def usage_decision(codes: PlantCodes, inspection_lot: str, disposition: LotDisposition) -> Body:
    code = codes.ud_code(disposition) or codes.codes.ud_codes["REJECTED"]
    accepted = disposition in (LotDisposition.RELEASED, LotDisposition.RESTRICTED)
    return {
        "InspectionLot": inspection_lot,
        "InspLotUsageDecisionLevel": "L",
        "InspLotUsageDecisionCatalog": codes.codes.ud_catalog,
        "SelectedCodeSetPlant": codes.plant,
        "InspLotUsgeDcsnSelectedSet": codes.codes.ud_selected_set,
        "InspLotUsageDecisionCodeGroup": codes.codes.ud_code_group,
        "InspectionLotUsageDecisionCode": code,
        "InspLotUsageDecisionValuation": "A" if accepted else "R",
    }


def ud_stock_posting(codes: PlantCodes, inspection_lot: str, move: Move, text: str) -> Body:
    stock_type = "SCRAP" if move.target is None else codes.ud_stock_type(move.target)
    return {
        "InspectionLot": inspection_lot,
        # The unit is the inspection lot's (InspLotMatlDocItmQtyUnit is read-only in SAP's API).
        "InspLotQtyPosted": decimal_text(move.source.quantity),
        "UsageDecisionStockType": stock_type,
        "StorageLocation": move.target_location,
        "MaterialDocumentItemText": text[:50],
    }
