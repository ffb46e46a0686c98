"""The event bus on Redis Streams: consumer groups shared by every replica, kept across restarts.

Keys of a stream ``<s>`` share the hash tag ``{<s>}``, so a Redis Cluster keeps each stream with
its dead letters, retry schedules and processed ids in one slot (the Lua scripts and MULTI
blocks below touch several of them at once)::

    qgate:events:{<s>}                        the stream (XADD MAXLEN ~ stream_maxlen)
    qgate:events:{<s>}.dead                   its dead letters (a stream too)
    qgate:events:{<s>}.retry:<group>          zset: entry id -> when to deliver it again (ms)
    qgate:events:{<s>}.done:<group>:<event>   the group processed this event id (EX dedup TTL)

An entry has the fields ``event`` (the CloudEvent's JSON) and, for a replayed dead letter,
``group`` (the only group that takes it). Delivery counts are Redis's own (XPENDING): XREADGROUP
delivers once, XCLAIM (a due retry) and XAUTOCLAIM (an entry its consumer left) count one more.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final, cast

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from shared.errors import DownstreamUnavailable, NotFound
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

__all__ = ["DEFAULT_PREFIX", "RedisEventBus"]

DEFAULT_PREFIX: Final = "qgate:events:"
_ENTRY_ID: Final = re.compile(r"^[0-9]{1,20}-[0-9]{1,20}$")

# KEYS: stream, retry. ARGV: group, consumer, now (ms), count.
# Claims the retries that are due for this consumer; returns {id, fields, deliveries} each.
_CLAIM_DUE_LUA: Final = r"""
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'LIMIT', 0, ARGV[4])
local out = {}
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[2], id)
  local claimed = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, id)
  local entry = claimed[1]
  if entry and entry[2] then
    local info = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)
    table.insert(out, {entry[1], entry[2], info[1][4]})
  end
end
return out
"""

# KEYS: stream, retry. ARGV: group, consumer, min idle (ms), count.
# Claims entries other consumers (or this one, before a restart) left unacknowledged.
_CLAIM_IDLE_LUA: Final = r"""
local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], '0-0',
                           'COUNT', ARGV[4])
local out = {}
for _, entry in ipairs(claimed[2]) do
  if entry and entry[2] then
    redis.call('ZREM', KEYS[2], entry[1])
    local info = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
    table.insert(out, {entry[1], entry[2], info[1][4]})
  end
end
return out
"""

# KEYS: dead, stream. ARGV: dead-letter id, maxlen. Moves it back, for its group only.
_REPLAY_LUA: Final = r"""
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then
  return 0
