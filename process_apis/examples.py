"""Examples for the quality process contract, naming records of the embedded demo.

Each example is a real instance of the Struct its schema describes, so it is valid by
construction; the audit record is sealed the way the trail seals one (its hash is genuine).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from process_apis.audit.controllers import AuditPage
from process_apis.containment.models import (
    AffectedLot,
    CaseStatus,
    ContainmentAction,
    ContainmentCase,
    ContainmentPage,
    ContainmentResponseCreate,
    ContainmentStep,
    ContainmentSummary,
    DocumentReference,
    LotAction,
    StepName,
    Trigger,
    TriggerLot,
)
from process_apis.containment.models import StepStatus as CaseStepStatus
from process_apis.dispositions.models import (
    Disposition,
    DispositionPage,
    DispositionStatus,
    DispositionSummary,
    StepStatus,
    SystemStep,
)
from process_apis.holds.models import Enforcement, HoldPage, HoldStatus, ProcurementHold
from process_apis.suppliers.models import RejectionRate, SupplierQualityView
from shared.audit import GENESIS_HASH, AuditCaller, AuditEntry, Verification
from shared.audit._model import seal
from shared.diagnostics import diagnostic_examples
from shared.models import DispositionCode, LotDisposition, SupplierQualityStatusCode
from shared.models.erp import LotPage
from shared.models.examples import example_inspection, example_lot, example_nonconformance
from shared.models.qms import InspectionPage, NonconformancePage

__all__ = ["quality_examples"]

_AT = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
_ENGINEER = AuditCaller(client_id="plant-app", subject="j.doe@plant-1000", plants=["1000"])
_VIA = AuditCaller(client_id="experience-service", subject="experience-service")


def _disposition() -> Disposition:
    return Disposition(
        disposition_id="DSP-019A6B2C3D4E5F607182",
        version=5,
        status=DispositionStatus.APPLIED,
        lot_id="LOT-1000-0019",
        decision=DispositionCode.RELEASE,
        target_disposition=LotDisposition.RELEASED,
        from_disposition=LotDisposition.QUARANTINE,
        reason="All characteristics conform to specification",
        inspection_id="INSP-000021",
        signature_meaning="Reviewed and approved",
        requested_by=_ENGINEER,
        requested_via=[_VIA],
        qms=SystemStep(status=StepStatus.APPLIED, applied_at=_AT, reference="INSP-000021"),
        erp=SystemStep(status=StepStatus.APPLIED, applied_at=_AT, reference="v2"),
        lot_etag='"1"',
        attempts=1,
        correlation_id="5f0c6c1e-8f2a-4b7e-9a57-3f6d2b1c0a9e",
        created_at=_AT,
        updated_at=_AT,
        completed_at=_AT,
    )


def _containment() -> ContainmentCase:
    done = CaseStepStatus.DONE
    return ContainmentCase(
        containment_id="CNT-019A6B2C3D4E5F607184",
        version=9,
        status=CaseStatus.CONTAINED,
        trigger=Trigger(
            inspection_id="INSP-000035",
            lot=TriggerLot(lot_id="LOT-1000-0023", plant_id="1000", goods_receipt_id="GR-000035"),
            failed_characteristics=["C010"],
            event_id="0b7b8a52-6f1e-5d0c-9a57-3f6d2b1c0a9e",
            occurred_at=_AT,
        ),
        supplier_id="SUP-0001",
        item_id="BRG-6205",
        supplier_lot_number="SKF-4135",
        plant_ids=["1000", "2000"],
        lots=[
            AffectedLot(
                lot_id="LOT-1000-0023",
                plant_id="1000",
                trigger=True,
                disposition_before=LotDisposition.QUARANTINE,
                action=LotAction.BLOCK,
                status=done,
                disposition_id="DSP-019A6B2C3D4E5F607185",
            ),
            AffectedLot(
                lot_id="LOT-2000-0012",
                plant_id="2000",
                disposition_before=LotDisposition.RELEASED,
                action=LotAction.QUARANTINE,
                status=done,
                disposition_id="DSP-019A6B2C3D4E5F607186",
            ),
        ],
        steps=[
            ContainmentStep(name=name, status=done, attempts=1, completed_at=_AT)
            for name in StepName
        ],
        nc_id="NC-000009",
        hold_id="HLD-019A6B2C3D4E5F607184",
        published_at=_AT,
        opened_at=_AT,
        contained_at=_AT + timedelta(seconds=3),
        time_to_containment_seconds=3.2,
        correlation_id="5f0c6c1e-8f2a-4b7e-9a57-3f6d2b1c0a9e",
        updated_at=_AT + timedelta(seconds=3),
    )


def _hold() -> ProcurementHold:
    return ProcurementHold(
        hold_id="HLD-019A6B2C3D4E5F607184",
        version=2,
        status=HoldStatus.ACTIVE,
        supplier_id="SUP-0001",
        item_id="BRG-6205",
        containment_id="CNT-019A6B2C3D4E5F607184",
        reason="Containment CNT-019A6B2C3D4E5F607184: incoming inspection INSP-000035 failed",
        enforcement=Enforcement.QGATE,
        erp_detail="Held in qgate (QGATE_CONTAINMENT_ERP_SUPPLIER_BLOCK is off).",
        placed_at=_AT,
        updated_at=_AT,
    )


def quality_examples() -> dict[str, Any]:
    """Examples by schema name, with the diagnostics' own."""
    applied = _disposition()
    record = seal(
        AuditEntry(
            action="lot.disposition-changed",
            entity_type="Lot",
            entity_id=applied.lot_id,
            actor=_VIA,
            on_behalf_of=[_ENGINEER],
            reason=applied.reason,
            before={"disposition": "QUARANTINE"},
            after={"disposition": "RELEASED", "dispositionId": applied.disposition_id},
            correlation_id=applied.correlation_id,
            signature_meaning=applied.signature_meaning,
        ),
        seq=1,
        prev_hash=GENESIS_HASH,
        occurred_at=_AT,
    )
    waiting = DispositionSummary(
        disposition_id="DSP-019A6B2C3D4E5F607183",
        status=DispositionStatus.PENDING_ERP,
        lot_id="LOT-1000-0022",
        decision=DispositionCode.BLOCK,
        qms=StepStatus.NOT_REQUIRED,
        erp=StepStatus.PENDING,
        attempts=4,
        last_error="A system qgate depends on is unavailable: system answered 503",
        next_attempt_at=_AT + timedelta(seconds=16),
        created_at=_AT - timedelta(minutes=3),
        age_seconds=180.0,
    )
    case = _containment()
    hold = _hold()
    structs: dict[str, msgspec.Struct] = {
        "Lot": example_lot(),
        "LotPage": LotPage(items=[example_lot()], next_cursor="TE9ULTEwMDAtMDAxNg"),
        "Inspection": example_inspection(),
        "InspectionPage": InspectionPage(items=[example_inspection()]),
        "Nonconformance": example_nonconformance(),
        "NonconformancePage": NonconformancePage(items=[example_nonconformance()]),
        "ContainmentCase": case,
        "ContainmentResponseCreate": ContainmentResponseCreate(
            actions=[
                ContainmentAction(
                    description="Sorted 2 400 pieces at our warehouse", lot_numbers=["MPC-7781"]
                )
            ],
            d3_answer="All housings of the cast batch quarantined and X-rayed.",
            documents=[
                DocumentReference(
                    title="8D report", reference="https://supplier.example/8d/2026-117.pdf"
                )
            ],
        ),
        "ContainmentSummary": ContainmentSummary.of(case),
        "ContainmentPage": ContainmentPage(items=[ContainmentSummary.of(case)]),
        "ProcurementHold": hold,
        "HoldPage": HoldPage(items=[hold]),
        "Disposition": applied,
        "DispositionSummary": waiting,
        "DispositionPage": DispositionPage(items=[waiting]),
        "AuditRecord": record,
        "AuditPage": AuditPage(items=[record], next_cursor="1"),
        "Verification": Verification(ok=True, records=1, head_hash=record.hash),
        "SupplierQualityView": SupplierQualityView(
            supplier_id="SUP-0002",
            name="Midlands Precision Castings Ltd",
            status=SupplierQualityStatusCode.CONDITIONAL,
            reasons=["2 nonconformance(s) and 1 CAPA(s) open."],
            recorded_status=SupplierQualityStatusCode.CONDITIONAL,
            purchasing_blocked=False,
            open_nonconformances=["NC-000001", "NC-000007"],
            open_capas=["CAPA-000003"],
            rejection_rate=RejectionRate(
                window_days=365,
                since=_AT - timedelta(days=365),
                inspections=6,
                failed_inspections=0,
                inspected_quantity=540.0,
                rejected_quantity=0.0,
                ppm=0.0,
            ),
            evaluated_at=_AT,
        ),
    }
    examples = {name: msgspec.to_builtins(value) for name, value in structs.items()}
    return {**diagnostic_examples(), **examples}
