"""One behavioural suite over both disposition stores (memory, and a private redis-server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from process_apis.dispositions.models import (
    Disposition,
    DispositionStatus,
    new_disposition_id,
)
from process_apis.dispositions.store import (
    DispositionStore,
    LotBusy,
    MemoryDispositionStore,
    RedisDispositionStore,
    StaleDisposition,
)
from shared.audit import AuditCaller
from shared.models import DispositionCode, LotDisposition

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[DispositionStore]:
    if request.param == "memory":
        instance: DispositionStore = MemoryDispositionStore()
    else:
        instance = RedisDispositionStore.from_url(request.getfixturevalue("redis_url"))
    try:
        yield instance
    finally:
        await instance.aclose()


def disposition(
    lot_id: str = "LOT-1000-0001",
    status: DispositionStatus = DispositionStatus.PENDING_ERP,
    due: datetime | None = None,
) -> Disposition:
    return Disposition(
        disposition_id=new_disposition_id(),
        status=status,
        lot_id=lot_id,
        decision=DispositionCode.BLOCK,
        target_disposition=LotDisposition.BLOCKED,
        reason="Crack",
        requested_by=AuditCaller(client_id="operations", subject="operations"),
        next_attempt_at=due,
        created_at=NOW,
        updated_at=NOW,
    )


def moved(d: Disposition, **changes: object) -> Disposition:
    return msgspec.structs.replace(d, version=d.version + 1, **changes)


async def test_create_get_and_round_trip(store: DispositionStore) -> None:
    d = disposition()
    await store.create(d)
    assert await store.get(d.disposition_id) == d
    assert await store.get("DSP-00000000000000000000") is None
    with pytest.raises(StaleDisposition):
        await store.create(d)


async def test_a_lot_has_one_active_disposition_until_it_ends(store: DispositionStore) -> None:
    first = disposition()
    await store.create(first)
    with pytest.raises(LotBusy) as busy:
        await store.create(disposition())
    assert busy.value.holder == first.disposition_id
    await store.create(disposition(lot_id="LOT-1000-0002"))  # another lot is free
    await store.save(moved(first, status=DispositionStatus.APPLIED))
    await store.create(disposition())  # the lot is free again


async def test_concurrent_creates_for_one_lot_let_exactly_one_in(store: DispositionStore) -> None:
    outcomes = await asyncio.gather(
        *(store.create(disposition()) for _ in range(20)), return_exceptions=True
    )
    assert sum(o is None for o in outcomes) == 1
    assert all(isinstance(o, LotBusy) for o in outcomes if o is not None)


async def test_save_is_compare_and_set_on_version(store: DispositionStore) -> None:
    d = disposition()
    await store.create(d)
    second = moved(d, attempts=1)
    await store.save(second)
    with pytest.raises(StaleDisposition):
        await store.save(moved(d, attempts=5))  # built from a stale read
    with pytest.raises(StaleDisposition):
        await store.save(moved(disposition()))  # never created
    assert await store.get(d.disposition_id) == second


async def test_find_by_status_and_lot_oldest_first_with_cursor(store: DispositionStore) -> None:
    made = []
    for n in range(5):
        d = disposition(lot_id=f"LOT-1000-000{n}")
        await store.create(d)
        made.append(d)
        await asyncio.sleep(0.002)  # ids are time-ordered to the millisecond
    await store.save(moved(made[1], status=DispositionStatus.APPLIED))
    pending = await store.find(status=DispositionStatus.PENDING_ERP)
    assert [d.disposition_id for d in pending] == [made[i].disposition_id for i in (0, 2, 3, 4)]
    page = await store.find(status=DispositionStatus.PENDING_ERP, limit=2)
    rest = await store.find(
        status=DispositionStatus.PENDING_ERP, after=page[-1].disposition_id, limit=10
    )
    assert [d.disposition_id for d in page + rest] == [d.disposition_id for d in pending]
    applied = await store.find(status=DispositionStatus.APPLIED)
    assert [d.disposition_id for d in applied] == [made[1].disposition_id]
    by_lot = await store.find(lot_id="LOT-1000-0003")
    assert [d.disposition_id for d in by_lot] == [made[3].disposition_id]
    both = await store.find(status=DispositionStatus.APPLIED, lot_id="LOT-1000-0003")
    assert both == []
    assert len(await store.find()) == 5


async def test_due_lists_overdue_ones_most_overdue_first(store: DispositionStore) -> None:
    late = disposition(lot_id="LOT-1000-0001", due=NOW - timedelta(seconds=30))
    later = disposition(lot_id="LOT-1000-0002", due=NOW - timedelta(seconds=5))
    future = disposition(lot_id="LOT-1000-0003", due=NOW + timedelta(seconds=60))
    waiting = disposition(lot_id="LOT-1000-0004", status=DispositionStatus.PENDING_APPROVAL)
    for d in (later, future, late, waiting):
        await store.create(d)
    assert await store.due(NOW) == [late.disposition_id, later.disposition_id]
    assert await store.due(NOW, limit=1) == [late.disposition_id]
    await store.save(moved(late, status=DispositionStatus.APPLIED, next_attempt_at=None))
    assert await store.due(NOW) == [later.disposition_id]
    assert await store.due(NOW + timedelta(minutes=5)) == [
        later.disposition_id,
        future.disposition_id,
    ]


async def test_a_lease_keeps_replicas_apart_and_expires(store: DispositionStore) -> None:
    d = disposition()
    await store.create(d)
    assert await store.lease(d.disposition_id, "replica-a", 0.2)
    assert not await store.lease(d.disposition_id, "replica-b", 0.2)
    assert await store.lease(d.disposition_id, "replica-a", 0.2)  # renewed by its holder
    await store.unlease(d.disposition_id, "replica-b")  # not the holder: no effect
    assert not await store.lease(d.disposition_id, "replica-b", 0.2)
    await asyncio.sleep(0.3)
    assert await store.lease(d.disposition_id, "replica-b", 5)  # expired
    await store.unlease(d.disposition_id, "replica-b")
    assert await store.lease(d.disposition_id, "replica-a", 5)


async def test_ping(store: DispositionStore) -> None:
    await store.ping()
