"""Audit trail on Redis: one linear chain shared by every replica.

Layout, every key under ``{prefix}{log}`` so that all of them share one hash tag, hence one
Redis Cluster slot (the scripts touch several keys at once)::

    {prefix}{log}                        LIST of stored records (canonical JSON); seq n at index n-1
    {prefix}{log}:head                   STRING "<count>:<hash of the last record>"
    {prefix}{log}:type:<type>            ZSET of seqs (member and score) per entity type
    {prefix}{log}:entity:<type>:<id>     ZSET of seqs per entity
    {prefix}{log}:id:<id>                ZSET of seqs per entity id, whatever the type
    {prefix}{log}:action:<action>        ZSET of seqs per action

Types, ids and actions are percent-encoded in key names. An append computes the record in
Python (Redis Lua has no SHA-256) from the head it last saw, then one script appends it only
if the head is still that one: RPUSH, ZADD to the four indexes and SET of the head, atomically.
On a conflict the script answers the current head, and the append is resealed and retried.
"""

from __future__ import annotations

import asyncio
import builtins
import random
from collections.abc import AsyncIterator
from typing import Any, Final, cast

import redis.asyncio as aioredis

from shared.audit._base import (
    AuditTrail,
    AuditTrailError,
    check_batch,
    check_page,
    damaged,
    decode_entry,
    prepare,
    utc_now,
)
from shared.audit._model import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    Verification,
    encode_stored,
    filter_indexes,
    index_names,
    load_stored,
    seal,
)
from shared.audit._verify import ChainChecker

__all__ = ["DEFAULT_PREFIX", "MAX_ATTEMPTS", "RedisAuditTrail"]

DEFAULT_PREFIX: Final = "qgate:audit:"

MAX_ATTEMPTS: Final = 32
"""Appends tried before giving up when other replicas keep winning the race for the head."""

# KEYS[1] log, KEYS[2] head, KEYS[3..] indexes; ARGV[1] the head the record was sealed after
# ("" for none), ARGV[2] the stored record, ARGV[3] the new head, ARGV[4] the record's seq.
# Answers {1, new head} when appended, {0, current head} on a conflict, {-1, log length} when
# the log does not hold exactly seq - 1 records (it was tampered with: append nothing).
_APPEND_LUA: Final = r"""
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[1] then
  return {0, current}
end
local held = redis.call('LLEN', KEYS[1])
if held ~= tonumber(ARGV[4]) - 1 then
  return {-1, held}
end
redis.call('RPUSH', KEYS[1], ARGV[2])
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[4], ARGV[4])
end
redis.call('SET', KEYS[2], ARGV[3])
return {1, ARGV[3]}
"""

# KEYS[1] log, KEYS[2..] indexes to intersect; ARGV[1] after_seq, ARGV[2] limit. Walks the
# smallest index from after_seq, keeps the seqs every other index holds, answers their records.
_LIST_LUA: Final = r"""
local primary, smallest = 2, nil
for i = 2, #KEYS do
  local size = redis.call('ZCARD', KEYS[i])
  if smallest == nil or size < smallest then
    primary, smallest = i, size
  end
end
local after, limit, found = ARGV[1], tonumber(ARGV[2]), {}
while #found < limit do
  local seqs = redis.call('ZRANGEBYSCORE', KEYS[primary], '(' .. after, '+inf', 'LIMIT', 0, limit)
  for _, seq in ipairs(seqs) do
    local keep = true
    for i = 2, #KEYS do
      if i ~= primary and not redis.call('ZSCORE', KEYS[i], seq) then
        keep = false
        break
      end
    end
    if keep then
      found[#found + 1] = redis.call('LINDEX', KEYS[1], tonumber(seq) - 1)
      if #found == limit then
        break
      end
    end
    after = seq
  end
  if #seqs < limit then
    break
  end
end
return found
"""

_jitter: Final = random.Random()  # noqa: S311 - backoff jitter, not security


def _parse_head(raw: bytes) -> tuple[int, str]:
    if not raw:
        return 0, GENESIS_HASH
    count, _, last_hash = raw.decode("ascii", "replace").partition(":")
    if not count.isdigit() or len(last_hash) != 64:
        raise AuditTrailError(f"the audit head {raw!r} is not '<count>:<hash>': verify the trail")
    return int(count), last_hash


