"""Lot disposition: one decision applied to QMS and ERP exactly once.

A disposition moves through these steps, each saved before the next one starts, so whichever
replica picks it up (the request itself, or the retry worker after an outage or a crash) goes on
from where the last one stopped:

1. **Validate** against the lot as the ERP has it: the transition must be in
   :data:`~shared.models.lifecycle.DISPOSITION_TRANSITIONS`; a release of a BLOCKED (or REJECTED)
   lot needs a nonconformance decided USE_AS_IS that names the lot, and a second person's
   approval (PENDING_APPROVAL). The lot's ETag is fixed here: the ERP change is always sent with
   it. While the ERP is down this waits (PENDING_ERP) and nothing is written anywhere.
2. **QMS**: the usage decision of the inspection it concludes (the one named, else the lot's one
   inspection awaiting a decision; none: NOT_REQUIRED).
3. **ERP**: the lot's disposition change, with ``If-Match`` from step 1.

Each downstream write carries a key derived from the disposition id and the step
(``<id>.qms`` / ``<id>.erp``), so a retry is answered from the system layer's idempotency store
instead of posting twice. Should that store have forgotten it, the ERP answers 412 (the ETag of
step 1 is stale once the change is made) and the lot is read: already in the target disposition
means the change was made. A QMS that refuses a second usage decision is checked the same way.

Retryable failures (the system layer or a backend unavailable, timeouts, a busy key) leave the
disposition PENDING_QMS / PENDING_ERP with ``nextAttemptAt`` set by exponential backoff with
jitter; after ``max_attempts`` it is FAILED. A permanent refusal makes it FAILED at once, with the
step that refused, its reason, and the steps after it SKIPPED: never a half-applied change
without a record. Every state change appends an audit record; the lot's change itself exactly
one (``lot.disposition-changed``): the disposition is saved as applied in the ERP first, then the
record is written, then the disposition is APPLIED. A replica that stops between the last two
leaves a disposition that says so, and only for such a one is the trail searched before the
record is written, so a crash can neither lose nor duplicate it. The save that makes it APPLIED
also puts the ``com.qgate.lot.disposition-changed.v1`` event in the store's outbox, in the same
atomic step (:mod:`shared.events`), with an id derived from the disposition: it is published
once the change is saved, and never without it.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from process_apis.clients.system import SystemClient
from process_apis.dispositions.models import (
    TERMINAL,
    Approval,
    ApprovalDecision,
    Disposition,
    DispositionApproval,
    DispositionStatus,
    LotDispositionRequest,
    StepStatus,
    SystemStep,
    new_disposition_id,
)
from process_apis.dispositions.store import DispositionStore, LotBusy, StaleDisposition
from shared.audit import MAX_LIMIT, AuditCaller, AuditEntry, AuditTrail
from shared.auth import Caller, Principal
from shared.correlation import current_correlation_id
from shared.delegation import chain_for
from shared.errors import (
    BackendRejected,
    CapabilityUnsupported,
    DownstreamRejected,
    NotFound,
    PreconditionFailed,
    QgateError,
    SelfApproval,
    TransitionNotAllowed,
)
from shared.events import (
    LOT_DISPOSITION_CHANGED,
    QUALITY_STREAM,
    CloudEvent,
    derived_event_id,
    new_event,
)
from shared.models import (
    DispositionCode,
    InspectionStatus,
    LotDisposition,
    MaterialDisposition,
    NonconformanceStatus,
)
from shared.models.commands import LotDispositionChange, TargetQuantityInput, UsageDecisionCreate
from shared.models.erp import Lot
from shared.models.lifecycle import DECISION_TARGET, DISPOSITION_TRANSITIONS
from shared.models.qms import Inspection, TargetQuantity
from shared.settings import ProcessSettings

__all__ = [
    "EVENT_SOURCE",
    "DispositionService",
    "RetryPolicy",
    "check_quantities",
    "check_transition",
]

_log = logging.getLogger("qgate.process.dispositions")
_D = LotDisposition
_S = DispositionStatus

FOUR_EYES_FROM: Final = frozenset({_D.BLOCKED, _D.REJECTED})
"""A release from these dispositions needs a USE_AS_IS nonconformance and a second person."""
_QUANTITY_TOLERANCE: Final = 0.0005
EVENT_SOURCE: Final = "/process/v1/lot-dispositions"
_PERMANENT: Final = (
    BackendRejected,
    TransitionNotAllowed,
    NotFound,
    CapabilityUnsupported,
    DownstreamRejected,
)


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    base_seconds: float
    max_seconds: float
    max_attempts: int
    lease_seconds: float

    @classmethod
    def of(cls, settings: ProcessSettings) -> RetryPolicy:
        return cls(
            base_seconds=settings.retry_base_seconds,
            max_seconds=settings.retry_max_seconds,
            max_attempts=settings.max_attempts,
            lease_seconds=settings.lease_seconds,
        )

    def delay(self, attempts: int) -> float:
        """Exponential backoff with jitter: between half and all of ``base * 2^(n-1)``."""
        ceiling = min(self.max_seconds, self.base_seconds * math.pow(2, max(attempts - 1, 0)))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography


def _callers(principal: Principal) -> list[AuditCaller]:
    """The person first, the authenticated client last."""
    return [AuditCaller.of(caller) for caller in chain_for(principal)]


def _as_caller(caller: AuditCaller) -> Caller:
    return Caller(
        client_id=caller.client_id,
        subject=caller.subject,
        supplier_id=caller.supplier_id,
        plants=tuple(caller.plants),
    )


def _chain(disposition: Disposition) -> tuple[Caller, ...]:
    """Who to act for downstream: the requester, then the clients it came through."""
    return tuple(_as_caller(c) for c in (disposition.requested_by, *disposition.requested_via))


def _problem(exc: Exception) -> str:
    if isinstance(exc, QgateError):
        return f"{exc.title}: {exc.detail}" if exc.detail else exc.title
    return type(exc).__name__


def check_transition(lot_id: str, current: LotDisposition, target: LotDisposition) -> None:
    """Raise :class:`TransitionNotAllowed` unless ``current -> target`` is in the table."""
    allowed = DISPOSITION_TRANSITIONS[current]
    if target not in allowed:
        options = ", ".join(sorted(d.value for d in allowed)) or "none (it is final)"
        raise TransitionNotAllowed(
            f"Lot {lot_id} is {current.value}; it cannot become {target.value}. "
            f"Allowed from {current.value}: {options}."
        )


def check_quantities(lot: Lot, quantities: Sequence[TargetQuantity]) -> None:
    """The split must name each category once and add up to the lot's quantity."""
    if not quantities:
        return
    categories = [q.category for q in quantities]
    if len(set(categories)) != len(categories):
        raise TransitionNotAllowed("Each stock category may be named once in the quantities.")
    total = sum(q.quantity for q in quantities)
    if abs(total - lot.total_quantity) > _QUANTITY_TOLERANCE:
        raise TransitionNotAllowed(
            f"The quantities add up to {total:g} but lot {lot.lot_id} holds "
            f"{lot.total_quantity:g} {lot.uom}."
        )


