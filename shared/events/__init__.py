"""Events: CloudEvents 1.0 envelopes on Redis Streams (or in memory), with consumer groups,
retries with backoff, dead letters, replay, deduplication by event id, and an outbox that
publishes atomically with the state change an event announces.

::

    bus = build_event_bus(settings)              # Redis when QGATE_STORE=redis, else memory
    bus.subscribe(QUALITY_STREAM, "containment-saga", on_quality_event)
    await bus.start()
    await bus.publish(QUALITY_STREAM, new_event(INSPECTION_COMPLETED, "/process/v1/inspections",
                                                {"inspectionId": "INS-1"}, subject="LOT-1"))
    letters = await bus.dead_letters(QUALITY_STREAM, after=None, limit=50)
    await bus.replay(QUALITY_STREAM, letters[0].id)
    await bus.stop()

Delivery rules: :mod:`shared.events._base`; Redis layout: :mod:`shared.events._redis`; the
outbox: :mod:`shared.events._outbox`.
"""

from __future__ import annotations

from shared.events._base import (
    ConsumerStatus,
    DeadLetter,
    EventBus,
    GroupStatus,
    Handler,
    StreamStatus,
    check_stream_name,
)
from shared.events._factory import EventSubscription, build_event_bus
from shared.events._memory import MemoryEventBus, MemoryStreams
from shared.events._model import (
    CAPA_STAGE_CHANGED,
    CONTAINMENT_CLOSED,
    CONTAINMENT_CONTAINED,
    CONTAINMENT_OPENED,
    CONTAINMENT_STREAM,
    EVENT_TYPES,
    INSPECTION_COMPLETED,
    LOT_DISPOSITION_CHANGED,
    NONCONFORMANCE_CLOSED,
    NONCONFORMANCE_OPENED,
    QUALITY_STREAM,
    STREAMS,
    SUPPLIER_QUALITY_STATUS_CHANGED,
    CloudEvent,
    InvalidEvent,
    decode_event,
    derived_event_id,
    encode_event,
    new_event,
)
from shared.events._outbox import (
    OUTBOX_FIELD,
    MemoryOutbox,
    Outbox,
    OutboxRelay,
    RedisOutbox,
    outbox_entry,
    outbox_lua,
    read_outbox_entry,
)
from shared.events._redis import DEFAULT_PREFIX, RedisEventBus

__all__ = [
    "CAPA_STAGE_CHANGED",
    "CONTAINMENT_CLOSED",
    "CONTAINMENT_CONTAINED",
    "CONTAINMENT_OPENED",
    "CONTAINMENT_STREAM",
    "DEFAULT_PREFIX",
    "EVENT_TYPES",
    "INSPECTION_COMPLETED",
    "LOT_DISPOSITION_CHANGED",
    "NONCONFORMANCE_CLOSED",
    "NONCONFORMANCE_OPENED",
    "OUTBOX_FIELD",
    "QUALITY_STREAM",
    "STREAMS",
    "SUPPLIER_QUALITY_STATUS_CHANGED",
    "CloudEvent",
    "ConsumerStatus",
    "DeadLetter",
    "EventBus",
    "EventSubscription",
    "GroupStatus",
    "Handler",
    "InvalidEvent",
    "MemoryEventBus",
    "MemoryOutbox",
    "MemoryStreams",
    "Outbox",
    "OutboxRelay",
    "RedisEventBus",
    "RedisOutbox",
    "StreamStatus",
    "build_event_bus",
    "check_stream_name",
    "decode_event",
    "derived_event_id",
    "encode_event",
    "new_event",
    "outbox_entry",
    "outbox_lua",
    "read_outbox_entry",
]
