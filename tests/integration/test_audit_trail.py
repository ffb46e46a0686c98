"""One behavioural suite over both audit trails (memory and a private redis-server): appending,
listing, the chain under concurrency, and tampering as someone with write access would."""

from __future__ import annotations

import abc
import asyncio
import builtins
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import httpx
import msgspec
import pytest
import redis.asyncio as aioredis
from redis.crc import key_slot

from shared.asgitypes import Receive, Scope, Send
from shared.audit import (
    GENESIS_HASH,
    AuditCaller,
    AuditEntry,
    AuditRecord,
    AuditTrail,
    AuditTrailError,
    MemoryAuditTrail,
    RedisAuditTrail,
    Verification,
    VerificationProblem,
)
from shared.audit import _redis as audit_redis
from shared.audit._model import content_hash, decode_stored, encode_stored, seal
from shared.correlation import CorrelationASGI

ACTOR = AuditCaller(client_id="process-service", subject="process-service")
PLANT_APP = AuditCaller(client_id="plant-app", subject="u-4711", plants=["1000", "2000"])


def entry(
    entity_id: str = "LOT-1",
    *,
    action: str = "lot.disposition-changed",
    entity_type: str = "Lot",
    **fields: Any,
) -> AuditEntry:
    return AuditEntry(
        action=action, entity_type=entity_type, entity_id=entity_id, actor=ACTOR, **fields
    )


@pytest.fixture(params=["memory", "redis"])
async def trail(request: pytest.FixtureRequest) -> AsyncIterator[AuditTrail]:
    if request.param == "memory":
        instance: AuditTrail = MemoryAuditTrail()
    else:
        instance = RedisAuditTrail.from_url(request.getfixturevalue("redis_url"))
    try:
        yield instance
    finally:
        await instance.aclose()


async def fill(trail: AuditTrail, count: int) -> builtins.list[AuditRecord]:
    return [await trail.append(entry(f"LOT-{n}", reason=f"change {n}")) for n in range(count)]


def seqs(records: builtins.list[AuditRecord]) -> builtins.list[int]:
    return [record.seq for record in records]


# --- appending and reading ---------------------------------------------------------------------


async def test_append_seals_numbered_chained_records(trail: AuditTrail) -> None:
    before = datetime.now(UTC)
    first = await trail.append(entry(reason="sampling plan", on_behalf_of=[PLANT_APP]))
    second = await trail.append(entry("LOT-2"))

    assert (first.seq, first.prev_hash) == (1, GENESIS_HASH)
    assert (second.seq, second.prev_hash) == (2, first.hash)
    for record in (first, second):
        assert record.hash == content_hash(record)
        assert len(record.hash) == 64
        assert int(record.hash, 16) >= 0  # hex
        assert record.occurred_at.tzinfo is UTC
        assert before <= record.occurred_at <= datetime.now(UTC)
    assert first.on_behalf_of == [PLANT_APP]
    assert first.reason == "sampling plan"
    assert first.actor == ACTOR
    assert await trail.list() == [first, second]


async def test_records_read_back_equal_and_rehash_identically(trail: AuditTrail) -> None:
    # Values whose JSON round trip could drift: floats, unicode, nested dicts, dates, decimals.
    state = {
        "quantity": 12.5,
        "tiny": 1e-7,
        "huge": 2**70,
        "ratio": 0.1,
        "negative_zero": -0.0,
        "text": 'Prüfung \u2028 \U0001f9ea "quoted" \\ tab\t',
        "nested": {"z": [1, 2.0, {"b": None, "a": True}], "a": {}},
        "when": datetime(2025, 3, 1, 12, 30, tzinfo=UTC),
        "price": Decimal("10.10"),
        "pair": ("a", 1),
    }
    appended = await trail.append(
        entry(before=state, after={"ünïcode-key": "値"}, signature_meaning="approval")
    )

    listed = await trail.list()
    exported = [record async for record in trail.records()]
    assert listed == exported == [appended]
    read = listed[0]
    assert read.hash == content_hash(read) == appended.hash
    assert read.before is not None
    assert read.before["when"] == "2025-03-01T12:30:00Z"  # stored as its JSON
    assert read.before["price"] == "10.10"
    assert read.before["pair"] == ["a", 1]
    assert read.before["huge"] == 2**70
    assert read.before["text"] == state["text"]
    assert (await trail.verify()).ok


