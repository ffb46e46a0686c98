"""The supplier containment saga end to end: issuer, process replicas (with the event bus, the
outbox relays and the workers), system layer, reference ERP and QMS (see ``_gateway``).

The scenario of the issue: an incoming inspection fails at plant 1000; the lot is blocked in the
ERP, the same supplier lot at plant 2000 is quarantined, a supplier nonconformance is open in
the QMS, the procurement hold is set, the case is visible to that supplier and to no other, a
webhook is delivered once with a valid signature, and the audit trail holds every step under one
correlation id. Then the same with the ERP unavailable during the saga, and with a step that
fails for good (an operator retries or closes it).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest

from shared.auth import Caller as OnBehalf
from shared.delegation import ON_BEHALF_OF_HEADER, encode_chain
from shared.events import CONTAINMENT_OPENED
from shared.settings import StoreKind
from tests.integration._gateway import (
    ERP,
    PROCESS,
    QMS,
    Caller,
    Gateway,
    assert_problem,
    settings,
)
from tests.integration.test_webhooks import Receiver

CONTAINMENTS = f"{PROCESS}/containments"
SUPPLIER = "SUP-0001"
ITEM = "BRG-6205"
PO_1000 = ("PO-4500000110", 10)
PO_2000 = ("PO-4500000120", 10)
FAILING = [
    {"characteristicId": "C010", "measuredValue": 25.4},
    {"characteristicId": "C020", "measuredValue": 51.995},
    {"characteristicId": "C030", "measuredValue": 14.95},
    {"characteristicId": "C040", "conforming": True},
]


async def receive(ops: Caller, po: tuple[str, int], supplier_lot: str) -> dict[str, Any]:
    response = await ops.post(
        f"{ERP}/goods-receipts",
        {
            "poId": po[0],
            "lineNo": po[1],
            "quantity": 100.0,
            "supplierLotNumber": supplier_lot,
            "deliveryNote": f"DN-{uuid.uuid4().hex[:12]}",
        },
    )
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


async def fail_incoming_inspection(engineer: Caller, receipt: dict[str, Any]) -> tuple[str, str]:
    """Inspect the receipt and record failing results: (inspection id, correlation id)."""
    requested = await engineer.post(
        f"{PROCESS}/inspection-requests", {"goodsReceiptId": receipt["receiptId"]}
    )
    assert requested.status_code == 201, requested.text
    inspection_id = requested.json()["inspection"]["inspectionId"]
    recorded = await engineer.post(
        f"{PROCESS}/inspections/{inspection_id}/results", {"results": FAILING}
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["inspection"]["result"] == "FAIL"
    return inspection_id, recorded.headers["x-correlation-id"]


async def case_of(ops: Caller, inspection_id: str, within: float = 15.0) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        page = await ops.ok(CONTAINMENTS, supplierId=SUPPLIER, limit=200)
        found = [c for c in page["items"] if c["inspectionId"] == inspection_id]
        if found:
            case: dict[str, Any] = await ops.ok(f"{CONTAINMENTS}/{found[0]['containmentId']}")
            return case
        assert asyncio.get_running_loop().time() < deadline, "no containment case opened"
        await asyncio.sleep(0.05)


async def wait_for_case(
    ops: Caller, containment_id: str, statuses: set[str], within: float = 20.0
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        case: dict[str, Any] = await ops.ok(f"{CONTAINMENTS}/{containment_id}")
        if case["status"] in statuses:
            return case
        assert asyncio.get_running_loop().time() < deadline, f"stuck at {case}"
        await asyncio.sleep(0.05)


def steps(case: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in case["steps"]}


def as_supplier(ops: Caller, supplier_id: str) -> dict[str, str]:
    """Headers of the experience layer calling on behalf of a supplier's portal user."""
    chain = [
        OnBehalf(
            client_id=f"supplier-portal-{supplier_id.lower()}",
            subject="contact",
            supplier_id=supplier_id,
        )
    ]
    return {**ops.headers(), ON_BEHALF_OF_HEADER: encode_chain(chain)}


