"""Examples for the supplier-portal and plant-app contracts: the views of demo records.

Each example is the view built from a canonical example record (``shared.models.examples``) or
a real instance of the view's Struct, so it is valid by construction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from experience_apis.clients.models import (
    AffectedLotRead,
    AuditCallerRead,
    AuditRecordRead,
    ContainmentActionRead,
    ContainmentCaseRead,
    ContainmentSummaryRead,
    DispositionRead,
    DocumentReferenceRead,
    ResultsOutcomeRead,
    StepRead,
    SupplierResponseRead,
    TriggerLotRead,
    TriggerRead,
)
from experience_apis.partner.schemas import (
    Case,
    CaseAcknowledgement,
    CaseResponse,
    CaseSummary,
    CaseSummaryPage,
    ContainmentAction,
    DocumentReference,
    PartnerInspection,
    PartnerInspectionPage,
    PartnerLot,
    PartnerLotPage,
    PartnerNonconformance,
    PartnerNonconformancePage,
    Scorecard,
    Trend,
)
from experience_apis.plant.schemas import (
    HeldGroup,
    HeldInventory,
    HeldItem,
    PlantDisposition,
    PlantInspection,
    PlantInspectionPage,
    PlantLot,
    PlantLotPage,
    PlantResultsOutcome,
    Timeline,
    TimelineEntry,
)
from shared.diagnostics import diagnostic_examples
from shared.models import DispositionCode, LotDisposition, SupplierQualityStatusCode
from shared.models.examples import example_inspection, example_lot, example_nonconformance

__all__ = ["partner_examples", "plant_examples"]

_AT = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)
_CURSOR = "WzAsIkxPVC0xMDAwLTAwMTYiXQ"


def _as_dict(structs: dict[str, msgspec.Struct]) -> dict[str, Any]:
    return {
        **diagnostic_examples(),
        **{name: msgspec.to_builtins(value) for name, value in structs.items()},
    }


def _case() -> ContainmentCaseRead:
    return ContainmentCaseRead(
        containment_id="CNT-019A6B2C3D4E5F607182",
        status="CONTAINED",
        trigger=TriggerRead(
            inspection_id="INSP-000017",
            lot=TriggerLotRead(lot_id="LOT-1000-0016", plant_id="1000"),
            failed_characteristics=["C010"],
        ),
        supplier_id="SUP-0002",
        item_id="HSG-A100",
        supplier_lot_number="MPC-7781",
        plant_ids=["1000", "2000"],
        lots=[
            AffectedLotRead(
                lot_id="LOT-1000-0016", plant_id="1000", trigger=True, action="BLOCK", status="DONE"
            ),
            AffectedLotRead(
                lot_id="LOT-2000-0004", plant_id="2000", action="QUARANTINE", status="DONE"
            ),
        ],
        nc_id="NC-000009",
        responses=[
            SupplierResponseRead(
                response_id="RSP-1",
                actions=[
                    ContainmentActionRead(
                        description="Sorted 2 400 pieces at our warehouse",
                        completed_at=_AT,
                        lot_numbers=["MPC-7781"],
                    )
                ],
                d3_answer="All housings of the cast batch quarantined and X-rayed.",
                documents=[
                    DocumentReferenceRead(
                        title="8D report", reference="https://supplier.example/8d/2026-117.pdf"
                    )
                ],
                responded_by=AuditCallerRead(
                    client_id="supplier-portal-sup-0002", subject="quality@sup-0002.example"
                ),
                responded_at=_AT + timedelta(hours=3),
            )
        ],
        acknowledged_at=_AT + timedelta(hours=1),
        opened_at=_AT - timedelta(minutes=2),
        contained_at=_AT,
    )


def partner_examples() -> dict[str, Any]:
    """Examples by schema name for ``/partner/v1``, with the diagnostics' own."""
    lot = PartnerLot.of(example_lot())
    inspection = PartnerInspection.of(example_inspection())
    nc = PartnerNonconformance.of(example_nonconformance())
    read = _case()
    summary = CaseSummary.of(
        ContainmentSummaryRead(
            containment_id=read.containment_id,
            status=read.status,
            supplier_id=read.supplier_id,
            item_id=read.item_id,
            supplier_lot_number=read.supplier_lot_number,
            plant_ids=read.plant_ids,
            inspection_id=read.trigger.inspection_id,
            nc_id=read.nc_id,
            opened_at=read.opened_at,
            contained_at=read.contained_at,
            acknowledged_at=read.acknowledged_at,
        )
    )
    return _as_dict(
        {
            "PartnerLot": lot,
            "PartnerLotPage": PartnerLotPage(items=[lot], next_cursor=_CURSOR),
            "PartnerInspection": inspection,
            "PartnerInspectionPage": PartnerInspectionPage(items=[inspection]),
            "PartnerNonconformance": nc,
            "PartnerNonconformancePage": PartnerNonconformancePage(items=[nc]),
            "Scorecard": Scorecard(
                supplier_id="SUP-0002",
                status=SupplierQualityStatusCode.CONDITIONAL,
                reasons=["2 nonconformance(s) and 1 CAPA(s) open."],
                ppm=3_125.0,
                window_days=365,
                recent_ppm=0.0,
                recent_days=90,
                trend=Trend.IMPROVING,
                inspections=6,
                failed_inspections=1,
                open_nonconformances=2,
                open_critical_nonconformances=0,
                open_capas=1,
            ),
            "CaseSummary": summary,
            "CaseSummaryPage": CaseSummaryPage(items=[summary]),
            "Case": Case.of(read),
            "CaseResponse": CaseResponse(
                actions=[
                    ContainmentAction(
                        description="Sorted 2 400 pieces at our warehouse",
                        lot_numbers=["MPC-7781"],
                    )
                ],
                d3_answer="All housings of the cast batch quarantined and X-rayed.",
                documents=[
                    DocumentReference(
                        title="8D report", reference="https://supplier.example/8d/2026-117.pdf"
                    )
                ],
            ),
            "CaseAcknowledgement": CaseAcknowledgement(note="Seen; our 8D team is on it."),
        }
    )