async def test_the_caller_cannot_change_a_record_through_its_own_objects(
    trail: AuditTrail,
) -> None:
    after: dict[str, Any] = {"disposition": "RELEASED", "lines": [1]}
    record = await trail.append(entry(after=after))
    after["disposition"] = "REJECTED"
    assert record.after is not None
    record.after["lines"].append(2)

    assert (await trail.list())[0].after == {"disposition": "RELEASED", "lines": [1]}
    assert (await trail.verify()).ok


async def test_correlation_id_is_taken_from_the_request(trail: AuditTrail) -> None:
    appended: builtins.list[AuditRecord] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        appended.append(await trail.append(entry()))
        appended.append(await trail.append(entry(correlation_id="given-explicitly")))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    transport = httpx.ASGITransport(app=CorrelationASGI(app, layer="process"))
    async with httpx.AsyncClient(transport=transport, base_url="http://qgate") as client:
        response = await client.post("/", headers={"X-Correlation-ID": "corr-4711"})
    assert response.status_code == 204

    assert [r.correlation_id for r in appended] == ["corr-4711", "given-explicitly"]
    outside = await trail.append(entry())  # no request, no correlation id
    assert outside.correlation_id is None


async def test_list_filters_by_entity_type_id_and_action(trail: AuditTrail) -> None:
    await trail.append(entry("LOT-1", action="lot.quarantined"))  # 1
    await trail.append(entry("LOT-2", action="lot.quarantined"))  # 2
    await trail.append(entry("LOT-1", action="lot.released"))  # 3
    await trail.append(entry("LOT-1", entity_type="Inspection", action="inspection.done"))  # 4
    await trail.append(entry("a:b", entity_type="X", action="x"))  # 5: ":" in an id
    await trail.append(entry("b", entity_type="X:a", action="x"))  # 6

    assert seqs(await trail.list(entity_type="Lot", entity_id="LOT-1")) == [1, 3]
    assert seqs(await trail.list(entity_type="Lot")) == [1, 2, 3]
    assert seqs(await trail.list(entity_id="LOT-1")) == [1, 3, 4]  # any type
    assert seqs(await trail.list(action="lot.quarantined")) == [1, 2]
    assert seqs(await trail.list(entity_type="Lot", action="lot.quarantined")) == [1, 2]
    assert seqs(await trail.list(entity_id="LOT-1", action="lot.released")) == [3]
    assert seqs(await trail.list(entity_type="X", entity_id="a:b")) == [5]
    assert seqs(await trail.list(entity_type="X:a", entity_id="b")) == [6]
    assert await trail.list(entity_type="Lot", entity_id="LOT-1", action="x") == []
    assert await trail.list(entity_type="Nothing") == []
    assert await trail.list(action="never") == []


async def test_list_pages_with_after_seq_and_limit(trail: AuditTrail) -> None:
    for n in range(12):
        await trail.append(entry(f"LOT-{n % 3}", action="a" if n % 2 else "b"))

    assert seqs(await trail.list(limit=5)) == [1, 2, 3, 4, 5]
    assert seqs(await trail.list(after_seq=5, limit=5)) == [6, 7, 8, 9, 10]
    assert seqs(await trail.list(after_seq=10, limit=5)) == [11, 12]
    assert await trail.list(after_seq=12) == []
    assert await trail.list(after_seq=500) == []
    lot_0 = [1, 4, 7, 10]
    assert seqs(await trail.list(entity_type="Lot", entity_id="LOT-0", limit=3)) == lot_0[:3]
    assert seqs(await trail.list(entity_type="Lot", entity_id="LOT-0", after_seq=7)) == [10]
    assert seqs(await trail.list(entity_id="LOT-0", action="a", limit=1)) == [4]
    assert seqs(await trail.list(entity_id="LOT-0", action="a", after_seq=4)) == [10]
    assert len(await trail.list(limit=1000)) == 12


