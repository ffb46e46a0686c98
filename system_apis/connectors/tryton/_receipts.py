"""Posting a goods receipt in Tryton: a supplier shipment for one purchase line's move.

The purchase line's waiting move (created by Tryton when the purchase was confirmed) gets the
received quantity and the lot, goes into a new ``stock.shipment.in`` whose ``reference`` is the
delivery note, and the shipment is received and done. Its storage location is the plant's
quarantine location when the item needs inspection (a quality control exists for it), so the
stock lands outside the storage zone; Tryton then recreates a move for what is still open on
the line. A delivery note already posted for the line returns that receipt; receiving more than
10 % over the ordered quantity is refused; Tryton's own over-delivery warning is acknowledged
only when the warning policy allows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from shared.errors import BackendRejected, NotFound, PreconditionFailed
from shared.models import LotDisposition, StockCategory
from shared.models.commands import GoodsReceiptCreate
from shared.models.erp import GoodsReceipt
from system_apis.connectors.tryton._common import lot_id_of, qty, show
from system_apis.connectors.tryton._erp_reads import line_numbers, nested, receipts
from system_apis.connectors.tryton._locations import Locations
from system_apis.connectors.tryton._lots import LotState
from system_apis.connectors.tryton._notes import StateNotes
from system_apis.connectors.tryton._rpc import TrytonClient
from system_apis.connectors.tryton._stock_moves import press

__all__ = ["OVER_DELIVERY", "post_receipt"]

OVER_DELIVERY: Final = 0.10
"""Share over the ordered quantity a line may be received up to."""
_NOTE_ATTEMPTS: Final = 20


async def post_receipt(
    client: TrytonClient,
    locations: Locations,
    notes: StateNotes,
    read_lot: Callable[[str], Awaitable[LotState]],
    receipt: GoodsReceiptCreate,
    *,
    actor: str,
) -> GoodsReceipt:
    order, line = await _order_line(client, receipt)
    line_ref = f"purchase.line,{line['id']}"
    if receipt.delivery_note is not None:
        posted = await receipts(
            client, locations, notes, [("reference", "=", receipt.delivery_note)]
        )
        same = [r for r in posted if (r.po_id, r.line_no) == (receipt.po_id, receipt.line_no)]
        if same:
            return same[0]
    moves = await client.execute(
        "stock.move",
        "search_read",
        [("origin", "=", line_ref), ("state", "!=", "cancelled")],
        0,
        None,
        [("id", "ASC")],
        ["state", "shipment", "quantity", "from_location", "to_location", "unit_price",
         "currency", "unit"],
    )  # fmt: skip
    received = sum(float(m["quantity"]) for m in moves if m["state"] == "done")
    limit = qty(float(line["quantity"]) * (1 + OVER_DELIVERY) - received)
    if qty(receipt.quantity) > limit:
        raise BackendRejected(
            f"Purchase order {receipt.po_id} line {receipt.line_no}: {show(receipt.quantity)} "
            f"would exceed the ordered quantity by more than {OVER_DELIVERY:.0%} "
            f"(at most {show(max(limit, 0))} more can be received)."
        )
    plant = locations.by_warehouse(int(order["warehouse"]))
    if plant is None:
        raise BackendRejected(
            f"Purchase order {receipt.po_id} is for a warehouse qgate does not manage"
        )
    product = int(line["product"])
    lot_db, lot_state = await _lot(client, read_lot, product, receipt.lot_number)
    inspect = bool(
        await client.execute("quality.control", "search", [("product", "=", product)], 0, 1)
    )
    if lot_state is not None:
        disposition = lot_state.lot.disposition
        category = _category_of(disposition)
    else:
        disposition = LotDisposition.QUARANTINE if inspect else LotDisposition.RELEASED
        category = StockCategory.QUALITY_INSPECTION if inspect else StockCategory.AVAILABLE
    storage = plant.target(category, disposition)
    supplier = str(nested(order, "party.code") or "")
    if lot_state is None:
        await notes.create("stock.lot", lot_db, {
            "version": 1, "disposition": disposition.value, "plantId": plant.plant_id,
            "supplierId": supplier or None, "supplierLotNumber": receipt.supplier_lot_number,
            "changedBy": actor,
        })  # fmt: skip
    move_id = await _incoming_move(client, receipt, moves, line_ref, product, lot_db, plant.input)
    [shipment] = await client.execute("stock.shipment.in", "create", [{
        "supplier": int(order["party"]), "warehouse": plant.warehouse,
        "warehouse_input": plant.input, "warehouse_storage": storage,
        "reference": receipt.delivery_note, "incoming_moves": [["add", [move_id]]],
    }])  # fmt: skip
    try:
        await press(client, "stock.shipment.in", "receive", [shipment])
    except BackendRejected:
        # Not received (e.g. a quality control wants its inspection first): no shipment (its
        # move goes with it and Tryton makes the line's waiting move again) and no new lot.
        await client.execute("stock.shipment.in", "delete", [shipment])
        if lot_state is None:
            await notes.forget("stock.lot", lot_db)
            await client.execute("stock.lot", "delete", [lot_db])
        raise
    await press(client, "stock.shipment.in", "do", [shipment])
    if lot_state is not None:
        await _bump(notes, lot_db, receipt, actor)
    posted = await receipts(client, locations, notes, [("id", "=", shipment)])
    return posted[0]


async def _order_line(
    client: TrytonClient, receipt: GoodsReceiptCreate
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The purchase and the line a receipt is for (NotFound, or refused when not confirmed)."""
    orders = await client.execute(
        "purchase.purchase",
        "search_read",
        [("number", "=", receipt.po_id)],
        0,
        1,
        None,
        ["party", "party.code", "warehouse", "state"],
    )
    if not orders:
        raise NotFound(f"Purchase order {receipt.po_id} not found")
    order: dict[str, Any] = orders[0]
    lines = (await line_numbers(client, [int(order["id"])])).get(int(order["id"]), [])
    line = next((ln for ln in lines if ln["line_no"] == receipt.line_no), None)
    if line is None:
        raise NotFound(f"Line {receipt.line_no} of purchase order {receipt.po_id} not found")
    if order["state"] not in ("processing", "confirmed", "done"):
        raise BackendRejected(
            f"Purchase order {receipt.po_id} is {order['state']} in Tryton: nothing to receive."
        )
    return order, line


