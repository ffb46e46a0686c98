"""The supplier quality status view: ERP blocks, QMS cases and the rejection rate, combined."""

from __future__ import annotations

from typing import Annotated

import msgspec

from shared.models import BlockedFunction, QgateStruct, SupplierQualityStatusCode, Timestamp
from shared.models._types import CapaId, NcId, SupplierId

__all__ = ["RejectionRate", "SupplierQualityView"]


class RejectionRate(QgateStruct, frozen=True, kw_only=True):
    """Incoming quality over the window: quantity of failed inspections per million inspected."""

    window_days: int
    since: Timestamp
    inspections: int
    """Inspections with an overall result (PASS, CONDITIONAL_PASS or FAIL) in the window."""
    failed_inspections: int
    inspected_quantity: Annotated[float, msgspec.Meta(ge=0)]
    rejected_quantity: Annotated[float, msgspec.Meta(ge=0)]
    ppm: Annotated[float, msgspec.Meta(ge=0)]
    """Rejected per million inspected (0 when nothing was inspected)."""


class SupplierQualityView(QgateStruct, frozen=True, kw_only=True):
    supplier_id: SupplierId
    name: str
    status: SupplierQualityStatusCode
    """The resulting status: the worse of the QMS's recorded status and what the figures say."""
    reasons: list[str]
    """Why the status is what it is, one sentence per finding."""
    recorded_status: SupplierQualityStatusCode
    """The status the QMS keeps for the supplier."""
    purchasing_blocked: bool
    """The ERP's purchasing block."""
    blocked_functions: list[BlockedFunction] = msgspec.field(default_factory=list)
    open_nonconformances: list[NcId] = msgspec.field(default_factory=list)
    open_critical_nonconformances: int = 0
    open_capas: list[CapaId] = msgspec.field(default_factory=list)
    rejection_rate: RejectionRate
    evaluated_at: Timestamp
