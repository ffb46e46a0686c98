"""Canonical commands: the request bodies of the system APIs, taken as-is by the connectors.

Each is a :class:`~shared.models.RequestStruct` (unknown fields are refused). Rules that span
fields (a lot's quantities adding up, allowed status transitions) are the connector's to enforce,
because they depend on the record's current state.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.models._types import (
    BlockedFunction,
    CapaStage,
    CapaType,
    CharacteristicId,
    DispositionCode,
    InspectionId,
    InspectionOrigin,
    ItemId,
    LotDisposition,
    LotId,
    LotNumber,
    MaterialDisposition,
    NcId,
    NonconformanceStatus,
    NonconformanceType,
    PlantId,
    PurchaseOrderId,
    Reason,
    ReceiptId,
    Reference,
    Severity,
    ShortText,
    SpecId,
    StockCategory,
    SupplierId,
    SupplierLotNumber,
    SupplierQualityEventKind,
    SupplierQualityStatusCode,
    Text,
    Timestamp,
    UserId,
)
from shared.models.base import RequestStruct
from shared.models.qms import Measure, SignatureMeaning, TargetQuantity

__all__ = [
    "CapaCreate",
    "CapaStageAdvance",
    "GoodsIssueCreate",
    "GoodsReceiptCreate",
    "InspectionCreate",
    "LotDispositionChange",
    "Measurement",
    "NonconformanceCreate",
    "NonconformanceUpdate",
    "PurchasingBlockChange",
    "ResultsRecord",
    "SupplierQualityEventCreate",
    "SupplierQualityStatusChange",
    "TargetQuantityInput",
    "UsageDecisionCreate",
]


class TargetQuantityInput(TargetQuantity, RequestStruct, frozen=True, kw_only=True):
    """How much of the lot goes to which stock category (unknown fields refused)."""


PositiveQuantity = Annotated[
    float, msgspec.Meta(gt=0, le=1_000_000_000, description="More than zero.", examples=[40.0])
]


class PurchasingBlockChange(RequestStruct, frozen=True, kw_only=True):
    """Set a supplier's purchasing block to exactly these functions; none lifts the block."""

    functions: Annotated[
        list[BlockedFunction],
        msgspec.Meta(max_length=4, examples=[["PURCHASE_ORDER", "GOODS_RECEIPT"]]),
    ]
    reason: Reason


class GoodsReceiptCreate(RequestStruct, frozen=True, kw_only=True):
    """Receive a quantity against a purchase-order line into a (new or existing) lot."""

    po_id: PurchaseOrderId
    line_no: Annotated[int, msgspec.Meta(ge=1, le=99999, examples=[10])]
    quantity: PositiveQuantity
    lot_number: LotNumber | None = None
    """The ERP batch; a new one is numbered when absent."""
    supplier_lot_number: SupplierLotNumber | None = None
    delivery_note: Reference | None = None
    """Natural key with the PO line: a receipt of the same delivery note is not posted twice."""


class LotDispositionChange(RequestStruct, frozen=True, kw_only=True):
    """The ERP half of a disposition: set the lot's status and where its stock sits."""

    disposition: LotDisposition
    reason: Reason
    quantities: Annotated[list[TargetQuantityInput], msgspec.Meta(max_length=5)] = msgspec.field(
        default_factory=list
    )
    """The lot's stock by category afterwards (must add up to the lot's quantity, one entry per
    category at most); empty moves all of it to the disposition's default category."""
    reference: Reference | None = None
    """The disposition this change applies (kept in the lot's history)."""


class GoodsIssueCreate(RequestStruct, frozen=True, kw_only=True):
    """Issue (consume) stock of a lot; only released stock can be issued."""

    quantity: PositiveQuantity
    category: StockCategory = StockCategory.AVAILABLE
    """AVAILABLE, or RESTRICTED for a restricted lot; other categories cannot be issued."""
    reference: Reference | None = None


class InspectionCreate(RequestStruct, frozen=True, kw_only=True):
    """Open an inspection of a lot against the item's current specification (or ``specId``)."""

    origin: InspectionOrigin
    lot_id: LotId
    item_id: ItemId
    plant_id: PlantId
    quantity: PositiveQuantity
    supplier_id: SupplierId | None = None
    goods_receipt_id: ReceiptId | None = None
    """Natural key for GOODS_RECEIPT inspections: one inspection per receipt."""
    spec_id: SpecId | None = None


class Measurement(RequestStruct, frozen=True, kw_only=True):
    characteristic_id: CharacteristicId
    measured_value: Measure | None = None
    """For quantitative characteristics."""
    conforming: bool | None = None
    """For qualitative characteristics."""
    note: Text | None = None


class ResultsRecord(RequestStruct, frozen=True, kw_only=True):
    results: Annotated[list[Measurement], msgspec.Meta(min_length=1, max_length=100)]


class UsageDecisionCreate(RequestStruct, frozen=True, kw_only=True):
    decision: DispositionCode
    reason: Reason
    decided_by: UserId
    quantities: Annotated[list[TargetQuantityInput], msgspec.Meta(max_length=5)] = msgspec.field(
        default_factory=list
    )
    signature_meaning: SignatureMeaning | None = None
    source_code: Annotated[str, msgspec.Meta(max_length=40, examples=["A1"])] | None = None


class NonconformanceCreate(RequestStruct, frozen=True, kw_only=True):
    type: NonconformanceType
    severity: Severity
    title: ShortText
    plant_id: PlantId
    description: Text = ""
    supplier_id: SupplierId | None = None
    item_id: ItemId | None = None
    lot_ids: Annotated[list[LotId], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )
    inspection_id: InspectionId | None = None


class NonconformanceUpdate(RequestStruct, frozen=True, kw_only=True):
    """Change a nonconformance; ``status`` follows the allowed transitions."""

    reason: Reason
    status: NonconformanceStatus | None = None
    severity: Severity | None = None
    material_disposition: MaterialDisposition | None = None
    description: Text | None = None


class CapaCreate(RequestStruct, frozen=True, kw_only=True):
    type: CapaType
    title: ShortText
    plant_id: PlantId
    owner: UserId
    supplier_id: SupplierId | None = None
    nc_ids: Annotated[list[NcId], msgspec.Meta(max_length=100)] = msgspec.field(
        default_factory=list
    )


class CapaStageAdvance(RequestStruct, frozen=True, kw_only=True):
    """Complete the CAPA's current 8D stage (named, as a guard against double advances)."""

    stage: CapaStage
    summary: Annotated[str, msgspec.Meta(min_length=1, max_length=4000, examples=["Sorted."])]


class SupplierQualityEventCreate(RequestStruct, frozen=True, kw_only=True):
    supplier_id: SupplierId
    kind: SupplierQualityEventKind
    occurred_at: Timestamp | None = None
    plant_id: PlantId | None = None
    item_id: ItemId | None = None
    lot_id: LotId | None = None
    inspection_id: InspectionId | None = None
    nc_id: NcId | None = None
    description: Text = ""


class SupplierQualityStatusChange(RequestStruct, frozen=True, kw_only=True):
    status: SupplierQualityStatusCode
    reason: Reason
    blocked_functions: Annotated[list[BlockedFunction], msgspec.Meta(max_length=4)] = msgspec.field(
        default_factory=list
    )
