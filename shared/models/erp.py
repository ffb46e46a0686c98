"""Canonical ERP records: plants, items, suppliers, purchase orders, goods receipts, lots."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.models._types import (
    BlockedFunction,
    Day,
    ItemId,
    LotDisposition,
    LotId,
    LotNumber,
    PlantId,
    PurchaseOrderId,
    Quantity,
    Reason,
    ReceiptId,
    Reference,
    ShortText,
    StockCategory,
    SupplierId,
    SupplierLotNumber,
    SupplierQualityStatusCode,
    Timestamp,
)
from shared.models.base import QgateStruct
from shared.models.records import Page, Record

__all__ = [
    "GoodsReceipt",
    "GoodsReceiptPage",
    "Item",
    "ItemPage",
    "ItemPlant",
    "Lot",
    "LotPage",
    "Plant",
    "PlantPage",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PurchaseOrderPage",
    "PurchasingBlock",
    "QmsCertification",
    "StockBalance",
    "Supplier",
    "SupplierPage",
]

Uom = Annotated[str, msgspec.Meta(min_length=1, max_length=8, examples=["PC"])]


class Plant(Record, frozen=True, kw_only=True):
    plant_id: PlantId
    name: ShortText
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$", examples=["DE"])]


class ItemPlant(QgateStruct, frozen=True, kw_only=True):
    """Per-plant settings of an item."""

    plant_id: PlantId
    inspection_required_on_receipt: bool


class Item(Record, frozen=True, kw_only=True):
    item_id: ItemId
    description: ShortText
    base_uom: Uom
    batch_managed: bool = True
    plants: list[ItemPlant] = msgspec.field(default_factory=list)


class PurchasingBlock(QgateStruct, frozen=True, kw_only=True):
    """Which purchasing functions are blocked for a supplier, why, and since when."""

    functions: list[BlockedFunction]
    reason: Reason
    blocked_at: Timestamp
    blocked_by: Annotated[str, msgspec.Meta(max_length=200, examples=["qa.lead@plant-1000"])]
    """The user or client the block was set for."""


class QmsCertification(QgateStruct, frozen=True, kw_only=True):
    standard: Annotated[str, msgspec.Meta(max_length=40, examples=["IATF 16949"])]
    certificate_id: Annotated[str, msgspec.Meta(max_length=64, examples=["CERT-2024-0042"])]
    valid_to: Day


class Supplier(Record, frozen=True, kw_only=True):
    supplier_id: SupplierId
    name: ShortText
    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$", examples=["DE"])]
    quality_status: SupplierQualityStatusCode
    purchasing_blocked: bool
    """True while any purchasing function is blocked (``purchasingBlock`` says which)."""
    purchasing_block: PurchasingBlock | None = None
    qms_certification: QmsCertification | None = None


class PurchaseOrderLine(QgateStruct, frozen=True, kw_only=True):
    line_no: Annotated[int, msgspec.Meta(ge=1, le=99999, examples=[10])]
    item_id: ItemId
    plant_id: PlantId
    quantity: Quantity
    received_quantity: Quantity
    uom: Uom


class PurchaseOrder(Record, frozen=True, kw_only=True):
    po_id: PurchaseOrderId
    supplier_id: SupplierId
    plant_id: PlantId
    ordered_at: Timestamp
    lines: list[PurchaseOrderLine]


class GoodsReceipt(Record, frozen=True, kw_only=True):
    receipt_id: ReceiptId
    po_id: PurchaseOrderId
    line_no: Annotated[int, msgspec.Meta(ge=1, le=99999, examples=[10])]
    item_id: ItemId
    plant_id: PlantId
    supplier_id: SupplierId
    lot_id: LotId
    lot_number: LotNumber
    supplier_lot_number: SupplierLotNumber | None = None
    delivery_note: Reference | None = None
    """The supplier's delivery note: with the PO line, the receipt's natural key."""
    quantity: Quantity
    stock_category: StockCategory
    """Where the received quantity was posted (QUALITY_INSPECTION when inspection is required)."""
    received_at: Timestamp


class StockBalance(QgateStruct, frozen=True, kw_only=True):
    category: StockCategory
    quantity: Quantity


class Lot(Record, frozen=True, kw_only=True):
    lot_id: LotId
    lot_number: LotNumber
    """The ERP's batch number (unique per item)."""
    item_id: ItemId
    plant_id: PlantId
    supplier_id: SupplierId | None = None
    supplier_lot_number: SupplierLotNumber | None = None
    disposition: LotDisposition
    stock: list[StockBalance]
    """Quantity per category, every category listed; they add up to ``totalQuantity``."""
    total_quantity: Quantity
    uom: Uom
    updated_at: Timestamp


class PlantPage(Page[Plant], frozen=True, kw_only=True):
    pass


class ItemPage(Page[Item], frozen=True, kw_only=True):
    pass


class SupplierPage(Page[Supplier], frozen=True, kw_only=True):
    pass


class PurchaseOrderPage(Page[PurchaseOrder], frozen=True, kw_only=True):
    pass


class GoodsReceiptPage(Page[GoodsReceipt], frozen=True, kw_only=True):
    pass


class LotPage(Page[Lot], frozen=True, kw_only=True):
    pass
