"""The lot-disposition flow with the ERP configured as S/4HANA (simulator), through the process
and system layers: what qgate answers, and what SAP holds afterwards (usage decisions on the
inspection lots, stock moved by stock type through material documents)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from system_apis.connectors.s4hana.simulator import S4HanaSimulator
from tests.integration._gateway import ERP, PROCESS, wait_for_status
from tests.integration.s4hana._sim import stock_by_type
from tests.integration.s4hana._stack import s4hana_stack

DISPOSITIONS = f"{PROCESS}/lot-dispositions"
TO_RELEASE = "LOT-1000-0019"  # HSG-A100, 120 PC in quality inspection, inspection lot open
TO_BLOCK = "LOT-1000-0022"  # BRG-6205, 2000 PC in quality inspection, inspection lot open
QI, UNRESTRICTED, BLOCKED = "02", "01", "07"


def _inspection_lot(sim: S4HanaSimulator, batch: str) -> dict[str, Any]:
    (lot,) = sim.state.where("A_InspectionLot", Plant="1000", Batch=batch)
    return lot


def _movements(sim: S4HanaSimulator, batch: str) -> list[tuple[str, str, str, str]]:
    """(movement type, from stock type, to stock type, quantity) of the batch's documents."""
    return [
        (
            row["GoodsMovementType"],
            row.get("InventoryStockType", ""),
            row.get("IssuingOrReceivingStockType", ""),
            row["QuantityInEntryUnit"],
        )
        for row in sorted(
            sim.state.where("A_MaterialDocumentItem", Plant="1000", Batch=batch),
            key=lambda r: (r["MaterialDocumentYear"], r["MaterialDocument"]),
        )
    ]


async def test_release_and_block_are_posted_in_sap_as_usage_decisions_and_stock_postings() -> None:
    async with s4hana_stack() as stack:
        sim = stack.simulator
        async with stack.caller("quality-engineer") as engineer, stack.caller("operations") as ops:
            before = await ops.ok(f"{ERP}/lots/{TO_RELEASE}")
            assert before["disposition"] == "QUARANTINE"
            assert before["externalRefs"][0]["system"] == "s4hana"
            assert stock_by_type(sim, "0019") == {QI: Decimal(120)}

            released = await engineer.post(
                DISPOSITIONS,
                {
                    "lotId": TO_RELEASE,
                    "decision": "RELEASE",
                    "reason": "All characteristics conform",
                    "signatureMeaning": "Reviewed and approved",
                },
            )
            blocked = await engineer.post(
                DISPOSITIONS,
                {"lotId": TO_BLOCK, "decision": "BLOCK", "reason": "Burrs on the inner race"},
            )

            assert released.status_code == 201, released.text
            assert blocked.status_code == 201, blocked.text
            assert released.json()["erp"]["status"] == "APPLIED"
            assert blocked.json()["erp"]["status"] == "APPLIED"

            # What SAP holds: the usage decision on each inspection lot, its stock posted
            release_lot = _inspection_lot(sim, "0019")
            assert release_lot["InspectionLotHasUsageDecision"] is True
            assert release_lot["InspLotIsStockPostingCompleted"] is True
            assert release_lot["InspLotQtyToFree"] == "120.000"
            (decision,) = sim.state.where(
                "A_InspLotUsageDecision", InspectionLot=release_lot["InspectionLot"]
            )
            assert decision["InspectionLotUsageDecisionCode"] == "A1"
            assert decision["InspLotUsageDecisionValuation"] == "A"
            assert stock_by_type(sim, "0019") == {UNRESTRICTED: Decimal(120)}
            assert _movements(sim, "0019")[-1] == ("321", QI, UNRESTRICTED, "120.000")

            block_lot = _inspection_lot(sim, "0022")
            (decision,) = sim.state.where(
                "A_InspLotUsageDecision", InspectionLot=block_lot["InspectionLot"]
            )
            assert decision["InspectionLotUsageDecisionCode"] == "R1"
            assert decision["InspLotUsageDecisionValuation"] == "R"
            assert block_lot["InspLotQtyToBlocked"] == "2000.000"
            assert stock_by_type(sim, "0022") == {BLOCKED: Decimal(2000)}
            assert _movements(sim, "0022")[-1] == ("350", QI, BLOCKED, "2000.000")

            # ... and the same read back through the system API
            after = await ops.ok(f"{ERP}/lots/{TO_RELEASE}")
            assert after["disposition"] == "RELEASED"
            assert after["version"] == before["version"] + 1
            assert after["sourceStatus"] == "UD A1"
            stock = {s["category"]: s["quantity"] for s in after["stock"] if s["quantity"]}
            assert stock == {"AVAILABLE": 120}
            stock_api = await ops.ok(f"{ERP}/lots/{TO_BLOCK}/stock")
            assert {s["category"]: s["quantity"] for s in stock_api["stock"] if s["quantity"]} == {
                "BLOCKED": 2000
            }
            assert (await ops.ok(f"{ERP}/lots/{TO_BLOCK}"))["disposition"] == "BLOCKED"


async def test_a_disposition_sap_could_not_take_is_retried_until_posted_once() -> None:
    async with s4hana_stack() as stack:
        sim = stack.simulator
        async with stack.caller("quality-engineer") as engineer, stack.caller("operations") as ops:
            sim.faults.fail_next = [503]
            sim.faults.fail_path, sim.faults.fail_method = "A_InspLotUsageDecision", "POST"

            response = await engineer.post(
                DISPOSITIONS,
                {"lotId": TO_RELEASE, "decision": "RELEASE", "reason": "Within limits"},
            )

            assert response.status_code == 202, response.text
            assert response.json()["status"] == "PENDING_ERP"
            done = await wait_for_status(ops, response.json()["dispositionId"], {"APPLIED"})
            assert done["attempts"] >= 2
            number = _inspection_lot(sim, "0019")["InspectionLot"]
            assert len(sim.state.where("A_InspLotUsageDecision", InspectionLot=number)) == 1
            assert len(sim.state.where("A_InspLotMatlDocItem", InspectionLot=number)) == 1
            assert stock_by_type(sim, "0019") == {UNRESTRICTED: Decimal(120)}