def _disposition() -> PlantDisposition:
    return PlantDisposition.of(
        DispositionRead(
            disposition_id="DSP-019A6B2C3D4E5F607182",
            status="APPLIED",
            lot_id="LOT-1000-0019",
            decision=DispositionCode.RELEASE,
            target_disposition=LotDisposition.RELEASED,
            from_disposition=LotDisposition.QUARANTINE,
            reason="All characteristics conform to specification",
            requested_by=AuditCallerRead(client_id="plant-app", subject="a.becker"),
            qms=StepRead(status="APPLIED", applied_at=_AT),
            erp=StepRead(status="APPLIED", applied_at=_AT),
            created_at=_AT,
        )
    )


def plant_examples() -> dict[str, Any]:
    """Examples by schema name for ``/plant/v1``, with the diagnostics' own."""
    lot = PlantLot.of(example_lot())
    inspection = PlantInspection.of(example_inspection())
    entry = TimelineEntry.of(
        AuditRecordRead(
            seq=42,
            occurred_at=_AT,
            action="lot.disposition-changed",
            entity_type="Lot",
            entity_id="LOT-1000-0016",
            actor=AuditCallerRead(client_id="experience-service", subject="experience-service"),
            on_behalf_of=[AuditCallerRead(client_id="plant-app", subject="a.becker")],
            reason="Porosity above the limit",
            before={"disposition": "QUARANTINE"},
            after={"disposition": "BLOCKED", "dispositionId": "DSP-019A6B2C3D4E5F607182"},
            correlation_id="5f0c6a1e-8a4b-4c1e-9a55-1f2d3c4b5a69",
            signature_meaning="Reviewed and approved",
        )
    )
    return _as_dict(
        {
            "PlantLot": lot,
            "PlantLotPage": PlantLotPage(items=[lot], next_cursor=_CURSOR),
            "HeldInventory": HeldInventory(
                groups=[
                    HeldGroup(
                        plant_id="1000",
                        disposition=LotDisposition.BLOCKED,
                        lots=1,
                        items=[HeldItem(item_id="HSG-A100", uom="PC", lots=1, quantity=120.0)],
                    )
                ],
                complete=True,
            ),
            "PlantInspection": inspection,
            "PlantInspectionPage": PlantInspectionPage(items=[inspection]),
            "PlantResultsOutcome": PlantResultsOutcome.of(
                ResultsOutcomeRead(
                    inspection=example_inspection(), proposed_decision=DispositionCode.BLOCK
                )
            ),
            "PlantDisposition": _disposition(),
            "Timeline": Timeline(lot_id="LOT-1000-0016", items=[entry]),
        }
    )
