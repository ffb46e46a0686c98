"""The event bus in one process's memory, with the Redis bus's semantics (the embedded default).

Several :class:`MemoryEventBus` instances may share one :class:`MemoryStreams`, as replicas
share a Redis: each is a consumer of the groups it subscribes to. Every primitive runs without
awaiting, so it is atomic as a Lua script is on Redis.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from datetime import UTC, datetime

from shared.errors import NotFound
from shared.events._base import (
    ConsumerStatus,
    DeadLetter,
    EventBus,
    GroupStatus,
    StreamStatus,
    _Delivery,
    entry_key,
)
from shared.events._model import CloudEvent, InvalidEvent, decode_event
from shared.settings import EventSettings

__all__ = ["MemoryEventBus", "MemoryStreams"]


class _Pending:
    __slots__ = ("consumer", "delivered_at", "deliveries")

    def __init__(self, consumer: str, delivered_at: float) -> None:
        self.consumer = consumer
        self.deliveries = 1
        self.delivered_at = delivered_at


class _Group:
    def __init__(self) -> None:
        self.last = (0, 0)
        self.pending: dict[str, _Pending] = {}
        self.retry: dict[str, float] = {}
        self.done: dict[str, float] = {}
        self.seen: dict[str, float] = {}
        """Consumer name -> when it last read or claimed."""


class _Dead:
    __slots__ = ("deliveries", "entry_id", "failed_at", "group", "payload", "reason")

    def __init__(
        self, group: str, entry_id: str, payload: bytes, reason: str, deliveries: int
    ) -> None:
        self.group = group
        self.entry_id = entry_id
        self.payload = payload
        self.reason = reason
        self.deliveries = deliveries
        self.failed_at = datetime.now(UTC)


class _Log:
    """An append-only log of entries with Redis-style ids, trimmed to a maximum length."""

    def __init__(self) -> None:
        self.keys: list[tuple[int, int]] = []
        self.ids: list[str] = []
        self.last = (0, 0)

    def next_id(self) -> tuple[tuple[int, int], str]:
        now = time.time_ns() // 1_000_000
        key = (now, 0) if now > self.last[0] else (self.last[0], self.last[1] + 1)
        self.last = key
        return key, f"{key[0]}-{key[1]}"

    def after(self, key: tuple[int, int]) -> int:
        return bisect.bisect_right(self.keys, key)


class _Stream:
    def __init__(self) -> None:
        self.log = _Log()
        self.entries: dict[str, tuple[bytes, str | None]] = {}
        self.groups: dict[str, _Group] = {}
        self.dead_log = _Log()
        self.dead: dict[str, _Dead] = {}

    def append(self, payload: bytes, target: str | None, maxlen: int) -> str:
        key, entry_id = self.log.next_id()
        self.log.keys.append(key)
        self.log.ids.append(entry_id)
        self.entries[entry_id] = (payload, target)
        excess = len(self.log.ids) - maxlen
        if excess > 0:
            for old in self.log.ids[:excess]:
                del self.entries[old]
            del self.log.ids[:excess]
            del self.log.keys[:excess]
        return entry_id


class MemoryStreams:
    """The streams, groups and dead letters several in-process buses can share."""

    def __init__(self) -> None:
        self.streams: dict[str, _Stream] = {}
        self._changed: asyncio.Event | None = None

    def stream(self, name: str) -> _Stream:
        found = self.streams.get(name)
        if found is None:
            found = self.streams[name] = _Stream()
        return found

    def changed(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None


class MemoryEventBus(EventBus):
    """Streams in this process's memory (lost on restart; not shared with other processes)."""

    def __init__(
        self,
        settings: EventSettings | None = None,
        *,
        consumer: str | None = None,
        streams: MemoryStreams | None = None,
    ) -> None:
        super().__init__(settings, consumer=consumer)
        self.backend = streams or MemoryStreams()

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        await self.stop()

    def _wake(self) -> None:
        self.backend.notify()

    def _group(self, stream: str, group: str) -> _Group:
        found = self.backend.stream(stream).groups.get(group)
        if found is None:
            raise RuntimeError(f"no group {group} on stream {stream}")
        return found

    def _deliver(
        self, stream: _Stream, group: _Group, entry_id: str, now: float, *, claimed: bool
    ) -> _Delivery | None:
        pending = group.pending.get(entry_id)
        entry = stream.entries.get(entry_id)
        if entry is None:  # trimmed away while pending: nothing left to deliver
            group.pending.pop(entry_id, None)
            group.retry.pop(entry_id, None)
            return None
        if pending is None:
            pending = group.pending[entry_id] = _Pending(self.consumer, now)
        elif claimed:
            pending.consumer = self.consumer
            pending.deliveries += 1
            pending.delivered_at = now
        return _Delivery(entry_id, entry[0], entry[1], pending.deliveries)

    async def _append(self, stream: str, payload: bytes, target: str | None) -> str:
        entry_id = self.backend.stream(stream).append(payload, target, self.settings.stream_maxlen)
        self.backend.notify()
        return entry_id

    async def _create_group(self, stream: str, group: str) -> None:
        self.backend.stream(stream).groups.setdefault(group, _Group())

    async def _read_new(
        self, stream: str, group: str, count: int, block: float | None
    ) -> list[_Delivery]:
        changed = self.backend.changed()
        found = self._take_new(stream, group, count)
        if found or block is None or self._stopping:
            return found
        try:
            await asyncio.wait_for(changed.wait(), block)
        except TimeoutError:
            return []
        return self._take_new(stream, group, count)

    def _take_new(self, stream: str, group: str, count: int) -> list[_Delivery]:
        s = self.backend.stream(stream)
        g = self._group(stream, group)
        now = time.monotonic()
        g.seen[self.consumer] = now
        start = s.log.after(g.last)
        chosen = s.log.ids[start : start + count]
        found: list[_Delivery] = []
        for entry_id in chosen:
            g.last = entry_key(entry_id)
            delivery = self._deliver(s, g, entry_id, now, claimed=False)
            if delivery is not None:
                found.append(delivery)
        return found

    async def _claim_due(self, stream: str, group: str, count: int) -> list[_Delivery]:
        s = self.backend.stream(stream)
        g = self._group(stream, group)
        now = time.monotonic()
        due = sorted((at, entry_id) for entry_id, at in g.retry.items() if at <= now)[:count]
        found: list[_Delivery] = []
        for _, entry_id in due:
            del g.retry[entry_id]
            if entry_id not in g.pending:
                continue
            delivery = self._deliver(s, g, entry_id, now, claimed=True)
            if delivery is not None:
                found.append(delivery)
        if found:
            g.seen[self.consumer] = now
        return found

    async def _claim_idle(
        self, stream: str, group: str, idle: float, count: int
    ) -> list[_Delivery]:
        s = self.backend.stream(stream)
        g = self._group(stream, group)
        now = time.monotonic()
        g.seen[self.consumer] = now
        stuck = sorted(
            (entry_key(entry_id), entry_id)
            for entry_id, pending in g.pending.items()
            if now - pending.delivered_at >= idle
        )[:count]
        found: list[_Delivery] = []
        for _, entry_id in stuck:
            g.retry.pop(entry_id, None)
            delivery = self._deliver(s, g, entry_id, now, claimed=True)
            if delivery is not None:
                found.append(delivery)
        return found

    async def _processed(self, stream: str, group: str, event_id: str) -> bool:
        g = self._group(stream, group)
        expires = g.done.get(event_id)
        if expires is None:
            return False
        if expires <= time.monotonic():
            del g.done[event_id]
            return False
        return True

    async def _settle(self, stream: str, group: str, entry_id: str, event_id: str | None) -> None:
        g = self._group(stream, group)
        g.pending.pop(entry_id, None)
        g.retry.pop(entry_id, None)
        if event_id is not None:
            now = time.monotonic()
            g.done[event_id] = now + self.settings.dedup_ttl_seconds
            if len(g.done) > 4 * self.settings.stream_maxlen:
                for key in [k for k, at in g.done.items() if at <= now]:
                    del g.done[key]

    async def _retry_later(self, stream: str, group: str, entry_id: str, delay: float) -> None:
        self._group(stream, group).retry[entry_id] = time.monotonic() + delay

    async def _bury(
        self,
        stream: str,
        group: str,
        delivery: _Delivery,
        event: CloudEvent | None,
        reason: str,
    ) -> None:
        s = self.backend.stream(stream)
        g = self._group(stream, group)
        _, dead_id = s.dead_log.next_id()
        s.dead_log.keys.append(entry_key(dead_id))
        s.dead_log.ids.append(dead_id)
        s.dead[dead_id] = _Dead(
            group, delivery.entry_id, delivery.payload, reason, delivery.deliveries
        )
        excess = len(s.dead_log.ids) - self.settings.stream_maxlen
        if excess > 0:
            for old in s.dead_log.ids[:excess]:
                del s.dead[old]
            del s.dead_log.ids[:excess]
            del s.dead_log.keys[:excess]
        g.pending.pop(delivery.entry_id, None)
        g.retry.pop(delivery.entry_id, None)

    async def _replay_if_there(self, stream: str, dead_letter_id: str) -> bool:
        s = self.backend.stream(stream)
        dead = s.dead.pop(dead_letter_id, None)
        if dead is None:
            return False
        index = s.dead_log.ids.index(dead_letter_id)
        del s.dead_log.ids[index]
        del s.dead_log.keys[index]
        s.append(dead.payload, dead.group, self.settings.stream_maxlen)
        self.backend.notify()
        return True

    async def _last_id(self, stream: str) -> str:
        last = self.backend.stream(stream).log.last
        return f"{last[0]}-{last[1]}"

    async def _group_progress(self, stream: str, group: str) -> tuple[str, int] | None:
        g = self.backend.stream(stream).groups.get(group)
        if g is None:
            return None
        return f"{g.last[0]}-{g.last[1]}", len(g.pending)

    async def dead_letters(
        self, stream: str, *, after: str | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        s = self.backend.stream(stream)
        start = 0 if after is None else s.dead_log.after(entry_key(after))
        return [
            _letter(stream, dead_id, s.dead[dead_id])
            for dead_id in s.dead_log.ids[start : start + limit]
        ]

    async def replay(self, stream: str, dead_letter_id: str) -> None:
        if not await self._replay_if_there(stream, dead_letter_id):
            raise NotFound(f"No dead letter {dead_letter_id} in stream {stream}.")

    async def pending(self) -> list[GroupStatus]:
        now = time.monotonic()
        now_ms = time.time_ns() // 1_000_000
        found: list[GroupStatus] = []
        for name in self.known_streams():
            s = self.backend.streams.get(name)
            if s is None:
                continue
            for group_name, g in sorted(s.groups.items()):
                per_consumer: dict[str, int] = dict.fromkeys(g.seen, 0)
                for pending in g.pending.values():
                    per_consumer[pending.consumer] = per_consumer.get(pending.consumer, 0) + 1
                oldest = min((entry_key(i) for i in g.pending), default=None)
                found.append(
                    GroupStatus(
                        stream=name,
                        group=group_name,
                        pending=len(g.pending),
                        lag=len(s.log.ids) - s.log.after(g.last),
                        last_delivered_id=f"{g.last[0]}-{g.last[1]}",
                        oldest_pending_age_seconds=None
                        if oldest is None
                        else max(now_ms - oldest[0], 0) / 1000,
                        consumers=[
                            ConsumerStatus(
                                name=consumer,
                                pending=count,
                                idle_seconds=round(max(now - g.seen.get(consumer, now), 0), 3),
                            )
                            for consumer, count in sorted(per_consumer.items())
                        ],
                    )
                )
        return found

    async def streams(self) -> list[StreamStatus]:
        found: list[StreamStatus] = []
        for name in self.known_streams():
            s = self.backend.streams.get(name)
            found.append(
                StreamStatus(
                    stream=name,
                    length=0 if s is None else len(s.entries),
                    dead_letters=0 if s is None else len(s.dead),
                )
            )
        return found

    async def _forget_consumer(self, stream: str, group: str) -> None:
        g = self.backend.stream(stream).groups.get(group)
        if g is not None and not any(p.consumer == self.consumer for p in g.pending.values()):
            g.seen.pop(self.consumer, None)


def _letter(stream: str, dead_id: str, dead: _Dead) -> DeadLetter:
    try:
        event: CloudEvent | None = decode_event(dead.payload)
    except InvalidEvent:
        event = None
    return DeadLetter(
        id=dead_id,
        stream=stream,
        group=dead.group,
        entry_id=dead.entry_id,
        event=event,
        payload=None if event is not None else dead.payload.decode("utf-8", "replace"),
        reason=dead.reason,
        deliveries=dead.deliveries,
        failed_at=dead.failed_at,
    )
