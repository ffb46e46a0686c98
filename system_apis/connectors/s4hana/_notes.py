"""Why, by whom and when a supplier's purchasing block was set: kept by qgate, not in SAP.

SAP's supplier API has the block indicators (``PurchasingIsBlocked``,
``SupplierProcurementBlock``, …) but no field a client may write a reason into: the supplier's
long texts (``A_SupplierText.LongText``) are ``sap:creatable="false" sap:updatable="false"`` in
API_BUSINESS_PARTNER's ``$metadata``. So each block qgate sets is noted here with the
indicators it set; a note whose indicators no longer match SAP's (someone changed the block in
SAP directly) is not shown, and the supplier's version moves on by one.

Memory (one process) or Redis (every replica of the system layer sees the same notes; a
compare-and-set on the version keeps two replicas from both writing over one version).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Final, Protocol

import msgspec
import redis.asyncio as aioredis

__all__ = ["BlockNote", "BlockNotes", "MemoryBlockNotes", "RedisBlockNotes"]


class BlockNote(msgspec.Struct, frozen=True, kw_only=True):
    functions: tuple[str, ...]
    """The blocked functions (canonical names, sorted) as qgate set them in SAP."""
    reason: str
    actor: str
    at: datetime
    version: int
    """The supplier's version after this change."""


class BlockNotes(Protocol):
    async def get_many(self, suppliers: Iterable[str]) -> dict[str, BlockNote]: ...

    async def put(self, supplier: str, note: BlockNote, *, replaces: int | None) -> bool:
        """Store ``note`` if the stored note is still at version ``replaces`` (None: there is
        none); False when another writer got there first."""
        ...

    async def aclose(self) -> None: ...


class MemoryBlockNotes:
    def __init__(self, notes: dict[str, BlockNote] | None = None) -> None:
        self._notes = dict(notes or {})
        self._lock = asyncio.Lock()

    async def get_many(self, suppliers: Iterable[str]) -> dict[str, BlockNote]:
        return {s: self._notes[s] for s in suppliers if s in self._notes}

    async def put(self, supplier: str, note: BlockNote, *, replaces: int | None) -> bool:
        async with self._lock:
            stored = self._notes.get(supplier)
            if (stored.version if stored else None) != replaces:
                return False
            self._notes[supplier] = note
            return True

    async def aclose(self) -> None:
        return None


# KEYS[1] the supplier's hash; ARGV[1] the version replaced ("" for none), ARGV[2] the new
# version, ARGV[3] the note.
_PUT_LUA: Final = """
local stored = redis.call('HGET', KEYS[1], 'version')
if (stored or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'note', ARGV[3])
return 1
"""


class RedisBlockNotes:
    """One hash per supplier: ``version`` and the ``note`` (JSON)."""

    def __init__(self, redis: aioredis.Redis, *, prefix: str = "qgate:s4hana:block-note:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._put = redis.register_script(_PUT_LUA)

    @classmethod
    def from_url(cls, url: str) -> RedisBlockNotes:
        return cls(aioredis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0))

    async def get_many(self, suppliers: Iterable[str]) -> dict[str, BlockNote]:
        wanted = list(suppliers)
        if not wanted:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for supplier in wanted:
                pipe.hget(self._prefix + supplier, "note")
            found = await pipe.execute()
        return {
            supplier: msgspec.json.decode(raw, type=BlockNote)
            for supplier, raw in zip(wanted, found, strict=True)
            if raw is not None
        }

    async def put(self, supplier: str, note: BlockNote, *, replaces: int | None) -> bool:
        done = await self._put(
            keys=[self._prefix + supplier],
            args=[
                "" if replaces is None else str(replaces),
                str(note.version),
                msgspec.json.encode(note),
            ],
        )
        return bool(done)

    async def aclose(self) -> None:
        await self._redis.aclose()
