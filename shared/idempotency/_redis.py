"""Idempotency store on Redis: shared by every replica, one round trip per call."""

from __future__ import annotations

import math
import secrets
from typing import Final, cast

import msgspec
import redis.asyncio as aioredis

from shared.idempotency._base import (
    DEFAULT_IN_FLIGHT_TTL,
    DEFAULT_RETENTION,
    Claim,
    ClaimOutcome,
    IdempotencyStore,
    StoredResponse,
    check_seconds,
)

__all__ = ["DEFAULT_PREFIX", "RedisIdempotencyStore"]

DEFAULT_PREFIX: Final = "qgate:idem:"


# Records are msgpack arrays (array_like tagged structs), so the scripts can check them cheaply:
#   in flight: [0, fingerprint, token]       -> bytes start with 0x93 0x00
#   completed: [1, fingerprint, response]    -> bytes start with 0x93 0x01
# ``complete`` builds the completed record in Lua by splicing the in-flight fingerprint between
# that header and the msgpack-encoded StoredResponse sent by Python.
class _InFlight(msgspec.Struct, frozen=True, array_like=True, tag=0):
    fingerprint: str
    token: str


class _Completed(msgspec.Struct, frozen=True, array_like=True, tag=1):
    fingerprint: str
    response: StoredResponse


_Record = _InFlight | _Completed

# KEYS[1] key; ARGV[1] encoded in-flight record, ARGV[2] TTL in ms.
# Returns nil if the key was free and is now claimed, else the existing record.
_CLAIM_LUA: Final = r"""
local current = redis.call('GET', KEYS[1])
if current then
  return current
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"""

# Shared head of the compare-and-set and compare-and-delete scripts: leaves ``record`` set to
# the decoded in-flight record if KEYS[1] is in flight and owned by ARGV[1], else returns 0.
_OWNED_LUA: Final = r"""
local current = redis.call('GET', KEYS[1])
if not current or string.sub(current, 1, 2) ~= '\147\000' then
  return 0
end
local ok, record = pcall(cmsgpack.unpack, current)
if not ok or type(record) ~= 'table' or record[3] ~= ARGV[1] then
  return 0
end
"""

# KEYS[1] key; ARGV[1] owner token, ARGV[2] encoded StoredResponse, ARGV[3] retention in ms.
_COMPLETE_LUA: Final = (
    _OWNED_LUA
    + r"""
redis.call('SET', KEYS[1], '\147\001' .. cmsgpack.pack(record[2]) .. ARGV[2], 'PX', ARGV[3])
return 1
"""
)

# KEYS[1] key; ARGV[1] owner token.
_RELEASE_LUA: Final = (
    _OWNED_LUA
    + r"""
redis.call('DEL', KEYS[1])
return 1
"""
)

_encoder: Final = msgspec.msgpack.Encoder()
_decoder: Final = msgspec.msgpack.Decoder(_Record)


def _millis(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisIdempotencyStore(IdempotencyStore):
    """Idempotency store on Redis, safe across any number of replicas sharing the server.

    Each call is one Lua script, hence one round trip and atomic on the server: ``claim`` is
    GET-or-SET-PX, ``complete`` a compare-and-set on the owner token, ``release`` a
    compare-and-delete. Expiry is Redis's own (``PX``), so it holds across restarts of qgate.
    Keys are stored as ``f"{prefix}{{{key}}}"`` (hash-tagged; every script touches one key, so
    Redis Cluster is fine). Records are msgpack; the client must not use
    ``decode_responses=True``. Redis errors (``redis.RedisError``) propagate to the caller.
    """

    def __init__(self, redis: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        """Use ``redis`` (not closed by :meth:`aclose`; its owner closes it)."""
        if redis.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisIdempotencyStore needs a client with decode_responses=False")
        self._redis = redis
        self._prefix = prefix
        self._owns_client = False
        self._claim_script = redis.register_script(_CLAIM_LUA)
        self._complete_script = redis.register_script(_COMPLETE_LUA)
        self._release_script = redis.register_script(_RELEASE_LUA)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisIdempotencyStore:
        """Create a store with its own client for ``url``; :meth:`aclose` closes that client."""
        store = cls(aioredis.Redis.from_url(url), prefix=prefix)
        store._owns_client = True
        return store

    def redis_key(self, key: str) -> str:
        """The Redis key that holds the record for ``key``."""
        return f"{self._prefix}{{{key}}}"

    async def claim(
        self, key: str, fingerprint: str, in_flight_ttl: float = DEFAULT_IN_FLIGHT_TTL
    ) -> Claim:
        ttl_ms = _millis(check_seconds("in_flight_ttl", in_flight_ttl))
        token = secrets.token_hex(16)
        record = _encoder.encode(_InFlight(fingerprint, token))
        existing = cast(
            bytes | None,
            await self._claim_script(keys=[self.redis_key(key)], args=[record, ttl_ms]),
        )
        if existing is None:
            return Claim(ClaimOutcome.CLAIMED, token=token)
        current = _decoder.decode(existing)
        if current.fingerprint != fingerprint:
            return Claim(ClaimOutcome.MISMATCH)
        if isinstance(current, _InFlight):
            return Claim(ClaimOutcome.IN_FLIGHT)
        return Claim(ClaimOutcome.REPLAY, response=current.response)

    async def complete(
        self,
        key: str,
        token: str,
        response: StoredResponse,
        retention: float = DEFAULT_RETENTION,
    ) -> bool:
        retention_ms = _millis(check_seconds("retention", retention))
        done = await self._complete_script(
            keys=[self.redis_key(key)], args=[token, _encoder.encode(response), retention_ms]
        )
        return cast(int, done) == 1

    async def release(self, key: str, token: str) -> bool:
        done = await self._release_script(keys=[self.redis_key(key)], args=[token])
        return cast(int, done) == 1

    async def ping(self) -> None:
        if not await self._redis.ping():
            raise ConnectionError("Redis did not answer PING")

    async def aclose(self) -> None:
        if self._owns_client:
            self._owns_client = False
            await self._redis.aclose()