async def _incoming_move(
    client: TrytonClient,
    receipt: GoodsReceiptCreate,
    moves: list[dict[str, Any]],
    line_ref: str,
    product: int,
    lot: int,
    warehouse_input: int,
) -> int:
    """The line's waiting move with the received quantity and lot (a new one when the line
    has none left, i.e. a delivery over the ordered quantity)."""
    pending = next((m for m in moves if m["state"] == "draft" and not m.get("shipment")), None)
    values: dict[str, Any] = {"quantity": receipt.quantity, "lot": lot}
    if pending is not None:
        await client.execute("stock.move", "write", [int(pending["id"])], values)
        return int(pending["id"])
    if not moves:
        raise BackendRejected(f"Purchase order {receipt.po_id} line {receipt.line_no} has no move")
    template = moves[0]
    values.update({
        "product": product, "unit": template["unit"], "origin": line_ref,
        "from_location": template["from_location"], "to_location": warehouse_input,
        "unit_price": template.get("unit_price"), "currency": template.get("currency"),
    })  # fmt: skip
    [move_id] = await client.execute("stock.move", "create", [values])
    return int(move_id)


def _category_of(disposition: LotDisposition) -> StockCategory:
    return {
        LotDisposition.QUARANTINE: StockCategory.QUALITY_INSPECTION,
        LotDisposition.RELEASED: StockCategory.AVAILABLE,
        LotDisposition.RESTRICTED: StockCategory.RESTRICTED,
    }.get(disposition, StockCategory.BLOCKED)


async def _lot(
    client: TrytonClient,
    read_lot: Callable[[str], Awaitable[LotState]],
    product: int,
    number: str | None,
) -> tuple[int, LotState | None]:
    """The lot ``number`` of the product (existing, with its state, or new), or a new lot
    numbered by the product's lot sequence."""
    if number is not None:
        found = await client.execute(
            "stock.lot",
            "search",
            [("number", "=", number), ("product", "=", product)],
            0,
            1,
            None,
            context={"active_test": False},
        )
        if found:
            state = await read_lot(lot_id_of(int(found[0])))
            if state.lot.disposition in (
                LotDisposition.SCRAPPED,
                LotDisposition.RETURNED_TO_SUPPLIER,
            ):
                raise BackendRejected(
                    f"Lot {state.lot.lot_id} is {state.lot.disposition.value}: "
                    "receive into a new batch."
                )
            return int(found[0]), state
    values: dict[str, Any] = {"product": product}
    if number is not None:
        values["number"] = number
    [created] = await client.execute("stock.lot", "create", [values])
    return int(created), None


async def _bump(notes: StateNotes, lot_db: int, receipt: GoodsReceiptCreate, actor: str) -> None:
    for _ in range(_NOTE_ATTEMPTS):
        note = await notes.one("stock.lot", lot_db)
        if note is None:
            return
        data = {**note.data, "version": note.version + 1, "changedBy": actor}
        if receipt.supplier_lot_number is not None:
            data["supplierLotNumber"] = receipt.supplier_lot_number
        try:
            await notes.replace(note, data)
        except PreconditionFailed:
            continue
        return
