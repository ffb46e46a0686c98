"""The parts of the process API's answers the experience layer reads.

The layers share only ``shared``: the process layer's own resources (dispositions, supplier
status, audit records, results outcomes) are read here from its published contract, field by
field, with only the fields the views use (unknown fields are ignored, so the process contract
can grow without breaking this layer). Canonical records (lots, inspections, nonconformances)
come from ``shared.models``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from shared.models import DispositionCode, LotDisposition, QgateStruct, SupplierQualityStatusCode
from shared.models.qms import Inspection
from shared.models.records import Page

__all__ = [
    "AuditCallerRead",
    "AuditPageRead",
    "AuditRecordRead",
    "ContainmentCaseRead",
    "ContainmentPageRead",
    "ContainmentSummaryRead",
    "DispositionRead",
    "RejectionRateRead",
    "ResultsOutcomeRead",
    "StepRead",
    "SupplierQualityRead",
]


class RejectionRateRead(QgateStruct, frozen=True, kw_only=True):
    window_days: int
    inspections: int
    failed_inspections: int
    ppm: float


class SupplierQualityRead(QgateStruct, frozen=True, kw_only=True):
    supplier_id: str
    status: SupplierQualityStatusCode
    reasons: list[str]
    open_nonconformances: list[str] = msgspec.field(default_factory=list)
    open_critical_nonconformances: int = 0
    open_capas: list[str] = msgspec.field(default_factory=list)
    rejection_rate: RejectionRateRead
    evaluated_at: datetime


class AuditCallerRead(QgateStruct, frozen=True, kw_only=True):
    client_id: str
    subject: str


class StepRead(QgateStruct, frozen=True, kw_only=True):
    status: str
    applied_at: datetime | None = None
    detail: str | None = None


class DispositionRead(QgateStruct, frozen=True, kw_only=True):
    disposition_id: str
    status: str
    lot_id: str
    decision: DispositionCode
    target_disposition: LotDisposition
    from_disposition: LotDisposition | None = None
    reason: str
    nc_id: str | None = None
    inspection_id: str | None = None
    requested_by: AuditCallerRead
    requires_approval: bool = False
    qms: StepRead
    erp: StepRead
    last_error: str | None = None
    created_at: datetime


class ResultsOutcomeRead(QgateStruct, frozen=True, kw_only=True):
    inspection: Inspection
    proposed_decision: DispositionCode | None = None
    disposition: DispositionRead | None = None
    disposition_problem: str | None = None


class AuditRecordRead(QgateStruct, frozen=True, kw_only=True):
    seq: int
    occurred_at: datetime
    action: str
    entity_type: str
    entity_id: str
    actor: AuditCallerRead
    on_behalf_of: list[AuditCallerRead] = msgspec.field(default_factory=list)
    reason: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    correlation_id: str | None = None
    signature_meaning: str | None = None


class AuditPageRead(QgateStruct, frozen=True, kw_only=True):
    items: list[AuditRecordRead]
    next_cursor: str | None = None


class ContainmentSummaryRead(QgateStruct, frozen=True, kw_only=True):
    containment_id: str
    status: str
    supplier_id: str
    item_id: str
    supplier_lot_number: str | None = None
    plant_ids: list[str] = msgspec.field(default_factory=list)
    inspection_id: str
    nc_id: str | None = None
    opened_at: datetime
    contained_at: datetime | None = None
    closed_at: datetime | None = None
    acknowledged_at: datetime | None = None


class ContainmentPageRead(Page[ContainmentSummaryRead], frozen=True, kw_only=True):
    pass


class TriggerLotRead(QgateStruct, frozen=True, kw_only=True):
    lot_id: str
    plant_id: str


class TriggerRead(QgateStruct, frozen=True, kw_only=True):
    inspection_id: str
    lot: TriggerLotRead
    failed_characteristics: list[str] = msgspec.field(default_factory=list)


class AffectedLotRead(QgateStruct, frozen=True, kw_only=True):
    lot_id: str
    plant_id: str
    trigger: bool = False
    action: str
    status: str


class ContainmentActionRead(QgateStruct, frozen=True, kw_only=True):
    description: str
    completed_at: datetime | None = None
    lot_numbers: list[str] = msgspec.field(default_factory=list)


class DocumentReferenceRead(QgateStruct, frozen=True, kw_only=True):
    title: str
    reference: str


class SupplierResponseRead(QgateStruct, frozen=True, kw_only=True):
    response_id: str
    actions: list[ContainmentActionRead] = msgspec.field(default_factory=list)
    d3_answer: str | None = None
    documents: list[DocumentReferenceRead] = msgspec.field(default_factory=list)
    responded_by: AuditCallerRead
    responded_at: datetime


class ContainmentCaseRead(QgateStruct, frozen=True, kw_only=True):
    containment_id: str
    status: str
    trigger: TriggerRead
    supplier_id: str
    item_id: str
    supplier_lot_number: str | None = None
    plant_ids: list[str] = msgspec.field(default_factory=list)
    lots: list[AffectedLotRead] = msgspec.field(default_factory=list)
    nc_id: str | None = None
    responses: list[SupplierResponseRead] = msgspec.field(default_factory=list)
    acknowledged_at: datetime | None = None
    opened_at: datetime
    contained_at: datetime | None = None
    closed_at: datetime | None = None
