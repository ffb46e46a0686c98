"""Supplier containment: a saga started by a failed incoming inspection.

Opening (:meth:`ContainmentService.open_from_inspection`, the ``inspection.completed`` handler)
stores one case per failed inspection, with ``containment.opened`` in the same atomic write (the
outbox), and runs the steps of :mod:`process_apis.containment._steps`. Each step is tried on its
own, saved after each attempt, and retried with exponential backoff and jitter while a system is
unavailable (``QGATE_CONTAINMENT_RETRY_*``); a step that fails for good, or runs out of
attempts, is MANUAL until an operator retries or closes it. Once every step is settled the case
is CONTAINED (``containment.contained``, time to containment recorded); the CAPA/NC sync closes
it (``containment.closed``) when the nonconformance is closed, the supplier's CAPA is at D8 with
its effectiveness verified and the procurement hold is lifted.

Every step's outcome is an audit record under the case's one correlation id (the request that
recorded the failing result), and the work of the saga runs bound to that id, so the lot
dispositions it requests, their records and the calls below carry it too. Whichever replica
advances a case holds its lease; saves are compare-and-set on ``version``.
"""

from __future__ import annotations

import logging
import math
import os
import random
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec

from process_apis.clients.system import SystemClient
from process_apis.containment._steps import STEPS, Outcome
from process_apis.containment.models import (
    OPEN_STATUSES,
    SETTLED,
    CaseStatus,
    ContainmentCase,
    ContainmentResponseCreate,
    ContainmentStep,
    ContainmentSummary,
    StepName,
    StepStatus,
    SupplierAcknowledgement,
    SupplierResponse,
    Trigger,
    TriggerLot,
    new_containment_id,
    seconds_between,
)
from process_apis.containment.store import ContainmentStore, StaleCase
from process_apis.dispositions.service import DispositionService
from process_apis.holds.models import HoldStatus
from process_apis.holds.service import HoldService
from process_apis.metrics import observe_contained
from shared.audit import AuditCaller, AuditEntry, AuditTrail
from shared.auth import Caller, Principal
from shared.correlation import bound_ids, current_correlation_id
from shared.delegation import chain_for
from shared.errors import NotFound, QgateError, TransitionNotAllowed, ValidationFailed
from shared.events import (
    CONTAINMENT_CLOSED,
    CONTAINMENT_CONTAINED,
    CONTAINMENT_OPENED,
    INSPECTION_COMPLETED,
    CloudEvent,
    new_event,
)
from shared.models import CapaStage, CharacteristicValuation, InspectionOrigin, InspectionResult
from shared.models import NonconformanceStatus as NcStatus
from shared.settings import ContainmentSettings

__all__ = ["SAGA_SUBJECT", "ContainmentService"]

_log = logging.getLogger("qgate.process.containment")
SAGA_SUBJECT: Final = "containment-saga"
"""The subject the saga acts as (with the process layer's own client) in the trail and below."""
_SOURCE: Final = "/process/v1/containments"
_SAVE_TRIES: Final = 5


