"""The event bus port and the consumer engine both buses share.

Delivery, per consumer group (every group sees every event of its stream):

- an event is delivered to one consumer of the group; acknowledged when its handler returns;
- a handler that raises leaves it unacknowledged; it is delivered again after an exponential
  backoff with jitter (``retry_base_seconds`` doubling up to ``retry_max_seconds``);
- an event delivered ``max_deliveries`` times without success goes to the stream's dead-letter
  stream with the reason, the delivery count and the group; so does one whose consumer died
  while handling it that many times, and one that is no valid CloudEvent;
- an event a consumer took and never acknowledged (the consumer died) is claimed by another
  consumer of the group once it has been idle for ``claim_idle_seconds``;
- the group remembers (for ``dedup_ttl_seconds``) the ids it processed and skips duplicates, so
  an event published twice (an outbox relay that stopped after publishing) runs once;
- a replayed dead letter is delivered to the group it failed in only.

The engine here runs those rules over a backend's primitives (:class:`MemoryEventBus`,
:class:`RedisEventBus`); one conformance suite checks both.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import math
import os
import random
import re
import secrets
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Final, NamedTuple

import msgspec

from shared.events._model import STREAMS, CloudEvent, InvalidEvent, decode_event, encode_event
from shared.settings import EventSettings
from shared.stores import Store

__all__ = [
    "ConsumerStatus",
    "DeadLetter",
    "EventBus",
    "GroupStatus",
    "Handler",
    "StreamStatus",
    "check_stream_name",
    "entry_key",
]

_log = logging.getLogger("qgate.events")

Handler = Callable[[CloudEvent], Awaitable[None]]
"""Handles one event; raising means "not processed" (it is retried, then dead-lettered)."""

_NAME: Final = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_REASON_LIMIT: Final = 1000
_BACKEND_PAUSE: Final = 1.0
"""Seconds a consumer waits after its backend failed before it tries again."""


def check_stream_name(kind: str, name: str) -> str:
    """Stream and group names: lower-case letters, digits and ``-`` (they become Redis keys)."""
    if not _NAME.match(name):
        raise ValueError(f"{kind} name {name!r} must match {_NAME.pattern}")
    return name


def entry_key(entry_id: str) -> tuple[int, int]:
    """A stream entry id (``<ms>-<seq>``) as a sortable pair."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


class DeadLetter(msgspec.Struct, frozen=True, kw_only=True):
    """An event a consumer group gave up on."""

    id: str
    """The dead letter's own id in ``<stream>.dead`` (replay it by this id)."""
    stream: str
    group: str
    """The consumer group that failed; a replay is delivered to it only."""
    entry_id: str
    """Where the event was on the stream when it failed."""
    event: CloudEvent | None
    """The event, or None when the entry was no valid CloudEvent (see ``payload``)."""
    payload: str | None = None
    """The entry as it was, when it could not be read as a CloudEvent."""
    reason: str
    deliveries: int
    failed_at: datetime


