"""The process layer's event-platform figures at ``/process/metrics``: dead letters per stream and
consumer lag from the bus, containment time when a case is contained, and sync SLA breaches
counted once when a disposition or a containment completes later than its policy."""

from __future__ import annotations

import uuid
from typing import Final

import msgspec

from shared.events import QUALITY_STREAM, EventSubscription
from shared.settings import ObservabilitySettings, Settings
from tests.integration._gateway import PROCESS, assert_problem, wait_for_status
from tests.integration.test_containment import (
    PO_1000,
    PO_2000,
    case_of,
    fail_incoming_inspection,
    receive,
    wait_for_case,
)
from tests.integration.test_metrics import scrape
from tests.integration.test_operations_api import (
    OPS,
    Audit,
    EventGateway,
    block,
    config,
    settled,
)
from tests.unit.test_observability import value

DEAD: Final = "qgate_dead_letters"
LAG: Final = "qgate_consumer_lag"
BREACHES: Final = "qgate_sync_sla_breaches_total"
CONTAINMENT_COUNT: Final = "qgate_containment_time_seconds_count"


def with_policy(settings: Settings, **policy: float) -> Settings:
    observability = msgspec.structs.replace(ObservabilitySettings(), **policy)
    return msgspec.structs.replace(settings, observability=observability)


async def test_dead_letters_and_consumer_lag_are_read_from_the_bus() -> None:
    audit = Audit()
    audit.broken = True
    subscription = EventSubscription(QUALITY_STREAM, "audit-export", lambda _: audit)
    async with EventGateway(config()) as gw:
        await gw.start_with(subscriptions=[subscription])
        async with gw.caller("quality-engineer") as engineer, gw.caller("operations") as ops:
            before = await scrape(ops)
            assert value(before, DEAD, layer="process", stream="quality") == 0
            assert value(before, DEAD, layer="process", stream="containment") == 0
            await block(engineer, "LOT-1000-0022")
            await settled(gw)

            failed = await scrape(ops)
            assert value(failed, DEAD, layer="process", stream="quality") == 1
            # Dead-lettered is handled as far as the group goes: nothing left to do.
            assert value(failed, LAG, layer="process", stream="quality", group="audit-export") == 0

            audit.broken = False
            page = await ops.ok(f"{OPS}/dead-letters", stream="quality")
            path = f"{OPS}/dead-letters/{page['items'][0]['deadLetterId']}/replay?stream=quality"
            assert (await ops.post(path, None)).status_code == 202
            await settled(gw)
            assert value(await scrape(ops), DEAD, layer="process", stream="quality") == 0


async def test_a_disposition_confirmed_after_its_policy_is_one_sla_breach_at_its_plant() -> None:
    # Any disposition that needs a retry takes longer than a millisecond.
    async with EventGateway(with_policy(config(), pending_erp_alert_seconds=0.001)) as gw:
        await gw.start_with()
        async with gw.caller("operations") as ops:
            labels = {"layer": "process", "workflow": "lot-disposition", "plant": "1000"}
            gw.faults.erp_down = True
            body = {"lotId": "LOT-1000-0022", "decision": "BLOCK", "reason": "Crack found"}
            accepted = await ops.post(f"{PROCESS}/lot-dispositions", body)
            assert accepted.status_code == 202, accepted.text
            gw.faults.erp_down = False
            await wait_for_status(ops, accepted.json()["dispositionId"], {"APPLIED"})
            await settled(gw)
            assert value(await scrape(ops), BREACHES, **labels) == 1


async def test_a_disposition_confirmed_within_its_policy_is_no_breach() -> None:
    async with EventGateway(config()) as gw:
        await gw.start_with()
        async with gw.caller("quality-engineer") as engineer, gw.caller("operations") as ops:
            await block(engineer, "LOT-1000-0022")
            await settled(gw)
            text = await scrape(ops)
            labels = {"layer": "process", "workflow": "lot-disposition", "plant": "1000"}
            assert value(text, BREACHES, **labels) is None
            assert value(text, LAG, layer="process", stream="quality", group="sync-sla") == 0


async def test_a_contained_case_is_timed_by_plant_and_late_ones_breach_at_each_plant() -> None:
    supplier_lot = f"SL-{uuid.uuid4().hex[:8].upper()}"
    async with EventGateway(with_policy(config(), containment_alert_seconds=0.001)) as gw:
        await gw.start_with()
        async with gw.caller("operations") as ops, gw.caller("quality-engineer") as engineer:
            at_1000 = await receive(ops, PO_1000, supplier_lot)
            await receive(ops, PO_2000, supplier_lot)
            inspection_id, _ = await fail_incoming_inspection(engineer, at_1000)
            case = await case_of(ops, inspection_id)
            await wait_for_case(ops, case["containmentId"], {"CONTAINED"})
            await settled(gw)
            text = await scrape(ops)
            assert value(text, CONTAINMENT_COUNT, layer="process", plant="1000") == 1
            for plant in ("1000", "2000"):
                labels = {"layer": "process", "workflow": "containment", "plant": plant}
                assert value(text, BREACHES, **labels) == 1


async def test_the_operations_summary_gives_the_figures_to_operations_only() -> None:
    audit = Audit()
    audit.broken = True
    subscription = EventSubscription(QUALITY_STREAM, "audit-export", lambda _: audit)
    async with EventGateway(config()) as gw:
        await gw.start_with(subscriptions=[subscription])
        async with gw.caller("quality-engineer") as engineer, gw.caller("operations") as ops:
            assert_problem(await engineer.get(f"{OPS}/summary"), 403, "insufficient-scope")
            gw.faults.erp_down = True
            body = {"lotId": "LOT-1000-0022", "decision": "BLOCK", "reason": "Crack found"}
            waiting = await ops.post(f"{PROCESS}/lot-dispositions", body)
            assert waiting.status_code == 202, waiting.text
            summary = await ops.ok(f"{OPS}/summary")
            pending = {f["status"]: f["count"] for f in summary["dispositions"]}
            assert pending == {"PENDING_APPROVAL": 0, "PENDING_ERP": 1, "PENDING_QMS": 0}
            assert {f["status"] for f in summary["containments"]} == {
                "CONTAINING",
                "ATTENTION",
                "CONTAINED",
            }
            gw.faults.erp_down = False
            await wait_for_status(ops, waiting.json()["dispositionId"], {"APPLIED"})
            await settled(gw)

            summary = await ops.ok(f"{OPS}/summary")
            assert all(f["count"] == 0 for f in summary["dispositions"])
            dead = {s["stream"]: s["deadLetters"] for s in summary["streams"]}
            assert dead == {"quality": 1, "containment": 0}
            [group] = [g for g in summary["groups"] if g["group"] == "audit-export"]
            assert group["pending"] == 0
