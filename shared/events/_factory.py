"""Choosing the bus from the settings, and how a layer declares its consumers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from shared.events._base import EventBus, Handler
from shared.events._memory import MemoryEventBus
from shared.events._redis import RedisEventBus
from shared.settings import Settings, SettingsError, StoreKind

__all__ = ["EventSubscription", "build_event_bus"]


class EventSubscription(NamedTuple):
    """A consumer a layer runs: ``handler`` builds the handler from the layer's services (its
    ``app.state``), once they exist, before the bus starts."""

    stream: str
    group: str
    handler: Callable[[Mapping[str, Any]], Handler]


def build_event_bus(settings: Settings) -> EventBus:
    """Redis Streams (``settings.redis_url``) when ``settings.store`` is redis, else memory: the
    memory bus is this process's only, so production needs Redis.

    Raises :class:`SettingsError` when a retry could wait longer than a stuck event is left
    alone (``claim_idle_seconds`` must exceed ``retry_max_seconds``).
    """
    events = settings.events
    if events.claim_idle_seconds <= events.retry_max_seconds:
        raise SettingsError(
            "QGATE_EVENTS_CLAIM_IDLE_SECONDS must exceed QGATE_EVENTS_RETRY_MAX_SECONDS: an "
            "event waiting for its retry would be taken for one its consumer left"
        )
    if settings.store is StoreKind.REDIS:
        return RedisEventBus.from_url(settings.redis_url, events)
    return MemoryEventBus(events)
