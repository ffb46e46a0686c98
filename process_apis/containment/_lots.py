"""Holding lots through the disposition engine, so its state machine, audit records and
one-active-disposition rule apply to the saga too.

A lot's disposition is requested once per case: its reason names the case, and before asking
for a new one the lot's dispositions are searched for one that names it (a replica that stopped
after the request and before saving the case finds it again instead of asking twice).
"""

from __future__ import annotations

from process_apis.containment.models import LotAction, StepStatus
from process_apis.dispositions.models import (
    ACTIVE,
    Disposition,
    DispositionStatus,
    LotDispositionRequest,
)
from process_apis.dispositions.service import DispositionService
from shared.auth import Principal
from shared.errors import BackendRejected
from shared.models import DispositionCode, LotDisposition
from shared.models.erp import Lot

__all__ = ["action_for", "hold_lot"]

_D = LotDisposition
_HELD = frozenset({_D.QUARANTINE, _D.BLOCKED, _D.REJECTED})
_FINAL = frozenset({_D.SCRAPPED, _D.RETURNED_TO_SUPPLIER})
_GAVE_UP = frozenset({DispositionStatus.FAILED, DispositionStatus.DECLINED})


def action_for(lot: Lot, *, trigger: bool) -> tuple[LotAction, str | None]:
    """What to do with a lot of the supplier lot, and why nothing when nothing."""
    if lot.disposition in _FINAL:
        return LotAction.NONE, f"{lot.disposition.value}: final."
    if trigger:
        if lot.disposition in (_D.BLOCKED, _D.REJECTED):
            return LotAction.NONE, f"Already {lot.disposition.value}."
        return LotAction.BLOCK, None
    if lot.disposition in _HELD:
        return LotAction.NONE, f"Already {lot.disposition.value}."
    if lot.total_quantity <= 0:
        return LotAction.NONE, "Consumed: no stock left."
    if lot.disposition is _D.RESTRICTED:
        # RESTRICTED cannot go back to QUARANTINE (state machine): it is blocked instead.
        return LotAction.BLOCK, None
    return LotAction.QUARANTINE, None


def _code(action: LotAction) -> DispositionCode:
    return DispositionCode.BLOCK if action is LotAction.BLOCK else DispositionCode.QUARANTINE


async def _requested_for(
    dispositions: DispositionService, lot_id: str, containment_id: str
) -> Disposition | None:
    after: str | None = None
    while True:
        page = await dispositions.store.find(lot_id=lot_id, after=after, limit=200)
        for d in page:
            # A failed one is not adopted: an operator's retry asks again.
            if containment_id in d.reason and d.status not in _GAVE_UP:
                return d
        if len(page) < 200:
            return None
        after = page[-1].disposition_id


async def hold_lot(
    dispositions: DispositionService,
    *,
    lot_id: str,
    action: LotAction,
    containment_id: str,
    reason: str,
    disposition_id: str | None,
    principal: Principal,
) -> tuple[StepStatus, str | None, str]:
    """Request (once) and follow the disposition holding the lot: ``(status, disposition id,
    detail)``, status DONE once applied, RETRYING while the engine is still on it (or the lot
    has another disposition in progress). Raises the disposition engine's errors when the
    request is refused, :class:`BackendRejected` when the disposition failed."""
    found = None
    if disposition_id is not None:
        found = await dispositions.store.get(disposition_id)
    if found is None:
        found = await _requested_for(dispositions, lot_id, containment_id)
    if found is None:
        for d in await dispositions.store.find(lot_id=lot_id, limit=200):
            if d.status in ACTIVE:
                return (
                    StepStatus.RETRYING,
                    None,
                    f"Lot {lot_id} has disposition {d.disposition_id} in progress "
                    f"({d.status.value}); held once it ends.",
                )
        found = await dispositions.request(
            LotDispositionRequest(lot_id=lot_id, decision=_code(action), reason=reason),
            principal,
        )
    if found.status is DispositionStatus.APPLIED:
        return StepStatus.DONE, found.disposition_id, f"{found.target_disposition.value}."
    if found.status in (DispositionStatus.FAILED, DispositionStatus.DECLINED):
        raise BackendRejected(
            f"Disposition {found.disposition_id} of lot {lot_id} {found.status.value}: "
            f"{found.last_error or 'declined'}"
        )
    return (
        StepStatus.RETRYING,
        found.disposition_id,
        f"Disposition {found.disposition_id} is {found.status.value}"
        + (f" ({found.last_error})" if found.last_error else "")
        + ".",
    )