@pytest.mark.parametrize(("after_seq", "limit"), [(0, 0), (0, 1001), (0, -1), (-1, 10)])
async def test_list_rejects_a_bad_page(trail: AuditTrail, after_seq: int, limit: int) -> None:
    name = "after_seq" if after_seq < 0 else "limit"
    with pytest.raises(ValueError, match=name):
        await trail.list(after_seq=after_seq, limit=limit)


async def test_records_yields_every_record_in_order_in_batches(trail: AuditTrail) -> None:
    appended = await fill(trail, 7)

    assert [record async for record in trail.records(batch=3)] == appended
    assert [record async for record in trail.records()] == appended
    with pytest.raises(ValueError, match="batch"):
        _ = [record async for record in trail.records(batch=0)]


async def test_verify_an_empty_trail_is_ok_without_head(trail: AuditTrail) -> None:
    assert await trail.verify() == Verification(ok=True, records=0, head_hash=None)
    assert [record async for record in trail.records()] == []
    assert await trail.list() == []


async def test_verify_an_intact_trail(trail: AuditTrail) -> None:
    appended = await fill(trail, 5)

    assert await trail.verify() == Verification(ok=True, records=5, head_hash=appended[-1].hash)


async def test_ping_and_idempotent_aclose(trail: AuditTrail) -> None:
    await trail.ping()  # raises if the backend is unusable
    await trail.append(entry())

    await trail.aclose()
    await trail.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await trail.ping()
    with pytest.raises(RuntimeError, match="closed"):
        await trail.append(entry())


async def test_async_with_closes_the_trail() -> None:
    async with MemoryAuditTrail() as trail:
        await trail.append(entry())
    with pytest.raises(RuntimeError, match="closed"):
        await trail.list()


# --- concurrency ------------------------------------------------------------------------------


async def assert_one_linear_chain(trail: AuditTrail, appended: builtins.list[AuditRecord]) -> None:
    assert sorted(seqs(appended)) == list(range(1, 101))
    stored = [record async for record in trail.records()]
    assert seqs(stored) == list(range(1, 101))
    assert sorted(appended, key=lambda r: r.seq) == stored
    assert await trail.verify() == Verification(ok=True, records=100, head_hash=stored[-1].hash)


async def test_a_hundred_concurrent_appends_form_one_chain_in_memory() -> None:
    async with MemoryAuditTrail() as trail:
        appended = await asyncio.gather(*(trail.append(entry(f"LOT-{n}")) for n in range(100)))
        await assert_one_linear_chain(trail, appended)


async def test_a_hundred_concurrent_appends_on_two_replicas_form_one_chain(
    redis_url: str,
) -> None:
    async with (
        RedisAuditTrail.from_url(redis_url) as replica_1,
        RedisAuditTrail.from_url(redis_url) as replica_2,
    ):
        replicas = [replica_1, replica_2]
        appended = await asyncio.gather(
            *(replicas[n % 2].append(entry(f"LOT-{n}")) for n in range(100))
        )
        await assert_one_linear_chain(replica_1, appended)
        assert await replica_2.verify() == await replica_1.verify()
        assert len(await replica_2.list(entity_id="LOT-7")) == 1


# --- tampering --------------------------------------------------------------------------------


class Tamper(abc.ABC):
    """Write access to a trail's log, bypassing the trail."""

    @abc.abstractmethod
    async def stored(self, seq: int) -> bytes: ...

    @abc.abstractmethod
    async def replace(self, seq: int, raw: bytes) -> None: ...

    @abc.abstractmethod
    async def insert_before(self, seq: int, raw: bytes) -> None: ...

    @abc.abstractmethod
    async def append_raw(self, raw: bytes) -> None: ...

    @abc.abstractmethod
    async def delete(self, seq: int) -> None: ...


class MemoryTamper(Tamper):
    def __init__(self, trail: MemoryAuditTrail) -> None:
        self.log = trail.log

    async def stored(self, seq: int) -> bytes:
        return self.log[seq - 1]

    async def replace(self, seq: int, raw: bytes) -> None:
        self.log[seq - 1] = raw

    async def insert_before(self, seq: int, raw: bytes) -> None:
        self.log.insert(seq - 1, raw)

    async def append_raw(self, raw: bytes) -> None:
        self.log.append(raw)

    async def delete(self, seq: int) -> None:
        del self.log[seq - 1]