class ConsumerStatus(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    pending: int
    """Events delivered to it and not acknowledged yet."""
    idle_seconds: float
    """Since it last read or claimed."""


class GroupStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Where one consumer group stands on its stream."""

    stream: str
    group: str
    pending: int
    """Delivered and not acknowledged (being handled, or waiting for a retry)."""
    lag: int | None
    """Events on the stream not delivered to the group yet (None when it cannot be told)."""
    last_delivered_id: str
    oldest_pending_age_seconds: float | None
    """Age (since publication) of the oldest unacknowledged event; None when none is."""
    consumers: list[ConsumerStatus]


class StreamStatus(msgspec.Struct, frozen=True, kw_only=True):
    stream: str
    length: int
    """Events kept on the stream (it is trimmed to about ``stream_maxlen``)."""
    dead_letters: int
    """Events in ``<stream>.dead`` waiting for a replay."""


class _Delivery(NamedTuple):
    entry_id: str
    payload: bytes
    target: str | None
    """The only group that takes it (a replayed dead letter), or None: every group."""
    deliveries: int


class _Consumer:
    """One subscription's loop in this replica."""

    __slots__ = ("group", "handler", "stream", "task")

    def __init__(self, stream: str, group: str, handler: Handler) -> None:
        self.stream = stream
        self.group = group
        self.handler = handler
        self.task: asyncio.Task[None] | None = None


def _default_consumer() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def _reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text[:_REASON_LIMIT]


class EventBus(Store):
    """Publish CloudEvents to named streams; consume them in groups (see the module doc).

    ``subscribe`` before :meth:`start`; :meth:`stop` finishes the events in hand. Handlers must
    be idempotent: an event is delivered at least once, and more than once when a consumer dies
    after its handler succeeded but before the acknowledgement.
    """

    def __init__(
        self, settings: EventSettings | None = None, *, consumer: str | None = None
    ) -> None:
        self.settings = settings or EventSettings()
        self.consumer = consumer or self.settings.consumer_name or _default_consumer()
        self._consumers: dict[tuple[str, str], _Consumer] = {}
        self._stopping = False
        self._stopped = asyncio.Event()
        self._published: set[str] = set()

    # Publishing and subscribing

    async def publish(self, stream: str, event: CloudEvent) -> str:
        """Append ``event`` to ``stream``; returns its entry id. Raises when the backend is
        unreachable (nothing is published then)."""
        check_stream_name("stream", stream)
        self._published.add(stream)
        return await self._append(stream, encode_event(event), None)

    def subscribe(self, stream: str, group: str, handler: Handler) -> None:
        """Have ``handler`` process every event of ``stream`` as (a consumer of) ``group``."""
        check_stream_name("stream", stream)
        check_stream_name("group", group)
        if (stream, group) in self._consumers:
            raise ValueError(f"{group} already subscribes to {stream} on this bus")
        if any(c.task is not None for c in self._consumers.values()):
            raise RuntimeError("subscribe before the bus starts")
        self._consumers[stream, group] = _Consumer(stream, group, handler)

    @property
    def subscriptions(self) -> list[tuple[str, str]]:
        """``(stream, group)`` of every subscription on this bus."""
        return list(self._consumers)

    async def start(self) -> None:
        """Run one loop per subscription, each creating its group first (from the start of the
        stream). Idempotent; a backend that is down delays the loops, not the start."""
        self._stopping = False
        self._stopped = asyncio.Event()
        for consumer in self._consumers.values():
            if consumer.task is None or consumer.task.done():
                consumer.task = asyncio.create_task(
                    self._run(consumer), name=f"events:{consumer.stream}:{consumer.group}"
                )

    async def stop(self, *, abandon: bool = False) -> None:
        """Stop consuming: each loop finishes (and acknowledges) the event in hand first.

        ``abandon``: stop at once, as a crash would; events in hand stay unacknowledged and
        another consumer of the group claims them after ``claim_idle_seconds``.
        """
        self._stopping = True
        self._stopped.set()
        self._wake()
        tasks = [c.task for c in self._consumers.values() if c.task is not None]
        if abandon:
            for task in tasks:
                task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                if not task.cancelled():
                    raise
        for consumer in self._consumers.values():
            consumer.task = None
        if not abandon:
            for consumer in self._consumers.values():
                await self._forget_consumer(consumer.stream, consumer.group)

    async def drain(self) -> None:
        """Wait until every group subscribed here has processed (or dead-lettered) every event
        published so far (for tests and the embedded default: bound it with
        ``asyncio.timeout``; it waits for ever when the bus is not started)."""
        targets = {key: await self._last_id(key[0]) for key in self._consumers}
        for (stream, group), last in targets.items():
            # Polled: the progress may be another replica's, which no local event announces.
            while not await self._caught_up(stream, group, last):  # noqa: ASYNC110
                await asyncio.sleep(0.01)

    # Operations

    @abc.abstractmethod
    async def dead_letters(
        self, stream: str, *, after: str | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        """Dead letters of ``stream``, oldest first, ids greater than ``after``."""

    @abc.abstractmethod
    async def replay(self, stream: str, dead_letter_id: str) -> None:
        """Deliver the dead letter again to the group it failed in, and remove it: atomically,
        so a replay twice (or by two callers) delivers it once. Raises
        :class:`~shared.errors.NotFound` when there is no such dead letter."""

    async def replay_all(self, stream: str) -> int:
        """Replay every dead letter of ``stream``; returns how many were replayed."""
        replayed = 0
        after: str | None = None
        while True:
            page = await self.dead_letters(stream, after=after, limit=100)
            for letter in page:
                if await self._replay_if_there(stream, letter.id):
                    replayed += 1
            if len(page) < 100:
                return replayed
            after = page[-1].id

    @abc.abstractmethod
    async def pending(self) -> list[GroupStatus]:
        """Every consumer group of the known streams (qgate's, and those used here)."""

    @abc.abstractmethod
    async def streams(self) -> list[StreamStatus]:
        """Length and dead-letter count of every known stream."""

    def known_streams(self) -> list[str]:
        return sorted({*STREAMS, *self._published, *(s for s, _ in self._consumers)})

    # The engine

    def delay(self, deliveries: int) -> float:
        """Seconds before delivery ``deliveries + 1``: exponential backoff with jitter."""
        ceiling = min(
            self.settings.retry_max_seconds,
            self.settings.retry_base_seconds * math.pow(2, max(deliveries - 1, 0)),
        )
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    async def _run(self, consumer: _Consumer) -> None:
        settings = self.settings
        loop = asyncio.get_running_loop()
        claim_every = min(settings.claim_idle_seconds / 2, 5.0)
        next_claim = loop.time()
        block = settings.block_ms / 1000
        while not await self._group_created(consumer):
            await self._pause(_BACKEND_PAUSE)
        while not self._stopping:
            try:
                handled = 0
                due = await self._claim_due(consumer.stream, consumer.group, settings.batch_size)
                for delivery in due:
                    await self._process(consumer, delivery)
                    handled += 1
                if loop.time() >= next_claim:
                    stuck = await self._claim_idle(
                        consumer.stream,
                        consumer.group,
                        settings.claim_idle_seconds,
                        settings.batch_size,
                    )
                    for delivery in stuck:
                        await self._process(consumer, delivery)
                        handled += 1
                    next_claim = loop.time() + claim_every
                if self._stopping:
                    break
                # A read waits at most ``block_ms`` (less if the backend can be woken), so a
                # stop never interrupts a read that has taken events off the stream.
                batch = await self._read_new(
                    consumer.stream, consumer.group, settings.batch_size, None if handled else block
                )
                for delivery in batch:
                    await self._process(consumer, delivery)
            except Exception:
                _log.exception(
                    "event consumer %s/%s: the backend failed; retrying in %.0f s",
                    consumer.stream,
                    consumer.group,
                    _BACKEND_PAUSE,
                )
                await self._pause(_BACKEND_PAUSE)

    async def _group_created(self, consumer: _Consumer) -> bool:
        """Create the consumer's group; True when it exists (or the bus is stopping)."""
        try:
            await self._create_group(consumer.stream, consumer.group)
        except Exception:
            _log.exception(
                "event consumer %s/%s: cannot create the group; retrying in %.0f s",
                consumer.stream,
                consumer.group,
                _BACKEND_PAUSE,
            )
            return self._stopping
        return True

    async def _process(self, consumer: _Consumer, delivery: _Delivery) -> None:
        stream, group = consumer.stream, consumer.group
        if delivery.target is not None and delivery.target != group:
            await self._settle(stream, group, delivery.entry_id, None)
            return
        try:
            event = decode_event(delivery.payload)
        except InvalidEvent as exc:
            await self._bury(stream, group, delivery, None, f"not a valid CloudEvent: {exc}")
            return
        limit = self.settings.max_deliveries
        if delivery.deliveries > limit:
            await self._bury(
                stream,
                group,
                delivery,
                event,
                f"delivered {delivery.deliveries - 1} times without an acknowledgement (its "
                "consumer stopped while handling it)",
            )
            return
        if await self._processed(stream, group, event.id):
            await self._settle(stream, group, delivery.entry_id, None)
            return
        try:
            await consumer.handler(event)
        except Exception as exc:
            reason = _reason(exc)
            if delivery.deliveries >= limit:
                _log.error(
                    "event %s (%s) dead-lettered by %s after %d deliveries: %s",
                    event.id,
                    event.type,
                    group,
                    delivery.deliveries,
                    reason,
                )
                await self._bury(stream, group, delivery, event, reason)
            else:
                wait = self.delay(delivery.deliveries)
                _log.warning(
                    "event %s (%s) failed in %s (delivery %d of %d): %s; again in %.2f s",
                    event.id,
                    event.type,
                    group,
                    delivery.deliveries,
                    limit,
                    reason,
                    wait,
                )
                await self._retry_later(stream, group, delivery.entry_id, wait)
            return
        await self._settle(stream, group, delivery.entry_id, event.id)

    async def _caught_up(self, stream: str, group: str, last: str) -> bool:
        progress = await self._group_progress(stream, group)
        if progress is None:
            return False
        delivered, pending = progress
        return pending == 0 and entry_key(delivered) >= entry_key(last)

    async def _pause(self, seconds: float) -> None:
        """Sleep, unless the bus stops meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), seconds)

    def _wake(self) -> None:
        """Interrupt blocking reads, if the backend can (stop then needs no ``block_ms``)."""

    async def _forget_consumer(self, stream: str, group: str) -> None:
        """Remove this consumer's name from the group if nothing is pending for it."""

    # The backend's primitives

    @abc.abstractmethod
    async def _append(self, stream: str, payload: bytes, target: str | None) -> str: ...

    @abc.abstractmethod
    async def _create_group(self, stream: str, group: str) -> None: ...

    @abc.abstractmethod
    async def _read_new(
        self, stream: str, group: str, count: int, block: float | None
    ) -> list[_Delivery]:
        """Events never delivered to the group, for this consumer (wait up to ``block``)."""

    @abc.abstractmethod
    async def _claim_due(self, stream: str, group: str, count: int) -> list[_Delivery]:
        """Events whose retry time has come, claimed for this consumer."""

    @abc.abstractmethod
    async def _claim_idle(
        self, stream: str, group: str, idle: float, count: int
    ) -> list[_Delivery]:
        """Unacknowledged events idle for ``idle`` seconds, claimed for this consumer."""

    @abc.abstractmethod
    async def _processed(self, stream: str, group: str, event_id: str) -> bool: ...

    @abc.abstractmethod
    async def _settle(self, stream: str, group: str, entry_id: str, event_id: str | None) -> None:
        """Acknowledge; with ``event_id``, also remember it as processed (atomically)."""

    @abc.abstractmethod
    async def _retry_later(self, stream: str, group: str, entry_id: str, delay: float) -> None: ...

    @abc.abstractmethod
    async def _bury(
        self,
        stream: str,
        group: str,
        delivery: _Delivery,
        event: CloudEvent | None,
        reason: str,
    ) -> None:
        """Add to the dead-letter stream and acknowledge, atomically."""

    @abc.abstractmethod
    async def _replay_if_there(self, stream: str, dead_letter_id: str) -> bool: ...

    @abc.abstractmethod
    async def _last_id(self, stream: str) -> str:
        """The id of the stream's last entry (``0-0`` when empty)."""

    @abc.abstractmethod
    async def _group_progress(self, stream: str, group: str) -> tuple[str, int] | None:
        """The group's last delivered id and pending count; None if there is no such group."""
