"""Port-only helpers: factories, walking pages, finding seeded records, making fresh ones,
checking stock.

Another connector whose data differs only needs these to find what they look for; nothing here
knows the reference connectors' internals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from shared.models import LotDisposition, Page, StockCategory
from shared.models.commands import GoodsReceiptCreate, LotDispositionChange
from shared.models.erp import Lot, PurchaseOrder, PurchaseOrderLine
from shared.models.qms import Inspection, Specification
from system_apis.connectors.base import (
    ErpConnector,
    InspectionFilter,
    LotFilter,
    PageRequest,
    PurchaseOrderFilter,
    QmsCapability,
    QmsConnector,
    SpecificationFilter,
    SupplierFilter,
)

_T = TypeVar("_T")
_Conn = TypeVar("_Conn")
_Cap = TypeVar("_Cap")

ACTOR = "conformance.suite"
MISSING_ID = "NOPE-404"
CONF_LOT = "LOT-1000-CONF1"
"""A lot the suite inspects: a batch at plant 1000, as every connector's ids can name it."""

PLANS: dict[str, Callable[[], list[Specification]]] = {}
"""For a connector that cannot list specifications (SAP QM: its inspection plans are not among
its APIs), the current specifications its test data inspects against at plant 1000, named as
that connector names them (by ``system``; see ``conftest``)."""


@dataclass(frozen=True)
class Factory(Generic[_Conn, _Cap]):
    """How the suite gets a connector of one kind (see ``conftest``)."""

    build: Callable[[], _Conn]
    """A connector for one test (fresh data where the backend allows it)."""
    restricted: Callable[[_Cap], _Conn]
    """A connector that does not declare the capability (for the 501 path)."""


async def walk(
    list_page: Callable[[PageRequest], Awaitable[Page[_T]]], *, limit: int = 200
) -> list[_T]:
    """Every item of a list, page by page (at most 1000 pages, to fail rather than hang)."""
    items: list[_T] = []
    cursor: str | None = None
    for _ in range(1000):
        page = await list_page(PageRequest(cursor=cursor, limit=limit))
        assert len(page.items) <= limit
        items.extend(page.items)
        if page.next_cursor is None:
            return items
        assert page.items, "a page with a next cursor must not be empty"
        cursor = page.next_cursor
    raise AssertionError("the list did not end within 1000 pages")


def assert_stock_consistent(lot: Lot) -> None:
    """Every category listed once in enum order, none negative, adding up to the total."""
    assert [b.category for b in lot.stock] == list(StockCategory)
    assert all(b.quantity >= 0 for b in lot.stock)
    assert round(sum(b.quantity for b in lot.stock), 3) == round(lot.total_quantity, 3)


def stock(lot: Lot, category: StockCategory) -> float:
    return next(b.quantity for b in lot.stock if b.category is category)


def etag_of(record: Lot | Inspection, system: str) -> str | None:
    return next((r.etag for r in record.external_refs if r.system == system), None)


async def lots_in(erp: ErpConnector, disposition: LotDisposition) -> list[Lot]:
    return await walk(lambda page: erp.list_lots(LotFilter(disposition=disposition), page))


async def open_line(erp: ErpConnector) -> tuple[PurchaseOrder, PurchaseOrderLine]:
    """A purchase-order line with open quantity whose supplier may deliver (no GR block)."""
    suppliers = await walk(lambda page: erp.list_suppliers(SupplierFilter(), page))
    blocked = {
        s.supplier_id
        for s in suppliers
        if s.purchasing_block is not None and "GOODS_RECEIPT" in s.purchasing_block.functions
    }
    orders = await walk(lambda page: erp.list_purchase_orders(PurchaseOrderFilter(), page))
    for order in orders:
        if order.supplier_id in blocked:
            continue
        for line in order.lines:
            if line.quantity - line.received_quantity >= 10:
                return order, line
    raise AssertionError("the connector's data has no open purchase-order line to receive on")


async def fresh_lot(
    erp: ErpConnector, disposition: LotDisposition | None = None, *, quantity: float = 10
) -> Lot:
    """A new lot received through the port, then (if asked) moved to ``disposition``."""
    order, line = await open_line(erp)
    receipt = await erp.post_goods_receipt(
        GoodsReceiptCreate(po_id=order.po_id, line_no=line.line_no, quantity=quantity),
        actor=ACTOR,
    )
    lot = await erp.get_lot(receipt.lot_id)
    if disposition is None or lot.disposition is disposition:
        return lot
    return await erp.change_lot_disposition(
        lot.lot_id,
        LotDispositionChange(disposition=disposition, reason="Conformance test setup"),
        actor=ACTOR,
        expected_version=lot.version,
    )


async def specs(qms: QmsConnector) -> list[Specification]:
    return await walk(lambda page: qms.list_specifications(SpecificationFilter(), page))


async def current_spec(qms: QmsConnector, *, needs_non_critical: bool = False) -> Specification:
    """An item's current specification (with a critical and, if asked, a non-critical
    characteristic)."""
    listed = QmsCapability.SPECIFICATIONS in qms.capabilities
    for spec in await specs(qms) if listed else PLANS[qms.system]():
        current = await qms.get_specification(spec.spec_id) if listed else spec
        chars = current.characteristics
        if not any(c.critical for c in chars):
            continue
        if needs_non_critical and all(c.critical for c in chars):
            continue
        return current
    raise AssertionError("the connector's data has no suitable specification")


async def inspections(qms: QmsConnector, query: InspectionFilter | None = None) -> list[Inspection]:
    return await walk(lambda page: qms.list_inspections(query or InspectionFilter(), page))
