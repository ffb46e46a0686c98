"""What qgate keeps next to SAP because SAP's APIs have no field for it, by record.

- **Purchasing blocks** (:class:`BlockNote`): SAP's supplier API has the block indicators
  (``PurchasingIsBlocked``, ``SupplierProcurementBlock``, …) but no field a client may write a
  reason into: the supplier's long texts (``A_SupplierText.LongText``) are
  ``sap:creatable="false" sap:updatable="false"`` in API_BUSINESS_PARTNER's ``$metadata``. So
  each block qgate sets is noted with the indicators it set; a note whose indicators no longer
  match SAP's (someone changed the block in SAP directly) is not shown, and the supplier's
  version moves on by one.
- **Inspection lots** (:class:`InspectionNote`): a usage decision carries no reason, no
  decided-by person other than SAP's communication user, and no planned split by stock type;
  an inspection lot has no counter a client can compare. The note holds the version qgate
  counts, a fingerprint of what SAP held after qgate's last write (a different one means a
  change made in SAP directly: the version moves on by one), and the decision's details.

Memory (one process) or Redis (every replica of the system layer sees the same notes; a
compare-and-set on the version keeps two replicas from both writing over one version).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import datetime
from typing import Final, Generic, Protocol, TypeVar

import msgspec
import redis.asyncio as aioredis

__all__ = [
    "BlockNote",
    "BlockNotes",
    "DecisionNote",
    "InspectionNote",
    "InspectionNotes",
    "MemoryBlockNotes",
    "MemoryInspectionNotes",
    "MemoryNotes",
    "Notes",
    "RedisBlockNotes",
    "RedisInspectionNotes",
    "RedisNotes",
]


class BlockNote(msgspec.Struct, frozen=True, kw_only=True):
    functions: tuple[str, ...]
    """The blocked functions (canonical names, sorted) as qgate set them in SAP."""
    reason: str
    actor: str
    at: datetime
    version: int
    """The supplier's version after this change."""


class DecisionNote(msgspec.Struct, frozen=True, kw_only=True):
    """A usage decision as qgate was asked to make it (SAP keeps the code and valuation)."""

    decision: str
    """The canonical decision code (``RELEASE``, ``BLOCK``, …)."""
    reason: str
    decided_by: str
    at: datetime
    signature_meaning: str | None = None
    quantities: tuple[tuple[str, float], ...] = ()
    """(stock category, quantity) as planned; the ERP side posts the stock."""


class InspectionNote(msgspec.Struct, frozen=True, kw_only=True):
    version: int
    fingerprint: str
    """What SAP held after qgate's last write (results, decision, status), hashed."""
    origin: str | None = None
    """The canonical origin, for lots created through the API (SAP origin 89)."""
    goods_receipt_id: str | None = None
    decision: DecisionNote | None = None


class _Versioned(Protocol):
    @property
    def version(self) -> int: ...


N = TypeVar("N", bound=_Versioned)


class Notes(Protocol[N]):
    async def get_many(self, keys: Iterable[str]) -> dict[str, N]: ...

    async def put(self, key: str, note: N, *, replaces: int | None) -> bool:
        """Store ``note`` if the stored note is still at version ``replaces`` (None: there is
        none); False when another writer got there first."""
        ...

    async def aclose(self) -> None: ...


class MemoryNotes(Generic[N]):
    def __init__(self, notes: dict[str, N] | None = None) -> None:
        self._notes = dict(notes or {})
        self._lock = asyncio.Lock()

    async def get_many(self, keys: Iterable[str]) -> dict[str, N]:
        return {k: self._notes[k] for k in keys if k in self._notes}

    async def put(self, key: str, note: N, *, replaces: int | None) -> bool:
        async with self._lock:
            stored = self._notes.get(key)
            if (stored.version if stored else None) != replaces:
                return False
            self._notes[key] = note
            return True

    async def aclose(self) -> None:
        return None


# KEYS[1] the record's hash; ARGV[1] the version replaced ("" for none), ARGV[2] the new
# version, ARGV[3] the note.
_PUT_LUA: Final = """
local stored = redis.call('HGET', KEYS[1], 'version')
if (stored or '') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'note', ARGV[3])
return 1
"""


class RedisNotes(Generic[N]):
    """One hash per record: ``version`` and the ``note`` (JSON)."""

    def __init__(self, redis: aioredis.Redis, *, note_type: type[N], prefix: str) -> None:
        self._redis = redis
        self._type = note_type
        self._prefix = prefix
        self._put = redis.register_script(_PUT_LUA)

    async def get_many(self, keys: Iterable[str]) -> dict[str, N]:
        wanted = list(keys)
        if not wanted:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in wanted:
                pipe.hget(self._prefix + key, "note")
            found = await pipe.execute()
        return {
            key: msgspec.json.decode(raw, type=self._type)
            for key, raw in zip(wanted, found, strict=True)
            if raw is not None
        }

    async def put(self, key: str, note: N, *, replaces: int | None) -> bool:
        done = await self._put(
            keys=[self._prefix + key],
            args=[
                "" if replaces is None else str(replaces),
                str(note.version),
                msgspec.json.encode(note),
            ],
        )
        return bool(done)

    async def aclose(self) -> None:
        await self._redis.aclose()


def _redis(url: str) -> aioredis.Redis:
    return aioredis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)


BlockNotes = Notes[BlockNote]
InspectionNotes = Notes[InspectionNote]


class MemoryBlockNotes(MemoryNotes[BlockNote]):
    """Purchasing-block notes of one process."""


class MemoryInspectionNotes(MemoryNotes[InspectionNote]):
    """Inspection-lot notes of one process."""


class RedisBlockNotes(RedisNotes[BlockNote]):
    def __init__(self, redis: aioredis.Redis, *, prefix: str = "qgate:s4hana:block-note:") -> None:
        super().__init__(redis, note_type=BlockNote, prefix=prefix)

    @classmethod
    def from_url(cls, url: str) -> RedisBlockNotes:
        return cls(_redis(url))


class RedisInspectionNotes(RedisNotes[InspectionNote]):
    def __init__(
        self, redis: aioredis.Redis, *, prefix: str = "qgate:s4hana:inspection-note:"
    ) -> None:
        super().__init__(redis, note_type=InspectionNote, prefix=prefix)

    @classmethod
    def from_url(cls, url: str) -> RedisInspectionNotes:
        return cls(_redis(url))
