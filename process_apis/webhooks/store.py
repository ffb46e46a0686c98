"""Webhook subscriptions and deliveries: in memory (one process) or in Redis (every replica).

Both keep the same promises (one test suite): a delivery is enqueued once per subscription
and event (a second enqueue answers the first), saved with a compare-and-set on ``version``,
listed per subscription oldest first, and leased to one replica at a time while it is sent.

Redis layout (one hash tag)::

    qgate:{whk}:sub:<id>               hash: json
    qgate:{whk}:subs                   zset (score 0, by id) of active subscriptions
    qgate:{whk}:dlv:<id>               hash: json, version, payload
    qgate:{whk}:sub-dlv:<subId>        zset (score 0, by delivery id)
    qgate:{whk}:seen:<subId>:<eventId> the delivery id of that event for that subscription
    qgate:{whk}:due                    zset (score: next attempt, ms since the epoch)
    qgate:{whk}:lease:<id>             the replica sending it (PX lease)
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

from process_apis.webhooks.models import StoredSubscription, WebhookDelivery
from shared.stores import Store

__all__ = ["MemoryWebhookStore", "RedisWebhookStore", "StaleDelivery", "WebhookStore"]

_encoder: Final = msgspec.json.Encoder()
_subscription: Final = msgspec.json.Decoder(StoredSubscription)
_delivery: Final = msgspec.json.Decoder(WebhookDelivery)


class StaleDelivery(Exception):
    """The stored delivery moved on (another replica saved first), or it does not exist."""


def _ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


class WebhookStore(Store):
    @abc.abstractmethod
    async def add_subscription(self, subscription: StoredSubscription) -> None: ...

    @abc.abstractmethod
    async def subscription(self, subscription_id: str) -> StoredSubscription | None: ...

    @abc.abstractmethod
    async def subscriptions(
        self, *, after: str | None = None, limit: int = 200
    ) -> list[StoredSubscription]:
        """Active subscriptions, oldest first."""

    @abc.abstractmethod
    async def deactivate(self, subscription_id: str) -> bool:
        """Stop delivering to it (its log stays); False when there is no active one."""

    @abc.abstractmethod
    async def enqueue(self, delivery: WebhookDelivery, payload: bytes) -> WebhookDelivery:
        """Store the delivery of an event to a subscription, once: answer the stored one."""

    @abc.abstractmethod
    async def delivery(self, delivery_id: str) -> tuple[WebhookDelivery, bytes] | None: ...

    @abc.abstractmethod
    async def save(self, delivery: WebhookDelivery) -> None:
        """Replace stored version ``version - 1``; raise :class:`StaleDelivery` otherwise."""

    @abc.abstractmethod
    async def deliveries(
        self, subscription_id: str, *, after: str | None = None, limit: int = 50
    ) -> list[WebhookDelivery]: ...

    @abc.abstractmethod
    async def due(self, now: datetime, limit: int = 100) -> list[str]: ...

    @abc.abstractmethod
    async def lease(self, delivery_id: str, owner: str, seconds: float) -> bool: ...

    @abc.abstractmethod
    async def unlease(self, delivery_id: str, owner: str) -> None: ...


class MemoryWebhookStore(WebhookStore):
    def __init__(self) -> None:
        self._subs: dict[str, StoredSubscription] = {}
        self._deliveries: dict[str, tuple[WebhookDelivery, bytes]] = {}
        self._seen: dict[tuple[str, str], str] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._lock = asyncio.Lock()

    async def add_subscription(self, subscription: StoredSubscription) -> None:
        self._subs[subscription.subscription_id] = subscription

    async def subscription(self, subscription_id: str) -> StoredSubscription | None:
        return self._subs.get(subscription_id)

    async def subscriptions(
        self, *, after: str | None = None, limit: int = 200
    ) -> list[StoredSubscription]:
        return [
            s
            for key, s in sorted(self._subs.items())
            if s.active and (after is None or key > after)
        ][:limit]

    async def deactivate(self, subscription_id: str) -> bool:
        async with self._lock:
            found = self._subs.get(subscription_id)
            if found is None or not found.active:
                return False
            self._subs[subscription_id] = msgspec.structs.replace(found, active=False)
            return True

    async def enqueue(self, delivery: WebhookDelivery, payload: bytes) -> WebhookDelivery:
        async with self._lock:
            key = (delivery.subscription_id, delivery.event_id)
            existing = self._seen.get(key)
            if existing is not None:
                return self._deliveries[existing][0]
            self._seen[key] = delivery.delivery_id
            self._deliveries[delivery.delivery_id] = (delivery, payload)
            return delivery

    async def delivery(self, delivery_id: str) -> tuple[WebhookDelivery, bytes] | None:
        return self._deliveries.get(delivery_id)

    async def save(self, delivery: WebhookDelivery) -> None:
        async with self._lock:
            current = self._deliveries.get(delivery.delivery_id)
            if current is None or current[0].version != delivery.version - 1:
                raise StaleDelivery(delivery.delivery_id)
            self._deliveries[delivery.delivery_id] = (delivery, current[1])

    async def deliveries(
        self, subscription_id: str, *, after: str | None = None, limit: int = 50
    ) -> list[WebhookDelivery]:
        return [
            d
            for key, (d, _) in sorted(self._deliveries.items())
            if d.subscription_id == subscription_id and (after is None or key > after)
        ][:limit]

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        waiting = [
            (d.next_attempt_at, d.delivery_id)
            for d, _ in self._deliveries.values()
            if d.next_attempt_at is not None and d.next_attempt_at <= now
        ]
        return [key for _, key in sorted(waiting)[:limit]]

    async def lease(self, delivery_id: str, owner: str, seconds: float) -> bool:
        now = time.monotonic()
        holder = self._leases.get(delivery_id)
        if holder is not None and holder[0] != owner and holder[1] > now:
            return False
        self._leases[delivery_id] = (owner, now + seconds)
        return True

    async def unlease(self, delivery_id: str, owner: str) -> None:
        holder = self._leases.get(delivery_id)
        if holder is not None and holder[0] == owner:
            del self._leases[delivery_id]

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


# KEYS: seen, rec, sub-dlv, due. ARGV: id, json, payload, due-ms or ''. Returns the stored json.
_ENQUEUE_LUA: Final = r"""
local existing = redis.call('GET', KEYS[1])
if existing then
  return redis.call('HGET', ARGV[5] .. existing, 'json')
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'json', ARGV[2], 'version', '1', 'payload', ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[4], tonumber(ARGV[4]), ARGV[1])
end
return ARGV[2]
"""

# KEYS: rec, due. ARGV: id, json, version, due-ms or ''. 1 when saved, else 0.
_SAVE_LUA: Final = r"""
local stored = redis.call('HGET', KEYS[1], 'version')
if not stored or tonumber(stored) ~= tonumber(ARGV[3]) - 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', ARGV[3])
if ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[2], tonumber(ARGV[4]), ARGV[1])
else
  redis.call('ZREM', KEYS[2], ARGV[1])
