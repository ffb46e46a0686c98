"""SAP QM as the QMS (simulator): inspection on goods receipt, results, usage decisions, through
the process and system layers with the ERP as S/4HANA too, and what SAP holds afterwards; the
inspection-lot notes shared by replicas in Redis; what SAP QM does not offer answering 501."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pytest
import redis

from shared.errors import DownstreamUnavailable, PreconditionFailed
from shared.models import DispositionCode, InspectionStatus
from shared.models.commands import Measurement, ResultsRecord, UsageDecisionCreate
from shared.settings import ResultPolicy, S4HanaSettings
from system_apis.connectors.s4hana import (
    InspectionNote,
    MemoryInspectionNotes,
    RedisInspectionNotes,
    S4HanaSimulator,
    build_simulator,
    simulator_qms_connector,
)
from tests.e2e._servers import free_port
from tests.integration._gateway import ERP, PROCESS, QMS, Caller
from tests.integration.s4hana._sim import stock_by_type
from tests.integration.s4hana._stack import s4hana_stack

DISPOSITIONS = f"{PROCESS}/lot-dispositions"
QI, UNRESTRICTED, BLOCKED = "02", "01", "07"


def _open_lot(sim: S4HanaSimulator, batch: str) -> dict[str, Any]:
    """The batch's inspection lot SAP made on its goods receipt (origin 01)."""
    (lot,) = sim.state.where("A_InspectionLot", Plant="1000", Batch=batch, InspectionLotOrigin="01")
    return lot


def _characteristics(sim: S4HanaSimulator, lot: str) -> list[dict[str, Any]]:
    return sorted(
        sim.state.where("A_InspectionCharacteristic", InspectionLot=lot),
        key=lambda r: (r["InspPlanOperationInternalID"], r["InspectionCharacteristic"]),
    )


def _measurements(sim: S4HanaSimulator, lot: str, *, fail_critical: bool) -> list[dict[str, Any]]:
    """A result per characteristic: inside the limits (or conforming), except the first
    critical one when ``fail_critical``."""
    out: list[dict[str, Any]] = []
    failed = False
    for row in _characteristics(sim, lot):
        fail = fail_critical and not failed and row["InspSpecImportanceCode"] == "01"
        failed = failed or fail
        name = row["InspectionSpecification"]
        if not row["InspSpecIsQuantitative"]:
            out.append({"characteristicId": name, "conforming": not fail})
            continue
        # SAP sends a limit it does not have as 0 with its "has" flag blank
        low: float = row["InspSpecLowerLimit"]
        up: float = row["InspSpecUpperLimit"]
        has_low, has_up = bool(row["InspSpecHasLowerLimit"]), bool(row["InspSpecHasUpperLimit"])
        inside = (
            row["InspSpecTargetValue"]
            if row["InspSpecHasTargetValue"]
            else (low if has_low else up)
        )
        outside = up + 1 if has_up else low - 1
        out.append({"characteristicId": name, "measuredValue": outside if fail else inside})
    assert failed or not fail_critical, "the plan should have a critical characteristic"
    return out


async def _receipt_of(ops: Caller, lot_id: str) -> str:
    receipts = await ops.ok(f"{ERP}/goods-receipts", lotId=lot_id)
    (receipt,) = receipts["items"]
    return str(receipt["receiptId"])


