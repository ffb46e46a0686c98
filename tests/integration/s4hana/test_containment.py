"""The containment scenario with the ERP configured as S/4HANA (simulator): a failed incoming
inspection blocks the lot in SAP (usage decision, stock to blocked stock), quarantines the same
supplier lot received at the other plant, opens the supplier NC and sets the hold; with SAP QM
as the QMS too, the inspection is SAP's inspection lot and the NC waits for an operator."""

from __future__ import annotations

import uuid
from decimal import Decimal

from tests.integration._gateway import ERP, PROCESS
from tests.integration.s4hana._sim import stock_by_type
from tests.integration.s4hana._stack import s4hana_stack
from tests.integration.test_containment import (
    ITEM,
    PO_1000,
    PO_2000,
    SUPPLIER,
    case_of,
    fail_incoming_inspection,
    receive,
    steps,
    wait_for_case,
)


async def test_a_failed_incoming_inspection_is_contained_in_sap() -> None:
    supplier_lot = f"SL-{uuid.uuid4().hex[:8].upper()}"
    async with s4hana_stack() as stack:
        sim = stack.simulator
        async with stack.caller("operations") as ops, stack.caller("quality-engineer") as qe:
            at_1000 = await receive(ops, PO_1000, supplier_lot)
            at_2000 = await receive(ops, PO_2000, supplier_lot)
            assert at_1000["lotId"].startswith("LOT-1000-")
            assert at_1000["supplierLotNumber"] == supplier_lot

            inspection_id, _ = await fail_incoming_inspection(qe, at_1000)
            case = await case_of(ops, inspection_id)
            case = await wait_for_case(ops, case["containmentId"], {"CONTAINED"})

            assert set(steps(case).values()) == {"DONE"}
            assert (case["supplierId"], case["itemId"]) == (SUPPLIER, ITEM)
            assert case["plantIds"] == ["1000", "2000"]
            lot_1000 = await ops.ok(f"{ERP}/lots/{at_1000['lotId']}")
            lot_2000 = await ops.ok(f"{ERP}/lots/{at_2000['lotId']}")
            assert lot_1000["disposition"] == "BLOCKED"
            assert lot_2000["disposition"] == "QUARANTINE"
            # In SAP: the receipt's inspection lot decided R1 and its stock posted to blocked
            batch = at_1000["lotNumber"]
            (inspection_lot,) = sim.state.where("A_InspectionLot", Plant="1000", Batch=batch)
            (decision,) = sim.state.where(
                "A_InspLotUsageDecision", InspectionLot=inspection_lot["InspectionLot"]
            )
            assert decision["InspectionLotUsageDecisionCode"] == "R1"
            assert stock_by_type(sim, batch) == {"07": Decimal(100)}
            holds = await ops.ok(f"{PROCESS}/procurement-holds", supplierId=SUPPLIER, itemId=ITEM)
            assert [h["status"] for h in holds["items"]] == ["ACTIVE"]


async def test_with_sap_qm_the_nonconformance_waits_for_an_operator_and_the_rest_is_contained() -> (
    None
):
    """SAP QM as the QMS: the failed inspection is SAP's inspection lot of the receipt; the
    supplier nonconformance cannot be opened (no quality-notification API qgate is checked
    against), so that step waits for an operator, who closes it with the notification made by
    hand; everything else is contained in SAP."""
    supplier_lot = f"SL-{uuid.uuid4().hex[:8].upper()}"
    async with s4hana_stack(qms=True) as stack:
        sim = stack.simulator
        async with stack.caller("operations") as ops, stack.caller("quality-engineer") as qe:
            at_1000 = await receive(ops, PO_1000, supplier_lot)
            await receive(ops, PO_2000, supplier_lot)

            inspection_id, _ = await fail_incoming_inspection(qe, at_1000)
            (inspection_lot,) = sim.state.where(
                "A_InspectionLot", Plant="1000", Batch=at_1000["lotNumber"]
            )
            assert inspection_id == inspection_lot["InspectionLot"]
            case = await case_of(ops, inspection_id)
            case = await wait_for_case(ops, case["containmentId"], {"ATTENTION"})

            assert steps(case)["SUPPLIER_NC"] == "MANUAL"
            assert {n: s for n, s in steps(case).items() if n != "SUPPLIER_NC"} == {
                "BLOCK_LOT": "DONE",
                "QUARANTINE_LOTS": "DONE",
                "PROCUREMENT_HOLD": "DONE",
                "PORTAL_CASE": "DONE",
                "NOTIFY_SUBSCRIBERS": "DONE",
            }
            nc_step = next(s for s in case["steps"] if s["name"] == "SUPPLIER_NC")
            assert "(s4hana) does not support nonconformances" in nc_step["lastError"]
            (decision,) = sim.state.where(
                "A_InspLotUsageDecision", InspectionLot=inspection_lot["InspectionLot"]
            )
            assert decision["InspectionLotUsageDecisionCode"] == "R1"

            closed = await ops.post(
                f"{PROCESS}/containments/{case['containmentId']}/steps/SUPPLIER_NC/close",
                {"reason": "Quality notification 200004711 opened by hand in SAP QM"},
            )
            assert closed.status_code == 200, closed.text
            case = await wait_for_case(ops, case["containmentId"], {"CONTAINED"})
            assert steps(case)["SUPPLIER_NC"] == "CLOSED"