@pytest.mark.parametrize("store", [StoreKind.MEMORY, StoreKind.REDIS])
async def test_a_failed_incoming_inspection_is_contained_everywhere(
    store: StoreKind, request: pytest.FixtureRequest
) -> None:
    receiver = Receiver()
    supplier_lot = f"SL-{uuid.uuid4().hex[:8].upper()}"
    redis_url = request.getfixturevalue("redis_url") if store is StoreKind.REDIS else None
    async with receiver.running(), Gateway(settings(store=store, redis_url=redis_url)) as gw:
        await gw.start()
        async with (
            gw.caller("operations") as ops,
            gw.caller("quality-engineer") as engineer,
            gw.caller("experience-service") as experience,
        ):
            subscribed = await ops.post(
                f"{PROCESS}/ops/webhook-subscriptions",
                {"url": receiver.url, "eventTypes": [CONTAINMENT_OPENED]},
            )
            assert subscribed.status_code == 201, subscribed.text
            receiver.secret = subscribed.json()["secret"]
            at_1000 = await receive(ops, PO_1000, supplier_lot)
            at_2000 = await receive(ops, PO_2000, supplier_lot)
            gw.faults.changes.clear()

            inspection_id, correlation_id = await fail_incoming_inspection(engineer, at_1000)
            case = await case_of(ops, inspection_id)
            case = await wait_for_case(ops, case["containmentId"], {"CONTAINED"})
            containment_id = case["containmentId"]

            assert set(steps(case).values()) == {"DONE"}
            assert case["supplierId"] == SUPPLIER
            assert case["itemId"] == ITEM
            assert case["supplierLotNumber"] == supplier_lot
            assert case["plantIds"] == ["1000", "2000"]
            assert case["timeToContainmentSeconds"] >= 0
            assert case["containedAt"] >= case["openedAt"]
            lots = {lot["lotId"]: lot for lot in case["lots"]}
            assert lots[at_2000["lotId"]]["action"] == "QUARANTINE"
            assert lots[at_2000["lotId"]]["status"] == "DONE"
            # The lot blocked in the ERP, the same supplier lot at plant 2000 quarantined.
            assert (await ops.ok(f"{ERP}/lots/{at_1000['lotId']}"))["disposition"] == "BLOCKED"
            assert (await ops.ok(f"{ERP}/lots/{at_2000['lotId']}"))["disposition"] == "QUARANTINE"
            # The supplier nonconformance is open in the QMS.
            nc = await ops.ok(f"{QMS}/nonconformances/{case['ncId']}")
            assert nc["type"] == "SUPPLIER_NC"
            assert nc["status"] == "OPEN"
            assert nc["supplierId"] == SUPPLIER
            assert nc["inspectionId"] == inspection_id
            assert set(nc["lotIds"]) == {at_1000["lotId"], at_2000["lotId"]}
            # The procurement hold is set.
            holds = await ops.ok(f"{PROCESS}/procurement-holds", supplierId=SUPPLIER, itemId=ITEM)
            (hold,) = holds["items"]
            assert hold["status"] == "ACTIVE"
            assert hold["holdId"] == case["holdId"]
            # Applied once each: the two lots' ERP changes, one usage decision, one NC.
            assert gw.faults.changes == Counter({"erp": 2, "qms": 1, "nc": 1})

            # Visible to that supplier, and to no other.
            mine = await experience.http.get(
                CONTAINMENTS,
                params={"supplierId": SUPPLIER},
                headers=as_supplier(experience, SUPPLIER),
            )
            assert [c["containmentId"] for c in mine.json()["items"]] == [containment_id]
            seen = await experience.http.get(
                f"{CONTAINMENTS}/{containment_id}", headers=as_supplier(experience, SUPPLIER)
            )
            assert seen.status_code == 200
            assert all(s["lastError"] is None for s in seen.json()["steps"])
            assert seen.json()["correlationId"] is None
            other = await experience.http.get(
                f"{CONTAINMENTS}/{containment_id}", headers=as_supplier(experience, "SUP-0002")
            )
            assert_problem(other, 404, "not-found")
            theirs = await experience.http.get(
                CONTAINMENTS,
                params={"supplierId": SUPPLIER},
                headers=as_supplier(experience, "SUP-0002"),
            )
            assert theirs.json()["items"] == []

            # The webhook: delivered once, with a valid signature.
            (delivery,) = await receiver.wait_for(1)
            assert delivery.valid
            await gw.replicas[0].state["bus"].drain()
            assert len(receiver.received) == 1

            # One correlation id for every step in the audit trail.
            trail = await ops.ok(
                f"{PROCESS}/audit", entityType="ContainmentCase", entityId=containment_id
            )
            actions = [r["action"] for r in trail["items"]]
            assert actions[0] == "containment.opened"
            assert actions.count("containment.step-done") == 5
            assert actions[-1] == "containment.contained"
            for lot_id in (at_1000["lotId"], at_2000["lotId"]):
                changes = await ops.ok(
                    f"{PROCESS}/audit", entityId=lot_id, action="lot.disposition-changed"
                )
                trail["items"] += changes["items"][-1:]
            assert {r["correlationId"] for r in trail["items"]} == {correlation_id}


