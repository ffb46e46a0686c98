"""The saga's steps. Each reads what it needs, acts once (deterministic downstream keys
``<containmentId>.<step>``, or a lookup of what an earlier attempt made) and says how it ended.

A step raises qgate's errors as they come: the runner (:mod:`process_apis.containment.service`)
retries the retryable ones with backoff and sends the others to MANUAL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import msgspec

from process_apis.containment._lots import action_for, hold_lot
from process_apis.containment.models import (
    SETTLED,
    AffectedLot,
    ContainmentCase,
    LotAction,
    StepName,
    StepStatus,
)
from process_apis.holds.models import Enforcement, HoldStatus, ProcurementHold, hold_id_for
from shared.auth import Caller
from shared.errors import QgateError
from shared.models import NonconformanceType, Severity
from shared.models.commands import NonconformanceCreate

if TYPE_CHECKING:
    from process_apis.containment.service import ContainmentService

__all__ = ["STEPS", "Outcome"]


class Outcome(NamedTuple):
    status: StepStatus
    """DONE, SKIPPED, MANUAL; RETRYING while waiting for work on its way; PENDING: not ready."""
    detail: str | None = None
    reference: str | None = None
    changes: dict[str, Any] = {}  # noqa: RUF012 - a NamedTuple default, never mutated
    """Fields of the case the step set."""


Step = Callable[["ContainmentService", ContainmentCase, Sequence[Caller]], Awaitable[Outcome]]


def _reason(case: ContainmentCase) -> str:
    trigger = case.trigger
    return (
        f"Containment {case.containment_id}: incoming inspection {trigger.inspection_id} of lot "
        f"{trigger.lot.lot_id} failed"
    )[:500]


async def _block_lot(
    saga: ContainmentService, case: ContainmentCase, chain: Sequence[Caller]
) -> Outcome:
    lot_id = case.trigger.lot.lot_id
    step = case.step(StepName.BLOCK_LOT)
    if step.reference is None:
        lot = (await saga.system.lot(lot_id, chain)).lot
        action, why = action_for(lot, trigger=True)
        if action is LotAction.NONE:
            return Outcome(StepStatus.SKIPPED, f"Lot {lot_id}: {why}")
    status, disposition_id, detail = await hold_lot(
        saga.dispositions,
        lot_id=lot_id,
        action=LotAction.BLOCK,
        containment_id=case.containment_id,
        reason=_reason(case),
        disposition_id=step.reference,
        principal=saga.principal,
    )
    return Outcome(status, f"Lot {lot_id}: {detail}", disposition_id)


async def _find_lots(
    saga: ContainmentService, case: ContainmentCase, chain: Sequence[Caller]
) -> ContainmentCase:
    """The lots of the same supplier lot (same supplier, item and supplier lot number) at every
    plant, each with what the saga does about it; read once per case."""
    trigger = (await saga.system.lot(case.trigger.lot.lot_id, chain)).lot
    found = [trigger]
    if trigger.supplier_lot_number is not None:
        found += [
            lot
            async for lot in saga.system.lots(
                chain,
                supplierId=case.supplier_id,
                itemId=case.item_id,
                supplierLotNumber=trigger.supplier_lot_number,
            )
            if lot.lot_id != trigger.lot_id
        ]
    lots = []
    block = case.step(StepName.BLOCK_LOT)
    for lot in found:
        is_trigger = lot.lot_id == trigger.lot_id
        action, why = action_for(lot, trigger=is_trigger)
        if is_trigger and block.reference is not None:
            # Blocked by this case's BLOCK_LOT step (which may have run first).
            held = await saga.dispositions.store.get(block.reference)
            before = held.from_disposition if held is not None else None
            lots.append(
                AffectedLot(
                    lot_id=lot.lot_id,
                    plant_id=lot.plant_id,
                    trigger=True,
                    disposition_before=before or lot.disposition,
                    action=LotAction.BLOCK,
                    status=block.status,
                    disposition_id=block.reference,
                    detail=block.detail,
                )
            )
            continue
        lots.append(
            AffectedLot(
                lot_id=lot.lot_id,
                plant_id=lot.plant_id,
                trigger=is_trigger,
                disposition_before=lot.disposition,
                action=action,
                status=StepStatus.SKIPPED if action is LotAction.NONE else StepStatus.PENDING,
                detail=why,
            )
        )
    return msgspec.structs.replace(
        case,
        supplier_lot_number=trigger.supplier_lot_number,
        lots=lots,
        plant_ids=sorted({case.trigger.lot.plant_id, *(lot.plant_id for lot in found)}),
    )


async def _quarantine_lots(
    saga: ContainmentService, case: ContainmentCase, chain: Sequence[Caller]
) -> Outcome:
    if not case.lots:
        case = await _find_lots(saga, case, chain)
    lots: list[AffectedLot] = []
    for entry in case.lots:
        if entry.trigger or entry.status in SETTLED or entry.status is StepStatus.MANUAL:
            lots.append(entry)
            continue
        try:
            status, disposition_id, detail = await hold_lot(
                saga.dispositions,
                lot_id=entry.lot_id,
                action=entry.action,
                containment_id=case.containment_id,
                reason=_reason(case),
                disposition_id=entry.disposition_id,
                principal=saga.principal,
            )
        except QgateError as exc:
            if exc.retryable:
                raise
            status, disposition_id, detail = StepStatus.MANUAL, None, exc.detail or exc.title
        lots.append(
            msgspec.structs.replace(
                entry,
                status=status,
                disposition_id=disposition_id or entry.disposition_id,
                detail=detail,
            )
        )
    changes = {
        "lots": lots,
        "supplier_lot_number": case.supplier_lot_number,
        "plant_ids": case.plant_ids,
    }
    others = [lot for lot in lots if not lot.trigger]
    stuck = [lot for lot in others if lot.status is StepStatus.MANUAL]
    if stuck:
        names = ", ".join(f"{lot.lot_id} ({lot.detail})" for lot in stuck)
        return Outcome(StepStatus.MANUAL, f"Could not hold: {names}", changes=changes)
    if any(lot.status is StepStatus.RETRYING for lot in others):
        waiting = [lot.lot_id for lot in others if lot.status is StepStatus.RETRYING]
        return Outcome(StepStatus.RETRYING, f"Waiting for {', '.join(waiting)}.", changes=changes)
    if case.supplier_lot_number is None:
        return Outcome(
            StepStatus.SKIPPED, "The lot has no supplier lot number to search by.", changes=changes
        )
    held = [lot.lot_id for lot in others if lot.action is not LotAction.NONE]
    return Outcome(
        StepStatus.DONE,
        f"{len(others)} other lot(s) of supplier lot {case.supplier_lot_number}; held now: "
        + (", ".join(held) or "none"),
        changes=changes,
    )


async def _supplier_nc(
    saga: ContainmentService, case: ContainmentCase, chain: Sequence[Caller]
) -> Outcome:
    if case.nc_id is not None:
        return Outcome(StepStatus.DONE, reference=case.nc_id)
    trigger = case.trigger
    nc = None
    async for found in saga.system.nonconformances(
        chain,
        supplierId=case.supplier_id,
        lotId=trigger.lot.lot_id,
        type=NonconformanceType.SUPPLIER_NC.value,
    ):
        if found.inspection_id == trigger.inspection_id:
            nc = found
            break
    if nc is None:
        lot_ids = [trigger.lot.lot_id] + [
            lot.lot_id for lot in case.lots if not lot.trigger and lot.action is not LotAction.NONE
        ]
        failed = ", ".join(trigger.failed_characteristics) or "see the inspection"
        nc = await saga.system.create_nonconformance(
            NonconformanceCreate(
                type=NonconformanceType.SUPPLIER_NC,
                severity=Severity.MAJOR,
                title=(
                    f"Incoming inspection {trigger.inspection_id} failed: {case.item_id} "
                    f"from {case.supplier_id}"
                )[:200],
                plant_id=trigger.lot.plant_id,
                description=(
                    f"Lot {trigger.lot.lot_id} failed incoming inspection "
                    f"{trigger.inspection_id} (rejected: {failed}). Containment case "
                    f"{case.containment_id} holds the same supplier lot at every plant."
                )[:4000],
                supplier_id=case.supplier_id,
                item_id=case.item_id,
                lot_ids=lot_ids[:100],
                inspection_id=trigger.inspection_id,
            ),
            key=f"{case.containment_id}.nc",
            chain=chain,
        )
    return Outcome(
        StepStatus.DONE,
        f"Nonconformance {nc.nc_id} ({nc.status.value}).",
        nc.nc_id,
        {"nc_id": nc.nc_id},
    )


async def _procurement_hold(
    saga: ContainmentService, case: ContainmentCase, chain: Sequence[Caller]
) -> Outcome:
    now = saga.now()
    hold = await saga.holds.place(
        ProcurementHold(
            hold_id=hold_id_for(case.containment_id),
            status=HoldStatus.ACTIVE,
            supplier_id=case.supplier_id,
            item_id=case.item_id,
            containment_id=case.containment_id,
            reason=_reason(case),
            placed_at=now,
            updated_at=now,
        ),
        chain,
        case.correlation_id,
    )
    where = (
        f"in qgate and in the ERP ({', '.join(f.value for f in hold.erp_functions)} blocked)"
        if hold.enforcement is Enforcement.QGATE_AND_ERP
        else f"in qgate ({hold.erp_detail})"
    )
    return Outcome(
        StepStatus.DONE,
        f"Purchasing of {case.item_id} from {case.supplier_id} on hold {where}.",
        hold.hold_id,
        {"hold_id": hold.hold_id},
    )


async def _portal_case(
    saga: ContainmentService, case: ContainmentCase, chain: Sequence[Caller]
) -> Outcome:
    # Published with its nonconformance, so the supplier sees what to answer to.
    if case.step(StepName.SUPPLIER_NC).status in (StepStatus.PENDING, StepStatus.RETRYING):
        return Outcome(StepStatus.PENDING, "Waits for the supplier nonconformance.")
    published: datetime = case.published_at or saga.now()
    return Outcome(
        StepStatus.DONE,
        f"Visible to supplier {case.supplier_id} in its portal.",
        changes={"published_at": published},
    )


async def _notify(
    saga: ContainmentService, case: ContainmentCase, chain: Sequence[Caller]
) -> Outcome:
    # containment.opened went to the outbox with the case itself; nothing is left to do.
    return Outcome(StepStatus.DONE, "containment.opened handed to the event bus.")


STEPS: Final[dict[StepName, Step]] = {
    StepName.BLOCK_LOT: _block_lot,
    StepName.QUARANTINE_LOTS: _quarantine_lots,
    StepName.SUPPLIER_NC: _supplier_nc,
    StepName.PROCUREMENT_HOLD: _procurement_hold,
    StepName.PORTAL_CASE: _portal_case,
    StepName.NOTIFY_SUBSCRIBERS: _notify,
}
