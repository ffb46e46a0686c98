"""Wire types of the operations API: dead letters, replays, consumer groups."""

from __future__ import annotations

import enum
from typing import Annotated, Final

import msgspec

from shared.events import (
    CONTAINMENT_STREAM,
    QUALITY_STREAM,
    CloudEvent,
    DeadLetter,
    GroupStatus,
    StreamStatus,
)
from shared.models import QgateStruct, Timestamp

__all__ = [
    "DEAD_LETTER_ID_PATTERN",
    "ConsumerGroups",
    "ConsumerView",
    "DeadLetterPage",
    "DeadLetterView",
    "EventStream",
    "GroupView",
    "Replay",
    "StreamView",
]

DEAD_LETTER_ID_PATTERN: Final = r"^[0-9]{1,20}-[0-9]{1,20}$"
_Count = Annotated[int, msgspec.Meta(ge=0)]
_Seconds = Annotated[float, msgspec.Meta(ge=0)]


class EventStream(enum.StrEnum):
    """The streams qgate publishes to."""

    QUALITY = QUALITY_STREAM
    CONTAINMENT = CONTAINMENT_STREAM


class DeadLetterView(QgateStruct, frozen=True, kw_only=True):
    """An event a consumer group gave up on, waiting for a replay."""

    dead_letter_id: Annotated[str, msgspec.Meta(pattern=DEAD_LETTER_ID_PATTERN)]
    """Replay it by this id."""
    stream: str
    group: str
    """The consumer group that failed; a replay is delivered to it only."""
    entry_id: str
    """Where the event was on the stream."""
    event: CloudEvent | None
    """The CloudEvent; absent when the entry was none (then ``payload`` holds it)."""
    payload: str | None = None
    reason: str
    """The handler's last error (exception type and message)."""
    deliveries: _Count
    failed_at: Timestamp

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterView:
        return cls(
            dead_letter_id=letter.id,
            stream=letter.stream,
            group=letter.group,
            entry_id=letter.entry_id,
            event=letter.event,
            payload=letter.payload,
            reason=letter.reason,
            deliveries=letter.deliveries,
            failed_at=letter.failed_at,
        )


class DeadLetterPage(QgateStruct, frozen=True, kw_only=True):
    """Dead letters, oldest first; pass ``nextCursor`` back as ``cursor`` for more."""

    items: list[DeadLetterView]
    next_cursor: str | None = None


class Replay(QgateStruct, frozen=True, kw_only=True):
    """What a replay put back on the stream (its consumers process it asynchronously)."""

    stream: EventStream
    replayed: _Count
    """Dead letters delivered again (each to the group it failed in, and removed)."""


class ConsumerView(QgateStruct, frozen=True, kw_only=True):
    name: str
    pending: _Count
    """Events delivered to this consumer and not acknowledged."""
    idle_seconds: _Seconds
    """Since it last read or claimed events."""


class GroupView(QgateStruct, frozen=True, kw_only=True):
    """Where one consumer group stands on its stream."""

    stream: str
    group: str
    pending: _Count
    """Delivered and not acknowledged yet: being handled, or waiting for a retry."""
    lag: _Count | None = None
    """Events on the stream not delivered to the group yet (absent when it cannot be told)."""
    last_delivered_id: str
    oldest_pending_age_seconds: _Seconds | None = None
    """Age since publication of the oldest unacknowledged event."""
    consumers: list[ConsumerView]

    @classmethod
    def of(cls, status: GroupStatus) -> GroupView:
        return cls(
            stream=status.stream,
            group=status.group,
            pending=status.pending,
            lag=status.lag,
            last_delivered_id=status.last_delivered_id,
            oldest_pending_age_seconds=status.oldest_pending_age_seconds,
            consumers=[
                ConsumerView(name=c.name, pending=c.pending, idle_seconds=c.idle_seconds)
                for c in status.consumers
            ],
        )


class StreamView(QgateStruct, frozen=True, kw_only=True):
    stream: str
    length: _Count
    """Events kept on the stream (trimmed to about ``QGATE_EVENTS_STREAM_MAXLEN``)."""
    dead_letters: _Count
    """Events in its dead-letter stream, waiting for a replay."""

    @classmethod
    def of(cls, status: StreamStatus) -> StreamView:
        return cls(stream=status.stream, length=status.length, dead_letters=status.dead_letters)


class ConsumerGroups(QgateStruct, frozen=True, kw_only=True):
    """Pending work per consumer group, and each stream's length and dead letters."""

    groups: list[GroupView]
    streams: list[StreamView]