class RedisTamper(Tamper):
    def __init__(self, client: aioredis.Redis, key: str) -> None:
        self.client, self.key = client, key

    async def stored(self, seq: int) -> bytes:
        raw = await self.client.lindex(self.key, seq - 1)
        assert isinstance(raw, bytes)
        return raw

    # redis-py types list values as str; records are UTF-8 JSON, so they travel unchanged.
    async def replace(self, seq: int, raw: bytes) -> None:
        await self.client.lset(self.key, seq - 1, raw.decode())

    async def insert_before(self, seq: int, raw: bytes) -> None:
        pivot = (await self.stored(seq)).decode()
        assert await self.client.linsert(self.key, "BEFORE", pivot, raw.decode()) > 0

    async def append_raw(self, raw: bytes) -> None:
        await self.client.rpush(self.key, raw)

    async def delete(self, seq: int) -> None:
        await self.client.lset(self.key, seq - 1, "deleted")
        assert await self.client.lrem(self.key, 1, "deleted") == 1


@pytest.fixture
async def tampered(
    trail: AuditTrail, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[builtins.list[AuditRecord], Tamper]]:
    """A trail of five records, and write access to its log."""
    appended = await fill(trail, 5)
    if isinstance(trail, MemoryAuditTrail):
        yield appended, MemoryTamper(trail)
        return
    assert isinstance(trail, RedisAuditTrail)
    client = aioredis.Redis.from_url(request.getfixturevalue("redis_url"))
    try:
        yield appended, RedisTamper(client, trail.log_key)
    finally:
        await client.aclose()


def forged(prev: AuditRecord, *, seq: int | None = None, **changes: Any) -> bytes:
    """A well-formed, correctly hashed record that continues the chain after ``prev``."""
    fake = entry("LOT-1", reason="forged", **changes)
    record = seal(
        fake,
        seq=prev.seq + 1 if seq is None else seq,
        prev_hash=prev.hash,
        occurred_at=prev.occurred_at + timedelta(seconds=1),
    )
    return encode_stored(record)


def assert_broken(
    result: Verification, kind: str, seq: int, appended: builtins.list[AuditRecord]
) -> None:
    """``result`` reports ``kind`` at ``seq``, with records 1 to ``seq - 1`` intact."""
    assert result.problem is not None, result
    assert (result.ok, result.problem.kind, result.problem.seq) == (False, kind, seq), result
    assert result.records == seq - 1
    assert result.head_hash == (appended[seq - 2].hash if seq > 1 else None)


Tampered = tuple[builtins.list[AuditRecord], Tamper]


async def test_record_altered_in_place(trail: AuditTrail, tampered: Tampered) -> None:
    appended, tamper = tampered
    raw = await tamper.stored(3)
    await tamper.replace(3, raw.replace(b'"reason":"change 2"', b'"reason":"nothing to see"'))

    result = await trail.verify()
    assert_broken(result, "altered", 3, appended)
    assert result.problem == VerificationProblem(
        kind="altered", seq=3, detail="record 3 was altered: its hash does not match its content"
    )


async def test_record_altered_and_rehashed(trail: AuditTrail, tampered: Tampered) -> None:
    appended, tamper = tampered
    rewritten = msgspec.structs.replace(appended[2], reason="nothing to see")
    resealed = msgspec.structs.replace(rewritten, hash=content_hash(rewritten))
    await tamper.replace(3, encode_stored(resealed))

    result = await trail.verify()
    assert_broken(result, "altered", 3, appended)
    assert result.problem is not None
    assert "record 4 was chained to another record 3" in result.problem.detail


