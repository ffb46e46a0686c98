"""Property: whatever sequence of disposition requests and approvals arrives, no lot ever makes a
transition outside the state machine, and every applied disposition has exactly one audit record
of the lot's change (hypothesis drives the sequences through the whole in-process stack)."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.models import DispositionCode, LotDisposition
from shared.models.lifecycle import DECISION_TARGET, DISPOSITION_TRANSITIONS
from tests.integration._gateway import ERP, PROCESS, Gateway
from tests.integration._gateway import settings as gateway_settings

DISPOSITIONS = f"{PROCESS}/lot-dispositions"
# One lot in each interesting state of the demo: RELEASED, RESTRICTED, REJECTED, BLOCKED (with
# its USE_AS_IS nonconformance), QUARANTINE with results awaiting a decision, QUARANTINE.
LOTS = (
    "LOT-1000-0009",
    "LOT-1000-0012",
    "LOT-1000-0013",
    "LOT-1000-0016",
    "LOT-1000-0019",
    "LOT-1000-0022",
)
NC_FOR = {"LOT-1000-0016": "NC-000001"}

requests = st.tuples(
    st.just("request"), st.sampled_from(LOTS), st.sampled_from(list(DispositionCode))
)
approvals = st.tuples(st.just("approval"), st.sampled_from(["APPROVE", "DECLINE"]), st.just(None))
steps = st.lists(st.one_of(requests, approvals), min_size=1, max_size=10)


def allowed(before: str, after: str) -> bool:
    return LotDisposition(after) in DISPOSITION_TRANSITIONS[LotDisposition(before)]


async def disposition_of(caller: Any, lot_id: str) -> str:
    lot: dict[str, Any] = await caller.ok(f"{ERP}/lots/{lot_id}")
    return str(lot["disposition"])


async def run(sequence: list[tuple[str, Any, Any]]) -> None:
    async with Gateway(gateway_settings(worker_enabled=False)) as gw:
        await gw.start()
        async with gw.caller("operations") as ops, gw.caller("quality-approver") as approver:
            waiting: list[str] = []
            for kind, first, second in sequence:
                if kind == "request":
                    lot_id, decision = first, DispositionCode(second)
                    before = await disposition_of(ops, lot_id)
                    body = {"lotId": lot_id, "decision": decision.value, "reason": "Property"}
                    if lot_id in NC_FOR:
                        body["ncId"] = NC_FOR[lot_id]
                    response = await ops.post(DISPOSITIONS, body)
                    after = await disposition_of(ops, lot_id)
                    if response.status_code == 201:
                        assert after == DECISION_TARGET[decision].value
                        assert allowed(before, after), (before, after)
                    elif response.status_code == 202:
                        assert response.json()["status"] == "PENDING_APPROVAL"
                        assert before in {"BLOCKED", "REJECTED"}
                        assert after == before
                        waiting.append(response.json()["dispositionId"])
                    else:
                        assert response.status_code == 409, response.text
                        assert after == before
                elif waiting:
                    disposition_id = waiting.pop()
                    pending = await ops.ok(f"{DISPOSITIONS}/{disposition_id}")
                    before = await disposition_of(ops, pending["lotId"])
                    response = await approver.post(
                        f"{DISPOSITIONS}/{disposition_id}/approvals",
                        {"decision": first, "reason": "Property"},
                    )
                    after = await disposition_of(ops, pending["lotId"])
                    if response.status_code == 200 and response.json()["status"] == "APPLIED":
                        assert allowed(before, after), (before, after)
                    else:
                        assert after == before, response.text

            applied = {
                d["dispositionId"]
                for d in (await ops.ok(DISPOSITIONS, status="APPLIED", limit=200))["items"]
            }
            changes = (
                await ops.ok(f"{PROCESS}/audit", action="lot.disposition-changed", limit=200)
            )["items"]
            recorded = [record["after"]["dispositionId"] for record in changes]
            assert sorted(recorded) == sorted(applied)  # exactly one record per applied one
            for record in changes:
                assert allowed(record["before"]["disposition"], record["after"]["disposition"])
            assert (await ops.ok(f"{PROCESS}/audit/verification"))["ok"] is True


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(steps)
def test_no_transition_outside_the_table_and_one_audit_record_per_applied(
    sequence: list[tuple[str, Any, Any]],
) -> None:
    asyncio.run(run(sequence))
