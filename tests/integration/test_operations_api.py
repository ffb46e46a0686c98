"""The operations API over HTTP (dead letters, replay, consumer groups) and the events the
process layer publishes, through the whole in-process stack over the reference ERP and QMS."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from typing import Any, Final

import msgspec
import pytest

from shared.composition import create_layer
from shared.events import (
    INSPECTION_COMPLETED,
    LOT_DISPOSITION_CHANGED,
    QUALITY_STREAM,
    CloudEvent,
    EventBus,
    EventSubscription,
    derived_event_id,
)
from shared.settings import EventSettings, Settings, StoreKind
from tests.integration._gateway import PROCESS, Caller, Gateway, assert_problem, new_key, settings
from tests.integration.test_inspections_and_suppliers import INSPECTED_LINE, measurements, receive
from tests.integration.test_pipeline import lifespan

OPS: Final = f"{PROCESS}/ops"
FAST: Final = EventSettings(
    max_deliveries=3,
    retry_base_seconds=0.01,
    retry_max_seconds=0.04,
    claim_idle_seconds=0.5,
    block_ms=20,
    outbox_interval_seconds=0.02,
)


class Audit:
    """A consumer group ``audit-export`` that fails while ``broken`` and counts successes."""

    def __init__(self) -> None:
        self.broken = False
        self.processed: Counter[str] = Counter()
        self.events: list[CloudEvent] = []

    async def __call__(self, event: CloudEvent) -> None:
        if self.broken:
            raise ConnectionError("export target down")
        self.processed[event.id] += 1
        self.events.append(event)


class EventGateway(Gateway):
    """The test gateway, with process replicas given their own event consumers."""

    async def __aenter__(self) -> EventGateway:
        await super().__aenter__()
        return self

    async def start_with(self, **adapters: Any) -> int:
        process = create_layer(
            "process",
            self.settings,
            issuer_transport=self._to_issuer,
            system_transport=self.faults,
            **adapters,
        )
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(lifespan(process))
        self.replicas.append(process)
        index = len(self.replicas) - 1
        self._replica_stacks[index] = stack
        return index

    def bus(self, index: int = 0) -> EventBus:
        bus: EventBus = self.replicas[index].state["bus"]
        return bus


def config(store: StoreKind = StoreKind.MEMORY, redis_url: str | None = None) -> Settings:
    return msgspec.structs.replace(settings(store=store, redis_url=redis_url), events=FAST)


async def drained(bus: EventBus) -> None:
    async with asyncio.timeout(15):
        await bus.drain()


async def settled(gw: EventGateway) -> None:
    """The disposition outbox relayed, then every event handled (or dead-lettered)."""
    outbox = gw.replicas[0].state["dispositions"].store.outbox
    async with asyncio.timeout(15):
        while await outbox.size():  # noqa: ASYNC110 - the relay runs on its own interval
            await asyncio.sleep(0.01)
    await drained(gw.bus())


async def block(engineer: Caller, lot_id: str) -> dict[str, Any]:
    response = await engineer.post(
        f"{PROCESS}/lot-dispositions",
        {"lotId": lot_id, "decision": "BLOCK", "reason": "Crack found at incoming"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(params=["memory", "redis"])
def store_config(request: pytest.FixtureRequest) -> Settings:
    if request.param == "memory":
        return config()
    return config(StoreKind.REDIS, request.getfixturevalue("redis_url"))


async def test_a_poison_event_is_listed_and_replayed_once_through_the_api(
    store_config: Settings,
) -> None:
    audit = Audit()
    audit.broken = True
    subscription = EventSubscription(QUALITY_STREAM, "audit-export", lambda _: audit)
    async with EventGateway(store_config) as gw:
        await gw.start_with(subscriptions=[subscription])
        async with gw.caller("quality-engineer") as engineer, gw.caller("operations") as ops:
            disposition = await block(engineer, "LOT-1000-0022")
            await settled(gw)

            page = await ops.ok(f"{OPS}/dead-letters", stream="quality")
            [letter] = page["items"]
            assert "nextCursor" not in page or page["nextCursor"] is None
            assert letter["group"] == "audit-export"
            assert letter["deliveries"] == FAST.max_deliveries
            assert letter["reason"] == "ConnectionError: export target down"
            event = letter["event"]
            assert event["type"] == LOT_DISPOSITION_CHANGED
            assert event["subject"] == "LOT-1000-0022"
            assert event["id"] == derived_event_id(
                LOT_DISPOSITION_CHANGED, disposition["dispositionId"]
            )
            assert event["data"]["disposition"] == "BLOCKED"
            assert event["data"]["fromDisposition"] == "QUARANTINE"
            assert event["correlationid"] == disposition["correlationId"]

            groups = await ops.ok(f"{OPS}/consumer-groups")
            [quality] = [s for s in groups["streams"] if s["stream"] == "quality"]
            assert quality["deadLetters"] == 1
            [group] = [g for g in groups["groups"] if g["group"] == "audit-export"]
            assert group["pending"] == 0
            assert group["consumers"][0]["name"] == gw.bus().consumer

            audit.broken = False  # the cause is fixed
            key = new_key()
            path = f"{OPS}/dead-letters/{letter['deadLetterId']}/replay?stream=quality"
            replayed = await ops.post(path, None, key=key)
            assert replayed.status_code == 202, replayed.text
            assert replayed.json() == {"stream": "quality", "replayed": 1}
            again = await ops.post(path, None, key=key)  # the same request: a stored answer
            assert again.headers["idempotent-replayed"] == "true"
            assert_problem(await ops.post(path, None), 404, "not-found")  # it is gone
            await settled(gw)
            assert audit.processed == {event["id"]: 1}
            assert (await ops.ok(f"{OPS}/dead-letters", stream="quality"))["items"] == []


async def test_replay_all_through_the_api() -> None:
    audit = Audit()
    audit.broken = True
    subscription = EventSubscription(QUALITY_STREAM, "audit-export", lambda _: audit)
    async with EventGateway(config()) as gw:
        await gw.start_with(subscriptions=[subscription])
        async with gw.caller("quality-engineer") as engineer, gw.caller("operations") as ops:
            for lot_id in ("LOT-1000-0022", "LOT-1000-0019"):
                await block(engineer, lot_id)
            await settled(gw)
            first = await ops.ok(f"{OPS}/dead-letters", stream="quality", limit=1)
            assert len(first["items"]) == 1
            second = await ops.ok(
                f"{OPS}/dead-letters", stream="quality", limit=1, cursor=first["nextCursor"]
            )
            assert len(second["items"]) == 1
            assert first["items"][0]["deadLetterId"] != second["items"][0]["deadLetterId"]
            audit.broken = False
            answer = await ops.post(f"{OPS}/dead-letters/replay?stream=quality", None)
            assert answer.status_code == 202, answer.text
            assert answer.json()["replayed"] == 2
            await settled(gw)
            assert sorted(e.subject or "" for e in audit.events) == [
                "LOT-1000-0019",
                "LOT-1000-0022",
            ]
            assert set(audit.processed.values()) == {1}


async def test_the_operations_api_needs_the_ops_scope_and_valid_input() -> None:
    async with EventGateway(config()) as gw:
        await gw.start_with()
        async with gw.caller("quality-engineer") as engineer, gw.caller("operations") as ops:
            for response in (
                await engineer.get(f"{OPS}/dead-letters", stream="quality"),
                await engineer.get(f"{OPS}/consumer-groups"),
                await engineer.post(f"{OPS}/dead-letters/replay?stream=quality", None),
                await engineer.post(f"{OPS}/dead-letters/1-0/replay?stream=quality", None),
            ):
                body = assert_problem(response, 403, "insufficient-scope")
                assert "qgate.ops" in body["detail"]
            unknown = await ops.get(f"{OPS}/dead-letters", stream="nope")
            assert_problem(unknown, 422, "validation-failed")
            assert unknown.json()["errors"][0]["location"] == "query.stream"
            assert_problem(await ops.get(f"{OPS}/dead-letters"), 422, "validation-failed")
            assert_problem(
                await ops.get(f"{OPS}/dead-letters", stream="quality", cursor="abc"),
                400,
                "invalid-cursor",
            )
            assert_problem(
                await ops.post(f"{OPS}/dead-letters/1-0/replay?stream=quality", None),
                404,
                "not-found",
            )
            groups = await ops.ok(f"{OPS}/consumer-groups")
            assert {s["stream"] for s in groups["streams"]} >= {"quality", "containment"}


async def test_completed_results_announce_the_inspection_once() -> None:
    audit = Audit()
    subscription = EventSubscription(QUALITY_STREAM, "audit-export", lambda _: audit)
    async with EventGateway(config()) as gw:
        await gw.start_with(subscriptions=[subscription])
        async with gw.caller("operations") as ops, gw.caller("quality-engineer") as engineer:
            receipt = await receive(ops, INSPECTED_LINE, 40)
            created = await engineer.post(
                f"{PROCESS}/inspection-requests", {"goodsReceiptId": receipt["receiptId"]}
            )
            assert created.status_code == 201, created.text
            inspection = created.json()["inspection"]
            results = {"results": await measurements(ops, inspection, fail=True)}
            path = f"{PROCESS}/inspections/{inspection['inspectionId']}/results"
            key = new_key()
            recorded = await engineer.post(path, results, key=key)
            assert recorded.status_code == 200, recorded.text
            await settled(gw)
            [completed] = [e for e in audit.events if e.type == INSPECTION_COMPLETED]
            after = recorded.json()["inspection"]
            assert completed.id == derived_event_id(
                INSPECTION_COMPLETED, after["inspectionId"], str(after["version"])
            )
            assert completed.subject == receipt["lotId"]
            assert completed.source == "/process/v1/inspections"
            assert completed.correlationid == recorded.headers["x-correlation-id"]
            assert completed.traceparent is not None
            data = completed.data
            assert data["inspectionId"] == inspection["inspectionId"]
            assert data["lotId"] == receipt["lotId"]
            assert data["itemId"] == inspection["itemId"]
            assert data["plantId"] == inspection["plantId"]
            assert data["supplierId"] == inspection["supplierId"]
            assert data["origin"] == "GOODS_RECEIPT"
            assert data["result"] == "FAIL"
            assert len(data["failedCharacteristics"]) == 1
            assert "supplierLotNumber" in data

            # The same request again (a client retry): the same event, not a second one.
            await engineer.post(path, results, key=key)
            await settled(gw)
            assert audit.processed[completed.id] == 1