async def test_last_record_altered_and_rehashed(trail: AuditTrail, tampered: Tampered) -> None:
    appended, tamper = tampered
    await tamper.replace(5, forged(appended[3]))  # a well-formed record 5, not the one written

    result = await trail.verify()
    assert_broken(result, "altered", 5, appended)
    assert result.problem is not None
    assert "the head was written for another record 5" in result.problem.detail


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda raw: raw[:-1] + b',"extra":1}', id="added-field"),
        pytest.param(lambda raw: raw.replace(b'","', b'", "', 1), id="whitespace"),
        pytest.param(lambda raw: raw[:20], id="truncated"),
    ],
)
async def test_record_not_stored_as_written_is_altered(
    trail: AuditTrail, tampered: Tampered, edit: Callable[[bytes], bytes]
) -> None:
    appended, tamper = tampered
    await tamper.replace(2, edit(await tamper.stored(2)))

    assert_broken(await trail.verify(), "altered", 2, appended)


async def test_forged_record_inserted(trail: AuditTrail, tampered: Tampered) -> None:
    appended, tamper = tampered
    # Plausible: seq 3 and the hash of record 2, hashed correctly, slipped in before record 3.
    await tamper.insert_before(3, forged(appended[1]))

    result = await trail.verify()
    assert_broken(result, "inserted", 3, appended)
    assert result.problem is not None
    assert result.problem.detail == (
        "a record was inserted at position 3: the record at position 4 is the record 3 "
        "the chain continues from"
    )


async def test_forged_record_inserted_before_the_last(
    trail: AuditTrail, tampered: Tampered
) -> None:
    appended, tamper = tampered
    await tamper.insert_before(5, forged(appended[3]))

    assert_broken(await trail.verify(), "inserted", 5, appended)


@pytest.mark.parametrize("seq", [2, 4, 99, 0], ids=["copied-seq", "own-seq", "far-seq", "zero"])
async def test_record_with_a_stale_or_odd_seq_inserted(
    trail: AuditTrail, tampered: Tampered, seq: int
) -> None:
    appended, tamper = tampered
    await tamper.insert_before(4, forged(appended[0], seq=seq))

    assert_broken(await trail.verify(), "inserted", 4, appended)


async def test_copy_of_a_record_inserted(trail: AuditTrail, tampered: Tampered) -> None:
    appended, tamper = tampered
    await tamper.insert_before(3, await tamper.stored(2))

    assert_broken(await trail.verify(), "inserted", 3, appended)


async def test_forged_record_appended_behind_the_trails_back(
    trail: AuditTrail, tampered: Tampered
) -> None:
    appended, tamper = tampered
    await tamper.append_raw(forged(appended[4]))

    result = await trail.verify()
    assert result == Verification(
        ok=False,
        records=5,
        head_hash=appended[4].hash,
        problem=VerificationProblem(
            kind="inserted",
            seq=6,
            detail="a record was inserted at position 6: the head counts 5 records but the "
            "log holds 6",
        ),
    )
    with pytest.raises(AuditTrailError, match="damaged"):
        await trail.append(entry())


@pytest.mark.parametrize("seq", [1, 3])
async def test_record_removed(trail: AuditTrail, tampered: Tampered, seq: int) -> None:
    appended, tamper = tampered
    await tamper.delete(seq)

    result = await trail.verify()
    assert_broken(result, "removed", seq, appended)
    assert result.problem is not None
    assert result.problem.detail == (
        f"record {seq} was removed: the record at position {seq} is record {seq + 1}"
    )


async def test_two_records_removed(trail: AuditTrail, tampered: Tampered) -> None:
    appended, tamper = tampered
    await tamper.delete(2)
    await tamper.delete(2)

    result = await trail.verify()
    assert_broken(result, "removed", 2, appended)
    assert result.problem is not None
    assert result.problem.detail.startswith("records 2 to 3 were removed")


async def test_last_record_removed_shows_through_the_head(
    trail: AuditTrail, tampered: Tampered
) -> None:
    appended, tamper = tampered
    await tamper.delete(5)

    result = await trail.verify()
    assert_broken(result, "removed", 5, appended)
    assert result.problem is not None
    assert result.problem.detail == (
        "record 5 was removed: the head counts 5 records but the log ends at record 4"
    )
    # Nothing is appended to a damaged trail (it would chain onto the wrong record).
    with pytest.raises(AuditTrailError, match="damaged"):
        await trail.append(entry())
    assert_broken(await trail.verify(), "removed", 5, appended)


