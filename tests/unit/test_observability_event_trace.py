"""One trace id spans a disposition through the experience, process and system layers AND the
handling of the ``lot.disposition-changed`` event it announced, by each consumer group."""

from __future__ import annotations

import asyncio
from typing import Any, Final, cast

import httpx
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.composition import create_all_in_one
from shared.events import LOT_DISPOSITION_CHANGED, EventBus
from shared.observability import tracing_to
from shared.settings import Settings
from tests.integration.test_pipeline import lifespan
from tests.unit.test_observability_tracing import (
    INCOMING,
    LOT,
    TRACE_ID,
    of_trace,
    service,
    token,
)

_GROUP: Final = "messaging.consumer.group.name"


def consumers_of(spans: list[ReadableSpan], event_type: str) -> dict[str, ReadableSpan]:
    """The CONSUMER spans of ``event_type``, by consumer group."""
    found: dict[str, ReadableSpan] = {}
    for span in spans:
        attributes = span.attributes or {}
        if span.kind is SpanKind.CONSUMER and attributes.get("cloudevents.event_type") == (
            event_type
        ):
            found[str(attributes[_GROUP])] = span
    return found


async def test_the_disposition_and_its_event_consumers_are_one_trace() -> None:
    exporter = InMemorySpanExporter()
    with tracing_to(exporter):
        gateway = create_all_in_one(Settings())
    (app,) = [app for prefix, app in gateway.routes if prefix == "/process/"]
    transport = httpx.ASGITransport(app=cast("Any", gateway))
    async with (
        lifespan(gateway),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        bus: EventBus = app.state["bus"]
        outbox = app.state["dispositions"].store.outbox
        plant = await token(http, "plant-app")
        answer = await http.post(
            f"/plant/v1/lots/{LOT}/disposition-requests",
            json={"decision": "BLOCK", "reason": "Crack found on receipt"},
            headers={
                "Authorization": f"Bearer {plant}",
                "Idempotency-Key": "trace-event-1",
                "traceparent": INCOMING,
            },
        )
        assert answer.status_code == 201, answer.text
        async with asyncio.timeout(15):
            while await outbox.size():  # noqa: ASYNC110 - the relay runs on its own interval
                await asyncio.sleep(0.01)
            await bus.drain()

    spans = of_trace(exporter, TRACE_ID)
    servers = {service(s) for s in spans if s.kind is SpanKind.SERVER}
    assert servers == {"qgate-experience", "qgate-process", "qgate-system"}
    consumers = consumers_of(spans, LOT_DISPOSITION_CHANGED)
    # Every group of the quality stream handled it in the request's trace.
    assert set(consumers) == {"containment-saga", "webhooks", "sync-sla"}
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    for consumer in consumers.values():
        assert service(consumer) == "qgate-process"
        assert consumer.name == f"{LOT_DISPOSITION_CHANGED} process"
        assert consumer.status.is_ok
        # The event was published while the process layer handled the request: its consumers
        # continue the process layer's server span.
        assert consumer.parent is not None
        publisher = by_id[consumer.parent.span_id]
        assert publisher.kind is SpanKind.SERVER
        assert service(publisher) == "qgate-process"
