"""The reference ERP: an in-process ERP that enforces what a real one would (see ``_stock``)."""

from __future__ import annotations

from shared.errors import BackendRejected, NotFound
from shared.models import BlockedFunction, LotDisposition, StockCategory
from shared.models.commands import (
    GoodsIssueCreate,
    GoodsReceiptCreate,
    LotDispositionChange,
    PurchasingBlockChange,
)
from shared.models.erp import GoodsReceipt, Lot, PurchasingBlock, Supplier
from shared.models.lifecycle import FINAL_DISPOSITIONS
from system_apis.connectors.base import ErpCapability, require
from system_apis.connectors.reference._codes import LOT_CODES, po_code, supplier_code
from system_apis.connectors.reference._erp_reads import ErpTables
from system_apis.connectors.reference._receipts import (
    receive_into_lot,
    received,
    receiving_limit,
)
from system_apis.connectors.reference._records import (
    ERP_SYSTEM,
    bump,
    check_version,
    external_refs,
    find,
    qty,
    show,
)
from system_apis.connectors.reference._stock import ISSUABLE, stock_list, stock_of, target_stock

__all__ = ["ReferenceErpConnector"]

_C = ErpCapability


class ReferenceErpConnector(ErpTables):
    """The embedded ERP (``reference-erp``): seeded with the demo data unless ``data`` is given.

    ``capabilities`` restricts what it declares (default: all); a method whose capability is
    not declared raises :class:`~shared.errors.CapabilityUnsupported`. Every write runs under
    one lock, so a version check and the write it guards are atomic. The ERP keeps stock
    consistent and final dispositions final; the disposition state machine is the process
    layer's to enforce.
    """

    async def set_purchasing_block(
        self,
        supplier_id: str,
        change: PurchasingBlockChange,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Supplier:
        """Block exactly ``change.functions`` (duplicates ignored; none lifts the block). The
        supplier's quality status is the QMS's business and is left as it is."""
        require(self, _C.PURCHASING_BLOCK)
        async with self._lock:
            supplier = find(self._suppliers, "Supplier", supplier_id)
            check_version("Supplier", supplier_id, supplier.version, expected_version)
            functions = [f for f in BlockedFunction if f in set(change.functions)]
            block = None
            if functions:
                block = PurchasingBlock(
                    functions=functions,
                    reason=change.reason,
                    blocked_at=self._clock(),
                    blocked_by=actor,
                )
            updated = bump(
                supplier,
                ERP_SYSTEM,
                purchasing_blocked=bool(functions),
                purchasing_block=block,
                source_status=supplier_code(blocked=bool(functions)),
            )
            self._suppliers[supplier_id] = updated
            return updated

    async def post_goods_receipt(self, receipt: GoodsReceiptCreate, *, actor: str) -> GoodsReceipt:
        """Receive against a PO line, at most 10% above the ordered quantity in total, into a
        new lot or the item's lot of the same batch number at the line's plant: QUARANTINE /
        QUALITY_INSPECTION when the item needs inspection on receipt there, else RELEASED /
        AVAILABLE. Refused while the supplier is blocked for goods receipts. A repeat of the
        same PO line and delivery note returns the receipt already posted, unchanged."""
        require(self, _C.GOODS_RECEIPT_POSTING)
        async with self._lock:
            note_key = (receipt.po_id, receipt.line_no, receipt.delivery_note)
            if note_key in self._delivery_notes:
                return self._receipts[self._delivery_notes[note_key]]
            order = find(self._orders, "Purchase order", receipt.po_id)
            line = next((ln for ln in order.lines if ln.line_no == receipt.line_no), None)
            if line is None:
                raise NotFound(f"Purchase order {order.po_id} has no line {receipt.line_no}")
            supplier = self._suppliers.get(order.supplier_id)
            block = supplier.purchasing_block if supplier is not None else None
            if block is not None and BlockedFunction.GOODS_RECEIPT in block.functions:
                raise BackendRejected(
                    f"Supplier {order.supplier_id} is blocked for goods receipts "
                    f"({block.reason}); the receipt was not posted."
                )
            quantity = qty(receipt.quantity)
            room = receiving_limit(line)
            if quantity > room:
                raise BackendRejected(
                    f"Line {line.line_no} of purchase order {order.po_id} has "
                    f"{show(line.quantity)} {line.uom} ordered and "
                    f"{show(line.received_quantity)} received; at most "
                    f"{show(room)} more can be received (10% over-delivery tolerance)."
                )
            now = self._clock()
            lot = receive_into_lot(
                lots=self._lots.values(),
                item=self._items.get(line.item_id),
                order=order,
                line=line,
                receipt=receipt,
                now=now,
                ids=self._ids,
            )
            receipt_id = self._ids.next("GR")
            posted = GoodsReceipt(
                external_refs=external_refs(ERP_SYSTEM, "GoodsReceipt", receipt_id, 1),
                source_status="POSTED",
                receipt_id=receipt_id,
                po_id=order.po_id,
                line_no=line.line_no,
                item_id=line.item_id,
                plant_id=line.plant_id,
                supplier_id=order.supplier_id,
                lot_id=lot.lot_id,
                lot_number=lot.lot_number,
                supplier_lot_number=receipt.supplier_lot_number,
                delivery_note=receipt.delivery_note,
                quantity=quantity,
                stock_category=(
                    StockCategory.QUALITY_INSPECTION
                    if lot.disposition is LotDisposition.QUARANTINE
                    else StockCategory.AVAILABLE
                ),
                received_at=now,
            )
            lines = [ln if ln is not line else received(ln, quantity) for ln in order.lines]
            self._orders[order.po_id] = bump(
                order, ERP_SYSTEM, lines=lines, source_status=po_code(lines)
            )
            if receipt.delivery_note is not None:
                self._delivery_notes[note_key] = receipt_id
            self._lots[lot.lot_id] = lot
            self._receipts[receipt_id] = posted
            return posted

    async def change_lot_disposition(
        self, lot_id: str, change: LotDispositionChange, *, actor: str, expected_version: int
    ) -> Lot:
        """Set the disposition and where the stock sits (rules in ``_stock``). Refused for a
        stale version (PreconditionFailed) and for a lot already SCRAPPED or RETURNED."""
        require(self, _C.LOT_DISPOSITION)
        async with self._lock:
            lot = find(self._lots, "Lot", lot_id)
            check_version("Lot", lot_id, lot.version, expected_version)
            if lot.disposition in FINAL_DISPOSITIONS:
                raise BackendRejected(
                    f"Lot {lot_id} is {lot.disposition.value}, a final disposition; "
                    "it cannot change any more."
                )
            split = target_stock(lot, change.disposition, change.quantities)
            updated = bump(
                lot,
                ERP_SYSTEM,
                disposition=change.disposition,
                stock=stock_list(split),
                total_quantity=qty(sum(split.values())),
                source_status=LOT_CODES[change.disposition],
                updated_at=self._clock(),
            )
            self._lots[lot_id] = updated
            return updated

    async def issue_goods(
        self,
        lot_id: str,
        issue: GoodsIssueCreate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Lot:
        """Consume stock: AVAILABLE of a RELEASED lot or RESTRICTED of a RESTRICTED lot, never
        more than there is (BackendRejected otherwise)."""
        require(self, _C.GOODS_ISSUE)
        async with self._lock:
            lot = find(self._lots, "Lot", lot_id)
            check_version("Lot", lot_id, lot.version, expected_version)
            allowed = ISSUABLE.get(lot.disposition)
            if allowed is None:
                raise BackendRejected(
                    f"Lot {lot_id} is {lot.disposition.value}: its stock cannot be issued. Only "
                    "RELEASED lots (AVAILABLE stock) and RESTRICTED lots (RESTRICTED stock) can."
                )
            if issue.category is not allowed:
                raise BackendRejected(
                    f"Lot {lot_id} is {lot.disposition.value}: issue from its {allowed.value} "
                    f"stock, not {issue.category.value}."
                )
            have, wanted = stock_of(lot, allowed), qty(issue.quantity)
            if wanted > have:
                raise BackendRejected(
                    f"Lot {lot_id} has {show(have)} {lot.uom} of {allowed.value} stock; "
                    f"{show(wanted)} {lot.uom} cannot be issued."
                )
            balances = {b.category: b.quantity for b in lot.stock}
            balances[allowed] = have - wanted
            updated = bump(
                lot,
                ERP_SYSTEM,
                stock=stock_list(balances),
                total_quantity=qty(lot.total_quantity - wanted),
                updated_at=self._clock(),
            )
            self._lots[lot_id] = updated
            return updated
