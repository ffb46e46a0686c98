"""The read side of the reference ERP: its tables, and every list and get."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from shared.models.erp import (
    GoodsReceipt,
    GoodsReceiptPage,
    Item,
    ItemPage,
    Lot,
    LotPage,
    Plant,
    PlantPage,
    PurchaseOrder,
    PurchaseOrderPage,
    Supplier,
    SupplierPage,
)
from system_apis.connectors.base import (
    ErpCapability,
    GoodsReceiptFilter,
    ItemFilter,
    LotFilter,
    PageRequest,
    PurchaseOrderFilter,
    SupplierFilter,
    require,
)
from system_apis.connectors.reference._dataset import ErpDataset
from system_apis.connectors.reference._paging import matches, paginate
from system_apis.connectors.reference._records import ERP_SYSTEM, IdSequence, find, utcnow
from system_apis.connectors.reference.demo import build_demo

__all__ = ["ErpTables"]

_C = ErpCapability


class ErpTables:
    """The reference ERP's records (frozen Structs, replaced on change) and its reads."""

    def __init__(
        self,
        *,
        data: ErpDataset | None = None,
        capabilities: frozenset[ErpCapability] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if data is None:
            data = build_demo()[0]
        self._capabilities = frozenset(_C) if capabilities is None else frozenset(capabilities)
        self._clock = clock or utcnow
        # Writes check a version and then replace the record; nothing awaits in between today,
        # but the lock keeps that atomic by construction rather than by accident.
        self._lock = asyncio.Lock()
        self._plants = {p.plant_id: p for p in data.plants}
        self._items = {i.item_id: i for i in data.items}
        self._suppliers = {s.supplier_id: s for s in data.suppliers}
        self._orders = {o.po_id: o for o in data.purchase_orders}
        self._receipts = {r.receipt_id: r for r in data.goods_receipts}
        self._lots = {lot.lot_id: lot for lot in data.lots}
        # The receipts' natural key: PO line and delivery note.
        self._delivery_notes: dict[tuple[str, int, str | None], str] = {
            (r.po_id, r.line_no, r.delivery_note): r.receipt_id
            for r in data.goods_receipts
            if r.delivery_note is not None
        }
        self._ids = IdSequence([*self._receipts, *self._lots])
        for lot in data.lots:
            self._ids.seen(lot.lot_number)

    @property
    def system(self) -> str:
        return ERP_SYSTEM

    @property
    def capabilities(self) -> frozenset[ErpCapability]:
        return self._capabilities

    async def ping(self) -> None:
        """Always answers: the reference ERP lives in this process."""

    async def aclose(self) -> None:
        """Nothing to release."""

    # -- master data -------------------------------------------------------------------------

    async def list_plants(self, page: PageRequest) -> PlantPage:
        require(self, _C.PLANTS)
        items, cursor = paginate(
            self._plants.values(), key=lambda p: p.plant_id, page=page, list_name="plants"
        )
        return PlantPage(items=items, next_cursor=cursor)

    async def get_plant(self, plant_id: str) -> Plant:
        require(self, _C.PLANTS)
        return find(self._plants, "Plant", plant_id)

    async def list_items(self, query: ItemFilter, page: PageRequest) -> ItemPage:
        require(self, _C.ITEMS)
        special = {"plant_id": lambda item, plant: any(p.plant_id == plant for p in item.plants)}
        items, cursor = paginate(
            (i for i in self._items.values() if matches(i, query, special)),
            key=lambda i: i.item_id,
            page=page,
            list_name="items",
        )
        return ItemPage(items=items, next_cursor=cursor)

    async def get_item(self, item_id: str) -> Item:
        require(self, _C.ITEMS)
        return find(self._items, "Item", item_id)

    async def list_suppliers(self, query: SupplierFilter, page: PageRequest) -> SupplierPage:
        require(self, _C.SUPPLIERS)
        items, cursor = paginate(
            (s for s in self._suppliers.values() if matches(s, query)),
            key=lambda s: s.supplier_id,
            page=page,
            list_name="suppliers",
        )
        return SupplierPage(items=items, next_cursor=cursor)

    async def get_supplier(self, supplier_id: str) -> Supplier:
        require(self, _C.SUPPLIERS)
        return find(self._suppliers, "Supplier", supplier_id)

    # -- purchasing --------------------------------------------------------------------------

    async def list_purchase_orders(
        self, query: PurchaseOrderFilter, page: PageRequest
    ) -> PurchaseOrderPage:
        require(self, _C.PURCHASE_ORDERS)
        items, cursor = paginate(
            (o for o in self._orders.values() if matches(o, query)),
            key=lambda o: o.po_id,
            page=page,
            list_name="purchase orders",
        )
        return PurchaseOrderPage(items=items, next_cursor=cursor)

    async def get_purchase_order(self, po_id: str) -> PurchaseOrder:
        require(self, _C.PURCHASE_ORDERS)
        return find(self._orders, "Purchase order", po_id)

    async def list_goods_receipts(
        self, query: GoodsReceiptFilter, page: PageRequest
    ) -> GoodsReceiptPage:
        require(self, _C.GOODS_RECEIPTS)
        items, cursor = paginate(
            (r for r in self._receipts.values() if matches(r, query)),
            key=lambda r: r.receipt_id,
            page=page,
            list_name="goods receipts",
        )
        return GoodsReceiptPage(items=items, next_cursor=cursor)

    async def get_goods_receipt(self, receipt_id: str) -> GoodsReceipt:
        require(self, _C.GOODS_RECEIPTS)
        return find(self._receipts, "Goods receipt", receipt_id)

    # -- lots and stock ----------------------------------------------------------------------

    async def list_lots(self, query: LotFilter, page: PageRequest) -> LotPage:
        require(self, _C.LOTS)
        items, cursor = paginate(
            (lot for lot in self._lots.values() if matches(lot, query)),
            key=lambda lot: lot.lot_id,
            page=page,
            list_name="lots",
        )
        return LotPage(items=items, next_cursor=cursor)

    async def get_lot(self, lot_id: str) -> Lot:
        require(self, _C.LOTS)
        return find(self._lots, "Lot", lot_id)
