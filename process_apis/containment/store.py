"""Where containment cases are kept: in memory (one process) or in Redis (every replica).

Both keep the same promises (one test suite):

- :meth:`~ContainmentStore.create` opens one case per triggering inspection: a second create for
  the same inspection answers the first case (a redelivered event opens nothing new);
- :meth:`~ContainmentStore.save` is a compare-and-set on ``version``;
- an event given to ``create`` or ``save`` is written to the store's outbox in the same atomic
  operation as the case (Lua script / the store's lock), and an
  :class:`~shared.events.OutboxRelay` publishes it to the ``containment`` stream: no event
  without its change, no change without its event;
- :meth:`~ContainmentStore.due` and the leases work as the disposition store's do;
- lists are ordered by id (time-ordered: oldest first).

Redis layout (one hash tag)::

    qgate:{cnt}:rec:<id>               hash: json, version, status
    qgate:{cnt}:all                    zset (score 0, by id)
    qgate:{cnt}:status:<STATUS>        zset per status
    qgate:{cnt}:supplier:<supplierId>  zset per supplier
    qgate:{cnt}:plant:<plantId>        zset per plant holding a lot of the case
    qgate:{cnt}:trigger:<inspectionId> the case opened for that inspection
    qgate:{cnt}:due                    zset (score: next look, ms since the epoch)
    qgate:{cnt}:lease:<id>             the replica working on it (PX lease)
    qgate:{cnt}:outbox                 stream of events waiting for the relay
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import msgspec
import redis.asyncio as aioredis

from process_apis.containment.models import CaseStatus, ContainmentCase
from shared.events import (
    CONTAINMENT_STREAM,
    CloudEvent,
    MemoryOutbox,
    Outbox,
    RedisOutbox,
    outbox_entry,
    outbox_lua,
)
from shared.stores import Store

__all__ = ["ContainmentStore", "MemoryContainmentStore", "RedisContainmentStore", "StaleCase"]

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(ContainmentCase)
_SCAN_LIMIT: Final = 10_000


class StaleCase(Exception):
    """The stored case moved on (another replica saved first), or it does not exist."""


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _matches(
    case: ContainmentCase,
    status: CaseStatus | None,
    supplier_id: str | None,
    plant_id: str | None,
) -> bool:
    return (
        (status is None or case.status is status)
        and (supplier_id is None or case.supplier_id == supplier_id)
        and (plant_id is None or plant_id in case.plant_ids)
    )


class ContainmentStore(Store):
    outbox: Outbox
    """Where the case events wait for the relay (publish to ``containment``)."""

    @abc.abstractmethod
    async def create(
        self, case: ContainmentCase, event: CloudEvent
    ) -> tuple[ContainmentCase, bool]:
        """Store a new case with its event unless its trigger inspection has one; answer the
        stored case and whether it was created now."""

    @abc.abstractmethod
    async def get(self, containment_id: str) -> ContainmentCase | None: ...

    @abc.abstractmethod
    async def save(self, case: ContainmentCase, event: CloudEvent | None = None) -> None:
        """Replace stored version ``case.version - 1`` (and write ``event``, atomically);
        raise :class:`StaleCase` otherwise."""

    @abc.abstractmethod
    async def find(
        self,
        *,
        status: CaseStatus | None = None,
        supplier_id: str | None = None,
        plant_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[ContainmentCase]:
        """Oldest first, ids greater than ``after``, matching every filter given."""

    @abc.abstractmethod
    async def due(self, now: datetime, limit: int = 100) -> list[str]: ...

    @abc.abstractmethod
    async def lease(self, containment_id: str, owner: str, seconds: float) -> bool: ...

    @abc.abstractmethod
    async def unlease(self, containment_id: str, owner: str) -> None: ...


class MemoryContainmentStore(ContainmentStore):
    def __init__(self, outbox: MemoryOutbox | None = None) -> None:
        self.outbox = self._outbox = outbox or MemoryOutbox()
        self._records: dict[str, ContainmentCase] = {}
        self._triggers: dict[str, str] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._lock = asyncio.Lock()

    async def create(
        self, case: ContainmentCase, event: CloudEvent
    ) -> tuple[ContainmentCase, bool]:
        async with self._lock:
            existing = self._triggers.get(case.trigger.inspection_id)
            if existing is not None:
                return self._records[existing], False
            self._triggers[case.trigger.inspection_id] = case.containment_id
            self._records[case.containment_id] = case
            self._outbox.append(CONTAINMENT_STREAM, event)
            return case, True

    async def get(self, containment_id: str) -> ContainmentCase | None:
        return self._records.get(containment_id)

    async def save(self, case: ContainmentCase, event: CloudEvent | None = None) -> None:
        async with self._lock:
            current = self._records.get(case.containment_id)
            if current is None or current.version != case.version - 1:
                raise StaleCase(case.containment_id)
            self._records[case.containment_id] = case
            if event is not None:
                self._outbox.append(CONTAINMENT_STREAM, event)

    async def find(
        self,
        *,
        status: CaseStatus | None = None,
        supplier_id: str | None = None,
        plant_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[ContainmentCase]:
        return [
            case
            for key, case in sorted(self._records.items())
            if (after is None or key > after) and _matches(case, status, supplier_id, plant_id)
        ][:limit]

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        waiting = [
            (case.next_attempt_at, case.containment_id)
            for case in self._records.values()
            if case.next_attempt_at is not None and case.next_attempt_at <= now
        ]
        return [key for _, key in sorted(waiting)[:limit]]

    async def lease(self, containment_id: str, owner: str, seconds: float) -> bool:
        now = time.monotonic()
        holder = self._leases.get(containment_id)
        if holder is not None and holder[0] != owner and holder[1] > now:
            return False
        self._leases[containment_id] = (owner, now + seconds)
        return True

    async def unlease(self, containment_id: str, owner: str) -> None:
        holder = self._leases.get(containment_id)
        if holder is not None and holder[0] == owner:
            del self._leases[containment_id]

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


# KEYS: rec, all, status-idx, supplier-idx, trigger, due, outbox.
# ARGV: id, json, status, due-ms or '', key prefix, plant ids (comma-separated), entries...
_CREATE_LUA: Final = (
    r"""
