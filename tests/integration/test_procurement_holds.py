"""Procurement holds: kept in qgate and enforced at its inspection requests, blocked in the ERP
too where configured (and kept in qgate alone where the ERP cannot: 501), lifted once the
nonconformance is closed and the supplier's CAPA is at D8 with its effectiveness verified, with
a second person's approval; then the containment case is closed."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from tests.integration._gateway import ERP, PROCESS, QMS, Caller, Gateway, assert_problem, settings
from tests.integration.test_containment import (
    CONTAINMENTS,
    ITEM,
    PO_1000,
    SUPPLIER,
    case_of,
    fail_incoming_inspection,
    receive,
    wait_for_case,
)

HOLDS = f"{PROCESS}/procurement-holds"


async def contained_case(ops: Caller, engineer: Caller) -> dict[str, Any]:
    receipt = await receive(ops, PO_1000, f"SL-{uuid.uuid4().hex[:8].upper()}")
    inspection_id, _ = await fail_incoming_inspection(engineer, receipt)
    case = await case_of(ops, inspection_id)
    return await wait_for_case(ops, case["containmentId"], {"CONTAINED"})


async def wait_for_hold(ops: Caller, hold_id: str, status: str) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + 15.0
    while True:
        hold: dict[str, Any] = await ops.ok(f"{HOLDS}/{hold_id}")
        if hold["status"] == status:
            return hold
        assert asyncio.get_running_loop().time() < deadline, f"stuck at {hold}"
        await asyncio.sleep(0.05)


async def resolve_in_qms(ops: Caller, nc_id: str, owner: str) -> str:
    """Close the nonconformance and take a supplier CAPA on it through D8; its id."""
    for status, extra in (
        ("IN_PROGRESS", {}),
        ("IN_REVIEW", {}),
        ("CLOSED", {"materialDisposition": "RETURN_TO_VENDOR"}),
    ):
        response = await ops.http.patch(
            f"{QMS}/nonconformances/{nc_id}",
            json={"reason": "Worked off", "status": status, **extra},
            headers=ops.headers(f"nc-{nc_id}-{status}"),
        )
        assert response.status_code == 200, response.text
    created = await ops.post(
        f"{QMS}/capas",
        {
            "type": "SUPPLIER_CORRECTIVE",
            "title": "Bore diameter drift at the supplier",
            "plantId": "1000",
            "owner": owner,
            "supplierId": SUPPLIER,
            "ncIds": [nc_id],
        },
    )
    assert created.status_code == 201, created.text
    capa = created.json()
    for stage in [f"D{n}" for n in range(int(capa["stage"][1]), 9)]:
        advanced = await ops.post(
            f"{QMS}/capas/{capa['capaId']}/stage-advances", {"stage": stage, "summary": "Done"}
        )
        assert advanced.status_code == 200, advanced.text
    capa_id: str = capa["capaId"]
    return capa_id


async def test_the_hold_is_enforced_then_lifted_by_a_second_person_and_the_case_closed() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with (
            gw.caller("operations") as ops,
            gw.caller("quality-engineer") as engineer,
            gw.caller("quality-approver") as approver,
        ):
            case = await contained_case(ops, engineer)
            hold = await ops.ok(f"{HOLDS}/{case['holdId']}")
            assert hold["status"] == "ACTIVE"
            assert hold["enforcement"] == "QGATE"
            assert hold["itemId"] == ITEM
            listed = await ops.ok(HOLDS, supplierId=SUPPLIER, status="ACTIVE")
            assert case["holdId"] in [h["holdId"] for h in listed["items"]]

            # A new receipt of the held item from the supplier is refused at qgate.
            later = await receive(ops, PO_1000, f"SL-{uuid.uuid4().hex[:8].upper()}")
            refused = await engineer.post(
                f"{PROCESS}/inspection-requests", {"goodsReceiptId": later["receiptId"]}
            )
            problem = assert_problem(refused, 409, "procurement-hold")
            assert case["holdId"] in problem["detail"]

            capa_id = await resolve_in_qms(ops, case["ncId"], owner="quality-approver")
            hold = await wait_for_hold(ops, case["holdId"], "LIFT_PENDING_APPROVAL")
            assert hold["liftProposedBy"] == "quality-approver"
            assert capa_id in hold["liftReason"]
            still = await engineer.post(
                f"{PROCESS}/inspection-requests", {"goodsReceiptId": later["receiptId"]}
            )
            assert_problem(still, 409, "procurement-hold")

            approvals = f"{HOLDS}/{case['holdId']}/approvals"
            body = {"decision": "APPROVE", "reason": "8D verified effective"}
            assert_problem(await engineer.post(approvals, body), 403, "insufficient-scope")
            # The CAPA's owner verified it: the lift needs another person.
            assert_problem(await approver.post(approvals, body), 403, "self-approval")
            lifted = await ops.post(approvals, body)
            assert lifted.status_code == 200, lifted.text
            assert lifted.json()["status"] == "LIFTED"
            assert lifted.json()["approvals"][0]["approver"]["subject"] == "operations"

            closed = await ops.ok(f"{CONTAINMENTS}/{case['containmentId']}")
            assert closed["status"] == "CLOSED"
            assert closed["capaId"] == capa_id
            assert closed["closedAt"] >= closed["containedAt"]
            accepted = await engineer.post(
                f"{PROCESS}/inspection-requests", {"goodsReceiptId": later["receiptId"]}
            )
            assert accepted.status_code == 201, accepted.text
            trail = await ops.ok(f"{PROCESS}/audit", entityId=case["holdId"])
            assert [r["action"] for r in trail["items"]] == [
                "procurement-hold.placed",
                "procurement-hold.lift-proposed",
                "procurement-hold.lifted",
            ]


async def test_the_erp_blocks_the_supplier_too_where_configured_and_lifts_it_with_the_hold() -> (
    None
):
    config = settings(containment={"erp_supplier_block": True, "lift_requires_approval": False})
    async with Gateway(config) as gw:
        await gw.start()
        async with gw.caller("operations") as ops, gw.caller("quality-engineer") as engineer:
            case = await contained_case(ops, engineer)
            hold = await ops.ok(f"{HOLDS}/{case['holdId']}")
            assert hold["enforcement"] == "QGATE_AND_ERP"
            assert hold["erpFunctions"] == ["PURCHASE_ORDER", "GOODS_RECEIPT"]
            supplier = await ops.ok(f"{ERP}/suppliers/{SUPPLIER}")
            assert supplier["purchasingBlocked"] is True
            assert set(supplier["purchasingBlock"]["functions"]) == {
                "PURCHASE_ORDER",
                "GOODS_RECEIPT",
            }

            await resolve_in_qms(ops, case["ncId"], owner="qa.lead")
            closed = await wait_for_case(ops, case["containmentId"], {"CLOSED"})
            assert closed["status"] == "CLOSED"
            assert (await ops.ok(f"{HOLDS}/{case['holdId']}"))["status"] == "LIFTED"
            supplier = await ops.ok(f"{ERP}/suppliers/{SUPPLIER}")
            assert supplier["purchasingBlocked"] is False


async def test_where_the_erp_cannot_block_purchasing_the_hold_is_kept_in_qgate() -> None:
    async with Gateway(settings(containment={"erp_supplier_block": True})) as gw:
        await gw.start()
        gw.faults.unsupported.add("/purchasing-block")
        async with gw.caller("operations") as ops, gw.caller("quality-engineer") as engineer:
            case = await contained_case(ops, engineer)
            hold = await ops.ok(f"{HOLDS}/{case['holdId']}")
            assert hold["status"] == "ACTIVE"
            assert hold["enforcement"] == "QGATE"
            assert hold["erpFunctions"] == []
            assert "cannot block purchasing" in hold["erpDetail"]
            assert (await ops.ok(f"{ERP}/suppliers/{SUPPLIER}"))["purchasingBlocked"] is False
