"""In-process idempotency store (one process only: tests, development, single replica)."""

from __future__ import annotations

import heapq
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from shared.idempotency._base import (
    DEFAULT_IN_FLIGHT_TTL,
    DEFAULT_RETENTION,
    Claim,
    ClaimOutcome,
    IdempotencyStore,
    StoredResponse,
    check_seconds,
)

__all__ = ["MemoryIdempotencyStore"]


@dataclass(slots=True)
class _Entry:
    fingerprint: str
    token: str | None  # owner token while in flight, None once completed
    response: StoredResponse | None  # set once completed
    expires_at: float


class MemoryIdempotencyStore(IdempotencyStore):
    """Idempotency store in a dict of this process; records are lost on restart.

    Atomic under asyncio concurrency because no method awaits between reading and writing a
    record; it is *not* thread-safe and not shared between processes or replicas (use
    :class:`RedisIdempotencyStore` for that). Expiry follows ``clock`` (monotonic by default):
    expired records are purged on every call, soonest-expiring first. At most ``max_entries``
    records are kept; beyond that the record closest to expiry is evicted early, which for an
    in-flight record lets the operation run again, so size the bound generously.
    """

    def __init__(
        self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries!r}")
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        # (expires_at, key) for every record written; stale items are skipped when popped.
        self._expiry_heap: list[tuple[float, str]] = []
        self._closed = False

    def __len__(self) -> int:
        """Number of records held (expired ones may linger until the next call)."""
        return len(self._entries)

    async def claim(
        self, key: str, fingerprint: str, in_flight_ttl: float = DEFAULT_IN_FLIGHT_TTL
    ) -> Claim:
        ttl = check_seconds("in_flight_ttl", in_flight_ttl)
        now = self._purge()
        entry = self._entries.get(key)
        if entry is None:
            token = secrets.token_hex(16)
            self._put(key, _Entry(fingerprint, token, None, now + ttl))
            return Claim(ClaimOutcome.CLAIMED, token=token)
        if entry.fingerprint != fingerprint:
            return Claim(ClaimOutcome.MISMATCH)
        if entry.response is None:
            return Claim(ClaimOutcome.IN_FLIGHT)
        return Claim(ClaimOutcome.REPLAY, response=entry.response)

    async def complete(
        self,
        key: str,
        token: str,
        response: StoredResponse,
        retention: float = DEFAULT_RETENTION,
    ) -> bool:
        seconds = check_seconds("retention", retention)
        now = self._purge()
        entry = self._entries.get(key)
        if entry is None or entry.response is not None or entry.token != token:
            return False
        self._put(key, _Entry(entry.fingerprint, None, response, now + seconds))
        return True

    async def release(self, key: str, token: str) -> bool:
        self._purge()
        entry = self._entries.get(key)
        if entry is None or entry.response is not None or entry.token != token:
            return False
        del self._entries[key]
        return True

    async def ping(self) -> None:
        self._check_open()

    async def aclose(self) -> None:
        self._closed = True
        self._entries.clear()
        self._expiry_heap.clear()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("MemoryIdempotencyStore is closed")

    def _put(self, key: str, entry: _Entry) -> None:
        if key not in self._entries:
            while len(self._entries) >= self._max_entries:
                self._pop_soonest()
        self._entries[key] = entry
        heapq.heappush(self._expiry_heap, (entry.expires_at, key))
        if len(self._expiry_heap) > 2 * len(self._entries) + 64:
            # Too many stale items (replaced or released records): rebuild from live ones.
            self._expiry_heap = [(e.expires_at, k) for k, e in self._entries.items()]
            heapq.heapify(self._expiry_heap)

    def _purge(self) -> float:
        """Drop every expired record; return the current clock reading."""
        self._check_open()
        now = self._clock()
        while self._expiry_heap and self._expiry_heap[0][0] <= now:
            self._pop_soonest()
        return now

    def _pop_soonest(self) -> None:
        """Pop the heap top and delete its record unless the item is stale."""
        expires_at, key = heapq.heappop(self._expiry_heap)
        entry = self._entries.get(key)
        if entry is not None and entry.expires_at == expires_at:
            del self._entries[key]