local existing = redis.call('GET', KEYS[5])
if existing then
  return {0, redis.call('HGET', ARGV[5] .. 'rec:' .. existing, 'json')}
end
redis.call('SET', KEYS[5], ARGV[1])
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', '1', 'status', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
for plant in string.gmatch(ARGV[6], '[^,]+') do
  redis.call('ZADD', ARGV[5] .. 'plant:' .. plant, 0, ARGV[1])
end
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[6], tonumber(ARGV[4]), ARGV[1])
end
"""
    + outbox_lua("KEYS[7]", 7)
    + "return {1, ARGV[2]}\n"
)

# KEYS: rec, due, outbox. ARGV: id, json, version, status, due-ms or '', key prefix,
# plant ids, entries... Returns 1 when saved, 0 when the stored version is not version - 1.
_SAVE_LUA: Final = (
    r"""
local stored = redis.call('HMGET', KEYS[1], 'version', 'status')
if not stored[1] or tonumber(stored[1]) ~= tonumber(ARGV[3]) - 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', ARGV[3], 'status', ARGV[4])
if stored[2] ~= ARGV[4] then
  redis.call('ZREM', ARGV[6] .. 'status:' .. stored[2], ARGV[1])
  redis.call('ZADD', ARGV[6] .. 'status:' .. ARGV[4], 0, ARGV[1])
end
for plant in string.gmatch(ARGV[7], '[^,]+') do
  redis.call('ZADD', ARGV[6] .. 'plant:' .. plant, 0, ARGV[1])
end
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[5]), ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
"""
    + outbox_lua("KEYS[3]", 8)
    + "return 1\n"
)

_LEASE_LUA: Final = r"""
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

