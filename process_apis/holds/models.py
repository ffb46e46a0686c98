"""Procurement holds kept in qgate: purchasing of an item from a supplier on hold.

The canonical ERP contract blocks purchasing per supplier only (and a connector such as Tryton's
cannot block at all: 501), so the hold of one supplier's item that a containment case needs is
kept here, visible at ``GET /process/v1/procurement-holds`` and enforced at qgate's own receipt
operations (``POST /process/v1/inspection-requests`` answers 409 ``procurement-hold``). Where
configured, the supplier is also blocked in the ERP (``erpFunctions``).
"""

from __future__ import annotations

import enum
from typing import Annotated, Final

import msgspec

from shared.audit import AuditCaller
from shared.models import BlockedFunction, QgateStruct, RequestStruct, Timestamp
from shared.models._types import ItemId, Reason, SupplierId, UserId
from shared.models.qms import SignatureMeaning

__all__ = [
    "ENFORCED",
    "HOLD_ID_PATTERN",
    "Enforcement",
    "HoldApproval",
    "HoldDecision",
    "HoldId",
    "HoldLiftApproval",
    "HoldPage",
    "HoldStatus",
    "ProcurementHold",
    "hold_id_for",
]

HOLD_ID_PATTERN: Final = r"^HLD-[0-9A-F]{20}$"
HoldId = Annotated[
    str,
    msgspec.Meta(
        pattern=HOLD_ID_PATTERN,
        description="A procurement hold's id (the containment case's, with HLD-).",
        examples=["HLD-019A6B2C3D4E5F607182"],
    ),
]


def hold_id_for(containment_id: str) -> str:
    """One hold per containment case: its id is derived from the case's, so placing it again
    finds the same hold."""
    return "HLD-" + containment_id.removeprefix("CNT-")


class HoldStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    """Receipts of the item from the supplier are refused."""
    LIFT_PENDING_APPROVAL = "LIFT_PENDING_APPROVAL"
    """The CAPA is verified and the nonconformance closed; a second person approves the lift.
    Still enforced until then."""
    LIFTED = "LIFTED"


ENFORCED: Final = frozenset({HoldStatus.ACTIVE, HoldStatus.LIFT_PENDING_APPROVAL})


class Enforcement(enum.StrEnum):
    QGATE = "QGATE"
    """Kept and enforced by qgate only (the ERP cannot block the supplier for one item)."""
    QGATE_AND_ERP = "QGATE_AND_ERP"
    """Also a purchasing block of the supplier in the ERP (``erpFunctions``)."""


class HoldDecision(enum.StrEnum):
    APPROVE = "APPROVE"
    DECLINE = "DECLINE"


class HoldLiftApproval(RequestStruct, frozen=True, kw_only=True):
    """A second person's answer to a hold waiting to be lifted."""

    decision: HoldDecision
    reason: Reason
    signature_meaning: SignatureMeaning | None = None


class HoldApproval(QgateStruct, frozen=True, kw_only=True):
    decision: HoldDecision
    approver: AuditCaller
    reason: Reason
    signature_meaning: SignatureMeaning | None = None
    decided_at: Timestamp


class ProcurementHold(QgateStruct, frozen=True, kw_only=True):
    hold_id: HoldId
    version: Annotated[int, msgspec.Meta(ge=1)] = 1
    status: HoldStatus
    supplier_id: SupplierId
    item_id: ItemId
    containment_id: str
    reason: Reason
    enforcement: Enforcement = Enforcement.QGATE
    erp_functions: list[BlockedFunction] = msgspec.field(default_factory=list)
    """The supplier's purchasing functions qgate blocked in the ERP (lifted with the hold)."""
    erp_detail: str | None = None
    """Why the ERP does not block it too (not configured, or the ERP cannot: 501)."""
    placed_at: Timestamp
    lift_proposed_at: Timestamp | None = None
    lift_proposed_by: UserId | None = None
    """Who verified the CAPA's effectiveness: they may not approve the lift too."""
    lift_reason: str | None = None
    approvals: list[HoldApproval] = msgspec.field(default_factory=list)
    lifted_at: Timestamp | None = None
    updated_at: Timestamp


class HoldPage(QgateStruct, frozen=True, kw_only=True):
    """Holds, oldest first; pass ``nextCursor`` back as ``cursor`` for more."""

    items: list[ProcurementHold]
    next_cursor: str | None = None
