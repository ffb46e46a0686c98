"""Inspection on goods receipt, and results that propose (or apply) the lot's disposition.

Results that complete an inspection are announced as ``com.qgate.inspection.completed.v1`` on
the ``quality`` stream. No state of this layer changes with them (the QMS holds the results),
so there is no outbox: the event id is derived from the inspection and its version, and a
retried request (answered by the system layer from its idempotency store) publishes an event
consumers already have, which they skip.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Final

from process_apis.clients.system import SystemClient
from process_apis.dispositions.models import LotDispositionRequest
from process_apis.dispositions.service import DispositionService
from process_apis.holds.service import HoldService
from process_apis.inspections.models import (
    InspectionRequestCreate,
    InspectionRequestResult,
    ResultsOutcome,
)
from shared.audit import AuditCaller, AuditEntry
from shared.auth import Caller, Principal
from shared.correlation import current_correlation_id
from shared.delegation import chain_for, derive_key
from shared.errors import ClientError, NotFound, QgateError, TransitionNotAllowed
from shared.events import (
    INSPECTION_COMPLETED,
    QUALITY_STREAM,
    EventBus,
    derived_event_id,
    new_event,
)
from shared.models import (
    CharacteristicValuation,
    DispositionCode,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    LotDisposition,
)
from shared.models.commands import InspectionCreate, ResultsRecord
from shared.models.qms import Inspection
from shared.settings import ProcessSettings, ResultPolicy

__all__ = ["EVENT_SOURCE", "PROPOSAL", "InspectionService"]

_log = logging.getLogger("qgate.process.inspections")
EVENT_SOURCE: Final = "/process/v1/inspections"

PROPOSAL: Final = {
    InspectionResult.PASS: DispositionCode.RELEASE,
    InspectionResult.CONDITIONAL_PASS: DispositionCode.RESTRICT,
    InspectionResult.FAIL: DispositionCode.BLOCK,
}
"""The disposition an overall result suggests."""


class InspectionService:
    def __init__(
        self,
        *,
        system: SystemClient,
        dispositions: DispositionService,
        policy: ProcessSettings,
        holds: HoldService | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self.system = system
        self.dispositions = dispositions
        self.policy = policy
        self.holds = holds
        self.bus = bus

    async def request(
        self, body: InspectionRequestCreate, principal: Principal
    ) -> InspectionRequestResult:
        """Create the QMS inspection of a goods receipt (once per receipt) and make sure the lot
        sits in QUALITY_INSPECTION stock (QUARANTINE) until it is decided."""
        chain = chain_for(principal)
        try:
            receipt = await self.system.goods_receipt(body.goods_receipt_id, chain)
        except NotFound:
            raise NotFound(f"No goods receipt {body.goods_receipt_id} in the ERP.") from None
        if self.holds is not None:
            # A receipt of a held supplier's item is refused (409 procurement-hold).
            await self.holds.check_receipt(
                receipt.supplier_id, receipt.item_id, receipt.received_at
            )
        inspection = await self.system.create_inspection(
            InspectionCreate(
                origin=InspectionOrigin.GOODS_RECEIPT,
                lot_id=receipt.lot_id,
                item_id=receipt.item_id,
                plant_id=receipt.plant_id,
                quantity=receipt.quantity,
                supplier_id=receipt.supplier_id,
                goods_receipt_id=receipt.receipt_id,
                spec_id=body.spec_id,
            ),
            # The QMS finds the receipt's inspection by natural key too; the key makes a retry
            # a replay rather than a second lookup-and-create.
            key=f"qgate-gr-{receipt.receipt_id}-inspection-{body.spec_id or 'current'}",
            chain=chain,
        )
        lot = (await self.system.lot(receipt.lot_id, chain)).lot
        quarantine = None
        if lot.disposition is not LotDisposition.QUARANTINE:
            try:
                quarantine = await self.dispositions.request(
                    LotDispositionRequest(
                        lot_id=receipt.lot_id,
                        decision=DispositionCode.QUARANTINE,
                        reason=(
                            f"Incoming inspection {inspection.inspection_id} of goods receipt "
                            f"{receipt.receipt_id}"
                        ),
                    ),
                    principal,
                )
            except TransitionNotAllowed as exc:
                raise TransitionNotAllowed(
                    f"Inspection {inspection.inspection_id} exists, but lot {receipt.lot_id} "
                    f"cannot be put into quarantine: {exc.detail}"
                ) from exc
        callers = [AuditCaller.of(c) for c in chain]
        await self.dispositions.audit.append(
            AuditEntry(
                action="inspection.requested",
                entity_type="Inspection",
                entity_id=inspection.inspection_id,
                actor=callers[-1],
                on_behalf_of=callers[:-1],
                reason=f"Goods receipt {receipt.receipt_id}",
                after={
                    "lotId": receipt.lot_id,
                    "goodsReceiptId": receipt.receipt_id,
                    "specId": inspection.spec_id,
                    "quantity": inspection.quantity,
                    "status": inspection.status.value,
                },
                correlation_id=current_correlation_id(),
            )
        )
        return InspectionRequestResult(inspection=inspection, quarantine=quarantine)

    async def record_results(
        self,
        inspection_id: str,
        body: ResultsRecord,
        principal: Principal,
        *,
        idempotency_key: str,
    ) -> ResultsOutcome:
        """Record results in the QMS; once complete, propose or apply the disposition."""
        chain = chain_for(principal)
        key = derive_key(principal, idempotency_key, f"results:{inspection_id}")
        try:
            inspection = await self.system.record_results(inspection_id, body, key=key, chain=chain)
        except NotFound:
            raise NotFound(f"No inspection {inspection_id} in the QMS.") from None
        callers = [AuditCaller.of(c) for c in chain]
        await self.dispositions.audit.append(
            AuditEntry(
                action="inspection.results-recorded",
                entity_type="Inspection",
                entity_id=inspection_id,
                actor=callers[-1],
                on_behalf_of=callers[:-1],
                after={
                    "status": inspection.status.value,
                    "result": inspection.result.value,
                    "characteristics": {
                        r.characteristic_id: r.valuation.value for r in inspection.results
                    },
                },
                correlation_id=current_correlation_id(),
            )
        )
        if inspection.status is InspectionStatus.RESULTS_RECORDED:
            await self._announce_completed(inspection, chain)
        proposed = (
            PROPOSAL.get(inspection.result)
            if inspection.status is InspectionStatus.RESULTS_RECORDED
            and inspection.decision is None
            else None
        )
        outcome = ResultsOutcome(
            inspection=inspection, proposed_decision=proposed, policy=self.policy.result_policy
        )
        if proposed is None or self.policy.result_policy is not ResultPolicy.APPLY:
            return outcome
        try:
            disposition = await self.dispositions.request(
                LotDispositionRequest(
                    lot_id=inspection.lot_id,
                    decision=proposed,
                    reason=f"Inspection {inspection_id}: {inspection.result.value}",
                    inspection_id=inspection_id,
                ),
                principal,
            )
        except ClientError as exc:
            return ResultsOutcome(
                inspection=inspection,
                proposed_decision=proposed,
                policy=self.policy.result_policy,
                disposition_problem=exc.detail or exc.title,
            )
        return ResultsOutcome(
            inspection=inspection,
            proposed_decision=proposed,
            policy=self.policy.result_policy,
            disposition=disposition,
        )

    async def _announce_completed(self, inspection: Inspection, chain: Sequence[Caller]) -> None:
        """Publish ``inspection.completed`` (once per inspection version, see the module doc)."""
        if self.bus is None:
            return
        supplier_lot: str | None = None
        try:
            supplier_lot = (await self.system.lot(inspection.lot_id, chain)).lot.supplier_lot_number
        except QgateError as exc:
            # The event matters more than this one field: it goes out without it.
            _log.warning("lot %s unreadable for its event (%s)", inspection.lot_id, exc)
        data: dict[str, Any] = {
            "inspectionId": inspection.inspection_id,
            "version": inspection.version,
            "lotId": inspection.lot_id,
            "itemId": inspection.item_id,
            "supplierId": inspection.supplier_id,
            "supplierLotNumber": supplier_lot,
            "plantId": inspection.plant_id,
            "origin": inspection.origin.value,
            "goodsReceiptId": inspection.goods_receipt_id,
            "specId": inspection.spec_id,
            "quantity": inspection.quantity,
            "result": inspection.result.value,
            "failedCharacteristics": [
                r.characteristic_id
                for r in inspection.results
                if r.valuation is CharacteristicValuation.REJECT
            ],
        }
        event = new_event(
            INSPECTION_COMPLETED,
            EVENT_SOURCE,
            data,
            subject=inspection.lot_id,
            id=derived_event_id(
                INSPECTION_COMPLETED, inspection.inspection_id, str(inspection.version)
            ),
        )
        await self.bus.publish(QUALITY_STREAM, event)
