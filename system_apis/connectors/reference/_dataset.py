"""What a reference connector starts from: plain lists of canonical records."""

from __future__ import annotations

import msgspec

from shared.models.erp import GoodsReceipt, Item, Lot, Plant, PurchaseOrder, Supplier
from shared.models.qms import (
    Capa,
    Inspection,
    Nonconformance,
    Specification,
    SupplierQualityEvent,
    SupplierQualityStatus,
)

__all__ = ["ErpDataset", "QmsDataset"]


class ErpDataset(msgspec.Struct, frozen=True, kw_only=True):
    """The records a :class:`ReferenceErpConnector` starts with (``ErpDataset()`` is empty).

    The connector copies the lists, so one dataset can seed any number of connectors.
    """

    plants: list[Plant] = msgspec.field(default_factory=list)
    items: list[Item] = msgspec.field(default_factory=list)
    suppliers: list[Supplier] = msgspec.field(default_factory=list)
    purchase_orders: list[PurchaseOrder] = msgspec.field(default_factory=list)
    goods_receipts: list[GoodsReceipt] = msgspec.field(default_factory=list)
    lots: list[Lot] = msgspec.field(default_factory=list)


class QmsDataset(msgspec.Struct, frozen=True, kw_only=True):
    """The records a :class:`ReferenceQmsConnector` starts with (``QmsDataset()`` is empty).

    Suppliers are known to the QMS through their quality status: events and status changes for
    a supplier without one are refused as not found.
    """

    specifications: list[Specification] = msgspec.field(default_factory=list)
    inspections: list[Inspection] = msgspec.field(default_factory=list)
    nonconformances: list[Nonconformance] = msgspec.field(default_factory=list)
    capas: list[Capa] = msgspec.field(default_factory=list)
    supplier_quality_events: list[SupplierQualityEvent] = msgspec.field(default_factory=list)
    supplier_quality_statuses: list[SupplierQualityStatus] = msgspec.field(default_factory=list)
