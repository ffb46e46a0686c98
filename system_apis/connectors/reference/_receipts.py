"""Goods receipt posting rules of the reference ERP: tolerance, and which lot takes the stock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

import msgspec

from shared.errors import BackendRejected
from shared.models import LotDisposition, StockCategory
from shared.models.commands import GoodsReceiptCreate
from shared.models.erp import Item, Lot, PurchaseOrder, PurchaseOrderLine
from system_apis.connectors.reference._codes import LOT_CODES
from system_apis.connectors.reference._records import (
    ERP_SYSTEM,
    IdSequence,
    bump,
    external_refs,
    qty,
)
from system_apis.connectors.reference._stock import stock_list, stock_of

__all__ = [
    "OVER_DELIVERY_TOLERANCE",
    "needs_inspection",
    "receive_into_lot",
    "received",
    "receiving_limit",
]

OVER_DELIVERY_TOLERANCE: Final = 0.10
"""A line may receive up to 110% of its ordered quantity in total."""


def receiving_limit(line: PurchaseOrderLine) -> float:
    """How much more the line can receive: what is open plus 10% of the ordered quantity."""
    return max(0.0, qty(line.quantity * (1 + OVER_DELIVERY_TOLERANCE) - line.received_quantity))


def received(line: PurchaseOrderLine, quantity: float) -> PurchaseOrderLine:
    return msgspec.structs.replace(line, received_quantity=qty(line.received_quantity + quantity))


def needs_inspection(item: Item | None, plant_id: str) -> bool:
    """Whether the item is inspected on receipt at the plant (unknown items are not)."""
    if item is None:
        return False
    return any(p.plant_id == plant_id and p.inspection_required_on_receipt for p in item.plants)


def receive_into_lot(
    *,
    lots: Iterable[Lot],
    item: Item | None,
    order: PurchaseOrder,
    line: PurchaseOrderLine,
    receipt: GoodsReceiptCreate,
    now: datetime,
    ids: IdSequence,
) -> Lot:
    """The lot after the receipt: the existing lot of the batch number (same item and plant),
    or a new one. Stock that needs inspection can only join a QUARANTINE lot, stock released on
    receipt only a RELEASED lot, and a batch only takes stock from the supplier it came from."""
    inspect = needs_inspection(item, line.plant_id)
    disposition = LotDisposition.QUARANTINE if inspect else LotDisposition.RELEASED
    category = StockCategory.QUALITY_INSPECTION if inspect else StockCategory.AVAILABLE
    quantity = qty(receipt.quantity)
    existing = None
    if receipt.lot_number is not None:
        ids.seen(receipt.lot_number)  # numbered batches continue after hand-given ones
        existing = next(
            (
                lot
                for lot in lots
                if (lot.item_id, lot.plant_id, lot.lot_number)
                == (line.item_id, line.plant_id, receipt.lot_number)
            ),
            None,
        )
    if existing is not None:
        if existing.disposition is not disposition:
            needs = "needs inspection" if inspect else "is released on receipt"
            raise BackendRejected(
                f"Batch {existing.lot_number} (lot {existing.lot_id}) is "
                f"{existing.disposition.value}; stock that {needs} can only be added to a "
                f"{disposition.value} lot. Receive it into a new batch."
            )
        if existing.supplier_id not in (None, order.supplier_id):
            raise BackendRejected(
                f"Batch {existing.lot_number} (lot {existing.lot_id}) came from supplier "
                f"{existing.supplier_id}, not {order.supplier_id}. Receive it into a new batch."
            )
        balances = {b.category: b.quantity for b in existing.stock}
        balances[category] = stock_of(existing, category) + quantity
        return bump(
            existing,
            ERP_SYSTEM,
            stock=stock_list(balances),
            total_quantity=qty(existing.total_quantity + quantity),
            updated_at=now,
        )
    lot_id = ids.next(f"LOT-{line.plant_id}", 4)
    return Lot(
        external_refs=external_refs(ERP_SYSTEM, "Lot", lot_id, 1),
        source_status=LOT_CODES[disposition],
        lot_id=lot_id,
        lot_number=receipt.lot_number or ids.next(f"B{line.plant_id}", 5),
        item_id=line.item_id,
        plant_id=line.plant_id,
        supplier_id=order.supplier_id,
        supplier_lot_number=receipt.supplier_lot_number,
        disposition=disposition,
        stock=stock_list({category: quantity}),
        total_quantity=quantity,
        uom=line.uom,
        updated_at=now,
    )