_UNLEASE_LUA: Final = r"""
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisContainmentStore(ContainmentStore):
    def __init__(self, client: aioredis.Redis, *, prefix: str = "qgate:{cnt}:") -> None:
        self._redis = client
        self._prefix = prefix
        self.outbox = self._outbox = RedisOutbox(client, prefix + "outbox")
        self._create = client.register_script(_CREATE_LUA)
        self._save = client.register_script(_SAVE_LUA)
        self._lease = client.register_script(_LEASE_LUA)
        self._unlease = client.register_script(_UNLEASE_LUA)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "qgate:{cnt}:") -> RedisContainmentStore:
        return cls(aioredis.Redis.from_url(url), prefix=prefix)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def create(
        self, case: ContainmentCase, event: CloudEvent
    ) -> tuple[ContainmentCase, bool]:
        due = _ms(case.next_attempt_at)
        created, stored = await self._create(
            keys=[
                self._key("rec", case.containment_id),
                self._key("all"),
                self._key("status", case.status.value),
                self._key("supplier", case.supplier_id),
                self._key("trigger", case.trigger.inspection_id),
                self._key("due"),
                self._outbox.key,
            ],
            args=[
                case.containment_id,
                _encoder.encode(case),
                case.status.value,
                "" if due is None else str(due),
                self._prefix,
                ",".join(case.plant_ids),
                outbox_entry(CONTAINMENT_STREAM, event),
            ],
        )
        return _decoder.decode(stored), int(created) == 1

    async def get(self, containment_id: str) -> ContainmentCase | None:
        raw = await self._redis.hget(self._key("rec", containment_id), "json")
        return None if raw is None else _decoder.decode(raw)

    async def save(self, case: ContainmentCase, event: CloudEvent | None = None) -> None:
        due = _ms(case.next_attempt_at)
        args: list[str | bytes] = [
            case.containment_id,
            _encoder.encode(case),
            str(case.version),
            case.status.value,
            "" if due is None else str(due),
            self._prefix,
            ",".join(case.plant_ids),
        ]
        if event is not None:
            args.append(outbox_entry(CONTAINMENT_STREAM, event))
        saved = await self._save(
            keys=[self._key("rec", case.containment_id), self._key("due"), self._outbox.key],
            args=args,
        )
        if int(saved) != 1:
            raise StaleCase(case.containment_id)

    async def _records(self, ids: Sequence[bytes | str]) -> list[ContainmentCase]:
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for raw_id in ids:
                pipe.hget(self._key("rec", _text(raw_id)), "json")
            found = await pipe.execute()
        return [_decoder.decode(raw) for raw in found if raw is not None]

    async def find(
        self,
        *,
        status: CaseStatus | None = None,
        supplier_id: str | None = None,
        plant_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[ContainmentCase]:
        if supplier_id is not None:
            index = self._key("supplier", supplier_id)
        elif plant_id is not None:
            index = self._key("plant", plant_id)
        elif status is not None:
            index = self._key("status", status.value)
        else:
            index = self._key("all")
        filters = [f for f in (status, supplier_id, plant_id) if f is not None]
        start = "-" if after is None else f"({after}"
        ids = await self._redis.zrangebylex(
            index, start, "+", start=0, num=_SCAN_LIMIT if len(filters) > 1 else limit
        )
        cases = await self._records(ids)
        return [c for c in cases if _matches(c, status, supplier_id, plant_id)][:limit]

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        ids = await self._redis.zrangebyscore(
            self._key("due"), "-inf", _ms(now) or 0, start=0, num=limit
        )
        return [_text(i) for i in ids if isinstance(i, bytes | str)]

    async def lease(self, containment_id: str, owner: str, seconds: float) -> bool:
        taken = await self._lease(
            keys=[self._key("lease", containment_id)], args=[owner, str(int(seconds * 1000))]
        )
        return int(taken) == 1

    async def unlease(self, containment_id: str, owner: str) -> None:
        await self._unlease(keys=[self._key("lease", containment_id)], args=[owner])

    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        await self._redis.aclose()
