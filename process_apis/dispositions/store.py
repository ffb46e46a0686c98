"""Where dispositions are kept: in memory (one process, the embedded default) or in Redis (every
replica, surviving restarts).

Both implementations keep the same promises, checked by one test suite:

- :meth:`~DispositionStore.create` is atomic with the lot's claim: a lot has at most one active
  disposition (PENDING_*), and a second request for it is refused with :class:`LotBusy`;
- :meth:`~DispositionStore.save` is a compare-and-set on ``version`` (the stored one must be
  ``version - 1``), so two replicas can never overwrite each other's progress; reaching a
  terminal status frees the lot; the events it is given go into the store's outbox in the same
  atomic step (:mod:`shared.events`: saved together with the change, or not at all), and an
  :class:`~shared.events.OutboxRelay` publishes them;
- :meth:`~DispositionStore.due` lists what the worker should retry (``nextAttemptAt`` passed),
  and :meth:`~DispositionStore.lease` lets one replica at a time work on a disposition; a lease
  expires by itself, so a crashed replica's work is picked up by another;
- lists are ordered by id, which is time-ordered: oldest first.

Redis layout (one hash tag, so a Redis Cluster keeps it in one slot)::

    qgate:{disp}:rec:<id>         hash: json, version, status, lot
    qgate:{disp}:all              zset (score 0, by id) of every disposition
    qgate:{disp}:status:<STATUS>  zset (score 0, by id) per status
    qgate:{disp}:lot:<lotId>      zset (score 0, by id) per lot
    qgate:{disp}:due              zset (score: next attempt, ms since the epoch)
    qgate:{disp}:active:<lotId>   the lot's active disposition id
    qgate:{disp}:lease:<id>       the replica working on it (PX lease)
    qgate:{disp}:outbox           stream of events saved with a change, for the relay
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

from process_apis.dispositions.models import (
    ACTIVE,
    TERMINAL,
    Disposition,
    DispositionStatus,
)
from shared.events import CloudEvent, MemoryOutbox, Outbox, RedisOutbox, outbox_entry, outbox_lua
from shared.stores import Store

__all__ = [
    "Announcement",
    "DispositionStore",
    "LotBusy",
    "MemoryDispositionStore",
    "RedisDispositionStore",
    "StaleDisposition",
]

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(Disposition)


class LotBusy(Exception):
    """The lot already has an active disposition (``holder``)."""

    def __init__(self, lot_id: str, holder: str) -> None:
        super().__init__(f"lot {lot_id} has the active disposition {holder}")
        self.lot_id = lot_id
        self.holder = holder


class StaleDisposition(Exception):
    """The stored disposition moved on (another replica saved first), or it does not exist."""


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


Announcement = tuple[str, CloudEvent]
"""An event a save publishes, and the stream it goes to."""


class DispositionStore(Store):
    """Durable dispositions; every method is atomic across every instance sharing a backend."""

    @property
    @abc.abstractmethod
    def outbox(self) -> Outbox:
        """Where :meth:`save` leaves the events it is given, for an outbox relay."""

    @abc.abstractmethod
    async def create(self, disposition: Disposition) -> None:
        """Store a new disposition (version 1); raise :class:`LotBusy` when its lot already has
        an active one (and the new one is active too)."""

    @abc.abstractmethod
    async def get(self, disposition_id: str) -> Disposition | None: ...

    @abc.abstractmethod
    async def save(self, disposition: Disposition, *, events: Sequence[Announcement] = ()) -> None:
        """Replace the stored version ``disposition.version - 1`` with ``disposition`` and put
        ``events`` in the outbox, in one atomic step; raise :class:`StaleDisposition` (and
        keep neither) otherwise."""

    @abc.abstractmethod
    async def find(
        self,
        *,
        status: DispositionStatus | None = None,
        lot_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Disposition]:
        """Oldest first, ids greater than ``after``; only of ``status`` and ``lot_id`` if given."""

    @abc.abstractmethod
    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        """Ids whose next attempt is at or before ``now``, the most overdue first."""

    @abc.abstractmethod
    async def lease(self, disposition_id: str, owner: str, seconds: float) -> bool:
        """Take (or renew, for the same owner) the right to work on it for ``seconds``."""

    @abc.abstractmethod
    async def unlease(self, disposition_id: str, owner: str) -> None:
        """Give the lease back if ``owner`` still holds it."""

    @abc.abstractmethod
    async def count(self, status: DispositionStatus) -> int:
        """How many dispositions are in ``status`` (read by the metrics at scrape time)."""

    @abc.abstractmethod
    async def oldest(self, status: DispositionStatus) -> Disposition | None:
        """The disposition in ``status`` that was created first, if any."""


class MemoryDispositionStore(DispositionStore):
    """One process's dispositions (lost on restart: the embedded default and unit tests)."""

    def __init__(self) -> None:
        self._records: dict[str, Disposition] = {}
        self._active: dict[str, str] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._lock = asyncio.Lock()
        self._outbox = MemoryOutbox()

    @property
    def outbox(self) -> MemoryOutbox:
        return self._outbox

    async def create(self, disposition: Disposition) -> None:
        async with self._lock:
            if disposition.disposition_id in self._records:
                raise StaleDisposition(f"{disposition.disposition_id} exists")
            if disposition.status in ACTIVE:
                holder = self._active.get(disposition.lot_id)
                if holder is not None:
                    raise LotBusy(disposition.lot_id, holder)
                self._active[disposition.lot_id] = disposition.disposition_id
            self._records[disposition.disposition_id] = disposition

    async def get(self, disposition_id: str) -> Disposition | None:
        return self._records.get(disposition_id)

    async def save(self, disposition: Disposition, *, events: Sequence[Announcement] = ()) -> None:
        async with self._lock:
            current = self._records.get(disposition.disposition_id)
            if current is None or current.version != disposition.version - 1:
                raise StaleDisposition(disposition.disposition_id)
            self._records[disposition.disposition_id] = disposition
            for stream, event in events:
                self._outbox.append(stream, event)
            if (
                disposition.status in TERMINAL
                and self._active.get(disposition.lot_id) == disposition.disposition_id
            ):
                del self._active[disposition.lot_id]

    async def find(
        self,
        *,
        status: DispositionStatus | None = None,
        lot_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Disposition]:
        chosen = [
            d
            for key, d in sorted(self._records.items())
            if (after is None or key > after)
            and (status is None or d.status is status)
            and (lot_id is None or d.lot_id == lot_id)
        ]
        return chosen[:limit]

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        waiting = [
            (d.next_attempt_at, d.disposition_id)
            for d in self._records.values()
            if d.next_attempt_at is not None and d.next_attempt_at <= now
        ]
        return [key for _, key in sorted(waiting)[:limit]]

    async def lease(self, disposition_id: str, owner: str, seconds: float) -> bool:
        now = time.monotonic()
        holder = self._leases.get(disposition_id)
        if holder is not None and holder[0] != owner and holder[1] > now:
            return False
        self._leases[disposition_id] = (owner, now + seconds)
        return True

    async def unlease(self, disposition_id: str, owner: str) -> None:
        holder = self._leases.get(disposition_id)
        if holder is not None and holder[0] == owner:
            del self._leases[disposition_id]

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def count(self, status: DispositionStatus) -> int:
        return sum(1 for d in self._records.values() if d.status is status)

    async def oldest(self, status: DispositionStatus) -> Disposition | None:
        chosen = await self.find(status=status, limit=1)
        return chosen[0] if chosen else None