async def test_with_the_erp_down_the_steps_are_retried_and_applied_once() -> None:
    supplier_lot = f"SL-{uuid.uuid4().hex[:8].upper()}"
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops, gw.caller("quality-engineer") as engineer:
            at_1000 = await receive(ops, PO_1000, supplier_lot)
            at_2000 = await receive(ops, PO_2000, supplier_lot)
            requested = await engineer.post(
                f"{PROCESS}/inspection-requests", {"goodsReceiptId": at_1000["receiptId"]}
            )
            inspection_id = requested.json()["inspection"]["inspectionId"]
            gw.faults.changes.clear()
            gw.faults.erp_down = True
            recorded = await engineer.post(
                f"{PROCESS}/inspections/{inspection_id}/results", {"results": FAILING}
            )
            assert recorded.status_code == 200, recorded.text
            case = await case_of(ops, inspection_id)
            containment_id = case["containmentId"]
            while steps(case)["BLOCK_LOT"] != "RETRYING" or steps(case)["SUPPLIER_NC"] != "DONE":
                await asyncio.sleep(0.05)
                case = await ops.ok(f"{CONTAINMENTS}/{containment_id}")
            assert case["status"] == "CONTAINING"
            block = next(s for s in case["steps"] if s["name"] == "BLOCK_LOT")
            assert "unavailable" in block["lastError"]
            assert block["attempts"] >= 1
            assert block["nextAttemptAt"] is not None

            gw.faults.erp_down = False
            case = await wait_for_case(ops, containment_id, {"CONTAINED"})
            assert set(steps(case).values()) == {"DONE"}
            assert (await ops.ok(f"{ERP}/lots/{at_1000['lotId']}"))["disposition"] == "BLOCKED"
            assert (await ops.ok(f"{ERP}/lots/{at_2000['lotId']}"))["disposition"] == "QUARANTINE"
            assert gw.faults.changes == Counter({"erp": 2, "qms": 1, "nc": 1})
            for lot_id in (at_1000["lotId"], at_2000["lotId"]):
                changes = await ops.ok(
                    f"{PROCESS}/audit", entityId=lot_id, action="lot.disposition-changed"
                )
                assert len(changes["items"]) == 1


async def test_a_step_that_fails_for_good_waits_for_an_operator() -> None:
    supplier_lot = f"SL-{uuid.uuid4().hex[:8].upper()}"
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops, gw.caller("quality-engineer") as engineer:
            at_1000 = await receive(ops, PO_1000, supplier_lot)
            gw.faults.rejected.add("/nonconformances")
            inspection_id, _ = await fail_incoming_inspection(engineer, at_1000)
            case = await case_of(ops, inspection_id)
            case = await wait_for_case(ops, case["containmentId"], {"ATTENTION"})
            containment_id = case["containmentId"]
            assert steps(case)["SUPPLIER_NC"] == "MANUAL"
            assert steps(case)["BLOCK_LOT"] == "DONE"
            nc_step = next(s for s in case["steps"] if s["name"] == "SUPPLIER_NC")
            assert "Refused by the system of record" in nc_step["lastError"]

            retry = f"{CONTAINMENTS}/{containment_id}/steps/SUPPLIER_NC/retry"
            refused = await engineer.post(retry, None)
            assert_problem(refused, 403, "insufficient-scope")
            gw.faults.rejected.clear()
            retried = await ops.post(retry, None)
            assert retried.status_code == 200, retried.text
            case = await wait_for_case(ops, containment_id, {"CONTAINED"})
            assert steps(case)["SUPPLIER_NC"] == "DONE"
            again = await ops.post(retry, None)
            assert_problem(again, 409, "transition-not-allowed")


