"""The connector ports: what the system APIs need from an ERP and from a QMS.

A connector speaks canonical Structs only (``shared.models``); vendor payloads stay private to
its module. It translates every backend failure at its boundary into ``shared.errors``:

- :class:`~shared.errors.DownstreamUnavailable` / :class:`~shared.errors.DownstreamTimeout`:
  the backend is down or slow (``retryable``);
- :class:`~shared.errors.BackendRejected`: the backend refused the change for good, with its
  message (a blocked lot cannot be issued, a status transition is not allowed);
- :class:`~shared.errors.NotFound`: no such record;
- :class:`~shared.errors.PreconditionFailed`: ``expected_version`` is stale (optimistic
  concurrency: every mutable record carries a ``version``);
- :class:`~shared.errors.CapabilityUnsupported`: the backend cannot do this at all;
- :class:`~shared.errors.InvalidCursor`: a cursor that this connector did not issue.

Each connector declares its capabilities; :func:`require` is the one check, used by the system
API before it calls and by connectors themselves, so a missing capability is never a no-op.
Writes take the ``actor`` (the user or client the change is made for) for the record's history.
"""

from __future__ import annotations

import enum
from typing import Annotated, NoReturn, Protocol, runtime_checkable

import msgspec

from shared.errors import CapabilityUnsupported
from shared.models import (
    Identifier,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    LotDisposition,
    NonconformanceStatus,
    NonconformanceType,
    Severity,
    SupplierQualityEventKind,
)
from shared.models.commands import (
    CapaCreate,
    CapaStageAdvance,
    GoodsIssueCreate,
    GoodsReceiptCreate,
    InspectionCreate,
    LotDispositionChange,
    NonconformanceCreate,
    NonconformanceUpdate,
    PurchasingBlockChange,
    ResultsRecord,
    SupplierQualityEventCreate,
    SupplierQualityStatusChange,
    UsageDecisionCreate,
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
from shared.models.qms import (
    Capa,
    CapaPage,
    Inspection,
    InspectionPage,
    Nonconformance,
    NonconformancePage,
    Specification,
    SpecificationPage,
    SupplierQualityEvent,
    SupplierQualityEventPage,
    SupplierQualityStatus,
)
from shared.params import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "CapaFilter",
    "Capability",
    "ErpCapability",
    "ErpConnector",
    "GoodsReceiptFilter",
    "InspectionFilter",
    "ItemFilter",
    "LotFilter",
    "NonconformanceFilter",
    "PageRequest",
    "PurchaseOrderFilter",
    "QmsCapability",
    "QmsConnector",
    "SpecificationFilter",
    "SupplierFilter",
    "SupplierQualityEventFilter",
    "UndeclaredQmsMethods",
    "require",
]


class ErpCapability(enum.StrEnum):
    PLANTS = "PLANTS"
    ITEMS = "ITEMS"
    SUPPLIERS = "SUPPLIERS"
    PURCHASING_BLOCK = "PURCHASING_BLOCK"
    PURCHASE_ORDERS = "PURCHASE_ORDERS"
    GOODS_RECEIPTS = "GOODS_RECEIPTS"
    GOODS_RECEIPT_POSTING = "GOODS_RECEIPT_POSTING"
    LOTS = "LOTS"
    LOT_DISPOSITION = "LOT_DISPOSITION"
    GOODS_ISSUE = "GOODS_ISSUE"


class QmsCapability(enum.StrEnum):
    SPECIFICATIONS = "SPECIFICATIONS"
    INSPECTIONS = "INSPECTIONS"
    INSPECTION_RESULTS = "INSPECTION_RESULTS"
    USAGE_DECISION = "USAGE_DECISION"
    NONCONFORMANCES = "NONCONFORMANCES"
    CAPA = "CAPA"
    SUPPLIER_QUALITY_EVENTS = "SUPPLIER_QUALITY_EVENTS"
    SUPPLIER_QUALITY_STATUS = "SUPPLIER_QUALITY_STATUS"