class DispositionService:
    """Requests, approvals and the apply engine; shared by the routes and the retry worker."""

    def __init__(
        self,
        *,
        system: SystemClient,
        store: DispositionStore,
        audit: AuditTrail,
        policy: RetryPolicy,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.system = system
        self.store = store
        self.audit = audit
        self.policy = policy
        self._clock = clock
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    # Requests

    async def request(self, body: LotDispositionRequest, principal: Principal) -> Disposition:
        """Validate and store a new disposition, then apply it as far as the systems allow."""
        callers = _callers(principal)
        chain = chain_for(principal)
        target = DECISION_TARGET[body.decision]
        quantities = [
            TargetQuantity(category=q.category, quantity=q.quantity) for q in body.quantities
        ]
        lot, etag = await self._lot_if_reachable(body.lot_id, chain)
        needs_approval = False
        if lot is not None:
            check_transition(lot.lot_id, lot.disposition, target)
            check_quantities(lot, quantities)
            needs_approval = lot.disposition in FOUR_EYES_FROM and target is _D.RELEASED
            if needs_approval:
                await self._check_release_nc(body.lot_id, body.nc_id, chain)
        if body.inspection_id is not None:
            await self._check_inspection(body.lot_id, body.inspection_id, body.decision, chain)
        now = self._clock()
        disposition = Disposition(
            disposition_id=new_disposition_id(),
            status=(
                _S.PENDING_APPROVAL
                if needs_approval
                else _S.PENDING_QMS
                if lot is not None
                else _S.PENDING_ERP
            ),
            lot_id=body.lot_id,
            decision=body.decision,
            target_disposition=target,
            from_disposition=lot.disposition if lot is not None else None,
            reason=body.reason,
            inspection_id=body.inspection_id,
            nc_id=body.nc_id,
            quantities=quantities,
            signature_meaning=body.signature_meaning,
            requested_by=callers[0],
            requested_via=callers[1:],
            requires_approval=needs_approval,
            qms=SystemStep(reference=body.inspection_id),
            lot_etag=etag,
            correlation_id=current_correlation_id(),
            created_at=now,
            updated_at=now,
            # If this replica dies while applying it, the worker takes over after the lease.
            next_attempt_at=None
            if needs_approval
            else now + timedelta(seconds=self.policy.lease_seconds),
        )
        try:
            await self.store.create(disposition)
        except LotBusy as exc:
            raise TransitionNotAllowed(
                f"Lot {body.lot_id} already has the disposition {exc.holder} in progress; "
                "wait until it is applied, failed or declined."
            ) from exc
        await self._audit(
            disposition,
            "lot-disposition.requested",
            actor=callers,
            after={
                "status": disposition.status.value,
                "decision": body.decision.value,
                "lotId": body.lot_id,
                "fromDisposition": lot.disposition.value if lot is not None else None,
                "targetDisposition": target.value,
            },
        )
        if needs_approval:
            return disposition
        return await self.advance(disposition.disposition_id, disposition)

    async def approve(
        self, disposition_id: str, body: DispositionApproval, principal: Principal
    ) -> Disposition:
        """The second person's answer (four eyes: the requester cannot give it)."""
        callers = _callers(principal)
        person = callers[0]
        current = await self.get(disposition_id)
        if current.status is not _S.PENDING_APPROVAL:
            raise TransitionNotAllowed(
                f"Disposition {disposition_id} is {current.status.value}, not awaiting approval."
            )
        if person.subject == current.requested_by.subject:
            raise SelfApproval(
                f"{person.subject} requested disposition {disposition_id} and cannot approve "
                "it too: another person holding quality.disposition.approve must."
            )
        if not await self.store.lease(disposition_id, self.replica, self.policy.lease_seconds):
            raise TransitionNotAllowed(f"Disposition {disposition_id} is being worked on; retry.")
        try:
            current = await self.get(disposition_id)
            if current.status is not _S.PENDING_APPROVAL:
                raise TransitionNotAllowed(
                    f"Disposition {disposition_id} is {current.status.value}, not awaiting "
                    "approval."
                )
            now = self._clock()
            approval = Approval(
                decision=body.decision,
                approver=person,
                reason=body.reason,
                signature_meaning=body.signature_meaning,
                decided_at=now,
            )
            if body.decision is ApprovalDecision.DECLINE:
                updated = self._next(
                    current,
                    status=_S.DECLINED,
                    approval=approval,
                    qms=msgspec.structs.replace(current.qms, status=StepStatus.SKIPPED),
                    erp=msgspec.structs.replace(current.erp, status=StepStatus.SKIPPED),
                    completed_at=now,
                    next_attempt_at=None,
                )
            else:
                # Approved: validated again against the lot as it is now (lot_etag cleared).
                updated = self._next(
                    current,
                    status=_S.PENDING_ERP,
                    approval=approval,
                    lot_etag=None,
                    next_attempt_at=now + timedelta(seconds=self.policy.lease_seconds),
                )
            await self.store.save(updated)
            await self._audit(
                updated,
                "lot-disposition.declined"
                if body.decision is ApprovalDecision.DECLINE
                else "lot-disposition.approved",
                actor=callers,
                reason=body.reason,
                signature=body.signature_meaning,
                before={"status": current.status.value},
                after={"status": updated.status.value},
            )
            return await self._advance_leased(updated)
        finally:
            await self.store.unlease(disposition_id, self.replica)

    async def get(self, disposition_id: str) -> Disposition:
        found = await self.store.get(disposition_id)
        if found is None:
            raise NotFound(f"No lot disposition {disposition_id}.")
        return found

    # The engine

    async def advance(self, disposition_id: str, created: Disposition | None = None) -> Disposition:
        """Take the lease and apply what is left; without the lease, answer the stored state
        (another replica is on it). ``created``: the record this replica just stored, so it
        is not read back."""
        if not await self.store.lease(disposition_id, self.replica, self.policy.lease_seconds):
            return await self.get(disposition_id)
        try:
            return await self._advance_leased(created or await self.get(disposition_id))
        except StaleDisposition:
            # Our lease ran out mid-way and another replica saved first: it has the job now.
            _log.warning("disposition %s moved on under another replica", disposition_id)
            return await self.get(disposition_id)
        finally:
            await self.store.unlease(disposition_id, self.replica)

    async def _advance_leased(self, disposition: Disposition) -> Disposition:
        if disposition.status in TERMINAL or disposition.status is _S.PENDING_APPROVAL:
            return disposition
        d = self._next(disposition, attempts=disposition.attempts + 1)
        await self.store.save(d)
        chain = _chain(d)
        step = "erp"
        try:
            if d.lot_etag is None:
                d = await self._validate(d, chain)
                if d.status is _S.PENDING_APPROVAL:
                    return d
            if d.qms.status is StepStatus.PENDING:
                step = "qms"
                d = await self._apply_qms(d, chain)
            if d.erp.status is StepStatus.PENDING:
                step = "erp"
                d = await self._apply_erp(d, chain)
            elif d.erp.status is StepStatus.APPLIED and d.status is not _S.APPLIED:
                step = "erp"
                d = await self._confirm_erp(d, chain)
        except _PERMANENT as exc:
            return await self._fail(d, step, _problem(exc))
        except QgateError as exc:
            if not exc.retryable:
                return await self._fail(d, step, _problem(exc))
            return await self._postpone(d, step, _problem(exc))
        return d

    async def _validate(self, d: Disposition, chain: Sequence[Caller]) -> Disposition:
        versioned = await self.system.lot(d.lot_id, chain)
        lot = versioned.lot
        check_transition(lot.lot_id, lot.disposition, d.target_disposition)
        check_quantities(lot, d.quantities)
        needs_approval = lot.disposition in FOUR_EYES_FROM and d.target_disposition is _D.RELEASED
        if needs_approval:
            await self._check_release_nc(d.lot_id, d.nc_id, chain)
            if d.approval is None or d.approval.decision is not ApprovalDecision.APPROVE:
                waiting = self._next(
                    d,
                    status=_S.PENDING_APPROVAL,
                    requires_approval=True,
                    from_disposition=lot.disposition,
                    next_attempt_at=None,
                )
                await self.store.save(waiting)
                return waiting
        validated = self._next(
            d,
            from_disposition=lot.disposition,
            requires_approval=needs_approval or d.requires_approval,
            lot_etag=versioned.etag,
            status=_S.PENDING_QMS if d.qms.status is StepStatus.PENDING else _S.PENDING_ERP,
        )
        await self.store.save(validated)
        return validated

    async def _apply_qms(self, d: Disposition, chain: Sequence[Caller]) -> Disposition:
        inspection_id = d.qms.reference
        if inspection_id is None:
            awaiting = await self._awaiting_inspection(d.lot_id, chain)
            if awaiting is None:
                skipped = self._next(
                    d,
                    status=_S.PENDING_ERP,
                    qms=SystemStep(
                        status=StepStatus.NOT_REQUIRED,
                        detail="No inspection of the lot awaits a usage decision.",
                    ),
                )
                await self.store.save(skipped)
                return skipped
            inspection_id = awaiting.inspection_id
            d = self._next(d, qms=msgspec.structs.replace(d.qms, reference=inspection_id))
            await self.store.save(d)
        inspection = await self.system.inspection(inspection_id, chain)
        decision = UsageDecisionCreate(
            decision=d.decision,
            reason=d.reason,
            decided_by=d.requested_by.subject,
            quantities=self._inspection_split(inspection, d.quantities),
            signature_meaning=d.signature_meaning,
        )
        try:
            decided = await self.system.record_usage_decision(
                inspection_id, decision, key=f"{d.disposition_id}.qms", chain=chain
            )
        except BackendRejected:
            decided = await self.system.inspection(inspection_id, chain)
            if decided.decision is None or decided.decision.decision is not d.decision:
                raise
        applied = self._next(
            d,
            status=_S.PENDING_ERP,
            qms=SystemStep(
                status=StepStatus.APPLIED,
                applied_at=self._clock(),
                reference=decided.inspection_id,
            ),
        )
        await self.store.save(applied)
        await self._audit(
            applied,
            "inspection.usage-decision-recorded",
            entity=("Inspection", decided.inspection_id),
            after={"decision": d.decision.value, "dispositionId": d.disposition_id},
        )
        return applied

    async def _apply_erp(self, d: Disposition, chain: Sequence[Caller]) -> Disposition:
        assert d.lot_etag is not None  # fixed by _validate
        change = LotDispositionChange(
            disposition=d.target_disposition,
            reason=d.reason,
            quantities=[
                TargetQuantityInput(category=q.category, quantity=q.quantity) for q in d.quantities
            ],
            reference=d.disposition_id,
        )
        try:
            lot = await self.system.change_lot_disposition(
                d.lot_id, change, if_match=d.lot_etag, key=f"{d.disposition_id}.erp", chain=chain
            )
        except PreconditionFailed:
            # The ETag fixed at validation is stale: either this change was made and its answer
            # lost, or someone else changed the lot. The lot says which.
            lot = (await self.system.lot(d.lot_id, chain)).lot
            if lot.disposition is not d.target_disposition:
                raise TransitionNotAllowed(
                    f"Lot {d.lot_id} changed while this disposition waited: it is now "
                    f"{lot.disposition.value}. Request a new disposition from that state."
                ) from None
        # Saved as applied in the ERP before the audit record is written: a replica that stops
        # in between leaves a disposition that says so, and only then is the trail searched for
        # a record already written (see _confirm_erp).
        confirmed = self._next(
            d,
            erp=SystemStep(
                status=StepStatus.APPLIED, applied_at=self._clock(), reference=f"v{lot.version}"
            ),
        )
        await self.store.save(confirmed)
        await self._audit(confirmed, "lot.disposition-changed", **self._change_record(d, lot))
        return await self._complete(confirmed, lot)

    async def _confirm_erp(self, d: Disposition, chain: Sequence[Caller]) -> Disposition:
        """Finish a disposition the ERP applied whose audit record may or may not be written."""
        lot = (await self.system.lot(d.lot_id, chain)).lot
        record = self._change_record(d, lot)
        if not await self._audited(d, "lot.disposition-changed", ("Lot", d.lot_id)):
            await self._audit(d, "lot.disposition-changed", **record)
        return await self._complete(d, lot)

    async def _complete(self, d: Disposition, lot: Lot) -> Disposition:
        applied = self._next(
            d,
            status=_S.APPLIED,
            last_error=None,
            next_attempt_at=None,
            completed_at=d.erp.applied_at or self._clock(),
        )
        await self.store.save(applied, events=[(QUALITY_STREAM, self._changed_event(applied, lot))])
        return applied

    @staticmethod
    def _changed_event(d: Disposition, lot: Lot) -> CloudEvent:
        """``lot.disposition-changed``: its id is derived from the disposition, so whichever
        replica completes it announces the same event."""
        return new_event(
            LOT_DISPOSITION_CHANGED,
            EVENT_SOURCE,
            {
                "lotId": d.lot_id,
                "dispositionId": d.disposition_id,
                "decision": d.decision.value,
                "fromDisposition": d.from_disposition.value if d.from_disposition else None,
                "disposition": d.target_disposition.value,
                "reason": d.reason,
                "inspectionId": d.qms.reference or d.inspection_id,
                "ncId": d.nc_id,
                "itemId": lot.item_id,
                "plantId": lot.plant_id,
                "supplierId": lot.supplier_id,
                "supplierLotNumber": lot.supplier_lot_number,
                "stock": {b.category.value: b.quantity for b in lot.stock},
                "requestedBy": d.requested_by.subject,
                "approvedBy": d.approval.approver.subject if d.approval else None,
                "appliedAt": d.completed_at.isoformat() if d.completed_at else None,
            },
            subject=d.lot_id,
            correlation_id=d.correlation_id,
            id=derived_event_id(LOT_DISPOSITION_CHANGED, d.disposition_id),
            time=d.completed_at,
        )

    @staticmethod
    def _change_record(d: Disposition, lot: Lot) -> dict[str, Any]:
        return {
            "entity": ("Lot", d.lot_id),
            "before": {"disposition": d.from_disposition.value if d.from_disposition else None},
            "after": {
                "disposition": d.target_disposition.value,
                "dispositionId": d.disposition_id,
                "decision": d.decision.value,
                "stock": {b.category.value: b.quantity for b in lot.stock},
            },
        }

    async def _postpone(self, d: Disposition, step: str, error: str) -> Disposition:
        if d.attempts >= self.policy.max_attempts:
            return await self._fail(
                d, step, f"Gave up after {d.attempts} attempts; last error: {error}"
            )
        delay = self.policy.delay(d.attempts)
        status = _S.PENDING_QMS if step == "qms" else _S.PENDING_ERP
        if d.lot_etag is None:
            status = _S.PENDING_ERP  # not validated yet: the lot (ERP) is what it waits for
        later = self._next(
            d,
            status=status,
            last_error=error,
            next_attempt_at=self._clock() + timedelta(seconds=delay),
        )
        await self.store.save(later)
        _log.warning(
            "disposition %s attempt %d at %s failed (%s); next in %.1f s",
            d.disposition_id,
            d.attempts,
            step,
            error,
            delay,
        )
        return later

    async def _fail(self, d: Disposition, step: str, error: str) -> Disposition:
        now = self._clock()
        failed_step = SystemStep(status=StepStatus.FAILED, detail=error)
        changes: dict[str, Any] = {}
        if step == "qms":
            changes["qms"] = failed_step
            changes["erp"] = msgspec.structs.replace(d.erp, status=StepStatus.SKIPPED)
        else:
            changes["erp"] = failed_step
            if d.qms.status is StepStatus.PENDING:
                changes["qms"] = msgspec.structs.replace(d.qms, status=StepStatus.SKIPPED)
        failed = self._next(
            d,
            status=_S.FAILED,
            last_error=error,
            next_attempt_at=None,
            completed_at=now,
            **changes,
        )
        await self.store.save(failed)
        await self._audit(
            failed,
            "lot-disposition.failed",
            reason=error,
            before={"status": d.status.value},
            after={"status": failed.status.value, "step": step, "qms": failed.qms.status.value},
        )
        _log.error("disposition %s failed at %s: %s", d.disposition_id, step, error)
        return failed

    # Checks and lookups

    async def _lot_if_reachable(
        self, lot_id: str, chain: Sequence[Caller]
    ) -> tuple[Lot | None, str | None]:
        try:
            versioned = await self.system.lot(lot_id, chain)
        except NotFound:
            raise NotFound(f"No lot {lot_id} in the ERP.") from None
        except QgateError as exc:
            if not exc.retryable:
                raise
            _log.warning("lot %s unreadable (%s): the disposition waits for the ERP", lot_id, exc)
            return None, None
        return versioned.lot, versioned.etag

    async def _check_release_nc(
        self, lot_id: str, nc_id: str | None, chain: Sequence[Caller]
    ) -> None:
        if nc_id is None:
            raise TransitionNotAllowed(
                f"Releasing blocked lot {lot_id} needs a nonconformance decided USE_AS_IS: name "
                "it in ncId."
            )
        try:
            nc = await self.system.nonconformance(nc_id, chain)
        except NotFound:
            raise TransitionNotAllowed(f"Nonconformance {nc_id} does not exist.") from None
        if lot_id not in nc.lot_ids:
            raise TransitionNotAllowed(f"Nonconformance {nc_id} does not concern lot {lot_id}.")
        if nc.status is NonconformanceStatus.CANCELLED:
            raise TransitionNotAllowed(f"Nonconformance {nc_id} is CANCELLED.")
        if nc.material_disposition is not MaterialDisposition.USE_AS_IS:
            decided = nc.material_disposition.value if nc.material_disposition else "not decided"
            raise TransitionNotAllowed(
                f"Nonconformance {nc_id} is {decided}; releasing blocked lot {lot_id} needs "
                "USE_AS_IS."
            )

    async def _check_inspection(
        self,
        lot_id: str,
        inspection_id: str,
        decision: DispositionCode,
        chain: Sequence[Caller],
    ) -> None:
        try:
            inspection = await self.system.inspection(inspection_id, chain)
        except NotFound:
            raise NotFound(f"No inspection {inspection_id} in the QMS.") from None
        except QgateError as exc:
            if exc.retryable:
                return  # checked when the QMS step runs
            raise
        if inspection.lot_id != lot_id:
            raise TransitionNotAllowed(
                f"Inspection {inspection_id} is of lot {inspection.lot_id}, not {lot_id}."
            )
        if inspection.decision is not None:
            raise TransitionNotAllowed(
                f"Inspection {inspection_id} is already decided "
                f"({inspection.decision.decision.value})."
            )
        if inspection.status is not InspectionStatus.RESULTS_RECORDED:
            raise TransitionNotAllowed(
                f"Inspection {inspection_id} is {inspection.status.value}: every result must be "
                f"recorded before it can be decided ({decision.value})."
            )

    async def _awaiting_inspection(self, lot_id: str, chain: Sequence[Caller]) -> Inspection | None:
        found = [
            inspection
            async for inspection in self.system.inspections(
                chain, lotId=lot_id, status=InspectionStatus.RESULTS_RECORDED.value
            )
            if inspection.decision is None
        ]
        return found[0] if len(found) == 1 else None

    @staticmethod
    def _inspection_split(
        inspection: Inspection, quantities: Sequence[TargetQuantity]
    ) -> list[TargetQuantityInput]:
        """The lot split, for the usage decision, when it covers exactly the inspected quantity."""
        total = sum(q.quantity for q in quantities)
        if not quantities or abs(total - inspection.quantity) > _QUANTITY_TOLERANCE:
            return []
        return [TargetQuantityInput(category=q.category, quantity=q.quantity) for q in quantities]

    # Records

    def _next(self, d: Disposition, **changes: Any) -> Disposition:
        return msgspec.structs.replace(
            d, version=d.version + 1, updated_at=self._clock(), **changes
        )

    async def _audit(
        self,
        d: Disposition,
        action: str,
        *,
        actor: Sequence[AuditCaller] | None = None,
        entity: tuple[str, str] | None = None,
        reason: str | None = None,
        signature: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        callers = list(actor) if actor else [d.requested_by, *d.requested_via]
        entity_type, entity_id = entity or ("LotDisposition", d.disposition_id)
        await self.audit.append(
            AuditEntry(
                action=action,
                entity_type=entity_type,
                entity_id=entity_id,
                actor=callers[-1],
                on_behalf_of=callers[:-1],
                reason=reason or d.reason,
                before=before,
                after={**(after or {}), "dispositionId": d.disposition_id},
                correlation_id=d.correlation_id or current_correlation_id(),
                signature_meaning=signature or d.signature_meaning,
            )
        )

    async def _audited(self, d: Disposition, action: str, entity: tuple[str, str]) -> bool:
        """Whether this disposition's record of ``action`` is in the trail (the entity's records
        are read page by page: only on the rare path of a replica that stopped mid-way)."""
        after_seq = 0
        while True:
            page = await self.audit.list(
                entity_type=entity[0],
                entity_id=entity[1],
                action=action,
                after_seq=after_seq,
                limit=MAX_LIMIT,
            )
            if any((r.after or {}).get("dispositionId") == d.disposition_id for r in page):
                return True
            if len(page) < MAX_LIMIT:
                return False
            after_seq = page[-1].seq
