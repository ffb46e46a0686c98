"""One behavioural suite over the containment, hold and webhook stores (memory, and a private
redis-server): one case per trigger, compare-and-set saves, events in the outbox with the state,
indexes, due lists and leases; holds created once; deliveries enqueued once per event."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from process_apis.containment.models import (
    CaseStatus,
    ContainmentCase,
    ContainmentStep,
    StepName,
    Trigger,
    TriggerLot,
    new_containment_id,
)
from process_apis.containment.store import (
    ContainmentStore,
    MemoryContainmentStore,
    RedisContainmentStore,
    StaleCase,
)
from process_apis.holds.models import HoldStatus, ProcurementHold, hold_id_for
from process_apis.holds.store import HoldStore, MemoryHoldStore, RedisHoldStore, StaleHold
from process_apis.webhooks.models import (
    StoredSubscription,
    WebhookDelivery,
    new_delivery_id,
    new_subscription_id,
)
from process_apis.webhooks.store import (
    MemoryWebhookStore,
    RedisWebhookStore,
    StaleDelivery,
    WebhookStore,
)
from shared.audit import AuditCaller
from shared.events import (
    CONTAINMENT_CONTAINED,
    CONTAINMENT_OPENED,
    CONTAINMENT_STREAM,
    new_event,
    read_outbox_entry,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _backend(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "memory" else str(request.getfixturevalue("redis_url"))


@pytest.fixture(params=["memory", "redis"])
async def cases(request: pytest.FixtureRequest) -> AsyncIterator[ContainmentStore]:
    url = _backend(request)
    store = MemoryContainmentStore() if url is None else RedisContainmentStore.from_url(url)
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture(params=["memory", "redis"])
async def holds(request: pytest.FixtureRequest) -> AsyncIterator[HoldStore]:
    url = _backend(request)
    store = MemoryHoldStore() if url is None else RedisHoldStore.from_url(url)
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture(params=["memory", "redis"])
async def webhooks(request: pytest.FixtureRequest) -> AsyncIterator[WebhookStore]:
    url = _backend(request)
    store = MemoryWebhookStore() if url is None else RedisWebhookStore.from_url(url)
    try:
        yield store
    finally:
        await store.aclose()


def case(
    inspection_id: str = "INSP-900001",
    supplier_id: str = "SUP-0001",
    plants: tuple[str, ...] = ("1000",),
    due: datetime | None = None,
) -> ContainmentCase:
    return ContainmentCase(
        containment_id=new_containment_id(),
        status=CaseStatus.CONTAINING,
        trigger=Trigger(
            inspection_id=inspection_id,
            lot=TriggerLot(lot_id="LOT-1000-0099", plant_id=plants[0]),
            occurred_at=NOW,
        ),
        supplier_id=supplier_id,
        item_id="BRG-6205",
        plant_ids=list(plants),
        steps=[ContainmentStep(name=name) for name in StepName],
        opened_at=NOW,
        next_attempt_at=due,
        updated_at=NOW,
    )


def _event(kind: str, c: ContainmentCase) -> object:
    return new_event(kind, "/test", {"containmentId": c.containment_id}, subject=c.containment_id)


async def _outbox(store: ContainmentStore) -> list[tuple[str, str, str | None]]:
    entries = await store.outbox.peek(100)
    found = []
    for _, raw in entries:
        stream, event = read_outbox_entry(raw)
        found.append((stream, event.type, event.subject))
    return found


async def test_one_case_per_trigger_with_its_event_in_the_outbox(cases: ContainmentStore) -> None:
    first = case()
    stored, created = await cases.create(first, new_event(CONTAINMENT_OPENED, "/t", {}))
    assert created
    assert stored == first
    again, created_again = await cases.create(
        case(), new_event(CONTAINMENT_OPENED, "/t", {}, subject="other")
    )
    assert not created_again
    assert again == first
    assert await cases.get(first.containment_id) == first
    assert await _outbox(cases) == [(CONTAINMENT_STREAM, CONTAINMENT_OPENED, None)]


async def test_save_is_a_compare_and_set_and_writes_its_event_atomically(
    cases: ContainmentStore,
) -> None:
    c = case()
    await cases.create(c, new_event(CONTAINMENT_OPENED, "/t", {}))
    contained = msgspec.structs.replace(c, version=2, status=CaseStatus.CONTAINED)
    await cases.save(contained, new_event(CONTAINMENT_CONTAINED, "/t", {}, subject="x"))
    with pytest.raises(StaleCase):
        await cases.save(
            msgspec.structs.replace(c, version=2), new_event(CONTAINMENT_CONTAINED, "/t", {})
        )
    assert await cases.get(c.containment_id) == contained
    # The refused save wrote no event.
    assert [kind for _, kind, _ in await _outbox(cases)] == [
        CONTAINMENT_OPENED,
        CONTAINMENT_CONTAINED,
    ]
    assert await cases.find(status=CaseStatus.CONTAINED) == [contained]
    assert await cases.find(status=CaseStatus.CONTAINING) == []


async def test_find_filters_by_supplier_plant_and_status_and_pages(
    cases: ContainmentStore,
) -> None:
    a = case("INSP-1", "SUP-0001", ("1000",))
    b = case("INSP-2", "SUP-0002", ("1000", "2000"))
    c = case("INSP-3", "SUP-0001", ("2000",))
    for item in (a, b, c):
        await cases.create(item, new_event(CONTAINMENT_OPENED, "/t", {}))

    def ids(found: list[ContainmentCase]) -> list[str]:
        return [x.containment_id for x in found]

    # Ids made in one millisecond order by their random part: compare with the sorted ids.
    assert ids(await cases.find(supplier_id="SUP-0001")) == sorted(
        [a.containment_id, c.containment_id]
    )
    assert ids(await cases.find(plant_id="2000")) == sorted([b.containment_id, c.containment_id])
    assert ids(await cases.find(supplier_id="SUP-0001", plant_id="2000")) == [c.containment_id]
    first = await cases.find(limit=2)
    rest = await cases.find(after=first[-1].containment_id, limit=2)
    assert ids(first + rest) == sorted([a.containment_id, b.containment_id, c.containment_id])
    # A plant found later joins the plant index.
    grown = msgspec.structs.replace(a, version=2, plant_ids=["1000", "3000"])
    await cases.save(grown)
    assert [x.containment_id for x in await cases.find(plant_id="3000")] == [a.containment_id]


async def test_due_lists_what_is_due_and_leases_keep_replicas_apart(
    cases: ContainmentStore,
) -> None:
    soon = case("INSP-1", due=NOW)
    later = case("INSP-2", due=NOW + timedelta(minutes=5))
    for item in (soon, later):
        await cases.create(item, new_event(CONTAINMENT_OPENED, "/t", {}))
    assert await cases.due(NOW + timedelta(seconds=1)) == [soon.containment_id]
    await cases.save(msgspec.structs.replace(soon, version=2, next_attempt_at=None))
    assert await cases.due(NOW + timedelta(seconds=1)) == []
    assert await cases.lease(soon.containment_id, "a", 30)
    assert not await cases.lease(soon.containment_id, "b", 30)
    assert await cases.lease(soon.containment_id, "a", 30)
    await cases.unlease(soon.containment_id, "a")
    assert await cases.lease(soon.containment_id, "b", 30)


def hold(
    containment_id: str, supplier: str = "SUP-0001", item: str = "BRG-6205"
) -> ProcurementHold:
    return ProcurementHold(
        hold_id=hold_id_for(containment_id),
        status=HoldStatus.ACTIVE,
        supplier_id=supplier,
        item_id=item,
        containment_id=containment_id,
        reason="Containment",
        placed_at=NOW,
        updated_at=NOW,
    )


async def test_a_hold_is_created_once_and_saved_with_compare_and_set(holds: HoldStore) -> None:
    first = hold(new_containment_id())
    assert await holds.create(first) == (first, True)
    later = msgspec.structs.replace(first, reason="Other")
    assert await holds.create(later) == (first, False)
    lifted = msgspec.structs.replace(first, version=2, status=HoldStatus.LIFTED)
    await holds.save(lifted)
    with pytest.raises(StaleHold):
        await holds.save(msgspec.structs.replace(first, version=2))
    other = hold(new_containment_id(), item="SHF-3012")
    await holds.create(other)
    assert await holds.find(supplier_id="SUP-0001", item_id="BRG-6205") == [lifted]
    assert await holds.find(status=HoldStatus.ACTIVE) == [other]
    assert await holds.find(supplier_id="SUP-0002") == []


def subscription(event_types: list[str] | None = None) -> StoredSubscription:
    return StoredSubscription(
        subscription_id=new_subscription_id(),
        url="http://127.0.0.1:9/hook",
        event_types=event_types or [],
        created_at=NOW,
        created_by=AuditCaller(client_id="operations", subject="operations"),
        secret="whsec_c2VjcmV0",
    )


async def test_subscriptions_and_deliveries(webhooks: WebhookStore) -> None:
    sub = subscription([CONTAINMENT_OPENED])
    await webhooks.add_subscription(sub)
    assert await webhooks.subscriptions() == [sub]
    delivery = WebhookDelivery(
        delivery_id=new_delivery_id(),
        subscription_id=sub.subscription_id,
        event_id="evt-1",
        event_type=CONTAINMENT_OPENED,
        created_at=NOW,
        next_attempt_at=NOW,
    )
    assert await webhooks.enqueue(delivery, b'{"a":1}') == delivery
    twice = msgspec.structs.replace(delivery, delivery_id=new_delivery_id())
    assert await webhooks.enqueue(twice, b'{"a":2}') == delivery
    assert await webhooks.delivery(delivery.delivery_id) == (delivery, b'{"a":1}')
    assert await webhooks.due(NOW) == [delivery.delivery_id]
    sent = msgspec.structs.replace(delivery, version=2, next_attempt_at=None)
    await webhooks.save(sent)
    with pytest.raises(StaleDelivery):
        await webhooks.save(msgspec.structs.replace(delivery, version=2))
    assert await webhooks.due(NOW) == []
    assert await webhooks.deliveries(sub.subscription_id) == [sent]
    assert await webhooks.lease(delivery.delivery_id, "a", 30)
    assert not await webhooks.lease(delivery.delivery_id, "b", 30)
    assert await webhooks.deactivate(sub.subscription_id)
    assert not await webhooks.deactivate(sub.subscription_id)
    assert await webhooks.subscriptions() == []
    stored = await webhooks.subscription(sub.subscription_id)
    assert stored is not None
    assert not stored.active