end
local fields = found[1][2]
local event, group = nil, nil
for i = 1, #fields, 2 do
  if fields[i] == 'event' then
    event = fields[i + 1]
  elseif fields[i] == 'group' then
    group = fields[i + 1]
  end
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'event', event, 'group', group)
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
"""


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fields(raw: Any) -> dict[str, bytes]:
    """Entry fields from a reply: a dict (redis-py) or a flat list (a Lua script)."""
    if isinstance(raw, dict):
        return {_text(k): bytes(v) for k, v in raw.items()}
    items = list(raw)
    return {_text(items[i]): bytes(items[i + 1]) for i in range(0, len(items), 2)}


def _delivery(entry_id: Any, fields: Any, deliveries: int) -> _Delivery:
    values = _fields(fields)
    target = values.get("group")
    return _Delivery(
        _text(entry_id),
        values.get("event", b""),
        None if target is None else target.decode(),
        int(deliveries),
    )


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    try:
        yield
    except RedisError as exc:
        raise DownstreamUnavailable("The event bus (Redis) is unavailable; retry later.") from exc


class RedisEventBus(EventBus):
    """Streams and consumer groups in Redis, shared by every replica."""

    def __init__(
        self,
        client: aioredis.Redis,
        settings: EventSettings | None = None,
        *,
        consumer: str | None = None,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        super().__init__(settings, consumer=consumer)
        self._redis = client
        self._prefix = prefix
        self._claim_due_script = client.register_script(_CLAIM_DUE_LUA)
        self._claim_idle_script = client.register_script(_CLAIM_IDLE_LUA)
        self._replay_script = client.register_script(_REPLAY_LUA)

    @classmethod
    def from_url(
        cls,
        url: str,
        settings: EventSettings | None = None,
        *,
        consumer: str | None = None,
        prefix: str = DEFAULT_PREFIX,
    ) -> RedisEventBus:
        return cls(aioredis.Redis.from_url(url), settings, consumer=consumer, prefix=prefix)

    @property
    def redis(self) -> aioredis.Redis:
        return self._redis

    def key(self, stream: str) -> str:
        """The stream's key (its dead letters are ``<key>.dead``)."""
        return f"{self._prefix}{{{stream}}}"

    def _dead(self, stream: str) -> str:
        return self.key(stream) + ".dead"

    def _retry(self, stream: str, group: str) -> str:
        return f"{self.key(stream)}.retry:{group}"

    def _done(self, stream: str, group: str, event_id: str) -> str:
        return f"{self.key(stream)}.done:{group}:{event_id}"

    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        await self.stop()
        await self._redis.aclose()

    # Primitives

    async def _append(self, stream: str, payload: bytes, target: str | None) -> str:
        fields: dict[str, bytes | str] = {"event": payload}
        if target is not None:
            fields["group"] = target
        with _reachable():
            entry_id = await self._redis.xadd(
                self.key(stream),
                fields,  # type: ignore[arg-type]
                maxlen=self.settings.stream_maxlen,
                approximate=True,
            )
        return _text(entry_id)

    async def _create_group(self, stream: str, group: str) -> None:
        try:
            await self._redis.xgroup_create(self.key(stream), group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_new(
        self, stream: str, group: str, count: int, block: float | None
    ) -> list[_Delivery]:
        try:
            reply = await self._redis.xreadgroup(
                group,
                self.consumer,
                {self.key(stream): ">"},
                count=count,
                block=None if block is None else max(int(block * 1000), 1),
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._create_group(stream, group)  # the stream was deleted under us
            return []
        streams = cast("list[tuple[bytes, list[tuple[bytes, dict[bytes, bytes]]]]]", reply or [])
        found: list[_Delivery] = []
        for _, entries in streams:
            for entry_id, fields in entries:
                if fields:
                    found.append(_delivery(entry_id, fields, 1))
        return found

    async def _claim(
        self, script: Any, stream: str, group: str, bound: int, count: int
    ) -> list[_Delivery]:
        try:
            reply = await script(
                keys=[self.key(stream), self._retry(stream, group)],
                args=[group, self.consumer, bound, count],
            )
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            await self._create_group(stream, group)
            return []
        return [_delivery(entry_id, fields, n) for entry_id, fields, n in reply]

    async def _claim_due(self, stream: str, group: str, count: int) -> list[_Delivery]:
        now = time.time_ns() // 1_000_000
        return await self._claim(self._claim_due_script, stream, group, now, count)

    async def _claim_idle(
        self, stream: str, group: str, idle: float, count: int
    ) -> list[_Delivery]:
        return await self._claim(self._claim_idle_script, stream, group, int(idle * 1000), count)

    async def _processed(self, stream: str, group: str, event_id: str) -> bool:
        return bool(await self._redis.exists(self._done(stream, group, event_id)))

    async def _settle(self, stream: str, group: str, entry_id: str, event_id: str | None) -> None:
        async with self._redis.pipeline(transaction=True) as tx:
            if event_id is not None:
                tx.set(
                    self._done(stream, group, event_id), b"1", ex=self.settings.dedup_ttl_seconds
                )
            tx.xack(self.key(stream), group, entry_id)
            tx.zrem(self._retry(stream, group), entry_id)
            await tx.execute()

    async def _retry_later(self, stream: str, group: str, entry_id: str, delay: float) -> None:
        due = time.time_ns() // 1_000_000 + int(delay * 1000)
        await self._redis.zadd(self._retry(stream, group), {entry_id: due})

    async def _bury(
        self,
        stream: str,
        group: str,
        delivery: _Delivery,
        event: CloudEvent | None,
        reason: str,
    ) -> None:
        fields = {
            "event": delivery.payload,
            "group": group,
            "entry": delivery.entry_id,
            "reason": reason,
            "deliveries": str(delivery.deliveries),
            "failed": datetime.now(UTC).isoformat(),
        }
        async with self._redis.pipeline(transaction=True) as tx:
            tx.xadd(
                self._dead(stream),
                fields,  # type: ignore[arg-type]
                maxlen=self.settings.stream_maxlen,
                approximate=True,
            )
            tx.xack(self.key(stream), group, delivery.entry_id)
            tx.zrem(self._retry(stream, group), delivery.entry_id)
            await tx.execute()

    async def _replay_if_there(self, stream: str, dead_letter_id: str) -> bool:
        if not _ENTRY_ID.match(dead_letter_id):
            return False
        with _reachable():
            moved = await self._replay_script(
                keys=[self._dead(stream), self.key(stream)],
                args=[dead_letter_id, self.settings.stream_maxlen],
            )
        return int(moved) == 1

    async def _last_id(self, stream: str) -> str:
        try:
            info = await self._redis.xinfo_stream(self.key(stream))
        except ResponseError:  # no such key: nothing was ever published
            return "0-0"
        return _text(info["last-generated-id"])

    async def _group_progress(self, stream: str, group: str) -> tuple[str, int] | None:
        for info in await self._groups(stream):
            if _text(info["name"]) == group:
                return _text(info["last-delivered-id"]), int(info["pending"])
        return None

    async def _groups(self, stream: str) -> Sequence[dict[str, Any]]:
        try:
            groups: Sequence[dict[str, Any]] = await self._redis.xinfo_groups(self.key(stream))
        except ResponseError:  # no such key
            return []
        return groups

    async def _forget_consumer(self, stream: str, group: str) -> None:
        with contextlib.suppress(RedisError):
            consumers = await self._redis.xinfo_consumers(self.key(stream), group)
            for consumer in consumers:
                if _text(consumer["name"]) == self.consumer and int(consumer["pending"]) == 0:
                    await self._redis.xgroup_delconsumer(self.key(stream), group, self.consumer)

    # Operations

    async def dead_letters(
        self, stream: str, *, after: str | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        start = "-" if after is None else f"({after}"
        with _reachable():
            entries = cast(
                "list[tuple[bytes, dict[bytes, bytes]]]",
                await self._redis.xrange(self._dead(stream), min=start, max="+", count=limit),
            )
        return [_letter(stream, _text(dead_id), _fields(fields)) for dead_id, fields in entries]

    async def replay(self, stream: str, dead_letter_id: str) -> None:
        if not await self._replay_if_there(stream, dead_letter_id):
            raise NotFound(f"No dead letter {dead_letter_id} in stream {stream}.")

    async def pending(self) -> list[GroupStatus]:
        now_ms = time.time_ns() // 1_000_000
        found: list[GroupStatus] = []
        with _reachable():
            for stream in self.known_streams():
                key = self.key(stream)
                for info in sorted(await self._groups(stream), key=lambda g: _text(g["name"])):
                    group = _text(info["name"])
                    consumers = await self._redis.xinfo_consumers(key, group)
                    oldest = None
                    if int(info["pending"]):
                        summary = await self._redis.xpending(key, group)
                        if summary.get("min"):
                            oldest = max(now_ms - entry_key(_text(summary["min"]))[0], 0) / 1000
                    lag = info.get("lag")
                    found.append(
                        GroupStatus(
                            stream=stream,
                            group=group,
                            pending=int(info["pending"]),
                            lag=None if lag is None else int(lag),
                            last_delivered_id=_text(info["last-delivered-id"]),
                            oldest_pending_age_seconds=oldest,
                            consumers=[
                                ConsumerStatus(
                                    name=_text(c["name"]),
                                    pending=int(c["pending"]),
                                    idle_seconds=int(c["idle"]) / 1000,
                                )
                                for c in sorted(consumers, key=lambda c: _text(c["name"]))
                            ],
                        )
                    )
        return found

    async def streams(self) -> list[StreamStatus]:
        names = self.known_streams()
        with _reachable():
            async with self._redis.pipeline(transaction=False) as pipe:
                for stream in names:
                    pipe.xlen(self.key(stream))
                    pipe.xlen(self._dead(stream))
                lengths = await pipe.execute()
        return [
            StreamStatus(
                stream=stream, length=int(lengths[2 * i]), dead_letters=int(lengths[2 * i + 1])
            )
            for i, stream in enumerate(names)
        ]


def _letter(stream: str, dead_id: str, fields: dict[str, bytes]) -> DeadLetter:
    payload = fields.get("event", b"")
    try:
        event: CloudEvent | None = decode_event(payload)
    except InvalidEvent:
        event = None
    return DeadLetter(
        id=dead_id,
        stream=stream,
        group=fields.get("group", b"").decode(),
        entry_id=fields.get("entry", b"").decode(),
        event=event,
        payload=None if event is not None else payload.decode("utf-8", "replace"),
        reason=fields.get("reason", b"").decode("utf-8", "replace"),
        deliveries=int(fields.get("deliveries", b"0")),
        failed_at=datetime.fromisoformat(
            fields.get("failed", b"1970-01-01T00:00:00+00:00").decode()
        ),
    )
