"""The ERP port over Tryton (stock, stock_lot, purchase)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Final, TypeVar

from shared.errors import NotFound
from shared.models.commands import (
    GoodsIssueCreate,
    GoodsReceiptCreate,
    LotDispositionChange,
    PurchasingBlockChange,
)
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
from system_apis.connectors.tryton import _erp_reads as reads
from system_apis.connectors.tryton._common import SYSTEM, lot_db_id, paginate
from system_apis.connectors.tryton._locations import Locations
from system_apis.connectors.tryton._lot_writes import LotWrites
from system_apis.connectors.tryton._lots import LotState, read_lots
from system_apis.connectors.tryton._notes import StateNotes
from system_apis.connectors.tryton._receipts import post_receipt
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = ["ERP_CAPABILITIES", "TrytonErpConnector"]

ERP_CAPABILITIES: Final = frozenset(ErpCapability) - {ErpCapability.PURCHASING_BLOCK}
"""Tryton has no supplier purchasing block (no field on the party, nothing that refuses a
purchase or a receipt from a blocked supplier): qgate keeps such a hold itself."""
_LOCATIONS_TTL: Final = 60.0
_R = TypeVar("_R")


class TrytonErpConnector:
    """Items, suppliers, purchase orders, receipts and lots as Tryton keeps them.

    Dispositions are locations (``_locations``), changed through internal shipments; what Tryton
    has no field for is kept in a qgate note on the lot (``_notes``)."""

    def __init__(
        self, client: TrytonClient, *, capabilities: frozenset[ErpCapability] = ERP_CAPABILITIES
    ) -> None:
        self._client = client
        self._capabilities = capabilities & ERP_CAPABILITIES
        self._notes = StateNotes(client, "lot")
        self._locations: Locations | None = None
        self._loaded_at = 0.0
        self._writes = LotWrites(client, self._notes, self._plants, self._lot_state)

    @property
    def system(self) -> str:
        return SYSTEM

    @property
    def capabilities(self) -> frozenset[ErpCapability]:
        return self._capabilities

    async def ping(self) -> None:
        await self._client.call("model.res.user.get_preferences", False)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _plants(self) -> Locations:
        if self._locations is None or time.monotonic() - self._loaded_at > _LOCATIONS_TTL:
            self._locations = await Locations.load(self._client)
            self._loaded_at = time.monotonic()
        return self._locations

    async def list_plants(self, page: PageRequest) -> PlantPage:
        require(self, ErpCapability.PLANTS)
        items, cursor = paginate(
            reads.plants(await self._plants()), key=lambda p: p.plant_id, page=page,
            list_name="plants",
        )  # fmt: skip
        return PlantPage(items=items, next_cursor=cursor)

    async def get_plant(self, plant_id: str) -> Plant:
        require(self, ErpCapability.PLANTS)
        return _one(
            [p for p in reads.plants(await self._plants()) if p.plant_id == plant_id],
            "Plant",
            plant_id,
        )

    async def list_items(self, query: ItemFilter, page: PageRequest) -> ItemPage:
        require(self, ErpCapability.ITEMS)
        every = await reads.items(self._client, await self._plants())
        if query.plant_id is not None:
            every = [i for i in every if any(p.plant_id == query.plant_id for p in i.plants)]
        items, cursor = paginate(every, key=lambda i: i.item_id, page=page, list_name="items")
        return ItemPage(items=items, next_cursor=cursor)

    async def get_item(self, item_id: str) -> Item:
        require(self, ErpCapability.ITEMS)
        found = await reads.items(self._client, await self._plants(), [item_id])
        return _one(found, "Item", item_id)

    async def list_suppliers(self, query: SupplierFilter, page: PageRequest) -> SupplierPage:
        require(self, ErpCapability.SUPPLIERS)
        every = await reads.suppliers(self._client)
        if query.purchasing_blocked is not None:
            every = [s for s in every if s.purchasing_blocked == query.purchasing_blocked]
        items, cursor = paginate(
            every, key=lambda s: s.supplier_id, page=page, list_name="suppliers"
        )
        return SupplierPage(items=items, next_cursor=cursor)

    async def get_supplier(self, supplier_id: str) -> Supplier:
        require(self, ErpCapability.SUPPLIERS)
        return _one(await reads.suppliers(self._client, [supplier_id]), "Supplier", supplier_id)

    async def set_purchasing_block(
        self,
        supplier_id: str,
        change: PurchasingBlockChange,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Supplier:
        require(self, ErpCapability.PURCHASING_BLOCK)
        raise NotImplementedError  # pragma: no cover - never declared (see ERP_CAPABILITIES)

    async def list_purchase_orders(
        self, query: PurchaseOrderFilter, page: PageRequest
    ) -> PurchaseOrderPage:
        require(self, ErpCapability.PURCHASE_ORDERS)
        every = await reads.purchase_orders(self._client, await self._plants())
        every = [
            o for o in every
            if query.supplier_id in (None, o.supplier_id) and query.plant_id in (None, o.plant_id)
        ]  # fmt: skip
        items, cursor = paginate(
            every, key=lambda o: o.po_id, page=page, list_name="purchase-orders"
        )
        return PurchaseOrderPage(items=items, next_cursor=cursor)

    async def get_purchase_order(self, po_id: str) -> PurchaseOrder:
        require(self, ErpCapability.PURCHASE_ORDERS)
        found = await reads.purchase_orders(self._client, await self._plants(), [po_id])
        return _one(found, "Purchase order", po_id)

    async def list_goods_receipts(
        self, query: GoodsReceiptFilter, page: PageRequest
    ) -> GoodsReceiptPage:
        require(self, ErpCapability.GOODS_RECEIPTS)
        every = await reads.receipts(self._client, await self._plants(), self._notes)
        every = [
            r for r in every
            if query.po_id in (None, r.po_id) and query.plant_id in (None, r.plant_id)
            and query.supplier_id in (None, r.supplier_id) and query.lot_id in (None, r.lot_id)
        ]  # fmt: skip
        items, cursor = paginate(
            every, key=lambda r: r.receipt_id, page=page, list_name="goods-receipts"
        )
        return GoodsReceiptPage(items=items, next_cursor=cursor)

    async def get_goods_receipt(self, receipt_id: str) -> GoodsReceipt:
        require(self, ErpCapability.GOODS_RECEIPTS)
        number = receipt_id.split(".", 1)[0]
        found = await reads.receipts(
            self._client, await self._plants(), self._notes, [("number", "=", number)]
        )
        return _one([r for r in found if r.receipt_id == receipt_id], "Goods receipt", receipt_id)

    async def post_goods_receipt(self, receipt: GoodsReceiptCreate, *, actor: str) -> GoodsReceipt:
        require(self, ErpCapability.GOODS_RECEIPT_POSTING)
        return await post_receipt(
            self._client, await self._plants(), self._notes, self._lot_state, receipt, actor=actor
        )

    async def _lot_state(self, lot_id: str) -> LotState:
        db_id = lot_db_id(lot_id)
        found = await read_lots(self._client, await self._plants(), self._notes, [db_id])
        if not found:
            raise NotFound(f"Lot {lot_id} not found")
        return found[0]

    async def list_lots(self, query: LotFilter, page: PageRequest) -> LotPage:
        require(self, ErpCapability.LOTS)
        every = [s.lot for s in await read_lots(self._client, await self._plants(), self._notes)]
        every = [
            lot for lot in every
            if query.plant_id in (None, lot.plant_id)
            and query.supplier_id in (None, lot.supplier_id)
            and query.item_id in (None, lot.item_id)
            and query.disposition in (None, lot.disposition)
            and query.supplier_lot_number in (None, lot.supplier_lot_number)
        ]  # fmt: skip
        items, cursor = paginate(every, key=lambda lot: lot.lot_id, page=page, list_name="lots")
        return LotPage(items=items, next_cursor=cursor)

    async def get_lot(self, lot_id: str) -> Lot:
        require(self, ErpCapability.LOTS)
        return (await self._lot_state(lot_id)).lot

    async def change_lot_disposition(
        self, lot_id: str, change: LotDispositionChange, *, actor: str, expected_version: int
    ) -> Lot:
        require(self, ErpCapability.LOT_DISPOSITION)
        return await self._writes.change(
            lot_id, change, actor=actor, expected_version=expected_version
        )

    async def issue_goods(
        self,
        lot_id: str,
        issue: GoodsIssueCreate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Lot:
        require(self, ErpCapability.GOODS_ISSUE)
        return await self._writes.issue(
            lot_id, issue, actor=actor, expected_version=expected_version
        )


def _one(found: Iterable[_R], kind: str, record_id: str) -> _R:
    for record in found:
        return record
    raise NotFound(f"{kind} {record_id} not found")
