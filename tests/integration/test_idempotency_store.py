"""One behavioural suite over both idempotency stores (memory and a private redis-server)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import msgspec
import pytest
import redis.asyncio as aioredis

from shared.idempotency import (
    Claim,
    ClaimOutcome,
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
    StoredResponse,
)
from shared.idempotency._redis import _Completed, _decoder, _encoder, _InFlight

FP = "a" * 64
OTHER_FP = "b" * 64
RESPONSE = StoredResponse(
    status=201,
    headers=[("content-type", "application/json"), ("location", "/orders/42")],
    body=b'{"id": 42, "note": "\xc3\xa9 \x00\xff binary-safe"}',
)


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[IdempotencyStore]:
    if request.param == "memory":
        instance: IdempotencyStore = MemoryIdempotencyStore()
    else:
        instance = RedisIdempotencyStore.from_url(request.getfixturevalue("redis_url"))
    try:
        yield instance
    finally:
        await instance.aclose()


def new_key(client: str = "client-1") -> str:
    return f"{client}:create-order:{uuid.uuid4()}"


async def claimed_token(store: IdempotencyStore, key: str, ttl: float = 60.0) -> str:
    claim = await store.claim(key, FP, in_flight_ttl=ttl)
    assert claim.outcome is ClaimOutcome.CLAIMED
    assert claim.token
    assert claim.response is None
    return claim.token


async def test_claim_complete_then_replay_returns_the_stored_response(
    store: IdempotencyStore,
) -> None:
    key = new_key()
    token = await claimed_token(store, key)

    assert await store.complete(key, token, RESPONSE, retention=60.0) is True

    for _ in range(2):  # replay does not consume the record
        claim = await store.claim(key, FP, in_flight_ttl=60.0)
        assert claim == Claim(ClaimOutcome.REPLAY, response=RESPONSE)
        assert claim.response is not None
        assert claim.response.headers[0] == ("content-type", "application/json")
        assert isinstance(claim.response.body, bytes)


@pytest.mark.parametrize("length", [0, 31, 255, 70_000])
async def test_any_fingerprint_and_large_binary_bodies_round_trip(
    store: IdempotencyStore, length: int
) -> None:
    # Lengths straddle msgpack's str encodings, which the Redis complete script re-encodes.
    key, fingerprint = new_key(), "\u00e9" * length
    response = StoredResponse(status=200, headers=[("x-a", "1")] * 3, body=bytes(range(256)) * 400)
    claim = await store.claim(key, fingerprint)
    assert claim.token is not None
    assert await store.complete(key, claim.token, response)

    assert await store.claim(key, fingerprint) == Claim(ClaimOutcome.REPLAY, response=response)
    assert await store.claim(key, fingerprint + "x") == Claim(ClaimOutcome.MISMATCH)


async def test_same_fingerprint_while_in_flight_is_in_flight(store: IdempotencyStore) -> None:
    key = new_key()
    await claimed_token(store, key)

    assert await store.claim(key, FP) == Claim(ClaimOutcome.IN_FLIGHT)


async def test_other_fingerprint_while_in_flight_is_mismatch(store: IdempotencyStore) -> None:
    key = new_key()
    token = await claimed_token(store, key)

    assert await store.claim(key, OTHER_FP) == Claim(ClaimOutcome.MISMATCH)
    # The mismatching attempt did not disturb the owner's claim.
    assert await store.complete(key, token, RESPONSE) is True


async def test_other_fingerprint_after_completion_is_mismatch(store: IdempotencyStore) -> None:
    key = new_key()
    token = await claimed_token(store, key)
    assert await store.complete(key, token, RESPONSE)

    assert await store.claim(key, OTHER_FP) == Claim(ClaimOutcome.MISMATCH)
    assert await store.claim(key, FP) == Claim(ClaimOutcome.REPLAY, response=RESPONSE)


async def test_release_frees_the_key(store: IdempotencyStore) -> None:
    key = new_key()
    token = await claimed_token(store, key)

    assert await store.release(key, token) is True
    assert await store.release(key, token) is False  # already gone

    # A retry, even of a different request, may now claim the key afresh.
    claim = await store.claim(key, OTHER_FP)
    assert claim.outcome is ClaimOutcome.CLAIMED
    assert claim.token is not None
    assert claim.token != token


async def test_complete_with_wrong_token_changes_nothing(store: IdempotencyStore) -> None:
    key = new_key()
    token = await claimed_token(store, key)

    assert await store.complete(key, "not-the-owner", RESPONSE) is False
    assert await store.claim(key, FP) == Claim(ClaimOutcome.IN_FLIGHT)
    assert await store.complete(key, token, RESPONSE) is True


async def test_release_with_wrong_token_changes_nothing(store: IdempotencyStore) -> None:
    key = new_key()
    token = await claimed_token(store, key)

    assert await store.release(key, "not-the-owner") is False
    assert await store.claim(key, FP) == Claim(ClaimOutcome.IN_FLIGHT)
    assert await store.release(key, token) is True


async def test_completed_record_cannot_be_completed_or_released_again(
    store: IdempotencyStore,
) -> None:
    key = new_key()
    token = await claimed_token(store, key)
    assert await store.complete(key, token, RESPONSE)

    other = StoredResponse(status=500, headers=[], body=b"")
    assert await store.complete(key, token, other) is False
    assert await store.release(key, token) is False
    assert await store.claim(key, FP) == Claim(ClaimOutcome.REPLAY, response=RESPONSE)


async def test_unknown_key_cannot_be_completed_or_released(store: IdempotencyStore) -> None:
    key = new_key()

    assert await store.complete(key, "token", RESPONSE) is False
    assert await store.release(key, "token") is False
    assert (await store.claim(key, FP)).outcome is ClaimOutcome.CLAIMED


async def test_in_flight_ttl_expiry_lets_a_new_claim_through(store: IdempotencyStore) -> None:
    key = new_key()
    stale_token = await claimed_token(store, key, ttl=0.2)
    assert await store.claim(key, FP) == Claim(ClaimOutcome.IN_FLIGHT)

    await asyncio.sleep(0.3)

    fresh = await store.claim(key, FP, in_flight_ttl=60.0)
    assert fresh.outcome is ClaimOutcome.CLAIMED
    assert fresh.token is not None
    # The crashed owner's late completion must not overwrite the new owner's claim.
    assert await store.complete(key, stale_token, RESPONSE) is False
    assert await store.release(key, stale_token) is False
    assert await store.claim(key, FP) == Claim(ClaimOutcome.IN_FLIGHT)
    assert await store.complete(key, fresh.token, RESPONSE) is True


async def test_retention_expiry_forgets_the_response(store: IdempotencyStore) -> None:
    key = new_key()
    token = await claimed_token(store, key)
    assert await store.complete(key, token, RESPONSE, retention=0.2)
    assert (await store.claim(key, FP)).outcome is ClaimOutcome.REPLAY

    await asyncio.sleep(0.3)

    assert (await store.claim(key, OTHER_FP)).outcome is ClaimOutcome.CLAIMED


async def test_completion_restarts_the_clock_with_retention(store: IdempotencyStore) -> None:
    key = new_key()
    token = await claimed_token(store, key, ttl=0.2)
    assert await store.complete(key, token, RESPONSE, retention=60.0)

    await asyncio.sleep(0.3)  # past the in-flight TTL, within retention

    assert await store.claim(key, FP) == Claim(ClaimOutcome.REPLAY, response=RESPONSE)


async def test_fifty_concurrent_claims_yield_exactly_one_owner(store: IdempotencyStore) -> None:
    key = new_key()

    claims = await asyncio.gather(*(store.claim(key, FP) for _ in range(50)))

    outcomes = Counter(claim.outcome for claim in claims)
    assert outcomes == {ClaimOutcome.CLAIMED: 1, ClaimOutcome.IN_FLIGHT: 49}
    assert all(claim.token is None for claim in claims if claim.outcome is ClaimOutcome.IN_FLIGHT)


async def test_keys_of_different_clients_are_independent(store: IdempotencyStore) -> None:
    shared_part = f"create-order:{uuid.uuid4()}"
    key_a, key_b = f"client-a:{shared_part}", f"client-b:{shared_part}"
    token_a = await claimed_token(store, key_a)

    claim_b = await store.claim(key_b, OTHER_FP)
    assert claim_b.outcome is ClaimOutcome.CLAIMED
    assert claim_b.token is not None
    assert await store.complete(key_a, token_a, RESPONSE)

    assert await store.claim(key_b, OTHER_FP) == Claim(ClaimOutcome.IN_FLIGHT)
    assert await store.release(key_b, token_a) is False  # a's token is no good for b
    assert await store.release(key_b, claim_b.token) is True
    assert await store.claim(key_a, FP) == Claim(ClaimOutcome.REPLAY, response=RESPONSE)


async def test_ping(store: IdempotencyStore) -> None:
    await store.ping()  # raises if the backend is unusable
    # and the store still works afterwards
    assert (await store.claim(new_key(), FP)).outcome is ClaimOutcome.CLAIMED


@pytest.mark.parametrize("ttl", [0.0, -1.0, float("nan"), float("inf")])
async def test_non_positive_or_non_finite_durations_are_rejected(
    store: IdempotencyStore, ttl: float
) -> None:
    key = new_key()
    with pytest.raises(ValueError, match="in_flight_ttl"):
        await store.claim(key, FP, in_flight_ttl=ttl)
    token = await claimed_token(store, key)
    with pytest.raises(ValueError, match="retention"):
        await store.complete(key, token, RESPONSE, retention=ttl)
    assert await store.claim(key, FP) == Claim(ClaimOutcome.IN_FLIGHT)


# --- Redis only -------------------------------------------------------------------------------


async def test_two_replicas_racing_yield_exactly_one_owner(redis_url: str) -> None:
    async with (
        RedisIdempotencyStore.from_url(redis_url) as replica_1,
        RedisIdempotencyStore.from_url(redis_url) as replica_2,
    ):
        key = new_key()
        replicas = [replica_1, replica_2]

        claims = await asyncio.gather(*(replicas[i % 2].claim(key, FP) for i in range(50)))

        outcomes = Counter(claim.outcome for claim in claims)
        assert outcomes == {ClaimOutcome.CLAIMED: 1, ClaimOutcome.IN_FLIGHT: 49}
        winner = next(i for i, c in enumerate(claims) if c.outcome is ClaimOutcome.CLAIMED)
        token = claims[winner].token
        assert token is not None
        # The other replica can complete on the owner's behalf with the token, and both replay.
        assert await replicas[(winner + 1) % 2].complete(key, token, RESPONSE)
        for replica in replicas:
            assert await replica.claim(key, FP) == Claim(ClaimOutcome.REPLAY, response=RESPONSE)


async def test_redis_layout_is_hash_tagged_with_ttls(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        store = RedisIdempotencyStore(client, prefix="test:idem:")
        key = new_key()
        token = await claimed_token(store, key, ttl=30.0)

        redis_key = f"test:idem:{{{key}}}"
        assert store.redis_key(key) == redis_key
        assert await client.exists(redis_key) == 1
        assert 0 < await client.pttl(redis_key) <= 30_000
        raw = await client.get(redis_key)
        assert isinstance(raw, bytes)
        assert _decoder.decode(raw) == _InFlight(FP, token)

        assert await store.complete(key, token, RESPONSE, retention=3600.0)
        assert 30_000 < await client.pttl(redis_key) <= 3_600_000
        raw = await client.get(redis_key)
        assert isinstance(raw, bytes)
        assert _decoder.decode(raw) == _Completed(FP, RESPONSE)

        await store.aclose()  # does not close a client it was given
        assert await client.ping() is True
    finally:
        await client.aclose()


async def test_record_encoding_starts_with_the_bytes_the_lua_scripts_check() -> None:
    in_flight = _encoder.encode(_InFlight(FP, "t" * 32))
    completed = _encoder.encode(_Completed(FP, RESPONSE))

    assert in_flight[:2] == b"\x93\x00"
    assert completed[:2] == b"\x93\x01"
    assert msgspec.msgpack.decode(in_flight) == [0, FP, "t" * 32]


async def test_redis_store_rejects_a_decoding_client(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        with pytest.raises(ValueError, match="decode_responses"):
            RedisIdempotencyStore(client)
    finally:
        await client.aclose()


async def test_ping_fails_when_redis_is_unreachable() -> None:
    async with RedisIdempotencyStore.from_url("redis://127.0.0.1:1/0") as store:
        with pytest.raises(aioredis.ConnectionError):
            await store.ping()


# --- Memory only ------------------------------------------------------------------------------


async def test_memory_store_is_bounded_and_evicts_the_soonest_expiring() -> None:
    async with MemoryIdempotencyStore(max_entries=3) as store:
        soon = new_key()
        await claimed_token(store, soon, ttl=5.0)
        later = [new_key() for _ in range(3)]
        for key in later:
            await claimed_token(store, key, ttl=60.0)

        assert len(store) == 3
        assert (await store.claim(soon, FP)).outcome is ClaimOutcome.CLAIMED  # it was evicted
        assert len(store) == 3
        assert [(await store.claim(k, FP)).outcome for k in later[1:]] == [
            ClaimOutcome.IN_FLIGHT
        ] * 2


async def test_memory_store_purges_expired_records_by_its_clock() -> None:
    now = [1000.0]
    async with MemoryIdempotencyStore(clock=lambda: now[0]) as store:
        keys = [new_key() for _ in range(10)]
        for key in keys:
            await claimed_token(store, key, ttl=10.0)
        assert len(store) == 10

        now[0] += 10.0
        assert (await store.claim(keys[0], FP, in_flight_ttl=10.0)).outcome is (
            ClaimOutcome.CLAIMED
        )
        assert len(store) == 1


async def test_closed_memory_store_refuses_work() -> None:
    store = MemoryIdempotencyStore()
    await store.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await store.ping()
    with pytest.raises(RuntimeError, match="closed"):
        await store.claim(new_key(), FP)
