"""Lot dispositions through the whole stack: issuer, process replicas, system layer, reference
ERP and QMS, with the system layer made unavailable or slow on demand (see ``_gateway``).

What the issue's acceptance asks, each shown here:

- a disposition is applied in QMS (usage decision) and ERP (lot change) exactly once, also for
  100 concurrent identical requests with one key, on one replica and on two sharing Redis;
- the ERP unavailable: 202 and PENDING_ERP visible (listed oldest first, with age); back: APPLIED
  with exactly one ERP change; the process layer restarted mid-retry: still exactly once;
- a requester approving its own release: 403 problem+json;
- transitions outside the state machine: 409, nothing applied anywhere.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from process_apis.dispositions.models import DispositionStatus, StepStatus, SystemStep
from shared.models import LotDisposition
from shared.settings import StoreKind
from tests.integration._gateway import (
    ERP,
    PROCESS,
    QMS,
    Gateway,
    assert_problem,
    new_key,
    settings,
    wait_for_status,
)
from tests.integration.test_disposition_store import disposition

DISPOSITIONS = f"{PROCESS}/lot-dispositions"
QUARANTINED_WITH_RESULTS = "LOT-1000-0019"  # PASS results, awaiting the usage decision
QUARANTINED = "LOT-1000-0022"  # inspection CREATED, no results yet
BLOCKED = "LOT-1000-0016"  # NC-000001 decided USE_AS_IS names it
RELEASED = "LOT-1000-0009"


async def lot(caller: Any, lot_id: str) -> dict[str, Any]:
    found: dict[str, Any] = await caller.ok(f"{ERP}/lots/{lot_id}")
    return found


async def audit_of(caller: Any, lot_id: str) -> list[dict[str, Any]]:
    page = await caller.ok(
        f"{PROCESS}/audit", entityType="Lot", entityId=lot_id, action="lot.disposition-changed"
    )
    records: list[dict[str, Any]] = page["items"]
    return records


async def test_release_is_applied_in_qms_and_erp_and_audited() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("quality-engineer") as engineer, gw.caller("operations") as ops:
            before = await lot(ops, QUARANTINED_WITH_RESULTS)
            response = await engineer.post(
                DISPOSITIONS,
                {
                    "lotId": QUARANTINED_WITH_RESULTS,
                    "decision": "RELEASE",
                    "reason": "All characteristics conform",
                    "signatureMeaning": "Reviewed and approved",
                },
            )
            assert response.status_code == 201, response.text
            body = response.json()
            assert response.headers["location"] == f"{DISPOSITIONS}/{body['dispositionId']}"
            assert body["status"] == "APPLIED"
            assert body["fromDisposition"] == "QUARANTINE"
            assert body["requestedBy"]["subject"] == "quality-engineer"
            assert body["qms"]["status"] == "APPLIED"
            assert body["erp"]["status"] == "APPLIED"

            after = await lot(ops, QUARANTINED_WITH_RESULTS)
            assert after["disposition"] == "RELEASED"
            assert after["version"] == before["version"] + 1
            available = {s["category"]: s["quantity"] for s in after["stock"]}["AVAILABLE"]
            assert available == before["totalQuantity"]
            inspection = await ops.ok(f"{QMS}/inspections/{body['qms']['reference']}")
            assert inspection["lotId"] == QUARANTINED_WITH_RESULTS
            assert inspection["decision"]["decision"] == "RELEASE"
            assert inspection["decision"]["decidedBy"] == "quality-engineer"
            assert gw.faults.changes == Counter({"erp": 1, "qms": 1})

            records = await audit_of(ops, QUARANTINED_WITH_RESULTS)
            assert len(records) == 1
            record = records[0]
            assert record["before"] == {"disposition": "QUARANTINE"}
            assert record["after"]["disposition"] == "RELEASED"
            assert record["after"]["dispositionId"] == body["dispositionId"]
            assert record["actor"]["clientId"] == "quality-engineer"
            assert record["signatureMeaning"] == "Reviewed and approved"
            assert record["correlationId"] == response.headers["x-correlation-id"]
            verification = await ops.ok(f"{PROCESS}/audit/verification")
            assert verification["ok"] is True


async def test_a_transition_outside_the_state_machine_is_refused_and_changes_nothing() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            before = await lot(ops, RELEASED)
            response = await ops.post(
                DISPOSITIONS, {"lotId": RELEASED, "decision": "REJECT", "reason": "x"}
            )
            problem = assert_problem(response, 409, "transition-not-allowed")
            assert "RELEASED" in problem["detail"]
            assert "BLOCKED, QUARANTINE" in problem["detail"]
            assert await lot(ops, RELEASED) == before
            assert gw.faults.changes == Counter()
            listed = await ops.ok(DISPOSITIONS, lotId=RELEASED)
            assert listed["items"] == []


async def test_unknown_lot_and_unknown_disposition_are_404() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            response = await ops.post(
                DISPOSITIONS, {"lotId": "LOT-9999-9999", "decision": "BLOCK", "reason": "x"}
            )
            assert "LOT-9999-9999" in assert_problem(response, 404, "not-found")["detail"]
            missing = await ops.get(f"{DISPOSITIONS}/DSP-00000000000000000000")
            assert_problem(missing, 404, "not-found")


async def test_partial_release_splits_the_stock() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            total = (await lot(ops, QUARANTINED))["totalQuantity"]
            wrong = await ops.post(
                DISPOSITIONS,
                {
                    "lotId": QUARANTINED,
                    "decision": "RELEASE",
                    "reason": "Partial",
                    "quantities": [
                        {"category": "AVAILABLE", "quantity": total},
                        {"category": "BLOCKED", "quantity": 1},
                    ],
                },
            )
            assert "add up" in assert_problem(wrong, 409, "transition-not-allowed")["detail"]
            response = await ops.post(
                DISPOSITIONS,
                {
                    "lotId": QUARANTINED,
                    "decision": "RELEASE",
                    "reason": "Partial",
                    "quantities": [
                        {"category": "AVAILABLE", "quantity": total - 10},
                        {"category": "BLOCKED", "quantity": 10},
                    ],
                },
            )
            assert response.status_code == 201, response.text
            stock = {s["category"]: s["quantity"] for s in (await lot(ops, QUARANTINED))["stock"]}
            assert stock["AVAILABLE"] == total - 10
            assert stock["BLOCKED"] == 10


async def test_releasing_a_blocked_lot_needs_a_use_as_is_nc_and_a_second_person() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with (
            gw.caller("operations") as requester,
            gw.caller("quality-approver") as approver,
            gw.caller("quality-engineer") as engineer,
        ):
            release = {"lotId": BLOCKED, "decision": "RELEASE", "reason": "Use as is"}
            without_nc = await requester.post(DISPOSITIONS, release)
            assert "ncId" in assert_problem(without_nc, 409, "transition-not-allowed")["detail"]
            wrong_nc = await requester.post(DISPOSITIONS, {**release, "ncId": "NC-000002"})
            assert_problem(wrong_nc, 409, "transition-not-allowed")

            response = await requester.post(DISPOSITIONS, {**release, "ncId": "NC-000001"})
            assert response.status_code == 202, response.text
            pending = response.json()
            assert pending["status"] == "PENDING_APPROVAL"
            assert pending["requiresApproval"] is True
            where = f"{DISPOSITIONS}/{pending['dispositionId']}"
            assert response.headers["location"] == where
            assert (await lot(requester, BLOCKED))["disposition"] == "BLOCKED"

            approve = {"decision": "APPROVE", "reason": "NC-000001 decided use as is"}
            own = await requester.post(f"{where}/approvals", approve)
            problem = assert_problem(own, 403, "self-approval")
            assert "operations" in problem["detail"]
            no_scope = await engineer.post(f"{where}/approvals", approve)
            assert_problem(no_scope, 403, "insufficient-scope")
            assert (await requester.ok(where))["status"] == "PENDING_APPROVAL"
            # Another disposition of the same lot waits for this one.
            busy = await requester.post(
                DISPOSITIONS, {"lotId": BLOCKED, "decision": "REJECT", "reason": "x"}
            )
            assert (
                pending["dispositionId"]
                in assert_problem(busy, 409, "transition-not-allowed")["detail"]
            )

            approved = await approver.post(
                f"{where}/approvals", {**approve, "signatureMeaning": "Approved"}
            )
            assert approved.status_code == 200, approved.text
            body = approved.json()
            assert body["status"] == "APPLIED"
            assert body["approval"]["approver"]["subject"] == "quality-approver"
            assert (await lot(requester, BLOCKED))["disposition"] == "RELEASED"
            again = await approver.post(f"{where}/approvals", approve)
            assert_problem(again, 409, "transition-not-allowed")
            trail = await approver.ok(
                f"{PROCESS}/audit", entityType="LotDisposition", entityId=pending["dispositionId"]
            )
            actions = [r["action"] for r in trail["items"]]
            assert actions == ["lot-disposition.requested", "lot-disposition.approved"]
            assert trail["items"][1]["actor"]["clientId"] == "quality-approver"
            assert trail["items"][1]["signatureMeaning"] == "Approved"


async def test_a_declined_release_applies_nothing() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops, gw.caller("quality-approver") as approver:
            response = await ops.post(
                DISPOSITIONS,
                {"lotId": BLOCKED, "decision": "RELEASE", "reason": "x", "ncId": "NC-000001"},
            )
            where = response.headers["location"]
            declined = await approver.post(
                f"{where}/approvals", {"decision": "DECLINE", "reason": "Not convinced"}
            )
            assert declined.status_code == 200, declined.text
            body = declined.json()
            assert body["status"] == "DECLINED"
            assert (body["qms"]["status"], body["erp"]["status"]) == ("SKIPPED", "SKIPPED")
            assert (await lot(ops, BLOCKED))["disposition"] == "BLOCKED"
            assert gw.faults.changes == Counter()


async def test_erp_outage_then_recovery_applies_exactly_once() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            before = await lot(ops, QUARANTINED)
            gw.faults.erp_down = True
            response = await ops.post(
                DISPOSITIONS, {"lotId": QUARANTINED, "decision": "BLOCK", "reason": "Crack"}
            )
            assert response.status_code == 202, response.text
            assert response.json()["status"] == "PENDING_ERP"
            where = response.headers["location"]
            await asyncio.sleep(0.4)  # a few worker rounds against the unavailable ERP
            listed = await ops.ok(DISPOSITIONS, status="PENDING_ERP")
            assert [d["dispositionId"] for d in listed["items"]] == [
                response.json()["dispositionId"]
            ]
            waiting = listed["items"][0]
            assert waiting["attempts"] >= 2
            assert waiting["ageSeconds"] >= 0.3
            assert "unavailable" in waiting["lastError"]
            assert gw.faults.changes == Counter()

            gw.faults.erp_down = False
            body = await wait_for_status(
                ops, response.json()["dispositionId"], {"APPLIED", "FAILED"}
            )
            assert body["status"] == "APPLIED", body
            assert gw.faults.changes["erp"] == 1
            after = await lot(ops, QUARANTINED)
            assert (after["disposition"], after["version"]) == ("BLOCKED", before["version"] + 1)
            assert len(await audit_of(ops, QUARANTINED)) == 1
            assert (await ops.ok(DISPOSITIONS, status="PENDING_ERP"))["items"] == []
            assert (await ops.ok(where))["lastError"] is None


async def test_pending_erp_lists_oldest_first_with_a_cursor() -> None:
    async with Gateway(settings(retry_base_seconds=60, retry_max_seconds=60)) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            gw.faults.erp_down = True
            ids = []
            for lot_id in ("LOT-1000-0001", "LOT-1000-0002", "LOT-1000-0003"):
                response = await ops.post(
                    DISPOSITIONS, {"lotId": lot_id, "decision": "BLOCK", "reason": "Audit hold"}
                )
                assert response.status_code == 202, response.text
                ids.append(response.json()["dispositionId"])
            first = await ops.ok(DISPOSITIONS, status="PENDING_ERP", limit=2)
            assert [d["dispositionId"] for d in first["items"]] == ids[:2]
            second = await ops.ok(
                DISPOSITIONS, status="PENDING_ERP", limit=2, cursor=first["nextCursor"]
            )
            assert [d["dispositionId"] for d in second["items"]] == ids[2:]
            assert second["nextCursor"] is None
            ages = [d["ageSeconds"] for d in first["items"] + second["items"]]
            assert ages == sorted(ages, reverse=True)
            bad = await ops.get(DISPOSITIONS, cursor="not-a-cursor")
            assert_problem(bad, 400, "invalid-cursor")


async def test_a_permanent_erp_refusal_fails_visibly_and_frees_the_lot() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            # RESTRICTED may not hold AVAILABLE stock: the ERP refuses the split.
            total = (await lot(ops, QUARANTINED))["totalQuantity"]
            response = await ops.post(
                DISPOSITIONS,
                {
                    "lotId": QUARANTINED,
                    "decision": "RESTRICT",
                    "reason": "Deviation",
                    "quantities": [{"category": "AVAILABLE", "quantity": total}],
                },
            )
            problem = assert_problem(response, 409, "backend-rejected")
            disposition_id = problem["detail"].split()[1]
            body = await ops.ok(f"{DISPOSITIONS}/{disposition_id}")
            assert body["status"] == "FAILED"
            assert body["erp"]["status"] == "FAILED"
            assert "AVAILABLE" in body["erp"]["detail"]
            assert (await lot(ops, QUARANTINED))["disposition"] == "QUARANTINE"
            failed = await ops.ok(
                f"{PROCESS}/audit", entityType="LotDisposition", entityId=disposition_id
            )
            assert [r["action"] for r in failed["items"]][-1] == "lot-disposition.failed"
            retry = await ops.post(
                DISPOSITIONS, {"lotId": QUARANTINED, "decision": "RESTRICT", "reason": "Deviation"}
            )
            assert retry.status_code == 201, retry.text


async def test_100_identical_concurrent_requests_apply_once() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            await one_key_storm(gw, [ops])


async def test_100_identical_concurrent_requests_on_two_replicas_sharing_redis(
    redis_url: str,
) -> None:
    async with Gateway(settings(store=StoreKind.REDIS, redis_url=redis_url)) as gw:
        await gw.start()
        await gw.start()
        async with gw.caller("operations", 0) as first, gw.caller("operations", 1) as second:
            await one_key_storm(gw, [first, second])


async def one_key_storm(gw: Gateway, callers: list[Any]) -> None:
    before = await lot(callers[0], QUARANTINED_WITH_RESULTS)
    body = {"lotId": QUARANTINED_WITH_RESULTS, "decision": "RELEASE", "reason": "Conforms"}
    key = new_key()
    responses = await asyncio.gather(
        *(callers[n % len(callers)].post(DISPOSITIONS, body, key=key) for n in range(100))
    )
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in responses if r.status_code == 201]
    assert sum(r.headers.get("idempotent-replayed") != "true" for r in created) == 1
    assert len({r.json()["dispositionId"] for r in created}) == 1
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.json()["type"].endswith("/idempotency-key-in-flight")
    replay = await callers[-1].post(DISPOSITIONS, body, key=key)
    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert gw.faults.changes == Counter({"erp": 1, "qms": 1})
    after = await lot(callers[0], QUARANTINED_WITH_RESULTS)
    assert (after["disposition"], after["version"]) == ("RELEASED", before["version"] + 1)
    assert len(await audit_of(callers[0], QUARANTINED_WITH_RESULTS)) == 1


async def test_restart_mid_retry_applies_exactly_once(redis_url: str) -> None:
    """The ERP makes the change but its answer never reaches the replica, which is stopped in
    the middle of that call; the ERP was down before, so the worker was retrying. A new replica
    on the same Redis finishes the job: the retry is answered from the system layer's
    idempotency store, and the lot changed once."""
    config = settings(store=StoreKind.REDIS, redis_url=redis_url, lease_seconds=0.5)
    async with Gateway(config) as gw:
        first = await gw.start()
        async with gw.caller("operations", first) as ops:
            before = await lot(ops, QUARANTINED)
            gw.faults.erp_down = True
            response = await ops.post(
                DISPOSITIONS, {"lotId": QUARANTINED, "decision": "BLOCK", "reason": "Crack"}
            )
            assert response.status_code == 202, response.text
            disposition_id = response.json()["dispositionId"]
            await asyncio.sleep(0.3)
            gw.faults.hold_erp_changes = asyncio.Event()
            gw.faults.erp_down = False
            # The worker's next attempt reaches the ERP, which makes the change.
            await asyncio.wait_for(gw.faults.erp_changed.wait(), timeout=10)
            midway = await ops.ok(f"{DISPOSITIONS}/{disposition_id}")
            assert midway["status"] == "PENDING_ERP"
            assert midway["attempts"] >= 2
        await gw.stop(first)  # cancels the worker while it waits for the ERP's answer
        gw.faults.hold_erp_changes.set()
        gw.faults.hold_erp_changes = None

        second = await gw.start()
        async with gw.caller("operations", second) as ops:
            body = await wait_for_status(ops, disposition_id, {"APPLIED", "FAILED"})
            assert body["status"] == "APPLIED", body
            assert gw.faults.changes["erp"] == 1
            after = await lot(ops, QUARANTINED)
            assert (after["disposition"], after["version"]) == ("BLOCKED", before["version"] + 1)
            assert len(await audit_of(ops, QUARANTINED)) == 1
            assert (await ops.ok(f"{PROCESS}/audit/verification"))["ok"] is True


async def test_qms_outage_keeps_the_erp_untouched_until_the_usage_decision_is_made() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            gw.faults.qms_down = True
            response = await ops.post(
                DISPOSITIONS,
                {"lotId": QUARANTINED_WITH_RESULTS, "decision": "RELEASE", "reason": "Conforms"},
            )
            assert response.status_code == 202, response.text
            assert response.json()["status"] == "PENDING_QMS"
            assert (await lot(ops, QUARANTINED_WITH_RESULTS))["disposition"] == "QUARANTINE"
            gw.faults.qms_down = False
            body = await wait_for_status(ops, response.json()["dispositionId"], {"APPLIED"})
            assert (body["qms"]["status"], body["erp"]["status"]) == ("APPLIED", "APPLIED")
            assert gw.faults.changes == Counter({"erp": 1, "qms": 1})


async def test_retry_limit_ends_in_failed() -> None:
    async with Gateway(settings(max_attempts=3)) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            gw.faults.erp_down = True
            response = await ops.post(
                DISPOSITIONS, {"lotId": QUARANTINED, "decision": "BLOCK", "reason": "Crack"}
            )
            body = await wait_for_status(ops, response.json()["dispositionId"], {"FAILED"})
            assert body["attempts"] == 3
            assert body["lastError"].startswith("Gave up after 3 attempts")
            gw.faults.erp_down = False
            again = await ops.post(
                DISPOSITIONS, {"lotId": QUARANTINED, "decision": "BLOCK", "reason": "Crack"}
            )
            assert again.status_code == 201, again.text


@pytest.mark.parametrize("recorded", [True, False], ids=["audited", "not-audited"])
async def test_a_replica_stopped_after_the_erp_change_leaves_one_audit_record(
    recorded: bool,
) -> None:
    """The disposition says "applied in the ERP" but is not APPLIED yet: the replica stopped
    before (``not-audited``) or after (``audited``) writing the lot's audit record. The worker
    finishes it with exactly one record either way."""
    async with Gateway(settings()) as gw:
        await gw.start()
        service = gw.replicas[0].state["dispositions"]
        async with gw.caller("operations") as ops:
            if recorded:
                response = await ops.post(
                    DISPOSITIONS, {"lotId": QUARANTINED, "decision": "BLOCK", "reason": "Crack"}
                )
                assert response.status_code == 201, response.text
                stored = await service.store.get(response.json()["dispositionId"])
            else:
                lot_before = await lot(ops, QUARANTINED)
                changed = await ops.http.post(
                    f"{ERP}/lots/{QUARANTINED}/disposition-changes",
                    json={"disposition": "BLOCKED", "reason": "Crack"},
                    headers={**ops.headers(new_key()), "If-Match": f'"{lot_before["version"]}"'},
                )
                assert changed.status_code == 200, changed.text
                stored = msgspec.structs.replace(
                    disposition(lot_id=QUARANTINED), from_disposition=LotDisposition.QUARANTINE
                )
                await service.store.create(stored)
            assert stored is not None
            interrupted = msgspec.structs.replace(
                stored,
                version=stored.version + 1,
                status=DispositionStatus.PENDING_ERP,
                qms=SystemStep(status=StepStatus.NOT_REQUIRED),
                erp=SystemStep(status=StepStatus.APPLIED, applied_at=stored.created_at),
                lot_etag='"1"',
                next_attempt_at=datetime.now(UTC),
                completed_at=None,
            )
            await service.store.save(interrupted)
            body = await wait_for_status(ops, stored.disposition_id, {"APPLIED", "FAILED"})
            assert body["status"] == "APPLIED", body
            records = await audit_of(ops, QUARANTINED)
            assert [r["after"]["dispositionId"] for r in records] == [stored.disposition_id]
            assert records[0]["after"]["disposition"] == "BLOCKED"