async def test_inspection_results_and_release_go_through_sap_qm() -> None:
    async with s4hana_stack(qms=True) as stack:
        sim = stack.simulator
        sap_lot = _open_lot(sim, "0019")
        number = sap_lot["InspectionLot"]
        async with stack.caller("quality-engineer") as engineer, stack.caller("operations") as ops:
            receipt = await _receipt_of(ops, "LOT-1000-0019")
            requested = await engineer.post(
                f"{PROCESS}/inspection-requests", {"goodsReceiptId": receipt}
            )
            assert requested.status_code == 201, requested.text
            inspection = requested.json()["inspection"]
            # SAP made the inspection lot on the goods receipt: qgate inspects that one
            assert inspection["inspectionId"] == number
            assert inspection["externalRefs"][0]["system"] == "s4hana"
            assert requested.json()["quarantine"] is None  # in QI stock already
            assert len(sim.state.where("A_InspectionLot", Plant="1000", Batch="0019")) == 1

            recorded = await engineer.post(
                f"{PROCESS}/inspections/{number}/results",
                {"results": _measurements(sim, number, fail_critical=False)},
            )
            assert recorded.status_code == 200, recorded.text
            outcome = recorded.json()
            assert outcome["inspection"]["status"] == "RESULTS_RECORDED"
            assert outcome["inspection"]["result"] == "PASS"
            assert outcome["proposedDecision"] == "RELEASE"
            results = sim.state.where("A_InspectionResult", InspectionLot=number)
            assert {r["InspectionValuationResult"] for r in results} == {"A"}
            assert len(results) == len(_characteristics(sim, number))

            released = await engineer.post(
                DISPOSITIONS,
                {
                    "lotId": "LOT-1000-0019",
                    "decision": "RELEASE",
                    "reason": "All characteristics conform",
                    "inspectionId": number,
                    "signatureMeaning": "Reviewed and approved",
                },
            )
            assert released.status_code == 201, released.text
            body = released.json()
            assert (body["qms"]["status"], body["erp"]["status"]) == ("APPLIED", "APPLIED")

            # SAP: one usage decision (made by the QMS step), its stock posting by the ERP step
            (decision,) = sim.state.where("A_InspLotUsageDecision", InspectionLot=number)
            assert decision["InspectionLotUsageDecisionCode"] == "A1"
            assert decision["InspLotUsageDecisionValuation"] == "A"
            postings = sim.state.where("A_InspLotMatlDocItem", InspectionLot=number)
            assert {p["UsageDecisionStockType"] for p in postings} == {UNRESTRICTED}
            assert stock_by_type(sim, "0019") == {UNRESTRICTED: Decimal(120)}

            decided = await ops.ok(f"{QMS}/inspections/{number}")
            assert decided["status"] == "DECIDED"
            assert decided["decision"]["decision"] == "RELEASE"
            assert decided["decision"]["reason"] == "All characteristics conform"
            assert decided["decision"]["sourceCode"] == "A1"
            assert decided["version"] == outcome["inspection"]["version"] + 1
            lot = await ops.ok(f"{ERP}/lots/LOT-1000-0019")
            assert lot["disposition"] == "RELEASED"


async def test_a_failed_critical_characteristic_blocks_the_lot_in_sap_under_the_apply_policy() -> (
    None
):
    # no containment saga: its BLOCK of the failed lot would race the one the policy requests
    apply = {"result_policy": ResultPolicy.APPLY, "containment": {"enabled": False}}
    async with s4hana_stack(qms=True, **apply) as stack:
        sim = stack.simulator
        number = _open_lot(sim, "0022")["InspectionLot"]
        async with stack.caller("operations") as ops:
            recorded = await ops.post(
                f"{PROCESS}/inspections/{number}/results",
                {"results": _measurements(sim, number, fail_critical=True)},
            )
            assert recorded.status_code == 200, recorded.text
            outcome = recorded.json()
            assert outcome["inspection"]["result"] == "FAIL"
            assert outcome["proposedDecision"] == "BLOCK"
            assert outcome["disposition"]["status"] == "APPLIED"
            (decision,) = sim.state.where("A_InspLotUsageDecision", InspectionLot=number)
            assert decision["InspectionLotUsageDecisionCode"] == "R1"
            assert decision["InspLotUsageDecisionValuation"] == "R"
            assert set(stock_by_type(sim, "0022")) == {BLOCKED}
            lot = await ops.ok(f"{ERP}/lots/LOT-1000-0022")
            assert lot["disposition"] == "BLOCKED"


async def test_what_sap_qm_does_not_offer_answers_501_naming_it() -> None:
    async with s4hana_stack(qms=True) as stack, stack.caller("operations") as ops:
        for path in ("nonconformances", "specifications", "capas"):
            response = await ops.get(f"{QMS}/{path}")
            assert response.status_code == 501, response.text
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "s4hana" in response.json()["detail"]
        listed = await ops.ok(f"{QMS}/inspections", plantId="1000")
        assert listed["items"]
        assert {i["externalRefs"][0]["system"] for i in listed["items"]} == {"s4hana"}


async def test_supplier_quality_status_is_computed_from_sap_naming_what_sap_qm_does_not_keep() -> (
    None
):
    async with s4hana_stack(qms=True) as stack, stack.caller("operations") as ops:
        status = await ops.ok(f"{PROCESS}/suppliers/SUP-0002/quality-status", windowDays=3650)
        assert status["openNonconformances"] == []
        assert status["openCapas"] == []
        assert status["rejectionRate"]["inspections"] > 0  # SAP's inspection lots count
        gaps = [r for r in status["reasons"] if "not supported by the connected QMS" in r]
        assert len(gaps) == 3  # nonconformances, CAPA, recorded status


# --- the connector's inspection-lot notes ----------------------------------------------------


