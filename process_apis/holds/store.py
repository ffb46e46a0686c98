"""Where procurement holds are kept: in memory (one process) or in Redis (every replica).

Both keep the same promises (one test suite): :meth:`~HoldStore.create` stores a hold once (a
second create of the same id answers the stored one), :meth:`~HoldStore.save` is a
compare-and-set on ``version``, and lists are ordered by id (time-ordered: oldest first).

Redis layout (one hash tag)::

    qgate:{hold}:rec:<id>               hash: json, version, status
    qgate:{hold}:all                    zset (score 0, by id)
    qgate:{hold}:supplier:<supplierId>  zset (score 0, by id)
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from typing import Final

import msgspec
import redis.asyncio as aioredis

from process_apis.holds.models import HoldStatus, ProcurementHold
from shared.stores import Store

__all__ = ["HoldStore", "MemoryHoldStore", "RedisHoldStore", "StaleHold"]

_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(ProcurementHold)


class StaleHold(Exception):
    """The stored hold moved on (another replica saved first), or it does not exist."""


class HoldStore(Store):
    @abc.abstractmethod
    async def create(self, hold: ProcurementHold) -> tuple[ProcurementHold, bool]:
        """Store ``hold`` unless one with its id exists; answer the stored one and whether it
        was created now."""

    @abc.abstractmethod
    async def get(self, hold_id: str) -> ProcurementHold | None: ...

    @abc.abstractmethod
    async def save(self, hold: ProcurementHold) -> None:
        """Replace stored version ``hold.version - 1``; raise :class:`StaleHold` otherwise."""

    @abc.abstractmethod
    async def find(
        self,
        *,
        supplier_id: str | None = None,
        item_id: str | None = None,
        status: HoldStatus | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[ProcurementHold]:
        """Oldest first, ids greater than ``after``, matching every filter given."""


def _matches(
    hold: ProcurementHold, supplier_id: str | None, item_id: str | None, status: HoldStatus | None
) -> bool:
    return (
        (supplier_id is None or hold.supplier_id == supplier_id)
        and (item_id is None or hold.item_id == item_id)
        and (status is None or hold.status is status)
    )


class MemoryHoldStore(HoldStore):
    def __init__(self) -> None:
        self._records: dict[str, ProcurementHold] = {}
        self._lock = asyncio.Lock()

    async def create(self, hold: ProcurementHold) -> tuple[ProcurementHold, bool]:
        async with self._lock:
            stored = self._records.setdefault(hold.hold_id, hold)
            return stored, stored is hold

    async def get(self, hold_id: str) -> ProcurementHold | None:
        return self._records.get(hold_id)

    async def save(self, hold: ProcurementHold) -> None:
        async with self._lock:
            current = self._records.get(hold.hold_id)
            if current is None or current.version != hold.version - 1:
                raise StaleHold(hold.hold_id)
            self._records[hold.hold_id] = hold

    async def find(
        self,
        *,
        supplier_id: str | None = None,
        item_id: str | None = None,
        status: HoldStatus | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[ProcurementHold]:
        chosen = [
            hold
            for key, hold in sorted(self._records.items())
            if (after is None or key > after) and _matches(hold, supplier_id, item_id, status)
        ]
        return chosen[:limit]

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


# KEYS: rec, all, supplier-idx. ARGV: id, json, status. Returns {created 0/1, stored json}.
_CREATE_LUA: Final = r"""
local stored = redis.call('HGET', KEYS[1], 'json')
if stored then
  return {0, stored}
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', '1', 'status', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
return {1, ARGV[2]}
"""

# KEYS: rec. ARGV: json, version, status. 1 when saved, 0 when the version moved on.
_SAVE_LUA: Final = r"""
local stored = redis.call('HGET', KEYS[1], 'version')
if not stored or tonumber(stored) ~= tonumber(ARGV[2]) - 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'json', ARGV[1], 'version', ARGV[2], 'status', ARGV[3])
return 1
"""

_SCAN_LIMIT: Final = 10_000


class RedisHoldStore(HoldStore):
    def __init__(self, client: aioredis.Redis, *, prefix: str = "qgate:{hold}:") -> None:
        self._redis = client
        self._prefix = prefix
        self._create = client.register_script(_CREATE_LUA)
        self._save = client.register_script(_SAVE_LUA)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "qgate:{hold}:") -> RedisHoldStore:
        return cls(aioredis.Redis.from_url(url), prefix=prefix)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def create(self, hold: ProcurementHold) -> tuple[ProcurementHold, bool]:
        created, stored = await self._create(
            keys=[
                self._key("rec", hold.hold_id),
                self._key("all"),
                self._key("supplier", hold.supplier_id),
            ],
            args=[hold.hold_id, _encoder.encode(hold), hold.status.value],
        )
        return _decoder.decode(stored), int(created) == 1

    async def get(self, hold_id: str) -> ProcurementHold | None:
        raw = await self._redis.hget(self._key("rec", hold_id), "json")
        return None if raw is None else _decoder.decode(raw)

    async def save(self, hold: ProcurementHold) -> None:
        saved = await self._save(
            keys=[self._key("rec", hold.hold_id)],
            args=[_encoder.encode(hold), str(hold.version), hold.status.value],
        )
        if int(saved) != 1:
            raise StaleHold(hold.hold_id)

    async def _records(self, ids: Sequence[bytes | str]) -> list[ProcurementHold]:
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
        supplier_id: str | None = None,
        item_id: str | None = None,
        status: HoldStatus | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[ProcurementHold]:
        index = self._key("all") if supplier_id is None else self._key("supplier", supplier_id)
        start = "-" if after is None else f"({after}"
        filtered = item_id is not None or status is not None
        ids = await self._redis.zrangebylex(
            index, start, "+", start=0, num=_SCAN_LIMIT if filtered else limit
        )
        holds = await self._records(ids)
        return [h for h in holds if _matches(h, supplier_id, item_id, status)][:limit]

    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        await self._redis.aclose()
