"""``S4HanaErpConnector``: the ERP port over S/4HANA's OData v2 APIs (see the package doc)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import httpx
import redis

from shared.errors import BackendRejected, DownstreamUnavailable, NotFound, PreconditionFailed
from shared.models import StockCategory
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
from shared.models.lifecycle import FINAL_DISPOSITIONS
from shared.settings import S4HanaSettings
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
from system_apis.connectors.reference import ALLOWED_CATEGORIES, ISSUABLE
from system_apis.connectors.s4hana._client import S4HanaClient
from system_apis.connectors.s4hana._mapping import (
    SYSTEM,
    PlantCodes,
    parse_gr_id,
    parse_lot_id,
    parse_po_id,
)
from system_apis.connectors.s4hana._notes import BlockNote, BlockNotes, MemoryBlockNotes
from system_apis.connectors.s4hana._odata import (
    Entity,
    and_filter,
    decimal_text,
    entity_path,
    eq,
    odata_date,
)
from system_apis.connectors.s4hana._paging import paginate
from system_apis.connectors.s4hana._postings import (
    Bucket,
    plan_moves,
    transfer_document,
    ud_stock_posting,
    usage_decision,
)
from system_apis.connectors.s4hana._reads import (
    LotFacts,
    build_lot,
    item_of,
    plant_of,
    purchase_order_of,
    receipt_of,
    supplier_of,
)
from system_apis.connectors.s4hana._split import target_split

__all__ = ["S4HanaErpConnector"]

_PLANT, _PRODUCT, _BP = "API_PLANT_SRV", "API_PRODUCT_SRV", "API_BUSINESS_PARTNER"
_PO, _DOC, _STOCK, _QM = (
    "API_PURCHASEORDER_PROCESS_SRV",
    "API_MATERIAL_DOCUMENT_SRV",
    "API_MATERIAL_STOCK_SRV",
    "API_INSPECTIONLOT_SRV",
)
_QIR = "API_QUALITYINFORECORD_SRV"
_PRODUCT_EXPAND = {"$expand": "to_Description,to_Plant/to_PlantQualityMgmt"}


class S4HanaErpConnector:
    """The ERP port over S/4HANA (cloud or on-premise); ``transport`` for tests, the simulator.

    ``notes`` keeps why, by whom and when purchasing blocks were set (SAP has no writable field
    for it, see ``_notes``): Redis when the system layer has replicas, memory otherwise.
    """

    def __init__(
        self,
        settings: S4HanaSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        capabilities: frozenset[ErpCapability] | None = None,
        clock: Any = None,
        notes: BlockNotes | None = None,
    ) -> None:
        self._settings = settings
        self._client = S4HanaClient(settings, transport=transport)
        self._notes: BlockNotes = notes if notes is not None else MemoryBlockNotes()
        self._capabilities = frozenset(ErpCapability) if capabilities is None else capabilities
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def system(self) -> str:
        return SYSTEM

    @property
    def capabilities(self) -> frozenset[ErpCapability]:
        return self._capabilities

    async def ping(self) -> None:
        await self._client.request("GET", _PLANT, "A_Plant", params={"$top": "1"})

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._notes.aclose()

    async def _block_notes(self, suppliers: list[str]) -> dict[str, BlockNote]:
        try:
            return await self._notes.get_many(suppliers)
        except redis.RedisError as exc:
            raise DownstreamUnavailable("qgate's store of purchasing-block notes is down") from exc

    def _codes(self, plant: str) -> PlantCodes:
        return PlantCodes.of(self._settings, plant)

    async def _all(self, service: str, entity_set: str, **params: str | None) -> list[Entity]:
        query = {k: v for k, v in params.items() if v}
        return [row async for row in self._client.collection(service, entity_set, params=query)]

    # --- master data ------------------------------------------------------------------------

    async def list_plants(self, page: PageRequest) -> PlantPage:
        require(self, ErpCapability.PLANTS)
        plants = [plant_of(r, self._settings) for r in await self._all(_PLANT, "A_Plant")]
        items, cursor = paginate(plants, key=lambda p: p.plant_id, page=page, list_name="plants")
        return PlantPage(items=items, next_cursor=cursor)

    async def get_plant(self, plant_id: str) -> Plant:
        require(self, ErpCapability.PLANTS)
        row, _ = await self._client.entity(
            _PLANT, entity_path("A_Plant", {"Plant": plant_id}), what=f"plant {plant_id}"
        )
        return plant_of(row, self._settings)

    async def list_items(self, query: ItemFilter, page: PageRequest) -> ItemPage:
        require(self, ErpCapability.ITEMS)
        rows = await self._all(_PRODUCT, "A_Product", **_PRODUCT_EXPAND)
        items = [
            i
            for i in map(item_of, rows)
            if query.plant_id is None or any(p.plant_id == query.plant_id for p in i.plants)
        ]
        chosen, cursor = paginate(items, key=lambda i: i.item_id, page=page, list_name="items")
        return ItemPage(items=chosen, next_cursor=cursor)

    async def get_item(self, item_id: str) -> Item:
        require(self, ErpCapability.ITEMS)
        row, _ = await self._client.entity(
            _PRODUCT,
            entity_path("A_Product", {"Product": item_id}),
            params=_PRODUCT_EXPAND,
            what=f"item {item_id}",
        )
        return item_of(row)

    async def _suppliers(self, supplier_id: str | None = None) -> list[Supplier]:
        where = eq("Supplier", supplier_id) if supplier_id else None
        rows = await self._all(_BP, "A_Supplier", **{"$filter": where})
        if supplier_id and not rows:
            raise NotFound(f"Supplier {supplier_id} not found")
        addresses = await self._all(
            _BP,
            "A_BusinessPartnerAddress",
            **{"$filter": eq("BusinessPartner", supplier_id) if supplier_id else None},
        )
        country = {str(a["BusinessPartner"]): str(a.get("Country") or "") for a in addresses}
        records = await self._all(_QIR, "QualityInProcurement", **{"$filter": where})
        blocked = {str(r["Supplier"]) for r in records if r.get("ProcurementBlock")}
        notes = await self._block_notes([str(r["Supplier"]) for r in rows])
        return [
            supplier_of(
                r,
                country.get(str(r["Supplier"]), ""),
                str(r["Supplier"]) in blocked,
                notes.get(str(r["Supplier"])),
            )
            for r in rows
        ]

    async def list_suppliers(self, query: SupplierFilter, page: PageRequest) -> SupplierPage:
        require(self, ErpCapability.SUPPLIERS)
        rows = [
            s
            for s in await self._suppliers()
            if query.purchasing_blocked is None or s.purchasing_blocked == query.purchasing_blocked
        ]
        items, cursor = paginate(
            rows, key=lambda s: s.supplier_id, page=page, list_name="suppliers"
        )
        return SupplierPage(items=items, next_cursor=cursor)

    async def get_supplier(self, supplier_id: str) -> Supplier:
        require(self, ErpCapability.SUPPLIERS)
        return (await self._suppliers(supplier_id))[0]

    async def set_purchasing_block(
        self,
        supplier_id: str,
        change: PurchasingBlockChange,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Supplier:
        """PATCH ``A_Supplier`` (and its purchasing organizations) with ``If-Match``; the reason,
        who and when are noted by qgate (``notes``), with the supplier's new version."""
        require(self, ErpCapability.PURCHASING_BLOCK)
        async with self._locks["supplier:" + supplier_id]:
            current = await self.get_supplier(supplier_id)
            if expected_version is not None and expected_version != current.version:
                raise PreconditionFailed(
                    f"Supplier {supplier_id} is at version {current.version}, not "
                    f"{expected_version}; read it again and retry with the current version."
                )
            functions = {f.value for f in change.functions}
            rfq, gr = "RFQ" in functions, "GOODS_RECEIPT" in functions
            resource = entity_path("A_Supplier", {"Supplier": supplier_id})
            _, etag = await self._client.entity(_BP, resource, what=f"supplier {supplier_id}")
            await self._client.update(
                _BP,
                resource,
                {
                    "PurchasingIsBlocked": "PURCHASE_ORDER" in functions,
                    "PaymentIsBlockedForSupplier": "PAYMENT" in functions,
                    "SupplierProcurementBlock": "Q3"
                    if rfq and gr
                    else "Q2"
                    if gr
                    else "Q1"
                    if rfq
                    else "",
                },
                etag=etag,
                what=f"the purchasing block of supplier {supplier_id}",
            )
            for org in await self._all(
                _BP, "A_SupplierPurchasingOrg", **{"$filter": eq("Supplier", supplier_id)}
            ):
                path = entity_path(
                    "A_SupplierPurchasingOrg",
                    {
                        "Supplier": supplier_id,
                        "PurchasingOrganization": str(org["PurchasingOrganization"]),
                    },
                )
                tag = org.get("__metadata", {}).get("etag")
                await self._client.update(
                    _BP,
                    path,
                    {"PurchasingIsBlockedForSupplier": "PURCHASE_ORDER" in functions},
                    etag=tag,
                    what=f"supplier {supplier_id} in purchasing organization "
                    f"{org['PurchasingOrganization']}",
                )
            stored = (await self._block_notes([supplier_id])).get(supplier_id)
            note = BlockNote(
                functions=tuple(sorted(functions)),
                reason=change.reason,
                actor=actor,
                at=self._clock(),
                version=current.version + 1,
            )
            try:
                noted = await self._notes.put(
                    supplier_id, note, replaces=stored.version if stored else None
                )
            except redis.RedisError as exc:
                raise DownstreamUnavailable(
                    "qgate's store of purchasing-block notes is down"
                ) from exc
            if not noted:
                raise PreconditionFailed(
                    f"Supplier {supplier_id}'s purchasing block was changed at the same time; "
                    "read it again and retry with the current version."
                )
            return await self.get_supplier(supplier_id)

    # --- purchasing ---------------------------------------------------------------------------

    async def _receipt_items(self, where: str | None = None) -> list[Entity]:
        return await self._all(
            _DOC,
            "A_MaterialDocumentItem",
            **{
                "$filter": and_filter(eq("GoodsMovementType", "101"), where),
                "$expand": "to_MaterialDocumentHeader",
            },
        )

    async def _orders(self, number: str | None = None) -> list[PurchaseOrder]:
        rows = await self._all(
            _PO,
            "A_PurchaseOrder",
            **{
                "$expand": "to_PurchaseOrderItem",
                "$filter": eq("PurchaseOrder", number) if number else None,
            },
        )
        receipts = await self._receipt_items(eq("PurchaseOrder", number) if number else None)
        by_po: dict[str, list[Entity]] = defaultdict(list)
        for item in receipts:
            by_po[str(item["PurchaseOrder"])].append(item)
        return [purchase_order_of(r, by_po[str(r["PurchaseOrder"])]) for r in rows]

    async def list_purchase_orders(
        self, query: PurchaseOrderFilter, page: PageRequest
    ) -> PurchaseOrderPage:
        require(self, ErpCapability.PURCHASE_ORDERS)
        rows = [
            o
            for o in await self._orders()
            if (query.supplier_id is None or o.supplier_id == query.supplier_id)
            and (query.plant_id is None or o.plant_id == query.plant_id)
        ]
        items, cursor = paginate(
            rows, key=lambda o: o.po_id, page=page, list_name="purchase-orders"
        )
        return PurchaseOrderPage(items=items, next_cursor=cursor)

    async def get_purchase_order(self, po_id: str) -> PurchaseOrder:
        require(self, ErpCapability.PURCHASE_ORDERS)
        found = await self._orders(parse_po_id(po_id))
        if not found:
            raise NotFound(f"Purchase order {po_id} not found")
        return found[0]

    async def list_goods_receipts(
        self, query: GoodsReceiptFilter, page: PageRequest
    ) -> GoodsReceiptPage:
        require(self, ErpCapability.GOODS_RECEIPTS)
        rows = [receipt_of(i, self._codes(str(i["Plant"]))) for i in await self._receipt_items()]
        rows = [
            r
            for r in rows
            if all(
                getattr(query, f) is None or getattr(r, f) == getattr(query, f)
                for f in query.__struct_fields__
            )
        ]
        items, cursor = paginate(
            rows, key=lambda r: r.receipt_id, page=page, list_name="goods-receipts"
        )
        return GoodsReceiptPage(items=items, next_cursor=cursor)

    async def get_goods_receipt(self, receipt_id: str) -> GoodsReceipt:
        require(self, ErpCapability.GOODS_RECEIPTS)
        key = parse_gr_id(receipt_id)
        found = await self._receipt_items(
            and_filter(
                eq("MaterialDocumentYear", key.year),
                eq("MaterialDocument", key.document),
                eq("MaterialDocumentItem", key.item),
            )
        )
        if not found:
            raise NotFound(f"Goods receipt {receipt_id} not found")
        return receipt_of(found[0], self._codes(str(found[0]["Plant"])))

    async def post_goods_receipt(self, receipt: GoodsReceiptCreate, *, actor: str) -> GoodsReceipt:
        """A goods receipt for the PO line (movement type 101); a delivery note already posted on
        that line returns its receipt. SAP decides QI stock (and creates the inspection lot)."""
        require(self, ErpCapability.GOODS_RECEIPT_POSTING)
        order = await self.get_purchase_order(receipt.po_id)
        line = next((ln for ln in order.lines if ln.line_no == receipt.line_no), None)
        if line is None:
            raise NotFound(f"Purchase order {receipt.po_id} has no line {receipt.line_no}")
        number, item_no = parse_po_id(receipt.po_id), f"{receipt.line_no:05d}"
        if receipt.delivery_note:
            for row in await self._receipt_items(
                and_filter(eq("PurchaseOrder", number), eq("PurchaseOrderItem", item_no))
            ):
                header = row.get("to_MaterialDocumentHeader") or {}
                if header.get("ReferenceDocument") == receipt.delivery_note:
                    return receipt_of(row, self._codes(str(row["Plant"])))
        codes = self._codes(line.plant_id)
        if receipt.lot_number is not None:
            if len(receipt.lot_number) > 10:
                raise BackendRejected(
                    f"SAP batch numbers have at most 10 characters: {receipt.lot_number}"
                )
            other = await self._all(
                _DOC,
                "A_MaterialDocumentItem",
                **{
                    "$filter": and_filter(
                        eq("Plant", line.plant_id), eq("Batch", receipt.lot_number)
                    ),
                    "$top": "1",
                },
            )
            if other and other[0]["Material"] != line.item_id:
                raise BackendRejected(
                    f"Batch {receipt.lot_number} at plant {line.plant_id} belongs to "
                    f"material {other[0]['Material']}"
                )
        now = self._clock()
        body = {
            "GoodsMovementCode": "01",
            "PostingDate": odata_date(now),
            "DocumentDate": odata_date(now),
            "ReferenceDocument": receipt.delivery_note or "",
            "MaterialDocumentHeaderText": f"qgate {actor}"[:25],
            "to_MaterialDocumentItem": {
                "results": [
                    {
                        "GoodsMovementType": "101",
                        "PurchaseOrder": number,
                        "PurchaseOrderItem": item_no,
                        "Plant": line.plant_id,
                        "StorageLocation": codes.codes.storage_location,
                        "Material": line.item_id,
                        "Batch": receipt.lot_number or "",
                        "QuantityInEntryUnit": decimal_text(receipt.quantity),
                        "EntryUnit": line.uom,
                        "MaterialDocumentItemText": receipt.supplier_lot_number or "",
                    }
                ]
            },
        }
        try:
            header = await self._client.create(
                _DOC,
                "A_MaterialDocumentHeader",
                body,
                what=f"the goods receipt on {receipt.po_id} line {receipt.line_no}",
            )
        except BackendRejected as exc:
            raise BackendRejected(
                f"{receipt.po_id} line {receipt.line_no}: {exc.detail} "
                "(blocked suppliers and over-deliveries are refused)"
            ) from exc
        return await self.get_goods_receipt(
            f"GR-{header['MaterialDocumentYear']}-{header['MaterialDocument']}-0001"
        )

    # --- lots ---------------------------------------------------------------------------------

    async def _facts(
        self, plant: str | None = None, batch: str | None = None, material: str | None = None
    ) -> dict[tuple[str, str], LotFacts]:
        where = and_filter(
            eq("Plant", plant) if plant else None,
            eq("Batch", batch) if batch else None,
            eq("Material", material) if material else None,
        )
        items = await self._all(
            _DOC,
            "A_MaterialDocumentItem",
            **{"$filter": where, "$expand": "to_MaterialDocumentHeader"},
        )
        facts: dict[tuple[str, str], LotFacts] = defaultdict(LotFacts)
        for item in sorted(
            items,
            key=lambda i: (
                str(i["MaterialDocumentYear"]),
                str(i["MaterialDocument"]),
                str(i["MaterialDocumentItem"]),
            ),
        ):
            if item.get("Batch"):
                facts[(str(item["Plant"]), str(item["Batch"]))].items.append(item)
        materials = {str(i["Material"]) for f in facts.values() for i in f.items}
        stock_filter = eq("Material", next(iter(materials))) if len(materials) == 1 else None
        for row in await self._all(
            _STOCK, "A_MaterialStock", **{"$filter": stock_filter, "$expand": "to_MatlStkInAcctMod"}
        ):
            for entry in (row.get("to_MatlStkInAcctMod") or {}).get("results", []):
                key = (str(entry["Plant"]), str(entry["Batch"]))
                if key in facts:
                    facts[key].stock.append(entry)
        lot_filter = and_filter(
            eq("Plant", plant) if plant else None, eq("Batch", batch) if batch else None
        )
        inspection_lots = {
            str(r["InspectionLot"]): r
            for r in await self._all(_QM, "A_InspectionLot", **{"$filter": lot_filter})
        }
        if inspection_lots:
            decisions = await self._all(_QM, "A_InspLotUsageDecision")
            postings = await self._all(_QM, "A_InspLotMatlDocItem")
            for decision in decisions:
                lot = inspection_lots.get(str(decision["InspectionLot"]))
                if lot is not None:
                    facts[(str(lot["Plant"]), str(lot["Batch"]))].ud_codes[
                        str(lot["InspectionLot"])
                    ] = str(decision.get("InspectionLotUsageDecisionCode") or "")
            for posting in postings:
                lot = inspection_lots.get(str(posting["InspectionLot"]))
                if lot is not None:
                    facts[(str(lot["Plant"]), str(lot["Batch"]))].ud_documents[
                        (str(posting["MaterialDocumentYear"]), str(posting["MaterialDocument"]))
                    ] = str(lot["InspectionLot"])
        return {k: v for k, v in facts.items() if v.items}

    async def list_lots(self, query: LotFilter, page: PageRequest) -> LotPage:
        require(self, ErpCapability.LOTS)
        facts = await self._facts(plant=query.plant_id, material=query.item_id)
        lots = [build_lot(p, b, f, self._codes(p)) for (p, b), f in facts.items()]
        lots = [
            lot
            for lot in lots
            if all(
                getattr(query, f) is None or getattr(lot, f) == getattr(query, f)
                for f in query.__struct_fields__
            )
        ]
        items, cursor = paginate(lots, key=lambda lot: lot.lot_id, page=page, list_name="lots")
        return LotPage(items=items, next_cursor=cursor)

    async def _lot(self, lot_id: str) -> tuple[Lot, LotFacts]:
        key = parse_lot_id(lot_id)
        facts = (await self._facts(plant=key.plant, batch=key.batch)).get((key.plant, key.batch))
        if facts is None:
            raise NotFound(f"Lot {lot_id} not found")
        return build_lot(key.plant, key.batch, facts, self._codes(key.plant)), facts

    async def get_lot(self, lot_id: str) -> Lot:
        require(self, ErpCapability.LOTS)
        return (await self._lot(lot_id))[0]

    async def change_lot_disposition(
        self, lot_id: str, change: LotDispositionChange, *, actor: str, expected_version: int
    ) -> Lot:
        """Stock in QI under an open inspection lot moves through the usage decision and its
        stock postings; the rest through one transfer posting whose reason code is the
        disposition. One change per lot at a time in this process."""
        require(self, ErpCapability.LOT_DISPOSITION)
        async with self._locks[lot_id]:
            lot, facts = await self._lot(lot_id)
            _check_version(lot, expected_version)
            if lot.disposition in FINAL_DISPOSITIONS:
                raise BackendRejected(
                    f"Lot {lot_id} is {lot.disposition.value}, a final disposition; "
                    "it cannot change any more."
                )
            target = target_split(lot, change.disposition, change.quantities, ALLOWED_CATEGORIES)
            codes = self._codes(lot.plant_id)
            location = codes.storage_location(change.disposition)
            current = [
                Bucket(str(r["StorageLocation"]), c, q)
                for r in facts.stock
                if (c := codes.category(str(r["InventoryStockType"]))) is not None
                and (q := round(float(r["MatlWrhsStkQtyInMatlBaseUnit"]), 3)) > 0
            ]
            moves = plan_moves(current, target, location)
            if not moves:
                if not current:
                    raise BackendRejected(
                        f"Lot {lot_id} holds no stock: S/4HANA records a disposition "
                        "through a stock posting."
                    )
                moves = [m for m in plan_moves(current, target, "~") if m.target is not None]
            inspection = await self._open_inspection_lot(lot)
            text = change.reason[:50]
            qi = [
                m
                for m in moves
                if inspection is not None and m.source.category is StockCategory.QUALITY_INSPECTION
            ]
            rest = [m for m in moves if m not in qi]
            if qi and inspection is not None:
                if not inspection.get("InspectionLotHasUsageDecision"):
                    await self._client.create(
                        _QM,
                        "A_InspLotUsageDecision",
                        usage_decision(codes, str(inspection["InspectionLot"]), change.disposition),
                        what=f"the usage decision of inspection lot {inspection['InspectionLot']}",
                    )
                for move in qi:
                    await self._client.create(
                        _QM,
                        "A_InspLotMatlDocItem",
                        ud_stock_posting(codes, str(inspection["InspectionLot"]), move, text),
                        what=f"the stock posting of inspection lot {inspection['InspectionLot']}",
                    )
            if rest:
                body = transfer_document(
                    codes,
                    material=lot.item_id,
                    batch=lot.lot_number,
                    uom=lot.uom,
                    moves=rest,
                    disposition=change.disposition,
                    posted_at=self._clock(),
                    text=text,
                )
                await self._client.create(
                    _DOC,
                    "A_MaterialDocumentHeader",
                    body,
                    what=f"the transfer posting of lot {lot_id}",
                )
            return (await self._lot(lot_id))[0]

    async def _open_inspection_lot(self, lot: Lot) -> Entity | None:
        rows = await self._all(
            _QM,
            "A_InspectionLot",
            **{
                "$filter": and_filter(
                    eq("Material", lot.item_id),
                    eq("Plant", lot.plant_id),
                    eq("Batch", lot.lot_number),
                    eq("InspLotIsStockPostingCompleted", False),
                )
            },
        )
        return rows[0] if rows else None

    async def issue_goods(
        self,
        lot_id: str,
        issue: GoodsIssueCreate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Lot:
        """A goods issue (movement type 201) from the lot's issuable stock."""
        require(self, ErpCapability.GOODS_ISSUE)
        async with self._locks[lot_id]:
            lot, _ = await self._lot(lot_id)
            if expected_version is not None:
                _check_version(lot, expected_version)
            allowed = ISSUABLE.get(lot.disposition)
            if allowed is None:
                raise BackendRejected(
                    f"Lot {lot_id} is {lot.disposition.value}: its stock cannot be issued. "
                    "Only RELEASED lots (AVAILABLE stock) and RESTRICTED lots (RESTRICTED "
                    "stock) can."
                )
            if issue.category is not allowed:
                raise BackendRejected(
                    f"Lot {lot_id} is {lot.disposition.value}: issue from its "
                    f"{allowed.value} stock, not {issue.category.value}."
                )
            codes = self._codes(lot.plant_id)
            now = self._clock()
            body = {
                "GoodsMovementCode": "03",
                "PostingDate": odata_date(now),
                "DocumentDate": odata_date(now),
                "to_MaterialDocumentItem": {
                    "results": [
                        {
                            "GoodsMovementType": codes.codes.movement_types.get("ISSUE", "201"),
                            "Material": lot.item_id,
                            "Plant": lot.plant_id,
                            "StorageLocation": codes.codes.storage_location,
                            "Batch": lot.lot_number,
                            "InventoryStockType": codes.stock_type(allowed),
                            "QuantityInEntryUnit": decimal_text(issue.quantity),
                            "EntryUnit": lot.uom,
                        }
                    ]
                },
            }
            await self._client.create(
                _DOC, "A_MaterialDocumentHeader", body, what=f"the goods issue from lot {lot_id}"
            )
            return (await self._lot(lot_id))[0]


def _check_version(lot: Lot, expected: int) -> None:
    if expected != lot.version:
        raise PreconditionFailed(
            f"Lot {lot.lot_id} is at version {lot.version}, not {expected}; "
            "read it again and retry with the current version."
        )
