"""In-process audit trail (one process only: the embedded default, development, unit tests)."""

from __future__ import annotations

import asyncio
import builtins
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import AsyncIterator

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

__all__ = ["MemoryAuditTrail"]


def _holds(index: builtins.list[int], seq: int) -> bool:
    at = bisect_left(index, seq)
    return at < len(index) and index[at] == seq


class MemoryAuditTrail(AuditTrail):
    """Audit trail in this process's memory; records are lost when the process ends.

    It stores exactly what :class:`~shared.audit.RedisAuditTrail` stores (the canonical JSON
    of each record, and a head of count and last hash), so both verify alike. Appends are
    serialised by an ``asyncio.Lock``; it is not thread-safe and not shared between processes
    or replicas: use Redis for that, and for anything that must outlive the process.

    ``log`` is the list of stored records, record ``n`` at index ``n - 1``. It is public only
    so that tests can tamper with it as someone with write access to Redis could; nothing
    else may touch it.
    """

    def __init__(self) -> None:
        self.log: builtins.list[bytes] = []
        self._head: tuple[int, str] = (0, GENESIS_HASH)
        self._indexes: dict[str, builtins.list[int]] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    async def append(self, entry: AuditEntry) -> AuditRecord:
        self._check_open()
        prepared = prepare(entry)
        async with self._lock:
            count, last_hash = self._head
            if len(self.log) != count:
                raise damaged(len(self.log), count)
            record = seal(prepared, seq=count + 1, prev_hash=last_hash, occurred_at=utc_now())
            self.log.append(encode_stored(record))
            for name in index_names(record):
                self._indexes.setdefault(name, []).append(record.seq)
            self._head = (record.seq, record.hash)
        return record

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
            seqs: builtins.list[int] = builtins.list(
                range(after_seq + 1, min(after_seq + limit, len(self.log)) + 1)
            )
        else:
            indexes = sorted((self._indexes.get(name, []) for name in names), key=len)
            smallest, others = indexes[0], indexes[1:]
            candidates = itertools.islice(smallest, bisect_right(smallest, after_seq), None)
            matching = (seq for seq in candidates if all(_holds(i, seq) for i in others))
            seqs = builtins.list(itertools.islice(matching, limit))
        return [self._read(seq) for seq in seqs]

    async def records(self, *, batch: int = 500) -> AsyncIterator[AuditRecord]:
        check_batch(batch)
        self._check_open()
        for seq in range(1, len(self.log) + 1):
            yield self._read(seq)

    async def verify(self) -> Verification:
        self._check_open()
        checker = ChainChecker(self._head)
        for raw in builtins.list(self.log):
            if checker.feed(load_stored(raw)) is not None:
                break
        return checker.finish()

    async def ping(self) -> None:
        self._check_open()

    async def aclose(self) -> None:
        self._closed = True

    def _read(self, seq: int) -> AuditRecord:
        if seq > len(self.log):
            raise AuditTrailError(f"the audit log has no record {seq}: verify the trail")
        return decode_entry(seq, self.log[seq - 1])

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("MemoryAuditTrail is closed")
