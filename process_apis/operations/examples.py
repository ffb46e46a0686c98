"""Examples for the operations contract: real instances of the Structs their schemas describe."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from process_apis.operations.models import (
    ConsumerGroups,
    ConsumerView,
    DeadLetterPage,
    DeadLetterView,
    EventStream,
    GroupView,
    Replay,
    StreamView,
)
from shared.events import INSPECTION_COMPLETED, QUALITY_STREAM, CloudEvent

__all__ = ["operations_examples"]

_AT = datetime(2026, 11, 20, 8, 30, tzinfo=UTC)


def operations_examples() -> dict[str, Any]:
    """Examples by schema name."""
    event = CloudEvent(
        id="0b7b8a52-6f1e-5d0c-9a57-3f6d2b1c0a9e",
        source="/process/v1/inspections",
        type=INSPECTION_COMPLETED,
        subject="LOT-1000-0022",
        time=_AT,
        data={"inspectionId": "INSP-000022", "lotId": "LOT-1000-0022", "result": "FAIL"},
        correlationid="5f0c6c1e-8f2a-4b7e-9a57-3f6d2b1c0a9e",
    )
    letter = DeadLetterView(
        dead_letter_id="1795800879968-0",
        stream=QUALITY_STREAM,
        group="containment-saga",
        entry_id="1795800871234-0",
        event=event,
        reason="DownstreamUnavailable: A system qgate depends on is unavailable",
        deliveries=5,
        failed_at=_AT,
    )
    group = GroupView(
        stream=QUALITY_STREAM,
        group="containment-saga",
        pending=1,
        lag=0,
        last_delivered_id="1795800879968-0",
        oldest_pending_age_seconds=4.2,
        consumers=[ConsumerView(name="process-1-4711-a1b2c3", pending=1, idle_seconds=0.8)],
    )
    structs: dict[str, msgspec.Struct] = {
        "CloudEvent": event,
        "DeadLetterView": letter,
        "DeadLetterPage": DeadLetterPage(items=[letter]),
        "Replay": Replay(stream=EventStream.QUALITY, replayed=1),
        "GroupView": group,
        "ConsumerGroups": ConsumerGroups(
            groups=[group],
            streams=[StreamView(stream=QUALITY_STREAM, length=1250, dead_letters=1)],
        ),
    }
    return {name: msgspec.to_builtins(value) for name, value in structs.items()}
