"""A scenario moves the figures operators alert on: while the ERP is down the pending-ERP gauge
and the oldest one's age rise, and fall back to zero once it is confirmed; requests, connector
calls, idempotent replays and rate-limit rejections are counted where they happen."""

from __future__ import annotations

import asyncio
from typing import Any, Final

import msgspec
import pytest

from process_apis.dispositions.models import DispositionStatus
from process_apis.dispositions.store import DispositionStore
from shared.settings import RateLimitSettings, StoreKind
from tests.integration._gateway import PROCESS, Caller, Gateway, settings, wait_for_status
from tests.integration.test_disposition_store import disposition, moved, store
from tests.unit.test_observability import value

DISPOSITIONS: Final = f"{PROCESS}/lot-dispositions"
LOT: Final = "LOT-1000-0022"  # quarantined, inspection not decided yet
__all__ = ["store"]  # the memory and Redis store fixture, shared with the store's own suite

PENDING: Final = "qgate_dispositions_pending"
OLDEST: Final = "qgate_dispositions_pending_oldest_age_seconds"


async def scrape(caller: Caller, path: str = "/process/metrics") -> str:
    answer = await caller.http.get(path)
    assert answer.status_code == 200, answer.text
    return answer.text


@pytest.fixture(params=["memory", "redis"])
def store_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    if request.param == "memory":
        return {"store": StoreKind.MEMORY}
    return {"store": StoreKind.REDIS, "redis_url": request.getfixturevalue("redis_url")}


async def test_pending_erp_rises_while_the_erp_is_down_and_falls_back_once_confirmed(
    store_settings: dict[str, Any],
) -> None:
    async with Gateway(settings(**store_settings)) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            before = await scrape(ops)
            assert value(before, PENDING, layer="process", status="PENDING_ERP") == 0
            assert value(before, OLDEST, layer="process", status="PENDING_ERP") == 0

            gw.faults.erp_down = True
            body = {"lotId": LOT, "decision": "BLOCK", "reason": "Crack found"}
            accepted = await ops.post(DISPOSITIONS, body, key="metrics-dsp-1")
            assert accepted.status_code == 202, accepted.text
            await asyncio.sleep(0.2)  # let it age a little, the worker retrying meanwhile
            waiting = await scrape(ops)
            assert value(waiting, PENDING, layer="process", status="PENDING_ERP") == 1
            assert value(waiting, PENDING, layer="process", status="PENDING_QMS") == 0
            age = value(waiting, OLDEST, layer="process", status="PENDING_ERP")
            assert age is not None
            assert age >= 0.2
            # The request itself is counted by operation and status.
            requests = "qgate_http_requests_total"
            labels = {"layer": "process", "operation": "requestLotDisposition", "method": "POST"}
            assert value(waiting, requests, **labels, status="202") == 1

            gw.faults.erp_down = False
            done = await wait_for_status(ops, accepted.json()["dispositionId"], {"APPLIED"})
            assert done["status"] == "APPLIED"
            after = await scrape(ops)
            assert value(after, PENDING, layer="process", status="PENDING_ERP") == 0
            assert value(after, OLDEST, layer="process", status="PENDING_ERP") == 0

            # The same request again is a replay, counted as such.
            replayed = await ops.post(DISPOSITIONS, body, key="metrics-dsp-1")
            assert replayed.headers.get("idempotent-replayed") == "true"
            counted = await scrape(ops)
            replays = "qgate_idempotent_replays_total"
            assert value(counted, replays, layer="process", operation="requestLotDisposition") == 1

            # The system layer counted the ERP change it made through the connector.
            system = await scrape(ops, "/system/metrics")
            calls = "qgate_connector_calls_total"
            change = {"layer": "system", "backend": "reference-erp"}
            assert value(system, calls, **change, operation="change_lot_disposition", outcome="ok")
            assert value(system, "qgate_connector_circuit_state", **change) == 0


async def test_rate_limit_rejections_are_counted_by_client() -> None:
    config = settings()
    tiers = {**config.rate_limit.tiers, "tiny": "2/minute"}
    limited = msgspec.structs.replace(
        config,
        rate_limit=RateLimitSettings(tiers=tiers, client_tiers={"readonly-auditor": "tiny"}),
    )
    async with Gateway(limited) as gw:
        await gw.start()
        async with gw.caller("readonly-auditor") as auditor, gw.caller("operations") as ops:
            statuses = [(await auditor.get(f"{PROCESS}/whoami")).status_code for _ in range(3)]
            assert statuses == [200, 200, 429]
            text = await scrape(ops)
    rejections = "qgate_rate_limit_rejections_total"
    assert value(text, rejections, layer="process", client="readonly-auditor") == 1
    assert value(text, rejections, layer="process", client="operations") is None


async def test_the_store_counts_a_status_and_finds_its_oldest(
    store: DispositionStore,
) -> None:
    assert await store.count(DispositionStatus.PENDING_ERP) == 0
    assert await store.oldest(DispositionStatus.PENDING_ERP) is None
    # Ids are time-ordered to the millisecond; two made in the same one order by their suffix.
    first, second = sorted(
        (disposition("LOT-1000-0001"), disposition("LOT-1000-0002")),
        key=lambda d: d.disposition_id,
    )
    other = disposition("LOT-1000-0003", status=DispositionStatus.PENDING_QMS)
    for record in (first, second, other):
        await store.create(record)
    assert await store.count(DispositionStatus.PENDING_ERP) == 2
    assert await store.count(DispositionStatus.PENDING_QMS) == 1
    assert await store.oldest(DispositionStatus.PENDING_ERP) == first
    await store.save(moved(first, status=DispositionStatus.APPLIED))
    assert await store.count(DispositionStatus.PENDING_ERP) == 1
    assert await store.count(DispositionStatus.APPLIED) == 1
    assert await store.oldest(DispositionStatus.PENDING_ERP) == second