end
return 1
"""

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


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class RedisWebhookStore(WebhookStore):
    def __init__(self, client: aioredis.Redis, *, prefix: str = "qgate:{whk}:") -> None:
        self._redis = client
        self._prefix = prefix
        self._enqueue = client.register_script(_ENQUEUE_LUA)
        self._save = client.register_script(_SAVE_LUA)
        self._lease = client.register_script(_LEASE_LUA)
        self._unlease = client.register_script(_UNLEASE_LUA)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "qgate:{whk}:") -> RedisWebhookStore:
        return cls(aioredis.Redis.from_url(url), prefix=prefix)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    async def add_subscription(self, subscription: StoredSubscription) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._key("sub", subscription.subscription_id),
                "json",
                _encoder.encode(subscription),
            )
            pipe.zadd(self._key("subs"), {subscription.subscription_id: 0})
            await pipe.execute()

    async def subscription(self, subscription_id: str) -> StoredSubscription | None:
        raw = await self._redis.hget(self._key("sub", subscription_id), "json")
        return None if raw is None else _subscription.decode(raw)

    async def subscriptions(
        self, *, after: str | None = None, limit: int = 200
    ) -> list[StoredSubscription]:
        start = "-" if after is None else f"({after}"
        ids = await self._redis.zrangebylex(self._key("subs"), start, "+", start=0, num=limit)
        found = [await self.subscription(_text(i)) for i in ids]
        return [s for s in found if s is not None and s.active]

    async def deactivate(self, subscription_id: str) -> bool:
        found = await self.subscription(subscription_id)
        if found is None or not found.active:
            return False
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self._key("sub", subscription_id),
                "json",
                _encoder.encode(msgspec.structs.replace(found, active=False)),
            )
            pipe.zrem(self._key("subs"), subscription_id)
            await pipe.execute()
        return True

    async def enqueue(self, delivery: WebhookDelivery, payload: bytes) -> WebhookDelivery:
        due = _ms(delivery.next_attempt_at)
        stored = await self._enqueue(
            keys=[
                self._key("seen", delivery.subscription_id, delivery.event_id),
                self._key("dlv", delivery.delivery_id),
                self._key("sub-dlv", delivery.subscription_id),
                self._key("due"),
            ],
            args=[
                delivery.delivery_id,
                _encoder.encode(delivery),
                payload,
                "" if due is None else str(due),
                self._key("dlv", ""),
            ],
        )
        return _delivery.decode(stored)

    async def delivery(self, delivery_id: str) -> tuple[WebhookDelivery, bytes] | None:
        raw, payload = await self._redis.hmget(self._key("dlv", delivery_id), ["json", "payload"])
        if raw is None:
            return None
        body = payload.encode() if isinstance(payload, str) else payload
        return _delivery.decode(raw), body or b""

    async def save(self, delivery: WebhookDelivery) -> None:
        due = _ms(delivery.next_attempt_at)
        saved = await self._save(
            keys=[self._key("dlv", delivery.delivery_id), self._key("due")],
            args=[
                delivery.delivery_id,
                _encoder.encode(delivery),
                str(delivery.version),
                "" if due is None else str(due),
            ],
        )
        if int(saved) != 1:
            raise StaleDelivery(delivery.delivery_id)

    async def _records(self, ids: Sequence[bytes | str]) -> list[WebhookDelivery]:
        if not ids:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for raw_id in ids:
                pipe.hget(self._key("dlv", _text(raw_id)), "json")
            found = await pipe.execute()
        return [_delivery.decode(raw) for raw in found if raw is not None]

    async def deliveries(
        self, subscription_id: str, *, after: str | None = None, limit: int = 50
    ) -> list[WebhookDelivery]:
        start = "-" if after is None else f"({after}"
        ids = await self._redis.zrangebylex(
            self._key("sub-dlv", subscription_id), start, "+", start=0, num=limit
        )
        return await self._records(ids)

    async def due(self, now: datetime, limit: int = 100) -> list[str]:
        ids = await self._redis.zrangebyscore(
            self._key("due"), "-inf", _ms(now) or 0, start=0, num=limit
        )
        return [_text(i) for i in ids if isinstance(i, bytes | str)]

    async def lease(self, delivery_id: str, owner: str, seconds: float) -> bool:
        taken = await self._lease(
            keys=[self._key("lease", delivery_id)], args=[owner, str(int(seconds * 1000))]
        )
        return int(taken) == 1

    async def unlease(self, delivery_id: str, owner: str) -> None:
        await self._unlease(keys=[self._key("lease", delivery_id)], args=[owner])

    async def ping(self) -> None:
        await self._redis.ping()

    async def aclose(self) -> None:
        await self._redis.aclose()
