"""Procurement holds: placed by a containment case, enforced at qgate's receipt operations,
lifted once the supplier's CAPA is verified (with a second person's approval by policy)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from process_apis.clients.system import SystemClient
from process_apis.holds.models import (
    ENFORCED,
    Enforcement,
    HoldApproval,
    HoldDecision,
    HoldLiftApproval,
    HoldStatus,
    ProcurementHold,
)
from process_apis.holds.store import HoldStore
from shared.audit import AuditCaller, AuditEntry, AuditTrail
from shared.auth import Caller, Principal
from shared.delegation import chain_for
from shared.errors import (
    CapabilityUnsupported,
    NotFound,
    ProcurementHoldActive,
    SelfApproval,
    TransitionNotAllowed,
)
from shared.models import BlockedFunction
from shared.models.commands import PurchasingBlockChange
from shared.settings import ContainmentSettings

__all__ = ["ERP_FUNCTIONS", "HoldService"]

_log = logging.getLogger("qgate.process.holds")
ERP_FUNCTIONS: Final = (BlockedFunction.PURCHASE_ORDER, BlockedFunction.GOODS_RECEIPT)
"""What a containment blocks in the ERP when ``erp_supplier_block`` is on."""


class HoldService:
    def __init__(
        self,
        *,
        system: SystemClient,
        store: HoldStore,
        audit: AuditTrail,
        policy: ContainmentSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.system = system
        self.store = store
        self.audit = audit
        self.policy = policy
        self._clock = clock

    async def get(self, hold_id: str) -> ProcurementHold:
        found = await self.store.get(hold_id)
        if found is None:
            raise NotFound(f"No procurement hold {hold_id}.")
        return found

    async def check_receipt(self, supplier_id: str, item_id: str, received_at: datetime) -> None:
        """Raise :class:`ProcurementHoldActive` when a hold placed before ``received_at`` covers
        the supplier's item (a receipt already on the books when the hold came is not held)."""
        for hold in await self.store.find(supplier_id=supplier_id, item_id=item_id, limit=200):
            if hold.status in ENFORCED and hold.placed_at <= received_at:
                raise ProcurementHoldActive(
                    f"Purchasing of item {item_id} from supplier {supplier_id} is on hold "
                    f"({hold.hold_id}, containment {hold.containment_id}): {hold.reason}"
                )

    async def place(
        self, hold: ProcurementHold, chain: Sequence[Caller], correlation_id: str | None
    ) -> ProcurementHold:
        """Store the hold (once: placing it again answers the stored one) and, by policy, block
        the supplier in the ERP too. Retryable errors propagate (the saga retries the step)."""
        stored, created = await self.store.create(hold)
        if created:
            await self._audit(
                stored,
                "procurement-hold.placed",
                chain,
                correlation_id,
                after={"status": stored.status.value, "itemId": stored.item_id},
            )
        if stored.enforcement is Enforcement.QGATE_AND_ERP or stored.erp_detail is not None:
            return stored
        if not self.policy.erp_supplier_block:
            return await self._update(
                stored, erp_detail="Held in qgate (QGATE_CONTAINMENT_ERP_SUPPLIER_BLOCK is off)."
            )
        try:
            supplier = await self.system.supplier(stored.supplier_id, chain)
            current = set(supplier.purchasing_block.functions if supplier.purchasing_block else [])
            if not stored.erp_functions:
                # The functions this hold adds are saved before the ERP is asked, so a retry
                # after a lost answer still knows which ones to give back when it is lifted.
                added = [f for f in ERP_FUNCTIONS if f not in current]
                if not added:
                    return await self._update(
                        stored, erp_detail="The supplier's purchasing is already blocked."
                    )
                stored = await self._update(stored, erp_functions=added)
            wanted = sorted(current | set(stored.erp_functions))
            if wanted != sorted(current):
                await self.system.set_purchasing_block(
                    stored.supplier_id,
                    PurchasingBlockChange(functions=wanted, reason=stored.reason[:500]),
                    key=f"{stored.containment_id}.hold.erp",
                    chain=chain,
                )
        except CapabilityUnsupported as exc:
            return await self._update(
                stored,
                erp_functions=[],
                erp_detail=f"The ERP cannot block purchasing ({exc.detail}): held in qgate.",
            )
        blocked = await self._update(stored, enforcement=Enforcement.QGATE_AND_ERP)
        await self._audit(
            blocked,
            "supplier.purchasing-blocked",
            chain,
            correlation_id,
            entity=("Supplier", blocked.supplier_id),
            before={"functions": sorted(current)},
            after={"functions": wanted, "holdId": blocked.hold_id},
        )
        return blocked

    async def propose_lift(
        self,
        hold: ProcurementHold,
        *,
        proposed_by: str,
        reason: str,
        chain: Sequence[Caller],
        correlation_id: str | None,
    ) -> ProcurementHold:
        """The CAPA is verified: wait for a second person, or (policy) lift at once."""
        if hold.status is not HoldStatus.ACTIVE:
            return hold
        if not self.policy.lift_requires_approval:
            return await self._lift(hold, reason, chain, correlation_id)
        proposed = await self._update(
            hold,
            status=HoldStatus.LIFT_PENDING_APPROVAL,
            lift_proposed_at=self._clock(),
            lift_proposed_by=proposed_by,
            lift_reason=reason,
        )
        await self._audit(
            proposed,
            "procurement-hold.lift-proposed",
            chain,
            correlation_id,
            reason=reason,
            before={"status": hold.status.value},
            after={"status": proposed.status.value, "proposedBy": proposed_by},
        )
        return proposed

    async def approve(
        self, hold_id: str, body: HoldLiftApproval, principal: Principal
    ) -> ProcurementHold:
        """A second person lifts the hold (or declines: it stays ACTIVE). The person who
        verified the CAPA cannot approve (403 ``self-approval``)."""
        chain = chain_for(principal)
        person = AuditCaller.of(chain[0])
        hold = await self.get(hold_id)
        if hold.status is not HoldStatus.LIFT_PENDING_APPROVAL:
            raise TransitionNotAllowed(
                f"Procurement hold {hold_id} is {hold.status.value}, not awaiting approval of "
                "its lift."
            )
        if person.subject == hold.lift_proposed_by:
            raise SelfApproval(
                f"{person.subject} verified the CAPA behind this lift and cannot approve it "
                "too: another person holding quality.disposition.approve must."
            )
        approval = HoldApproval(
            decision=body.decision,
            approver=person,
            reason=body.reason,
            signature_meaning=body.signature_meaning,
            decided_at=self._clock(),
        )
        if body.decision is HoldDecision.DECLINE:
            declined = await self._update(
                hold, status=HoldStatus.ACTIVE, approvals=[*hold.approvals, approval]
            )
            await self._audit(
                declined,
                "procurement-hold.lift-declined",
                chain,
                None,
                reason=body.reason,
                signature=body.signature_meaning,
                before={"status": hold.status.value},
                after={"status": declined.status.value},
            )
            return declined
        approved = msgspec.structs.replace(hold, approvals=[*hold.approvals, approval])
        return await self._lift(
            approved, body.reason, chain, None, signature=body.signature_meaning
        )

    async def _lift(
        self,
        hold: ProcurementHold,
        reason: str,
        chain: Sequence[Caller],
        correlation_id: str | None,
        *,
        signature: str | None = None,
    ) -> ProcurementHold:
        if hold.erp_functions:
            await self._unblock_erp(hold, chain)
        lifted = await self._update(
            hold, status=HoldStatus.LIFTED, lifted_at=self._clock(), lift_reason=reason
        )
        await self._audit(
            lifted,
            "procurement-hold.lifted",
            chain,
            correlation_id,
            reason=reason,
            signature=signature,
            before={"status": HoldStatus.ACTIVE.value},
            after={"status": lifted.status.value, "erpFunctions": lifted.erp_functions},
        )
        return lifted

    async def _unblock_erp(self, hold: ProcurementHold, chain: Sequence[Caller]) -> None:
        """Give back the functions this hold blocked, unless another enforced hold of the
        supplier blocked them in the ERP too."""
        others = [
            h
            for h in await self.store.find(supplier_id=hold.supplier_id, limit=200)
            if h.hold_id != hold.hold_id and h.status in ENFORCED and h.erp_functions
        ]
        still = {f for h in others for f in h.erp_functions}
        supplier = await self.system.supplier(hold.supplier_id, chain)
        current = set(supplier.purchasing_block.functions if supplier.purchasing_block else [])
        remaining = sorted(current - (set(hold.erp_functions) - still))
        if remaining != sorted(current):
            await self.system.set_purchasing_block(
                hold.supplier_id,
                PurchasingBlockChange(functions=remaining, reason=f"Hold {hold.hold_id} lifted"),
                key=f"{hold.containment_id}.hold.erp-lift",
                chain=chain,
            )

    async def _update(self, hold: ProcurementHold, **changes: Any) -> ProcurementHold:
        updated = msgspec.structs.replace(
            hold, version=hold.version + 1, updated_at=self._clock(), **changes
        )
        await self.store.save(updated)
        return updated

    async def _audit(
        self,
        hold: ProcurementHold,
        action: str,
        chain: Sequence[Caller],
        correlation_id: str | None,
        *,
        entity: tuple[str, str] | None = None,
        reason: str | None = None,
        signature: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        callers = [AuditCaller.of(c) for c in chain]
        entity_type, entity_id = entity or ("ProcurementHold", hold.hold_id)
        await self.audit.append(
            AuditEntry(
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                actor=callers[-1],
                on_behalf_of=callers[:-1],
                reason=reason or hold.reason,
                before=before,
                after={
                    **(after or {}),
                    "holdId": hold.hold_id,
                    "containmentId": hold.containment_id,
                    "supplierId": hold.supplier_id,
                },
                correlation_id=correlation_id,
                signature_meaning=signature,
            )
        )