Capability = ErpCapability | QmsCapability


class _Declares(Protocol):
    @property
    def system(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[ErpCapability] | frozenset[QmsCapability]: ...


def require(connector: _Declares, capability: Capability) -> None:
    """Raise :class:`CapabilityUnsupported` unless ``connector`` declares ``capability``."""
    if capability not in connector.capabilities:
        raise CapabilityUnsupported(
            f"The connected system ({connector.system}) does not support "
            f"{capability.value.lower().replace('_', ' ')}."
        )


class PageRequest(msgspec.Struct, frozen=True, kw_only=True):
    """Where a list starts (a cursor the connector issued, or None) and how many to return."""

    cursor: str | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE


class _Filter(msgspec.Struct, frozen=True, kw_only=True):
    """A list filter: every field set must match (AND); None matches everything."""


class ItemFilter(_Filter, frozen=True, kw_only=True):
    plant_id: Identifier | None = None


class SupplierFilter(_Filter, frozen=True, kw_only=True):
    purchasing_blocked: bool | None = None


class PurchaseOrderFilter(_Filter, frozen=True, kw_only=True):
    supplier_id: Identifier | None = None
    plant_id: Identifier | None = None


class GoodsReceiptFilter(_Filter, frozen=True, kw_only=True):
    po_id: Identifier | None = None
    plant_id: Identifier | None = None
    supplier_id: Identifier | None = None
    lot_id: Identifier | None = None


class LotFilter(_Filter, frozen=True, kw_only=True):
    plant_id: Identifier | None = None
    supplier_id: Identifier | None = None
    item_id: Identifier | None = None
    disposition: LotDisposition | None = None
    supplier_lot_number: Identifier | None = None


class SpecificationFilter(_Filter, frozen=True, kw_only=True):
    item_id: Identifier | None = None


class InspectionFilter(_Filter, frozen=True, kw_only=True):
    lot_id: Identifier | None = None
    plant_id: Identifier | None = None
    supplier_id: Identifier | None = None
    item_id: Identifier | None = None
    status: InspectionStatus | None = None
    result: InspectionResult | None = None
    origin: InspectionOrigin | None = None


class NonconformanceFilter(_Filter, frozen=True, kw_only=True):
    status: NonconformanceStatus | None = None
    type: NonconformanceType | None = None
    severity: Severity | None = None
    plant_id: Identifier | None = None
    supplier_id: Identifier | None = None
    lot_id: Identifier | None = None


class CapaFilter(_Filter, frozen=True, kw_only=True):
    status: NonconformanceStatus | None = None
    plant_id: Identifier | None = None
    supplier_id: Identifier | None = None


class SupplierQualityEventFilter(_Filter, frozen=True, kw_only=True):
    supplier_id: Identifier | None = None
    kind: SupplierQualityEventKind | None = None


@runtime_checkable
class ErpConnector(Protocol):
    """The ERP port: items, suppliers, purchase orders, goods receipts, lots and stock.

    Lists are ordered by the record's id and paginate with connector-issued cursors.
    """

    @property
    def system(self) -> str:
        """The system's name in ``externalRefs`` (``reference-erp``, ``s4hana``, ``tryton``)."""
        ...

    @property
    def capabilities(self) -> frozenset[ErpCapability]: ...

    async def ping(self) -> None:
        """Raise unless the backend answers (readiness)."""
        ...

    async def aclose(self) -> None: ...

    async def list_plants(self, page: PageRequest) -> PlantPage: ...

    async def get_plant(self, plant_id: str) -> Plant: ...

    async def list_items(self, query: ItemFilter, page: PageRequest) -> ItemPage: ...

    async def get_item(self, item_id: str) -> Item: ...

    async def list_suppliers(self, query: SupplierFilter, page: PageRequest) -> SupplierPage: ...

    async def get_supplier(self, supplier_id: str) -> Supplier: ...

    async def set_purchasing_block(
        self,
        supplier_id: str,
        change: PurchasingBlockChange,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Supplier:
        """Block exactly ``change.functions`` (none: lift the block)."""
        ...

    async def list_purchase_orders(
        self, query: PurchaseOrderFilter, page: PageRequest
    ) -> PurchaseOrderPage: ...

    async def get_purchase_order(self, po_id: str) -> PurchaseOrder: ...

    async def list_goods_receipts(
        self, query: GoodsReceiptFilter, page: PageRequest
    ) -> GoodsReceiptPage: ...

    async def get_goods_receipt(self, receipt_id: str) -> GoodsReceipt: ...

    async def post_goods_receipt(self, receipt: GoodsReceiptCreate, *, actor: str) -> GoodsReceipt:
        """Receive into a lot (QUALITY_INSPECTION stock when the item needs inspection at the
        plant). The same PO line and delivery note returns the receipt already posted."""
        ...

    async def list_lots(self, query: LotFilter, page: PageRequest) -> LotPage: ...

    async def get_lot(self, lot_id: str) -> Lot: ...

    async def change_lot_disposition(
        self, lot_id: str, change: LotDispositionChange, *, actor: str, expected_version: int
    ) -> Lot:
        """Set the lot's disposition and stock categories (which must add up)."""
        ...

    async def issue_goods(
        self,
        lot_id: str,
        issue: GoodsIssueCreate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Lot:
        """Consume stock; refused for a lot that is not released (or restricted, from
        RESTRICTED stock)."""
        ...


@runtime_checkable
class QmsConnector(Protocol):
    """The QMS port: specifications, inspections, decisions, nonconformances, CAPA, suppliers."""

    @property
    def system(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[QmsCapability]: ...

    async def ping(self) -> None: ...

    async def aclose(self) -> None: ...

    async def list_specifications(
        self, query: SpecificationFilter, page: PageRequest
    ) -> SpecificationPage: ...

    async def get_specification(
        self, spec_id: str, spec_version: int | None = None
    ) -> Specification:
        """The given version, or the current (highest) one."""
        ...

    async def list_inspections(
        self, query: InspectionFilter, page: PageRequest
    ) -> InspectionPage: ...

    async def get_inspection(self, inspection_id: str) -> Inspection: ...

    async def create_inspection(self, inspection: InspectionCreate, *, actor: str) -> Inspection:
        """Against ``specId`` or the item's current specification; a GOODS_RECEIPT inspection
        of a receipt that already has one returns that one."""
        ...

    async def record_results(
        self,
        inspection_id: str,
        results: ResultsRecord,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Inspection:
        """Valuate each measurement against the spec; the overall result once all are in."""
        ...

    async def record_usage_decision(
        self,
        inspection_id: str,
        decision: UsageDecisionCreate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Inspection: ...

    async def list_nonconformances(
        self, query: NonconformanceFilter, page: PageRequest
    ) -> NonconformancePage: ...

    async def get_nonconformance(self, nc_id: str) -> Nonconformance: ...

    async def create_nonconformance(
        self, nonconformance: NonconformanceCreate, *, actor: str
    ) -> Nonconformance: ...

    async def update_nonconformance(
        self,
        nc_id: str,
        update: NonconformanceUpdate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Nonconformance: ...

    async def list_capas(self, query: CapaFilter, page: PageRequest) -> CapaPage: ...

    async def get_capa(self, capa_id: str) -> Capa: ...

    async def create_capa(self, capa: CapaCreate, *, actor: str) -> Capa: ...

    async def advance_capa(
        self,
        capa_id: str,
        advance: CapaStageAdvance,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Capa: ...

    async def list_supplier_quality_events(
        self, query: SupplierQualityEventFilter, page: PageRequest
    ) -> SupplierQualityEventPage: ...

    async def record_supplier_quality_event(
        self, event: SupplierQualityEventCreate, *, actor: str
    ) -> SupplierQualityEvent: ...

    async def get_supplier_quality_status(self, supplier_id: str) -> SupplierQualityStatus: ...

    async def set_supplier_quality_status(
        self,
        supplier_id: str,
        change: SupplierQualityStatusChange,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> SupplierQualityStatus: ...


class UndeclaredQmsMethods:
    """Every QMS method, refused as unsupported: a connector whose backend has no CAPA (say)
    inherits this and implements what it declares, instead of writing one refusal per method.
    (A method it inherits and declares anyway fails loudly, never returns nothing.)"""

    @property
    def system(self) -> str:
        raise NotImplementedError

    @property
    def capabilities(self) -> frozenset[QmsCapability]:
        raise NotImplementedError

    def _refuse(self, capability: QmsCapability) -> NoReturn:
        require(self, capability)
        raise AssertionError(f"{self.system} declares {capability} but does not implement it")

    async def list_specifications(
        self, query: SpecificationFilter, page: PageRequest
    ) -> SpecificationPage:
        self._refuse(QmsCapability.SPECIFICATIONS)

    async def get_specification(
        self, spec_id: str, spec_version: int | None = None
    ) -> Specification:
        self._refuse(QmsCapability.SPECIFICATIONS)

    async def list_inspections(self, query: InspectionFilter, page: PageRequest) -> InspectionPage:
        self._refuse(QmsCapability.INSPECTIONS)

    async def get_inspection(self, inspection_id: str) -> Inspection:
        self._refuse(QmsCapability.INSPECTIONS)

    async def create_inspection(self, inspection: InspectionCreate, *, actor: str) -> Inspection:
        self._refuse(QmsCapability.INSPECTIONS)

    async def record_results(
        self,
        inspection_id: str,
        results: ResultsRecord,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Inspection:
        self._refuse(QmsCapability.INSPECTION_RESULTS)

    async def record_usage_decision(
        self,
        inspection_id: str,
        decision: UsageDecisionCreate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Inspection:
        self._refuse(QmsCapability.USAGE_DECISION)

    async def list_nonconformances(
        self, query: NonconformanceFilter, page: PageRequest
    ) -> NonconformancePage:
        self._refuse(QmsCapability.NONCONFORMANCES)

    async def get_nonconformance(self, nc_id: str) -> Nonconformance:
        self._refuse(QmsCapability.NONCONFORMANCES)

    async def create_nonconformance(
        self, nonconformance: NonconformanceCreate, *, actor: str
    ) -> Nonconformance:
        self._refuse(QmsCapability.NONCONFORMANCES)

    async def update_nonconformance(
        self,
        nc_id: str,
        update: NonconformanceUpdate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Nonconformance:
        self._refuse(QmsCapability.NONCONFORMANCES)

    async def list_capas(self, query: CapaFilter, page: PageRequest) -> CapaPage:
        self._refuse(QmsCapability.CAPA)

    async def get_capa(self, capa_id: str) -> Capa:
        self._refuse(QmsCapability.CAPA)

    async def create_capa(self, capa: CapaCreate, *, actor: str) -> Capa:
        self._refuse(QmsCapability.CAPA)

    async def advance_capa(
        self,
        capa_id: str,
        advance: CapaStageAdvance,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Capa:
        self._refuse(QmsCapability.CAPA)

    async def list_supplier_quality_events(
        self, query: SupplierQualityEventFilter, page: PageRequest
    ) -> SupplierQualityEventPage:
        self._refuse(QmsCapability.SUPPLIER_QUALITY_EVENTS)

    async def record_supplier_quality_event(
        self, event: SupplierQualityEventCreate, *, actor: str
    ) -> SupplierQualityEvent:
        self._refuse(QmsCapability.SUPPLIER_QUALITY_EVENTS)

    async def get_supplier_quality_status(self, supplier_id: str) -> SupplierQualityStatus:
        self._refuse(QmsCapability.SUPPLIER_QUALITY_STATUS)

    async def set_supplier_quality_status(
        self,
        supplier_id: str,
        change: SupplierQualityStatusChange,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> SupplierQualityStatus:
        self._refuse(QmsCapability.SUPPLIER_QUALITY_STATUS)