# KEYS: rec, all, status-idx, lot-idx, due, active. ARGV: id, json, status, lot, due-ms or '',
# active flag ('1'/'0'). Returns '' when stored, else the id holding the lot (or '!exists').
_CREATE_LUA: Final = r"""
if redis.call('EXISTS', KEYS[1]) == 1 then
  return '!exists'
end
if ARGV[6] == '1' then
  local holder = redis.call('GET', KEYS[6])
  if holder then
    return holder
  end
  redis.call('SET', KEYS[6], ARGV[1])
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', '1', 'status', ARGV[3], 'lot', ARGV[4])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[5], tonumber(ARGV[5]), ARGV[1])
end
return ''
"""

# KEYS: rec, due, active, outbox. ARGV: id, json, version, status, due-ms or '', terminal flag,
# status-index prefix, then one outbox entry per event. Returns 1 when saved, 0 when the stored
# version is not version - 1 (and then nothing is written, events neither).
_SAVE_LUA: Final = (
    r"""
local stored = redis.call('HMGET', KEYS[1], 'version', 'status')
if not stored[1] or tonumber(stored[1]) ~= tonumber(ARGV[3]) - 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', ARGV[3], 'status', ARGV[4])
if stored[2] ~= ARGV[4] then
  redis.call('ZREM', ARGV[7] .. stored[2], ARGV[1])
  redis.call('ZADD', ARGV[7] .. ARGV[4], 0, ARGV[1])
end
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[5]), ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if ARGV[6] == '1' and redis.call('GET', KEYS[3]) == ARGV[1] then
  redis.call('DEL', KEYS[3])
end
"""
    + outbox_lua("KEYS[4]", 8)
    + "return 1\n"
)

