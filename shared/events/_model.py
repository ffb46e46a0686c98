"""The CloudEvents 1.0 envelope (JSON event format), qgate's event types and its streams."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Final

import msgspec

from shared.correlation import current_correlation_id, current_traceparent

__all__ = [
    "CAPA_STAGE_CHANGED",
    "CONTAINMENT_CLOSED",
    "CONTAINMENT_CONTAINED",
    "CONTAINMENT_OPENED",
    "CONTAINMENT_STREAM",
    "EVENT_TYPES",
    "INSPECTION_COMPLETED",
    "LOT_DISPOSITION_CHANGED",
    "NONCONFORMANCE_CLOSED",
    "NONCONFORMANCE_OPENED",
    "QUALITY_STREAM",
    "STREAMS",
    "SUPPLIER_QUALITY_STATUS_CHANGED",
    "CloudEvent",
    "InvalidEvent",
    "decode_event",
    "derived_event_id",
    "encode_event",
    "new_event",
]

INSPECTION_COMPLETED: Final = "com.qgate.inspection.completed.v1"
LOT_DISPOSITION_CHANGED: Final = "com.qgate.lot.disposition-changed.v1"
NONCONFORMANCE_OPENED: Final = "com.qgate.nonconformance.opened.v1"
NONCONFORMANCE_CLOSED: Final = "com.qgate.nonconformance.closed.v1"
CONTAINMENT_OPENED: Final = "com.qgate.containment.opened.v1"
CONTAINMENT_CONTAINED: Final = "com.qgate.containment.contained.v1"
CONTAINMENT_CLOSED: Final = "com.qgate.containment.closed.v1"
SUPPLIER_QUALITY_STATUS_CHANGED: Final = "com.qgate.supplier.quality-status-changed.v1"
CAPA_STAGE_CHANGED: Final = "com.qgate.capa.stage-changed.v1"

EVENT_TYPES: Final = (
    INSPECTION_COMPLETED,
    LOT_DISPOSITION_CHANGED,
    NONCONFORMANCE_OPENED,
    NONCONFORMANCE_CLOSED,
    CONTAINMENT_OPENED,
    CONTAINMENT_CONTAINED,
    CONTAINMENT_CLOSED,
    SUPPLIER_QUALITY_STATUS_CHANGED,
    CAPA_STAGE_CHANGED,
)
"""Every event type qgate publishes (``com.qgate.<thing>.<what happened>.v<major>``)."""

QUALITY_STREAM: Final = "quality"
"""Inspections, lot dispositions, nonconformances, CAPA stages, supplier quality status."""
CONTAINMENT_STREAM: Final = "containment"
"""Containment cases: opened, contained, closed."""
STREAMS: Final = (QUALITY_STREAM, CONTAINMENT_STREAM)
"""The streams qgate publishes to (the operations API reports on these at least)."""

_NAMESPACE: Final = uuid.UUID("6f1c3b0e-7f6a-5b8e-9d3c-2a1e4b5c6d7e")
# CloudEvents 1.0: extension attribute names are lower-case letters and digits, at most 20.
_EXTENSION_NAME: Final = re.compile(r"^[a-z0-9]{1,20}$")

_NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class InvalidEvent(ValueError):
    """The bytes are not a CloudEvents 1.0 JSON envelope qgate accepts (the message says why)."""


class CloudEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event as a CloudEvents 1.0 JSON envelope (structured content mode).

    ``data`` is always a JSON object; ``correlationid`` and ``traceparent`` are extension
    attributes (the latter from the Distributed Tracing extension). Consumers deduplicate by
    ``id``, which is unique per ``source``.
    """

    id: _NonEmpty
    source: _NonEmpty
    """A URI-reference naming the context that produced it (``/process/v1/lot-dispositions``)."""
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    subject: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)] | None = None
    time: datetime
    specversion: str = "1.0"
    datacontenttype: str = "application/json"
    data: dict[str, Any]
    correlationid: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    traceparent: Annotated[str, msgspec.Meta(max_length=128)] | None = None

    def __post_init__(self) -> None:
        # Runs on decoding too: a ValueError here becomes the decoder's validation error.
        if self.specversion != "1.0":
            raise ValueError(f"specversion {self.specversion!r} is not 1.0")
        if self.time.tzinfo is None:
            raise ValueError("time must carry a UTC offset (RFC 3339)")
        media = self.datacontenttype.split(";", 1)[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            raise ValueError(f"datacontenttype {self.datacontenttype!r} is not JSON")


def _attributes(event: CloudEvent) -> dict[str, Any]:
    """The envelope's attributes, absent rather than null (CloudEvents: null means absent)."""
    raw = msgspec.to_builtins(event)
    return {key: value for key, value in raw.items() if value is not None}


_json: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(CloudEvent)
_object_decoder: Final = msgspec.json.Decoder(dict[str, Any])


def encode_event(event: CloudEvent) -> bytes:
    """The event as CloudEvents 1.0 JSON (``application/cloudevents+json``)."""
    return _json.encode(_attributes(event))


def decode_event(raw: bytes | str) -> CloudEvent:
    """Parse and validate an inbound CloudEvents 1.0 JSON envelope; raise :class:`InvalidEvent`.

    Required: ``id``, ``source``, ``type``, ``specversion`` 1.0, ``time`` with an offset and a
    JSON object as ``data``; ``data_base64`` is refused. Extension attributes qgate does not
    know are ignored, but their names must follow the specification.
    """
    try:
        envelope = _object_decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise InvalidEvent(f"not a JSON object: {exc}") from exc
    if "data_base64" in envelope:
        raise InvalidEvent("data_base64 is not accepted: data must be a JSON object")
    known = CloudEvent.__struct_fields__
    for name in envelope:
        if name not in known and not _EXTENSION_NAME.match(name):
            raise InvalidEvent(f"attribute name {name!r} is not a valid CloudEvents name")
    if envelope.get("specversion") is None:
        raise InvalidEvent("specversion is required")
    try:
        return _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        raise InvalidEvent(str(exc)) from exc


def derived_event_id(event_type: str, *parts: str) -> str:
    """A deterministic id (UUID v5) for the event of ``event_type`` about ``parts``.

    Use it where no local state change carries the event (an outbox cannot): a retried request
    derives the same id, so consumers see a duplicate they skip, never a second event.
    """
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join((event_type, *parts))))


def new_event(
    type: str,
    source: str,
    data: dict[str, Any],
    *,
    subject: str | None = None,
    correlation_id: str | None = None,
    traceparent: str | None = None,
    id: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """A new event: ``id`` a fresh UUID (or the one given), ``time`` now (UTC).

    ``correlation_id`` and ``traceparent`` default to those of the request being handled
    (:mod:`shared.correlation`), so an event carries the ids of the request that caused it.
    """
    return CloudEvent(
        id=id or str(uuid.uuid4()),
        source=source,
        type=type,
        subject=subject,
        time=time or datetime.now(UTC),
        data=data,
        correlationid=correlation_id or current_correlation_id(),
        traceparent=traceparent or current_traceparent(),
    )