def _passing(sim: S4HanaSimulator, lot: str) -> ResultsRecord:
    return ResultsRecord(
        results=[
            Measurement(
                characteristic_id=item["characteristicId"],
                measured_value=item.get("measuredValue"),
                conforming=item.get("conforming"),
            )
            for item in _measurements(sim, lot, fail_critical=False)
        ]
    )


def _decision() -> UsageDecisionCreate:
    return UsageDecisionCreate(
        decision=DispositionCode.RELEASE, reason="Conforms", decided_by="qa.lead"
    )


async def test_two_replicas_sharing_redis_count_one_version_and_see_the_decision(
    redis_url: str,
) -> None:
    sim = build_simulator(S4HanaSettings())
    number = _open_lot(sim, "0022")["InspectionLot"]
    first = simulator_qms_connector(
        S4HanaSettings(), sim, notes=RedisInspectionNotes.from_url(redis_url)
    )
    second = simulator_qms_connector(
        S4HanaSettings(), sim, notes=RedisInspectionNotes.from_url(redis_url)
    )
    before = await second.get_inspection(number)

    recorded = await first.record_results(
        number, _passing(sim, number), actor="qa.inspector", expected_version=before.version
    )
    seen = await second.get_inspection(number)
    assert seen == recorded
    assert seen.version == before.version + 1
    with pytest.raises(PreconditionFailed):
        await second.record_usage_decision(
            number, _decision(), actor="qa.lead", expected_version=before.version
        )
    decided = await second.record_usage_decision(
        number, _decision(), actor="qa.lead", expected_version=seen.version
    )
    assert decided.version == seen.version + 1
    assert decided.status is InspectionStatus.DECIDED
    again = await first.get_inspection(number)
    assert again == decided
    assert again.decision is not None
    assert (again.decision.reason, again.decision.decided_by) == ("Conforms", "qa.lead")
    await first.aclose()
    await second.aclose()


async def test_a_change_made_in_sap_directly_moves_the_version_on() -> None:
    sim = build_simulator(S4HanaSettings())
    number = _open_lot(sim, "0022")["InspectionLot"]
    qms = simulator_qms_connector(S4HanaSettings(), sim, notes=MemoryInspectionNotes())
    recorded = await qms.record_results(number, _passing(sim, number), actor="qa.inspector")

    # someone corrects a result in SAP itself (QE51N): the record is no longer what qgate wrote
    (result, *_) = sim.state.where("A_InspectionResult", InspectionLot=number)
    result["InspectionResultText"] = "Re-measured in SAP"
    sim.state.touch(result)
    seen = await qms.get_inspection(number)

    assert seen.version == recorded.version + 1
    with pytest.raises(PreconditionFailed):
        await qms.record_usage_decision(
            number, _decision(), actor="qa.lead", expected_version=recorded.version
        )
    await qms.aclose()


async def test_the_notes_store_down_is_a_retryable_unavailability() -> None:
    sim = build_simulator(S4HanaSettings())
    qms = simulator_qms_connector(
        S4HanaSettings(),
        sim,
        notes=RedisInspectionNotes.from_url(f"redis://127.0.0.1:{free_port()}/0"),
    )
    with pytest.raises(DownstreamUnavailable) as caught:
        await qms.get_inspection(_open_lot(sim, "0019")["InspectionLot"])
    assert caught.value.retryable
    await qms.aclose()


class _DownAfterFirstRead(MemoryInspectionNotes):
    """A notes store that goes down between the read before a change and the note after it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def get_many(self, keys: Iterable[str]) -> dict[str, InspectionNote]:
        self.reads += 1
        if self.reads > 1:
            raise redis.ConnectionError("notes store gone")
        return await super().get_many(keys)

    async def put(self, key: str, note: InspectionNote, *, replaces: int | None) -> bool:
        raise redis.ConnectionError("notes store gone")


async def test_a_notes_store_lost_after_sap_took_the_change_does_not_fail_the_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Answering 503 would make the caller retry a change SAP already made (a second usage
    decision SAP refuses): the change is answered as SAP holds it, and the lost note logged."""
    sim = build_simulator(S4HanaSettings())
    number = _open_lot(sim, "0022")["InspectionLot"]
    qms = simulator_qms_connector(S4HanaSettings(), sim, notes=_DownAfterFirstRead())

    recorded = await qms.record_results(number, _passing(sim, number), actor="qa.inspector")

    assert recorded.status is InspectionStatus.RESULTS_RECORDED
    assert len(sim.state.where("A_InspectionResult", InspectionLot=number)) == len(recorded.results)
    assert "notes store down after a change" in caplog.text
    await qms.aclose()