class ContainmentService:
    def __init__(
        self,
        *,
        system: SystemClient,
        dispositions: DispositionService,
        holds: HoldService,
        store: ContainmentStore,
        audit: AuditTrail,
        policy: ContainmentSettings,
        client_id: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.system = system
        self.dispositions = dispositions
        self.holds = holds
        self.store = store
        self.audit = audit
        self.policy = policy
        self._clock = clock
        self.principal = Principal(
            client_id=client_id, subject=SAGA_SUBJECT, scopes=frozenset(), expires_at=0
        )
        self.replica = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"

    def now(self) -> datetime:
        return self._clock()

    @property
    def chain(self) -> tuple[Caller, ...]:
        return chain_for(self.principal)

    async def get(self, containment_id: str) -> ContainmentCase:
        found = await self.store.get(containment_id)
        if found is None:
            raise NotFound(f"No containment case {containment_id}.")
        return found

    # Opening

    async def on_event(self, event: CloudEvent) -> None:
        """The bus handler for ``inspection.completed`` (group ``containment-saga``; the other
        events of the stream are not its business; nothing while ``containment.enabled`` is off)."""
        if event.type != INSPECTION_COMPLETED or not self.policy.enabled:
            return
        inspection_id = event.data.get("inspectionId")
        if not isinstance(inspection_id, str):
            _log.warning("inspection.completed %s names no inspection: ignored", event.id)
            return
        if event.data.get("result") not in (None, InspectionResult.FAIL.value):
            return
        with bound_ids(correlation_id=event.correlationid, traceparent=event.traceparent):
            await self.open_from_inspection(
                inspection_id, event_id=event.id, occurred_at=event.time
            )

    async def open_from_inspection(
        self, inspection_id: str, *, event_id: str | None, occurred_at: datetime
    ) -> ContainmentCase | None:
        """Open (once) the case of a failed incoming inspection and start the saga; None when
        the inspection did not fail or is not of a goods receipt. Retryable errors raise (the
        bus delivers the event again)."""
        inspection = await self.system.inspection(inspection_id, self.chain)
        if (
            inspection.result is not InspectionResult.FAIL
            or inspection.origin is not InspectionOrigin.GOODS_RECEIPT
        ):
            return None
        supplier_id = inspection.supplier_id
        if supplier_id is None:
            supplier_id = (await self.system.lot(inspection.lot_id, self.chain)).lot.supplier_id
        if supplier_id is None:
            _log.warning("inspection %s: no supplier to contain", inspection_id)
            return None
        now = self._clock()
        case = ContainmentCase(
            containment_id=new_containment_id(),
            status=CaseStatus.CONTAINING,
            trigger=Trigger(
                inspection_id=inspection_id,
                lot=TriggerLot(
                    lot_id=inspection.lot_id,
                    plant_id=inspection.plant_id,
                    goods_receipt_id=inspection.goods_receipt_id,
                ),
                failed_characteristics=[
                    r.characteristic_id
                    for r in inspection.results
                    if r.valuation is CharacteristicValuation.REJECT
                ],
                event_id=event_id,
                occurred_at=min(occurred_at, now),
            ),
            supplier_id=supplier_id,
            item_id=inspection.item_id,
            plant_ids=[inspection.plant_id],
            steps=[
                ContainmentStep(
                    name=name,
                    status=StepStatus.DONE
                    if name is StepName.NOTIFY_SUBSCRIBERS
                    else StepStatus.PENDING,
                    completed_at=now if name is StepName.NOTIFY_SUBSCRIBERS else None,
                )
                for name in StepName
            ],
            opened_at=now,
            # If this replica stops before finishing, the worker takes over after the lease.
            next_attempt_at=now + timedelta(seconds=self.policy.lease_seconds),
            correlation_id=None,
            updated_at=now,
        )
        # One correlation id for the whole saga: the request's that recorded the failing result.
        case = msgspec.structs.replace(
            case, correlation_id=current_correlation_id() or case.containment_id
        )
        opened = self._event(CONTAINMENT_OPENED, case)
        notify = case.step(StepName.NOTIFY_SUBSCRIBERS)
        case = msgspec.structs.replace(
            case,
            steps=case.with_step(
                msgspec.structs.replace(
                    notify,
                    reference=opened.id,
                    detail="containment.opened handed to the event bus.",
                )
            ),
        )
        stored, created = await self.store.create(case, opened)
        if created:
            await self._audit(
                stored,
                "containment.opened",
                reason=f"Incoming inspection {inspection_id} of lot {inspection.lot_id} failed",
                after={
                    "status": stored.status.value,
                    "inspectionId": inspection_id,
                    "lotId": inspection.lot_id,
                    "supplierId": supplier_id,
                    "itemId": inspection.item_id,
                    "eventId": opened.id,
                },
            )
        return await self.advance(stored.containment_id)

    # The engine

    async def advance(self, containment_id: str) -> ContainmentCase:
        """Take the lease and try every step that is due; without the lease, answer the stored
        case (another replica is on it)."""
        if not await self.store.lease(containment_id, self.replica, self.policy.lease_seconds):
            return await self.get(containment_id)
        try:
            case = await self.get(containment_id)
            if case.status not in OPEN_STATUSES:
                return case
            with bound_ids(correlation_id=case.correlation_id, traceparent=None):
                for name in StepName:
                    step = case.step(name)
                    if step.status in SETTLED or step.status is StepStatus.MANUAL:
                        continue
                    if step.next_attempt_at is not None and step.next_attempt_at > self._clock():
                        continue
                    case = await self._run(case, name)
                return await self._settle(case)
        except StaleCase:
            _log.warning("containment %s moved on under another replica", containment_id)
            return await self.get(containment_id)
        finally:
            await self.store.unlease(containment_id, self.replica)

    async def _run(self, case: ContainmentCase, name: StepName) -> ContainmentCase:
        step = case.step(name)
        now = self._clock()
        try:
            outcome = await STEPS[name](self, case, self.chain)
        except QgateError as exc:
            error = f"{exc.title}: {exc.detail}" if exc.detail else exc.title
            if exc.retryable:
                return await self._retry(case, step, error)
            return await self._finish(case, step, Outcome(StepStatus.MANUAL, error), error)
        except Exception as exc:
            _log.exception("containment %s step %s failed", case.containment_id, name.value)
            return await self._retry(case, step, type(exc).__name__)
        if outcome.status in (StepStatus.RETRYING, StepStatus.PENDING):
            # Waiting for work on its way (a disposition the engine retries): not an attempt.
            waiting = msgspec.structs.replace(
                step,
                status=outcome.status,
                detail=outcome.detail,
                reference=outcome.reference or step.reference,
                next_attempt_at=now + timedelta(seconds=self.policy.retry_base_seconds),
            )
            return await self._save(case, waiting, outcome.changes)
        return await self._finish(case, step, outcome, None)

    async def _retry(
        self, case: ContainmentCase, step: ContainmentStep, error: str
    ) -> ContainmentCase:
        attempts = step.attempts + 1
        if attempts >= self.policy.max_attempts:
            error = f"Gave up after {attempts} attempts; last error: {error}"
            step = msgspec.structs.replace(step, attempts=attempts - 1)
            return await self._finish(case, step, Outcome(StepStatus.MANUAL, error), error)
        delay = self._delay(attempts)
        _log.warning(
            "containment %s step %s attempt %d: %s; next in %.1f s",
            case.containment_id,
            step.name.value,
            attempts,
            error,
            delay,
        )
        later = msgspec.structs.replace(
            step,
            status=StepStatus.RETRYING,
            attempts=attempts,
            last_error=error,
            next_attempt_at=self._clock() + timedelta(seconds=delay),
        )
        return await self._save(case, later, {})

    async def _finish(
        self,
        case: ContainmentCase,
        step: ContainmentStep,
        outcome: Outcome,
        error: str | None,
    ) -> ContainmentCase:
        now = self._clock()
        done = msgspec.structs.replace(
            step,
            status=outcome.status,
            attempts=step.attempts + 1,
            last_error=error,
            detail=outcome.detail if error is None else step.detail,
            reference=outcome.reference or step.reference,
            next_attempt_at=None,
            completed_at=now if outcome.status in SETTLED else None,
        )
        saved = await self._save(case, done, outcome.changes)
        await self._audit(
            saved,
            f"containment.step-{outcome.status.value.lower()}",
            reason=error or outcome.detail or step.name.value,
            before={"step": step.name.value, "status": step.status.value},
            after={
                "step": step.name.value,
                "status": done.status.value,
                "reference": done.reference,
                "attempts": done.attempts,
            },
        )
        return saved

    async def _save(
        self,
        case: ContainmentCase,
        step: ContainmentStep,
        changes: dict[str, Any],
        event: CloudEvent | None = None,
    ) -> ContainmentCase:
        updated = self._next(case, steps=case.with_step(step), **changes)
        await self.store.save(updated, event)
        return updated

    async def _settle(self, case: ContainmentCase) -> ContainmentCase:
        """The case's status and next look from its steps; CONTAINED once all are settled."""
        now = self._clock()
        steps = case.steps
        if all(s.status in SETTLED for s in steps):
            contained = self._next(
                case,
                status=CaseStatus.CONTAINED,
                contained_at=now,
                time_to_containment_seconds=seconds_between(case.trigger.occurred_at, now),
                next_attempt_at=None,
            )
            await self.store.save(contained, self._event(CONTAINMENT_CONTAINED, contained))
            observe_contained(contained)  # after the save: a stale case is not counted
            await self._audit(
                contained,
                "containment.contained",
                reason="Every containment step is settled",
                before={"status": case.status.value},
                after={
                    "status": contained.status.value,
                    "timeToContainmentSeconds": contained.time_to_containment_seconds,
                },
            )
            return contained
        waiting = [
            s.next_attempt_at or now
            for s in steps
            if s.status not in SETTLED and s.status is not StepStatus.MANUAL
        ]
        status = (
            CaseStatus.ATTENTION
            if any(s.status is StepStatus.MANUAL for s in steps)
            else CaseStatus.CONTAINING
        )
        following = min(waiting) if waiting else None
        if status is case.status and following == case.next_attempt_at:
            return case
        settled = self._next(case, status=status, next_attempt_at=following)
        await self.store.save(settled)
        return settled

    def _delay(self, attempts: int) -> float:
        ceiling = min(
            self.policy.retry_max_seconds,
            self.policy.retry_base_seconds * math.pow(2, max(attempts - 1, 0)),
        )
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    # Operators

    async def retry_step(
        self, containment_id: str, name: StepName, principal: Principal
    ) -> ContainmentCase:
        """Try a MANUAL (or RETRYING) step again now, with a fresh budget of attempts."""

        def change(case: ContainmentCase) -> ContainmentCase:
            step = case.step(name)
            if step.status not in (StepStatus.MANUAL, StepStatus.RETRYING):
                raise TransitionNotAllowed(
                    f"Step {name.value} of {containment_id} is {step.status.value}; only a "
                    "MANUAL or RETRYING step can be retried."
                )
            lots = case.lots
            if name is StepName.QUARANTINE_LOTS:
                lots = [
                    msgspec.structs.replace(lot, status=StepStatus.PENDING, disposition_id=None)
                    if lot.status is StepStatus.MANUAL
                    else lot
                    for lot in lots
                ]
            fresh = msgspec.structs.replace(
                step,
                status=StepStatus.PENDING,
                attempts=0,
                next_attempt_at=None,
                reference=None if name is StepName.BLOCK_LOT else step.reference,
            )
            return self._next(
                case,
                steps=case.with_step(fresh),
                lots=lots,
                status=CaseStatus.CONTAINING,
                next_attempt_at=self._clock(),
            )

        case, before = await self._change(containment_id, change)
        await self._audit(
            case,
            "containment.step-retry-requested",
            actor=principal,
            reason=f"Operator retry of {name.value}",
            before={"step": name.value, "status": before.step(name).status.value},
            after={"step": name.value, "status": StepStatus.PENDING.value},
        )
        return await self.advance(containment_id)

    async def close_step(
        self, containment_id: str, name: StepName, reason: str, principal: Principal
    ) -> ContainmentCase:
        """An operator resolved a step outside qgate: CLOSED with the reason."""

        def change(case: ContainmentCase) -> ContainmentCase:
            step = case.step(name)
            if step.status in SETTLED:
                raise TransitionNotAllowed(
                    f"Step {name.value} of {containment_id} is already {step.status.value}."
                )
            if case.status is CaseStatus.CLOSED:
                raise TransitionNotAllowed(f"Containment {containment_id} is CLOSED.")
            closed = msgspec.structs.replace(
                step,
                status=StepStatus.CLOSED,
                detail=reason,
                next_attempt_at=None,
                completed_at=self._clock(),
            )
            return self._next(case, steps=case.with_step(closed), next_attempt_at=self._clock())

        case, before = await self._change(containment_id, change)
        await self._audit(
            case,
            "containment.step-closed",
            actor=principal,
            reason=reason,
            before={"step": name.value, "status": before.step(name).status.value},
            after={"step": name.value, "status": StepStatus.CLOSED.value},
        )
        return await self.advance(containment_id)

    # The supplier

    async def respond(
        self, containment_id: str, body: ContainmentResponseCreate, principal: Principal
    ) -> ContainmentCase:
        """Record the supplier's containment actions, D3 answer and documents."""
        if not (body.actions or body.d3_answer or body.documents):
            raise ValidationFailed(
                "A response needs actions, a d3Answer or documents.",
            )
        person = AuditCaller.of(chain_for(principal)[0])

        def change(case: ContainmentCase) -> ContainmentCase:
            self._check_visible(case, principal)
            if case.status is CaseStatus.CLOSED:
                raise TransitionNotAllowed(f"Containment {containment_id} is CLOSED.")
            response = SupplierResponse(
                response_id=f"RSP-{len(case.responses) + 1}",
                actions=body.actions,
                d3_answer=body.d3_answer,
                documents=body.documents,
                responded_by=person,
                responded_at=self._clock(),
            )
            return self._next(case, responses=[*case.responses, response])

        case, _ = await self._change(containment_id, change)
        await self._audit(
            case,
            "containment.supplier-responded",
            actor=principal,
            reason=body.d3_answer or "Containment actions reported",
            after={
                "responseId": case.responses[-1].response_id,
                "actions": len(body.actions),
                "documents": [d.reference for d in body.documents],
            },
        )
        return case

    async def acknowledge(
        self, containment_id: str, body: SupplierAcknowledgement, principal: Principal
    ) -> ContainmentCase:
        """The supplier has seen the case (the first acknowledgement counts)."""
        person = AuditCaller.of(chain_for(principal)[0])

        def change(case: ContainmentCase) -> ContainmentCase:
            self._check_visible(case, principal)
            if case.acknowledged_at is not None:
                return case
            return self._next(case, acknowledged_at=self._clock(), acknowledged_by=person)

        case, before = await self._change(containment_id, change)
        if before.acknowledged_at is None:
            await self._audit(
                case,
                "containment.acknowledged",
                actor=principal,
                reason=body.note or "Acknowledged by the supplier",
                after={"acknowledgedAt": case.acknowledged_at},
            )
        return case

    @staticmethod
    def supplier_of(principal: Principal) -> str | None:
        """The supplier a caller acts for (the original caller's claim), if any."""
        for caller in chain_for(principal):
            if caller.supplier_id is not None:
                return caller.supplier_id
        return None

    def _check_visible(self, case: ContainmentCase, principal: Principal) -> None:
        supplier = self.supplier_of(principal)
        if supplier is not None and (supplier != case.supplier_id or case.published_at is None):
            raise NotFound(f"No containment case {case.containment_id}.")

    def visible(self, case: ContainmentCase, principal: Principal) -> ContainmentCase:
        """The case as the caller may see it (404 for another supplier's)."""
        self._check_visible(case, principal)
        return case.for_supplier() if self.supplier_of(principal) else case

    # CAPA / nonconformance sync

    async def sync_contained(self) -> int:
        """Look at every CONTAINED case's nonconformance and CAPA; how many were looked at."""
        looked = 0
        after: str | None = None
        while True:
            page = await self.store.find(status=CaseStatus.CONTAINED, after=after, limit=100)
            for case in page:
                looked += 1
                try:
                    await self.sync_case(case.containment_id)
                except QgateError as exc:
                    _log.warning("sync of %s: %s", case.containment_id, exc.title)
            if len(page) < 100:
                return looked
            after = page[-1].containment_id

    async def sync_case(self, containment_id: str) -> ContainmentCase:
        """Propose lifting the hold once the nonconformance is closed and the supplier's CAPA is
        at D8 with its effectiveness verified; close the case once the hold is lifted."""
        case = await self.get(containment_id)
        if case.status is not CaseStatus.CONTAINED or case.nc_id is None:
            return case
        with bound_ids(correlation_id=case.correlation_id, traceparent=None):
            chain = self.chain
            nc = await self.system.nonconformance(case.nc_id, chain)
            capa = None
            async for found in self.system.capas(chain, supplierId=case.supplier_id):
                if case.nc_id in found.nc_ids:
                    capa = found
                    break
            if capa is not None and case.capa_id != capa.capa_id:
                case = await self._store_change(case, capa_id=capa.capa_id)
            verified = (
                capa is not None
                and capa.stage is CapaStage.D8
                and capa.effectiveness_verified_at is not None
            )
            if nc.status is not NcStatus.CLOSED or not verified or capa is None:
                return case
            hold = None
            if case.hold_id is not None:
                hold = await self.holds.get(case.hold_id)
                hold = await self.holds.propose_lift(
                    hold,
                    proposed_by=capa.owner,
                    reason=(
                        f"Nonconformance {nc.nc_id} closed; CAPA {capa.capa_id} at D8, "
                        f"effectiveness verified {capa.effectiveness_verified_at:%Y-%m-%d}"
                    ),
                    chain=chain,
                    correlation_id=case.correlation_id,
                )
            if hold is not None and hold.status is not HoldStatus.LIFTED:
                return case
            return await self._close(case, capa.capa_id)

    async def _close(self, case: ContainmentCase, capa_id: str) -> ContainmentCase:
        now = self._clock()
        closed = self._next(
            case,
            status=CaseStatus.CLOSED,
            closed_at=now,
            capa_id=capa_id,
            close_reason=f"CAPA {capa_id} verified, nonconformance {case.nc_id} closed, hold "
            "lifted",
        )
        await self.store.save(closed, self._event(CONTAINMENT_CLOSED, closed))
        await self._audit(
            closed,
            "containment.closed",
            reason=closed.close_reason,
            before={"status": case.status.value},
            after={"status": closed.status.value, "capaId": capa_id},
        )
        return closed

    # Records

    def _next(self, case: ContainmentCase, **changes: Any) -> ContainmentCase:
        return msgspec.structs.replace(
            case, version=case.version + 1, updated_at=self._clock(), **changes
        )

    async def _store_change(self, case: ContainmentCase, **changes: Any) -> ContainmentCase:
        updated = self._next(case, **changes)
        await self.store.save(updated)
        return updated

    async def _change(
        self, containment_id: str, change: Callable[[ContainmentCase], ContainmentCase]
    ) -> tuple[ContainmentCase, ContainmentCase]:
        """Read, change, compare-and-set; read again when another replica saved first."""
        for _ in range(_SAVE_TRIES):
            before = await self.get(containment_id)
            after = change(before)
            if after is before:
                return before, before
            try:
                await self.store.save(after)
            except StaleCase:
                continue
            return after, before
        raise TransitionNotAllowed(f"Containment {containment_id} is busy; retry.")

    def _event(self, event_type: str, case: ContainmentCase) -> CloudEvent:
        return new_event(
            event_type,
            _SOURCE,
            msgspec.to_builtins(ContainmentSummary.of(case)),
            subject=case.containment_id,
            correlation_id=case.correlation_id,
        )

    async def _audit(
        self,
        case: ContainmentCase,
        action: str,
        *,
        actor: Principal | None = None,
        reason: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        callers = [AuditCaller.of(c) for c in chain_for(actor or self.principal)]
        await self.audit.append(
            AuditEntry(
                action=action,
                entity_type="ContainmentCase",
                entity_id=case.containment_id,
                actor=callers[-1],
                on_behalf_of=callers[:-1],
                reason=reason,
                before=before,
                after={
                    **(after or {}),
                    "containmentId": case.containment_id,
                    "supplierId": case.supplier_id,
                },
                correlation_id=case.correlation_id,
            )
        )