async def test_the_first_break_is_reported(trail: AuditTrail, tampered: Tampered) -> None:
    appended, tamper = tampered
    await tamper.delete(5)
    raw = await tamper.stored(4)
    await tamper.replace(4, raw.replace(b"change 3", b"change 9"))
    await tamper.insert_before(2, forged(appended[0]))

    assert_broken(await trail.verify(), "inserted", 2, appended)


# --- Redis only -------------------------------------------------------------------------------


async def test_redis_layout_is_one_hash_slot(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        trail = RedisAuditTrail(client, prefix="test:audit:")
        record = await trail.append(entry("LOT 1/{x}", entity_type="Lot", action="lot.released"))

        assert trail.log_key == "test:audit:{log}"
        stored_keys = cast(builtins.list[bytes], await client.keys("test:audit:*"))
        keys = sorted(key.decode() for key in stored_keys)
        assert keys == [
            "test:audit:{log}",
            "test:audit:{log}:action:lot.released",
            "test:audit:{log}:entity:Lot:LOT%201%2F%7Bx%7D",
            "test:audit:{log}:head",
            "test:audit:{log}:id:LOT%201%2F%7Bx%7D",
            "test:audit:{log}:type:Lot",
        ]
        assert len({key_slot(key.encode()) for key in keys}) == 1
        assert await client.get(trail.head_key) == f"1:{record.hash}".encode()
        raw = await client.lindex(trail.log_key, 0)
        assert isinstance(raw, bytes)
        assert raw == encode_stored(record)
        assert decode_stored(raw) == record
        assert await client.zrange(trail.index_key("type:Lot"), 0, -1, withscores=True) == [
            (b"1", 1.0)
        ]

        await trail.aclose()  # does not close a client it was given
        assert await client.ping() is True
    finally:
        await client.aclose()


async def test_redis_append_recovers_from_a_stale_head(redis_url: str) -> None:
    async with (
        RedisAuditTrail.from_url(redis_url) as replica_1,
        RedisAuditTrail.from_url(redis_url) as replica_2,
    ):
        first = await replica_1.append(entry())
        second = await replica_2.append(entry())  # replica_1's cached head is now stale
        third = await replica_1.append(entry())

        assert [r.seq for r in (first, second, third)] == [1, 2, 3]
        assert third.prev_hash == second.hash
        assert (await replica_2.verify()).ok


async def test_redis_append_gives_up_when_the_head_keeps_changing(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit_redis, "MAX_ATTEMPTS", 4)
    client = aioredis.Redis.from_url(redis_url)
    try:
        trail = RedisAuditTrail(client)
        await trail.append(entry())
        script = trail._append_script
        calls: builtins.list[int] = []

        async def racing(**kwargs: Any) -> Any:
            calls.append(1)  # another replica moves the head just before each attempt
            await client.set(trail.head_key, f"1:{len(calls):064x}")
            return await script(**kwargs)

        monkeypatch.setattr(trail, "_append_script", racing)
        with pytest.raises(AuditTrailError, match="after 4 attempts"):
            await trail.append(entry())
        assert len(calls) == 4
        assert await client.llen(trail.log_key) == 1
    finally:
        await client.aclose()


async def test_redis_missing_head_is_reported_and_blocks_appends(redis_url: str) -> None:
    async with RedisAuditTrail.from_url(redis_url) as trail:
        appended = await fill(trail, 2)
        client = aioredis.Redis.from_url(redis_url)
        await client.delete(trail.head_key)
        await client.aclose()

        result = await trail.verify()
        assert_broken(result, "inserted", 1, appended)
        assert result.problem is not None
        assert "the head counts 0 records but the log holds 2" in result.problem.detail
        async with RedisAuditTrail.from_url(redis_url) as fresh:
            with pytest.raises(AuditTrailError, match="damaged"):
                await fresh.append(entry())


async def test_redis_trail_rejects_a_decoding_client(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisAuditTrail(client)
    finally:
        await client.aclose()


async def test_redis_ping_fails_when_redis_is_unreachable() -> None:
    async with RedisAuditTrail.from_url("redis://127.0.0.1:1/0") as trail:
        with pytest.raises(aioredis.ConnectionError):
            await trail.ping()