class RedisAuditTrail(AuditTrail):
    """Audit trail on Redis, one chain for any number of replicas (see the module for keys).

    Each instance serialises its own appends (an ``asyncio.Lock``) and remembers the head it
    wrote last, so an uncontended append costs one round trip (two for the first append of
    the instance, which reads the head). A conflict with another replica costs one more round
    trip, then jittered backoff; after :data:`MAX_ATTEMPTS` it raises
    :class:`AuditTrailError`. The client must not use ``decode_responses=True``; Redis errors
    (``redis.RedisError``) propagate. After an error the outcome of that append is unknown to
    the caller (it may have been appended): the next append re-reads the head.
    """

    def __init__(self, redis: aioredis.Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        """Use ``redis`` (not closed by :meth:`aclose`; its owner closes it)."""
        if redis.connection_pool.connection_kwargs.get("decode_responses"):
            raise ValueError("RedisAuditTrail needs a client with decode_responses=False")
        self._redis = redis
        self._owns_client = False
        self._closed = False
        self.log_key: Final = f"{prefix}{{log}}"
        """The LIST of stored records."""
        self.head_key: Final = f"{self.log_key}:head"
        """The head: ``"<count>:<hash of the last record>"``."""
        self._head: bytes | None = None  # the head as this instance last wrote or saw it
        self._lock = asyncio.Lock()
        self._append_script = redis.register_script(_APPEND_LUA)
        self._list_script = redis.register_script(_LIST_LUA)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisAuditTrail:
        """A trail with its own client for ``url``; :meth:`aclose` closes that client."""
        trail = cls(aioredis.Redis.from_url(url), prefix=prefix)
        trail._owns_client = True
        return trail

    def index_key(self, name: str) -> str:
        """The Redis key of an index (``entity:<type>:<id>`` and so on)."""
        return f"{self.log_key}:{name}"

    async def append(self, entry: AuditEntry) -> AuditRecord:
        self._check_open()
        prepared = prepare(entry)
        keys = [self.log_key, self.head_key, *map(self.index_key, index_names(prepared))]
        async with self._lock:
            head = self._head if self._head is not None else await self._read_head()
            for attempt in range(MAX_ATTEMPTS):
                count, last_hash = _parse_head(head)
                record = seal(prepared, seq=count + 1, prev_hash=last_hash, occurred_at=utc_now())
                new_head = f"{record.seq}:{record.hash}".encode("ascii")
                self._head = None  # unknown until the script answers
                answer = cast(
                    builtins.list[Any],
                    await self._append_script(
                        keys=keys, args=[head, encode_stored(record), new_head, record.seq]
                    ),
                )
                status = int(answer[0])
                if status == 1:
                    self._head = new_head
                    return record
                if status == -1:
                    raise damaged(int(answer[1]), count)
                head = cast(bytes, answer[1])
                if attempt:  # the first conflict usually means our cached head was stale
                    await asyncio.sleep(_jitter.uniform(0, min(0.1, 0.002 * 2**attempt)))
        raise AuditTrailError(
            f"could not append to the audit trail after {MAX_ATTEMPTS} attempts: "
            "other writers kept changing its head"
        )

    async def list(
        self,
        *,
        entity_type: str | None = None,
        entity_id: str | None = None,
        action: str | None = None,
        after_seq: int = 0,
        limit: int = 50,
    ) -> builtins.list[AuditRecord]:
        check_page(after_seq, limit)
        self._check_open()
        names = filter_indexes(entity_type, entity_id, action)
        if not names:
            raws = cast(
                builtins.list[bytes],
                await self._redis.lrange(self.log_key, after_seq, after_seq + limit - 1),
            )
            return [decode_entry(after_seq + i, raw) for i, raw in enumerate(raws, 1)]
        keys = [self.log_key, *map(self.index_key, names)]
        found = cast(
            builtins.list[bytes | None],
            await self._list_script(keys=keys, args=[after_seq, limit]),
        )
        if None in found:
            raise AuditTrailError("an audit index names a record the log lacks: verify the trail")
        return [decode_entry(None, raw) for raw in found if raw is not None]

    async def records(self, *, batch: int = 500) -> AsyncIterator[AuditRecord]:
        check_batch(batch)
        self._check_open()
        held = await self._redis.llen(self.log_key)
        async for position, raw in self._stored(held, batch):
            yield decode_entry(position, raw)

    async def verify(self) -> Verification:
        self._check_open()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.get(self.head_key)
            pipe.llen(self.log_key)
            raw_head, held = await pipe.execute()
        checker = ChainChecker(_parse_head(raw_head or b""))
        async for _, raw in self._stored(held, 500):
            if checker.feed(load_stored(raw)) is not None:
                break
        return checker.finish()

    async def ping(self) -> None:
        self._check_open()
        if not await self._redis.ping():
            raise ConnectionError("Redis did not answer PING")

    async def aclose(self) -> None:
        self._closed = True
        if self._owns_client:
            self._owns_client = False
            await self._redis.aclose()

    async def _read_head(self) -> bytes:
        return cast(bytes | None, await self._redis.get(self.head_key)) or b""

    async def _stored(self, held: int, batch: int) -> AsyncIterator[tuple[int, bytes]]:
        """``(position, stored bytes)`` of the first ``held`` entries of the log."""
        for start in range(0, held, batch):
            raws = cast(
                builtins.list[bytes],
                await self._redis.lrange(self.log_key, start, min(start + batch, held) - 1),
            )
            for offset, raw in enumerate(raws):
                yield start + offset + 1, raw
            if len(raws) < batch:
                return

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("RedisAuditTrail is closed")
