"""The transactional outbox: an event written in the same atomic operation as the state change
it announces, then moved to the bus by a relay. So no event is lost (the change is never saved
without it) and none is invented (it is never published without the change).

A store that publishes keeps an outbox beside its own state:

- **Redis**: a stream ``<store prefix>outbox`` sharing the store's hash tag; the store's Lua
  script adds ``XADD <outbox> * entry <outbox_entry(stream, event)>`` for each event, in the
  same script as the state change (:func:`outbox_lua` writes that loop);
- **memory**: a :class:`MemoryOutbox`, appended to (without awaiting) under the store's lock.

An :class:`OutboxRelay` per replica publishes the entries in order and then deletes them; one
relay at a time holds the outbox's lease. It delivers at least once: a relay that stops after
publishing and before deleting leaves entries the next one publishes again, with the same
event id, which consumers skip.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Sequence
from typing import Final, cast

import msgspec
import redis.asyncio as aioredis

from shared.events._base import EventBus
from shared.events._model import CloudEvent, InvalidEvent, decode_event, encode_event

__all__ = [
    "OUTBOX_FIELD",
    "MemoryOutbox",
    "Outbox",
    "OutboxRelay",
    "RedisOutbox",
    "outbox_entry",
    "outbox_lua",
    "read_outbox_entry",
]

_log = logging.getLogger("qgate.events.outbox")

OUTBOX_FIELD: Final = "entry"
"""The field of an outbox stream entry that holds :func:`outbox_entry`."""


class _Entry(msgspec.Struct, frozen=True):
    stream: str
    event: msgspec.Raw


_entry_decoder: Final = msgspec.json.Decoder(_Entry)


def outbox_entry(stream: str, event: CloudEvent) -> bytes:
    """What an outbox holds for ``event`` bound for ``stream`` (JSON; pass it to Lua as is)."""
    return msgspec.json.encode(_Entry(stream=stream, event=msgspec.Raw(encode_event(event))))


def read_outbox_entry(raw: bytes) -> tuple[str, CloudEvent]:
    """The stream and event of an outbox entry; raises :class:`InvalidEvent`."""
    try:
        entry = _entry_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"not an outbox entry: {exc}") from exc
    return entry.stream, decode_event(bytes(entry.event))


def outbox_lua(key: str, first_arg: int) -> str:
    """Lua adding every ``ARGV[first_arg..]`` (each an :func:`outbox_entry`) to the outbox
    stream ``key`` (e.g. ``KEYS[4]``); put it in the script that saves the state change."""
    return (
        f"for i = {first_arg}, #ARGV do\n"
        f"  redis.call('XADD', {key}, '*', '{OUTBOX_FIELD}', ARGV[i])\n"
        "end\n"
    )


class Outbox(abc.ABC):
    """Where a store leaves the events its state changes announce, for the relay."""

    @abc.abstractmethod
    async def peek(self, limit: int) -> list[tuple[str, bytes]]:
        """The oldest entries, as ``(outbox id, outbox_entry bytes)``."""

    @abc.abstractmethod
    async def remove(self, ids: Sequence[str]) -> None: ...

    @abc.abstractmethod
    async def size(self) -> int:
        """Entries not relayed yet."""

    async def lease(self, owner: str, seconds: float) -> bool:
        """Take (or renew) the right to relay this outbox; one relay at a time."""
        return True


class MemoryOutbox(Outbox):
    """An outbox in memory: :meth:`append` under the store's lock, in the same critical section
    as the state change."""

    def __init__(self) -> None:
        self._entries: dict[str, bytes] = {}
        self._next = 0

    def append(self, stream: str, event: CloudEvent) -> None:
        """Add an event (synchronous on purpose: no other task runs between the state change
        and this)."""
        self._next += 1
        self._entries[f"{self._next}"] = outbox_entry(stream, event)

    async def size(self) -> int:
        return len(self._entries)

    async def peek(self, limit: int) -> list[tuple[str, bytes]]:
        return list(self._entries.items())[:limit]

    async def remove(self, ids: Sequence[str]) -> None:
        for entry_id in ids:
            self._entries.pop(entry_id, None)


# KEYS: lease. ARGV: owner, ms. Take a free lease or renew our own.
_LEASE_LUA: Final = r"""
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


class RedisOutbox(Outbox):
    """An outbox stream in Redis (``key`` shares the store's hash tag: one Lua script writes
    the state and the event)."""

    def __init__(self, client: aioredis.Redis, key: str) -> None:
        self._redis = client
        self.key = key
        self._lease = client.register_script(_LEASE_LUA)

    async def peek(self, limit: int) -> list[tuple[str, bytes]]:
        entries = cast(
            "list[tuple[bytes, dict[bytes, bytes]]]",
            await self._redis.xrange(self.key, min="-", max="+", count=limit),
        )
        return [
            (entry_id.decode(), fields.get(OUTBOX_FIELD.encode(), b""))
            for entry_id, fields in entries
        ]

    async def remove(self, ids: Sequence[str]) -> None:
        if ids:
            await self._redis.xdel(self.key, *ids)

    async def lease(self, owner: str, seconds: float) -> bool:
        taken = await self._lease(keys=[self.key + ":lease"], args=[owner, int(seconds * 1000)])
        return int(taken) == 1

    async def size(self) -> int:
        return int(await self._redis.xlen(self.key))


class OutboxRelay:
    """Moves an outbox's entries to the bus, oldest first, then deletes them (at least once)."""

    def __init__(
        self,
        outbox: Outbox,
        bus: EventBus,
        *,
        interval: float = 0.2,
        batch: int = 100,
        lease_seconds: float = 10.0,
        owner: str | None = None,
    ) -> None:
        self.outbox = outbox
        self.bus = bus
        self.interval = interval
        self.batch = batch
        self.lease_seconds = max(lease_seconds, interval * 5)
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def relay_once(self) -> int:
        """Publish what the outbox holds now (if this relay holds the lease); how many."""
        if not await self.outbox.lease(self.owner, self.lease_seconds):
            return 0
        published = 0
        while True:
            entries = await self.outbox.peek(self.batch)
            if not entries:
                return published
            for entry_id, raw in entries:
                try:
                    stream, event = read_outbox_entry(raw)
                except InvalidEvent as exc:
                    # Only qgate's own code writes outboxes: this is a bug, not a lost event.
                    _log.error("outbox entry %s dropped, unreadable: %s", entry_id, exc)
                else:
                    await self.bus.publish(stream, event)
                    published += 1
                # Deleted one by one: a relay that stops mid-batch republishes at most one.
                await self.outbox.remove([entry_id])
            if len(entries) < self.batch:
                return published

    async def start(self) -> None:
        if self._task is None or self._task.done():
            self._stopping = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="events:outbox-relay")

    async def stop(self) -> None:
        """Stop after the entry in hand; a last pass publishes what is left if it can."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        await task
        with contextlib.suppress(Exception):
            await self.relay_once()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self.relay_once()
            except Exception:
                _log.exception("outbox relay failed; retrying in %.1f s", self.interval)
            wait = max(self.interval - (time.monotonic() - started), 0.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait or 0.001)
