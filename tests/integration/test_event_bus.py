"""One conformance suite over both event buses (memory, and Redis Streams on a private
redis-server), and the outbox that publishes atomically with a store's state change."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime

import msgspec
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from process_apis.dispositions.models import Disposition, DispositionStatus, new_disposition_id
from process_apis.dispositions.store import (
    DispositionStore,
    MemoryDispositionStore,
    RedisDispositionStore,
    StaleDisposition,
)
from shared.audit import AuditCaller
from shared.errors import DownstreamUnavailable, NotFound
from shared.events import (
    LOT_DISPOSITION_CHANGED,
    QUALITY_STREAM,
    CloudEvent,
    EventBus,
    InvalidEvent,
    MemoryEventBus,
    MemoryStreams,
    Outbox,
    OutboxRelay,
    RedisEventBus,
    build_event_bus,
    decode_event,
    derived_event_id,
    encode_event,
    new_event,
)
from shared.models import DispositionCode, LotDisposition
from shared.settings import EventSettings, Settings, SettingsError, StoreKind

FAST = EventSettings(
    max_deliveries=3,
    retry_base_seconds=0.01,
    retry_max_seconds=0.04,
    claim_idle_seconds=0.3,
    block_ms=20,
    stream_maxlen=1000,
)
WITHIN = 15.0
"""Seconds a test waits for the buses to settle before it fails (a hang, not a timing check)."""

BusFactory = Callable[..., EventBus]


@pytest.fixture(params=["memory", "redis"])
async def buses(request: pytest.FixtureRequest) -> AsyncIterator[BusFactory]:
    """Buses over one backend (one shared memory, or one Redis), as replicas would be."""
    made: list[EventBus] = []
    shared = MemoryStreams()
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None

    def make(consumer: str = "c1", settings: EventSettings = FAST) -> EventBus:
        bus: EventBus
        if url is None:
            bus = MemoryEventBus(settings, consumer=consumer, streams=shared)
        else:
            bus = RedisEventBus.from_url(url, settings, consumer=consumer)
        made.append(bus)
        return bus

    try:
        yield make
    finally:
        for bus in made:
            await bus.aclose()


def event(n: int = 0, **data: object) -> CloudEvent:
    return new_event(
        LOT_DISPOSITION_CHANGED,
        "/tests",
        {"n": n, **data},
        subject=f"LOT-{n}",
        correlation_id="corr-1",
    )


async def drained(*buses: EventBus) -> None:
    async with asyncio.timeout(WITHIN):
        for bus in buses:
            await bus.drain()


class Recorder:
    """A handler that records what it processed and fails while told to."""

    def __init__(self, failing: Callable[[CloudEvent], bool] = lambda _: False) -> None:
        self.failing = failing
        self.calls: Counter[str] = Counter()
        self.done: list[str] = []

    async def __call__(self, e: CloudEvent) -> None:
        self.calls[e.id] += 1
        if self.failing(e):
            raise RuntimeError(f"cannot handle {e.subject}")
        self.done.append(e.id)


# The envelope ------------------------------------------------------------------------------


def test_an_event_is_cloudevents_json_and_round_trips() -> None:
    e = new_event(LOT_DISPOSITION_CHANGED, "/process/v1/lot-dispositions", {"lotId": "LOT-1"})
    raw = msgspec.json.decode(encode_event(e))
    assert raw["specversion"] == "1.0"
    assert raw["datacontenttype"] == "application/json"
    assert raw["type"] == "com.qgate.lot.disposition-changed.v1"
    assert raw["data"] == {"lotId": "LOT-1"}
    assert "subject" not in raw  # absent, never null
    assert datetime.fromisoformat(raw["time"]).tzinfo is not None
    assert decode_event(encode_event(e)) == e


@pytest.mark.parametrize(
    ("envelope", "why"),
    [
        (b"[]", "not a JSON object"),
        (b'{"id":"1","source":"/s","type":"t","time":"2026-01-01T00:00:00Z","data":{}}', "spec"),
        (
            b'{"specversion":"0.3","id":"1","source":"/s","type":"t",'
            b'"time":"2026-01-01T00:00:00Z","data":{}}',
            "0.3",
        ),
        (
            b'{"specversion":"1.0","id":"","source":"/s","type":"t",'
            b'"time":"2026-01-01T00:00:00Z","data":{}}',
            "id",
        ),
        (
            b'{"specversion":"1.0","id":"1","source":"/s","type":"t",'
            b'"time":"2026-01-01T00:00:00","data":{}}',
            "offset",
        ),
        (
            b'{"specversion":"1.0","id":"1","source":"/s","type":"t",'
            b'"time":"2026-01-01T00:00:00Z","data":[1]}',
            "data",
        ),
        (
            b'{"specversion":"1.0","id":"1","source":"/s","type":"t",'
            b'"time":"2026-01-01T00:00:00Z","data_base64":"AA=="}',
            "data_base64",
        ),
        (
            b'{"specversion":"1.0","id":"1","source":"/s","type":"t",'
            b'"time":"2026-01-01T00:00:00Z","data":{},"Bad-Name":1}',
            "Bad-Name",
        ),
    ],
)
def test_an_invalid_envelope_is_refused_with_the_reason(envelope: bytes, why: str) -> None:
    with pytest.raises(InvalidEvent, match=why):
        decode_event(envelope)


def test_derived_ids_are_deterministic() -> None:
    first = derived_event_id("com.qgate.inspection.completed.v1", "INS-1", "3")
    assert first == derived_event_id("com.qgate.inspection.completed.v1", "INS-1", "3")
    assert first != derived_event_id("com.qgate.inspection.completed.v1", "INS-1", "4")
    assert uuid.UUID(first).version == 5


def test_the_retry_delay_doubles_with_jitter_up_to_the_maximum() -> None:
    bus = MemoryEventBus(EventSettings(retry_base_seconds=1.0, retry_max_seconds=6.0))
    for deliveries, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 6.0), (9, 6.0)]:
        for _ in range(20):
            assert ceiling / 2 <= bus.delay(deliveries) <= ceiling


async def test_the_bus_follows_the_store_setting() -> None:
    memory = build_event_bus(Settings())
    assert isinstance(memory, MemoryEventBus)
    redis_bus = build_event_bus(Settings(store=StoreKind.REDIS, events=FAST))
    assert isinstance(redis_bus, RedisEventBus)
    assert redis_bus.key(QUALITY_STREAM) == "qgate:events:{quality}"
    await redis_bus.aclose()
    await memory.aclose()
    with pytest.raises(SettingsError, match="QGATE_EVENTS_CLAIM_IDLE_SECONDS"):
        build_event_bus(
            Settings(events=EventSettings(claim_idle_seconds=30.0, retry_max_seconds=60.0))
        )


# Delivery ----------------------------------------------------------------------------------


async def test_every_group_gets_every_event_in_order(buses: BusFactory) -> None:
    bus = buses()
    saga, hooks = Recorder(), Recorder()
    bus.subscribe(QUALITY_STREAM, "saga", saga)
    bus.subscribe(QUALITY_STREAM, "hooks", hooks)
    await bus.start()
    published = [event(n) for n in range(5)]
    entry_ids = [await bus.publish(QUALITY_STREAM, e) for e in published]
    await drained(bus)
    assert saga.done == hooks.done == [e.id for e in published]
    assert len(set(entry_ids)) == 5
    status = {g.group: g for g in await bus.pending()}
    assert status["saga"].pending == status["hooks"].pending == 0
    assert status["saga"].lag == 0
    assert status["saga"].last_delivered_id == entry_ids[-1]


async def test_events_published_before_the_group_starts_are_delivered(buses: BusFactory) -> None:
    bus = buses()
    first = event(1)
    await bus.publish(QUALITY_STREAM, first)
    saga = Recorder()
    bus.subscribe(QUALITY_STREAM, "saga", saga)
    await bus.start()
    await drained(bus)
    assert saga.done == [first.id]


async def test_a_group_processes_an_event_id_once(buses: BusFactory) -> None:
    bus = buses()
    saga = Recorder()
    bus.subscribe(QUALITY_STREAM, "saga", saga)
    await bus.start()
    e = event(1)
    await bus.publish(QUALITY_STREAM, e)
    await bus.publish(QUALITY_STREAM, e)  # e.g. an outbox relay that stopped before deleting
    await drained(bus)
    await bus.publish(QUALITY_STREAM, e)
    await drained(bus)
    assert saga.calls[e.id] == 1
    assert [s.length for s in await bus.streams() if s.stream == QUALITY_STREAM] == [3]


async def test_a_failing_event_is_retried_then_dead_lettered(buses: BusFactory) -> None:
    bus = buses()
    poison = event(13)
    saga = Recorder(failing=lambda e: e.id == poison.id)
    bus.subscribe(QUALITY_STREAM, "saga", saga)
    await bus.start()
    await bus.publish(QUALITY_STREAM, poison)
    healthy = event(14)
    await bus.publish(QUALITY_STREAM, healthy)
    await drained(bus)
    assert saga.calls[poison.id] == FAST.max_deliveries
    assert saga.done == [healthy.id]  # a poison event does not stop the others
    [letter] = await bus.dead_letters(QUALITY_STREAM)
    assert letter.event == poison
    assert letter.group == "saga"
    assert letter.deliveries == FAST.max_deliveries
    assert letter.reason == "RuntimeError: cannot handle LOT-13"
    assert letter.stream == QUALITY_STREAM
    [status] = [s for s in await bus.streams() if s.stream == QUALITY_STREAM]
    assert status.dead_letters == 1
    [group] = await bus.pending()
    assert group.pending == 0


async def test_a_replay_after_the_fix_is_processed_once_by_its_group_only(
    buses: BusFactory,
) -> None:
    bus = buses()
    broken = True
    poison = event(13)
    saga = Recorder(failing=lambda e: broken and e.id == poison.id)
    hooks = Recorder()
    bus.subscribe(QUALITY_STREAM, "saga", saga)
    bus.subscribe(QUALITY_STREAM, "hooks", hooks)
    await bus.start()
    await bus.publish(QUALITY_STREAM, poison)
    await drained(bus)
    [letter] = await bus.dead_letters(QUALITY_STREAM)
    assert saga.done == []
    broken = False  # the cause is fixed
    await bus.replay(QUALITY_STREAM, letter.id)
    with pytest.raises(NotFound):
        await bus.replay(QUALITY_STREAM, letter.id)  # replayed once, and gone
    await drained(bus)
    assert saga.done == [poison.id]
    assert saga.calls[poison.id] == FAST.max_deliveries + 1
    assert hooks.calls[poison.id] == 1  # the group that had it is not given it again
    assert await bus.dead_letters(QUALITY_STREAM) == []


async def test_replay_all_replays_every_dead_letter_once(buses: BusFactory) -> None:
    bus = buses()
    broken = True
    saga = Recorder(failing=lambda _: broken)
    bus.subscribe(QUALITY_STREAM, "saga", saga)
    await bus.start()
    published = [event(n) for n in range(3)]
    for e in published:
        await bus.publish(QUALITY_STREAM, e)
    await drained(bus)
    first_two = await bus.dead_letters(QUALITY_STREAM, limit=2)
    rest = await bus.dead_letters(QUALITY_STREAM, after=first_two[-1].id, limit=2)
    # In the order they failed (retries are jittered): all three, each once.
    assert sorted(d.event.id for d in [*first_two, *rest] if d.event) == sorted(
        e.id for e in published
    )
    broken = False
    assert await bus.replay_all(QUALITY_STREAM) == 3
    assert await bus.replay_all(QUALITY_STREAM) == 0
    await drained(bus)
    assert sorted(saga.done) == sorted(e.id for e in published)
    with pytest.raises(NotFound):
        await bus.replay(QUALITY_STREAM, "1-0")


async def test_an_entry_that_is_no_cloudevent_is_dead_lettered_unread(buses: BusFactory) -> None:
    bus = buses()
    saga = Recorder()
    bus.subscribe(QUALITY_STREAM, "saga", saga)
    await bus.start()
    await bus._append(QUALITY_STREAM, b'{"not": "an event"}', None)
    await drained(bus)
    [letter] = await bus.dead_letters(QUALITY_STREAM)
    assert letter.event is None
    assert letter.payload == '{"not": "an event"}'
    assert letter.reason.startswith("not a valid CloudEvent")
    assert saga.calls == Counter()


async def test_a_consumer_killed_mid_stream_loses_no_event(buses: BusFactory) -> None:
    first = buses("replica-a")
    in_hand = asyncio.Event()

    async def hangs(e: CloudEvent) -> None:
        in_hand.set()
        await asyncio.Event().wait()  # never acknowledges

    first.subscribe(QUALITY_STREAM, "saga", hangs)
    await first.start()
    published = [event(n) for n in range(4)]
    for e in published:
        await first.publish(QUALITY_STREAM, e)
    async with asyncio.timeout(WITHIN):
        await in_hand.wait()
    await first.stop(abandon=True)  # killed with events delivered to it, unacknowledged

    second = buses("replica-b")
    saga = Recorder()
    second.subscribe(QUALITY_STREAM, "saga", saga)
    await second.start()
    await drained(second)
    assert sorted(saga.done) == sorted(e.id for e in published)
    assert all(count == 1 for count in saga.calls.values())
    [group] = await second.pending()
    assert group.pending == 0


async def test_an_event_that_kills_its_consumers_is_dead_lettered_unhandled(
    buses: BusFactory,
) -> None:
    poison = event(66)
    await buses("publisher").publish(QUALITY_STREAM, poison)
    for n in range(FAST.max_deliveries):
        replica = buses(f"replica-{n}")
        in_hand = asyncio.Event()

        async def hangs(e: CloudEvent, in_hand: asyncio.Event = in_hand) -> None:
            in_hand.set()
            await asyncio.Event().wait()

        replica.subscribe(QUALITY_STREAM, "saga", hangs)
        await replica.start()
        async with asyncio.timeout(WITHIN):
            await in_hand.wait()
        await replica.stop(abandon=True)  # the event took the replica down with it
    survivor = buses("survivor")
    saga = Recorder()
    survivor.subscribe(QUALITY_STREAM, "saga", saga)
    await survivor.start()
    await drained(survivor)
    assert saga.calls == Counter()  # not handed to a fourth consumer
    [letter] = await survivor.dead_letters(QUALITY_STREAM)
    assert letter.event == poison
    assert letter.deliveries == FAST.max_deliveries + 1
    assert "without an acknowledgement" in letter.reason


async def test_an_unreachable_redis_is_a_503_not_a_crash() -> None:
    bus = RedisEventBus.from_url("redis://127.0.0.1:1/0", FAST)
    try:
        with pytest.raises(DownstreamUnavailable):
            await bus.publish(QUALITY_STREAM, event(1))
        with pytest.raises(DownstreamUnavailable):
            await bus.dead_letters(QUALITY_STREAM)
        with pytest.raises(DownstreamUnavailable):
            await bus.pending()
    finally:
        await bus.aclose()


async def test_a_stop_finishes_the_event_in_hand(buses: BusFactory) -> None:
    bus = buses()
    in_hand, release = asyncio.Event(), asyncio.Event()
    done: list[str] = []

    async def slow(e: CloudEvent) -> None:
        in_hand.set()
        await release.wait()
        done.append(e.id)

    bus.subscribe(QUALITY_STREAM, "saga", slow)
    await bus.start()
    e = event(1)
    await bus.publish(QUALITY_STREAM, e)
    async with asyncio.timeout(WITHIN):
        await in_hand.wait()
    stopping = asyncio.create_task(bus.stop())
    release.set()
    async with asyncio.timeout(WITHIN):
        await stopping
    assert done == [e.id]
    [group] = await bus.pending()
    assert group.pending == 0  # acknowledged before the stop returned


async def test_pending_work_is_reported_per_group(buses: BusFactory) -> None:
    slow_retries = msgspec.structs.replace(FAST, retry_base_seconds=60.0, retry_max_seconds=60.0)
    bus = buses(settings=msgspec.structs.replace(slow_retries, claim_idle_seconds=120.0))
    failed = asyncio.Event()

    async def fails(e: CloudEvent) -> None:
        failed.set()
        raise RuntimeError("down")

    bus.subscribe(QUALITY_STREAM, "saga", fails)
    await bus.start()
    await bus.publish(QUALITY_STREAM, event(1))
    async with asyncio.timeout(WITHIN):
        await failed.wait()
    [group] = await bus.pending()
    assert group.stream == QUALITY_STREAM
    assert group.group == "saga"
    assert group.pending == 1  # waiting a minute for its retry
    assert group.oldest_pending_age_seconds is not None
    assert group.oldest_pending_age_seconds >= 0
    assert [c.name for c in group.consumers] == ["c1"]
    assert group.consumers[0].pending == 1


def test_names_become_keys_so_they_are_checked() -> None:
    bus = MemoryEventBus(FAST)
    with pytest.raises(ValueError, match="stream name"):
        bus.subscribe("Quality Stream", "saga", Recorder())
    with pytest.raises(ValueError, match="group name"):
        bus.subscribe(QUALITY_STREAM, "saga:*", Recorder())


# Property ----------------------------------------------------------------------------------


@hypothesis_settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(failures=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=8))
def test_every_event_is_processed_exactly_once_per_group_despite_failures(
    redis_url: str, failures: list[int]
) -> None:
    """Event i fails its first ``failures[i]`` attempts in group ``flaky``: it is processed once
    there (directly, or through a replay after it was dead-lettered), and once in ``steady``."""

    async def scenario(bus: EventBus) -> None:
        attempts: Counter[str] = Counter()
        published = [event(n) for n in range(len(failures))]
        budget = {e.id: k for e, k in zip(published, failures, strict=True)}

        def failing(e: CloudEvent) -> bool:
            attempts[e.id] += 1
            return attempts[e.id] <= budget[e.id]

        flaky, steady = Recorder(failing), Recorder()
        bus.subscribe("prop", "flaky", flaky)
        bus.subscribe("prop", "steady", steady)
        await bus.start()
        try:
            for e in published:
                await bus.publish("prop", e)
            await drained(bus)
            dead = {d.event.id for d in await bus.dead_letters("prop", limit=100) if d.event}
            assert dead == {e.id for e in published if budget[e.id] >= FAST.max_deliveries}
            await bus.replay_all("prop")
            await drained(bus)
            expected = sorted(e.id for e in published)
            assert sorted(flaky.done) == expected
            assert sorted(steady.done) == expected
        finally:
            await bus.aclose()

    asyncio.run(scenario(MemoryEventBus(FAST)))
    asyncio.run(
        scenario(RedisEventBus.from_url(redis_url, FAST, prefix=f"qgate:test-{uuid.uuid4().hex}:"))
    )


# The outbox --------------------------------------------------------------------------------

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[DispositionStore]:
    instance: DispositionStore
    if request.param == "memory":
        instance = MemoryDispositionStore()
    else:
        instance = RedisDispositionStore.from_url(request.getfixturevalue("redis_url"))
    try:
        yield instance
    finally:
        await instance.aclose()


def disposition() -> Disposition:
    return Disposition(
        disposition_id=new_disposition_id(),
        status=DispositionStatus.PENDING_ERP,
        lot_id="LOT-1000-0001",
        decision=DispositionCode.BLOCK,
        target_disposition=LotDisposition.BLOCKED,
        reason="Crack",
        requested_by=AuditCaller(client_id="operations", subject="operations"),
        created_at=NOW,
        updated_at=NOW,
    )


def applied(d: Disposition, version: int) -> Disposition:
    return msgspec.structs.replace(d, version=version, status=DispositionStatus.APPLIED)


async def test_a_state_change_and_its_event_are_saved_together_or_not_at_all(
    store: DispositionStore,
) -> None:
    d = disposition()
    await store.create(d)
    e = event(1, dispositionId=d.disposition_id)
    with pytest.raises(StaleDisposition):
        await store.save(applied(d, 3), events=[(QUALITY_STREAM, e)])  # not version + 1
    assert await store.outbox.size() == 0  # refused: no event either
    assert (await store.get(d.disposition_id)) == d
    await store.save(applied(d, 2), events=[(QUALITY_STREAM, e)])
    assert await store.outbox.size() == 1
    assert (await store.get(d.disposition_id)) == applied(d, 2)


class _StopsAfterPublishing(Outbox):
    """The store's outbox, as seen by a relay whose replica stops after it published an entry
    and before it deleted it (once)."""

    def __init__(self, inner: Outbox) -> None:
        self.inner = inner
        self.stopped = False

    async def peek(self, limit: int) -> list[tuple[str, bytes]]:
        return await self.inner.peek(limit)

    async def remove(self, ids: Sequence[str]) -> None:
        if not self.stopped:
            self.stopped = True
            raise ConnectionError("replica stopped")
        await self.inner.remove(ids)

    async def size(self) -> int:
        return await self.inner.size()


async def test_a_relay_restart_neither_loses_nor_duplicates_an_event(
    store: DispositionStore, redis_url: str
) -> None:
    bus = (
        MemoryEventBus(FAST)
        if isinstance(store, MemoryDispositionStore)
        else RedisEventBus.from_url(redis_url, FAST)
    )
    saga = Recorder()
    bus.subscribe(QUALITY_STREAM, "saga", saga)
    await bus.start()
    try:
        published: list[str] = []
        for n in range(3):
            d = disposition()
            await store.create(d)
            e = event(n, dispositionId=d.disposition_id)
            await store.save(applied(d, 2), events=[(QUALITY_STREAM, e)])
            published.append(e.id)
        crashing = OutboxRelay(_StopsAfterPublishing(store.outbox), bus)
        with pytest.raises(ConnectionError):
            await crashing.relay_once()  # published the first event, did not delete it
        restarted = OutboxRelay(store.outbox, bus)
        assert await restarted.relay_once() == 3  # the first one again, then the others
        assert await store.outbox.size() == 0
        await drained(bus)
        assert saga.done == published  # each once, in order
        assert [s.length for s in await bus.streams() if s.stream == QUALITY_STREAM] == [4]
    finally:
        await bus.aclose()


async def test_one_relay_at_a_time_holds_a_redis_outbox(redis_url: str) -> None:
    store = RedisDispositionStore.from_url(redis_url)
    bus = RedisEventBus.from_url(redis_url, FAST)
    try:
        d = disposition()
        await store.create(d)
        await store.save(applied(d, 2), events=[(QUALITY_STREAM, event(1))])
        second = OutboxRelay(store.outbox, bus, owner="replica-b")
        first = OutboxRelay(store.outbox, bus, owner="replica-a")
        assert await first.relay_once() == 1
        d2 = disposition()
        await store.create(d2)
        await store.save(applied(d2, 2), events=[(QUALITY_STREAM, event(2))])
        assert await second.relay_once() == 0  # replica-a holds the lease
        assert await first.relay_once() == 1
    finally:
        await bus.aclose()
        await store.aclose()