async def test_an_operator_closes_a_step_resolved_by_hand() -> None:
    supplier_lot = f"SL-{uuid.uuid4().hex[:8].upper()}"
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops, gw.caller("quality-engineer") as engineer:
            at_1000 = await receive(ops, PO_1000, supplier_lot)
            gw.faults.rejected.add("/nonconformances")
            inspection_id, _ = await fail_incoming_inspection(engineer, at_1000)
            case = await case_of(ops, inspection_id)
            case = await wait_for_case(ops, case["containmentId"], {"ATTENTION"})
            closed = await ops.post(
                f"{CONTAINMENTS}/{case['containmentId']}/steps/SUPPLIER_NC/close",
                {"reason": "Quality notification Q2-4711 opened by hand in the QMS"},
            )
            assert closed.status_code == 200, closed.text
            case = await wait_for_case(ops, case["containmentId"], {"CONTAINED"})
            nc_step = next(s for s in case["steps"] if s["name"] == "SUPPLIER_NC")
            assert nc_step["status"] == "CLOSED"
            assert nc_step["detail"].startswith("Quality notification")
            trail = await ops.ok(
                f"{PROCESS}/audit",
                entityType="ContainmentCase",
                entityId=case["containmentId"],
                action="containment.step-closed",
            )
            (record,) = trail["items"]
            assert record["actor"]["clientId"] == "operations"


async def test_the_supplier_responds_and_acknowledges_on_its_own_case_only() -> None:
    supplier_lot = f"SL-{uuid.uuid4().hex[:8].upper()}"
    async with Gateway(settings()) as gw:
        await gw.start()
        async with (
            gw.caller("operations") as ops,
            gw.caller("quality-engineer") as engineer,
            gw.caller("experience-service") as experience,
        ):
            at_1000 = await receive(ops, PO_1000, supplier_lot)
            inspection_id, _ = await fail_incoming_inspection(engineer, at_1000)
            case = await case_of(ops, inspection_id)
            case = await wait_for_case(ops, case["containmentId"], {"CONTAINED"})
            base = f"{CONTAINMENTS}/{case['containmentId']}"
            response = {
                "actions": [
                    {"description": "Stock at our warehouse sorted", "lotNumbers": [supplier_lot]}
                ],
                "d3Answer": "All parts of the lot quarantined and 100% measured",
                "documents": [{"title": "8D report", "reference": "https://sup.example/8d.pdf"}],
            }

            def post(path: str, body: Any, supplier: str, key: str) -> Any:
                headers = {**as_supplier(experience, supplier), "Idempotency-Key": key}
                return experience.http.post(path, json=body, headers=headers)

            other = await post(f"{base}/responses", response, "SUP-0002", "r-0")
            assert_problem(other, 404, "not-found")
            empty = await post(f"{base}/responses", {}, SUPPLIER, "r-1")
            assert_problem(empty, 422, "validation-failed")
            answered = await post(f"{base}/responses", response, SUPPLIER, "r-2")
            assert answered.status_code == 201, answered.text
            assert answered.headers["location"] == base
            (recorded,) = answered.json()["responses"]
            assert recorded["d3Answer"].startswith("All parts")
            assert recorded["respondedBy"]["supplierId"] == SUPPLIER
            replayed = await post(f"{base}/responses", response, SUPPLIER, "r-2")
            assert replayed.headers["idempotent-replayed"] == "true"
            assert len((await ops.ok(base))["responses"]) == 1

            first = await post(f"{base}/acknowledgement", {"note": "Seen"}, SUPPLIER, "a-1")
            assert first.status_code == 200, first.text
            acknowledged_at = first.json()["acknowledgedAt"]
            again = await post(f"{base}/acknowledgement", {}, SUPPLIER, "a-2")
            assert again.json()["acknowledgedAt"] == acknowledged_at
            trail = await ops.ok(
                f"{PROCESS}/audit", entityType="ContainmentCase", entityId=case["containmentId"]
            )
            actions = [r["action"] for r in trail["items"]]
            assert actions.count("containment.supplier-responded") == 1
            assert actions.count("containment.acknowledged") == 1