# KEYS: lease. ARGV: owner, ms. Take a free lease or renew our own.
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


class RedisDispositionStore(DispositionStore):
    """Dispositions in Redis, shared by every replica of the process layer."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "qgate:{disp}:") -> None:
        self._redis = client
        self._prefix = prefix
        self._create = client.register_script(_CREATE_LUA)
        self._save = client.register_script(_SAVE_LUA)
        self._lease = client.register_script(_LEASE_LUA)
        self._unlease = client.register_script(_UNLEASE_LUA)
        self._outbox = RedisOutbox(client, self._key("outbox"))

    @property
    def outbox(self) -> RedisOutbox:
        return self._outbox

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "qgate:{disp}:") -> RedisDispositionStore:
        return cls(aioredis.Redis.from_url(url), prefix=prefix)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def create(self, disposition: Disposition) -> None:
        d = disposition
        due = _ms(d.next_attempt_at)
        answer = await self._create(
            keys=[
                self._key("rec", d.disposition_id),
                self._key("all"),
                self._key("status", d.status.value),
                self._key("lot", d.lot_id),
                self._key("due"),
                self._key("active", d.lot_id),
            ],
            args=[
                d.disposition_id,
                _encoder.encode(d),
                d.status.value,
                d.lot_id,
                "" if due is None else str(due),
                "1" if d.status in ACTIVE else "0",
            ],
        )
        holder = answer.decode() if isinstance(answer, bytes) else str(answer)
        if holder == "!exists":
            raise StaleDisposition(f"{d.disposition_id} exists")
        if holder:
            raise LotBusy(d.lot_id, holder)

    async def get(self, disposition_id: str) -> Disposition | None:
        raw = await self._redis.hget(self._key("rec", disposition_id), "json")
        return None if raw is None else _decoder.decode(raw)

    async def save(self, disposition: Disposition, *, events: Sequence[Announcement] = ()) -> None:
        d = disposition
        due = _ms(d.next_attempt_at)
        saved = await self._save(
            keys=[
                self._key("rec", d.disposition_id),
                self._key("due"),
                self._key("active", d.lot_id),
                self._outbox.key,
            ],
            args=[
                d.disposition_id,
                _encoder.encode(d),
                str(d.version),
                d.status.value,
                "" if due is None else str(due),
                "1" if d.status in TERMINAL else "0",
                self._key("status", ""),
                *(outbox_entry(stream, event) for stream, event in events),
            ],
        )
        if int(saved) != 1:
            raise StaleDisposition(d.disposition_id)

    async def _records(self, ids: Sequence[bytes | str]) -> list[Disposition]:
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for raw_id in ids:
                key = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
                pipe.hget(self._key("rec", key), "json")
            found = await pipe.execute()
        return [_decoder.decode(raw) for raw in found if raw is not None]

    async def find(
        self,
        *,
        status: DispositionStatus | None = None,
        lot_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[Disposition]:
        if status is not None and lot_id is not None:
            chosen = await self.find(lot_id=lot_id, after=after, limit=10_000)
            return [d for d in chosen if d.status is status][:limit]
        if status is not None:
            index = self._key("status", status.value)
        elif lot_id is not None:
            index = self._key("lot", lot_id)
        else:
            index = self._key("all")
        start = "-" if after is None else f"({after}"
        ids = await self._redis.zrangebylex(index, start, "+", start=0, num=limit)
        return await self._records(ids)

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        ids = await self._redis.zrangebyscore(
            self._key("due"), "-inf", _ms(now) or 0, start=0, num=limit
        )
        return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]

    async def lease(self, disposition_id: str, owner: str, seconds: float) -> bool:
        taken = await self._lease(
            keys=[self._key("lease", disposition_id)], args=[owner, str(int(seconds * 1000))]
        )
        return int(taken) == 1

    async def unlease(self, disposition_id: str, owner: str) -> None:
        await self._unlease(keys=[self._key("lease", disposition_id)], args=[owner])

    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def count(self, status: DispositionStatus) -> int:
        return int(await self._redis.zcard(self._key("status", status.value)))

    async def oldest(self, status: DispositionStatus) -> Disposition | None:
        chosen = await self.find(status=status, limit=1)
        return chosen[0] if chosen else None
