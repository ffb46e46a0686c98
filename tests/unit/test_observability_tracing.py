"""Tracing: off by default, configured by the standard OTEL_* variables, and one trace from the
experience layer through the process and system layers (and their connectors) to the consumer
of an event published on the way."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any, Final, cast

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from shared.composition import create_all_in_one
from shared.correlation import bound_ids, current_correlation_id, current_traceparent
from shared.logs import JsonFormatter
from shared.observability import (
    bind_tracer,
    exporters_from_env,
    inject_into,
    layer_tracer,
    reset_tracer,
    start_consumer_span,
    tracing_to,
)
from shared.settings import Settings, SettingsError
from tests.integration.test_pipeline import lifespan

TRACE_ID: Final = "4bf92f3577b34da6a3ce929d0e0e4736"
INCOMING: Final = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
LOT: Final = "LOT-1000-0022"  # quarantined at plant 1000, the plant app's plant


def test_tracing_is_off_unless_the_variables_ask_for_it() -> None:
    assert exporters_from_env({}) == []
    assert exporters_from_env({"OTEL_TRACES_EXPORTER": "none"}) == []
    assert exporters_from_env({"OTEL_SERVICE_NAME": "qgate"}) == []
    # The SDK's own switch wins over everything else.
    assert (
        exporters_from_env({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}) == []
    )
    assert layer_tracer("off-by-default", env={}) is None


def test_an_otlp_endpoint_or_an_exporter_name_turns_it_on() -> None:
    (otlp,) = exporters_from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert isinstance(otlp, OTLPSpanExporter)
    (traces,) = exporters_from_env({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/t"})
    assert isinstance(traces, OTLPSpanExporter)
    both = exporters_from_env({"OTEL_TRACES_EXPORTER": "otlp,console"})
    assert [type(e) for e in both] == [OTLPSpanExporter, ConsoleSpanExporter]
    for exporter in (otlp, traces, *both):
        exporter.shutdown()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "zipkin"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "grpc"),
        ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, "grpc"),
    ],
)
def test_an_exporter_that_is_not_installed_is_a_settings_error(
    env: dict[str, str], named: str
) -> None:
    with pytest.raises(SettingsError, match=named):
        exporters_from_env(env)


@contextlib.asynccontextmanager
async def traced_gateway(exporter: InMemorySpanExporter) -> AsyncIterator[httpx.AsyncClient]:
    with tracing_to(exporter):
        app = create_all_in_one(Settings())
    transport = httpx.ASGITransport(app=cast("Any", app))
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield http


async def token(http: httpx.AsyncClient, client_id: str) -> str:
    answer = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, f"{client_id}-secret"),
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def of_trace(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [
        span
        for span in exporter.get_finished_spans()
        if span.context is not None and f"{span.context.trace_id:032x}" == trace_id
    ]


def service(span: ReadableSpan) -> str:
    return str(span.resource.attributes["service.name"])


async def test_one_disposition_is_one_trace_across_the_three_layers_and_the_connector() -> None:
    exporter = InMemorySpanExporter()
    async with traced_gateway(exporter) as http:
        plant = await token(http, "plant-app")
        exporter.clear()  # the token request is a trace of its own
        answer = await http.post(
            f"/plant/v1/lots/{LOT}/disposition-requests",
            json={"decision": "BLOCK", "reason": "Crack found on receipt"},
            headers={
                "Authorization": f"Bearer {plant}",
                "Idempotency-Key": "trace-dsp-1",
                "traceparent": INCOMING,
            },
        )
        traced = len(exporter.get_finished_spans())
        # Probes and scrapes are counted, not traced.
        for path in ("/process/metrics", "/health/live", "/system/metrics"):
            assert (await http.get(path)).status_code == 200
        assert len(exporter.get_finished_spans()) == traced
    assert answer.status_code == 201, answer.text
    # The caller's trace continues: the answer names the experience layer's server span.
    returned = answer.headers["traceparent"]
    assert returned.split("-")[1] == TRACE_ID

    spans = of_trace(exporter, TRACE_ID)
    assert spans, exporter.get_finished_spans()
    # Every span qgate made for this request is in the caller's trace (the service token the
    # layers fetch from the issuer is not part of it).
    assert {f"{s.context.trace_id:032x}" for s in exporter.get_finished_spans() if s.context} == {
        TRACE_ID
    }
    servers = [s for s in spans if s.kind is SpanKind.SERVER]
    assert {service(s) for s in servers} == {"qgate-experience", "qgate-process", "qgate-system"}
    by_id = {s.context.span_id: s for s in spans if s.context is not None}

    (edge,) = [s for s in servers if service(s) == "qgate-experience"]
    assert edge.parent is not None
    assert f"{edge.parent.span_id:016x}" == "00f067aa0ba902b7"
    assert edge.name == "POST /plant/v1/lots/{lot_id}/disposition-requests"
    assert edge.attributes is not None
    assert edge.attributes["qgate.operation"] == "requestPlantLotDisposition"
    assert edge.attributes["http.response.status_code"] == 201
    assert returned.split("-")[2] == f"{edge.context.span_id:016x}"

    # Each layer below is entered from a CLIENT span of the layer above.
    for server in servers:
        if server is edge:
            continue
        assert server.parent is not None
        caller = by_id[server.parent.span_id]
        assert caller.kind is SpanKind.CLIENT
        assert service(caller) in {"qgate-experience", "qgate-process"}

    connector = [s for s in spans if s.name == "reference-erp change_lot_disposition"]
    assert len(connector) == 1
    assert connector[0].kind is SpanKind.CLIENT
    assert service(connector[0]) == "qgate-system"
    assert connector[0].parent is not None
    assert by_id[connector[0].parent.span_id].kind is SpanKind.SERVER


@contextlib.contextmanager
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("unit"))
    logger = logging.getLogger("qgate.test.events")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


def test_an_event_carries_the_trace_to_its_consumer_span() -> None:
    exporter = InMemorySpanExporter()
    with tracing_to(exporter):
        tracer = layer_tracer("process")
    assert tracer is not None
    log = logging.getLogger("qgate.test.events")
    token = bind_tracer(tracer)
    try:
        with tracer.start_as_current_span("publish") as publisher:
            event = inject_into({"id": "ev-1", "type": "qgate.lot.blocked", "source": "/p"})
        event["correlationid"] = "corr-7"
        with json_lines() as stream, start_consumer_span(event) as consumer:
            assert consumer is not None
            log.info("handled")
            assert current_correlation_id() == "corr-7"
    finally:
        reset_tracer(token)

    trace_id = f"{publisher.get_span_context().trace_id:032x}"
    assert event["traceparent"].split("-")[1:3] == [
        trace_id,
        f"{publisher.get_span_context().span_id:016x}",
    ]
    (finished,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert finished.name == "qgate.lot.blocked process"
    assert finished.parent is not None
    assert finished.parent.span_id == publisher.get_span_context().span_id
    assert f"{finished.context.trace_id:032x}" == trace_id
    assert finished.attributes is not None
    assert finished.attributes["cloudevents.event_id"] == "ev-1"
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["traceId"] == trace_id
    assert line["correlationId"] == "corr-7"
    assert line["traceparent"].split("-")[2] == f"{finished.context.span_id:016x}"


def test_with_tracing_off_an_event_still_carries_the_trace_id_to_its_logs() -> None:
    with bound_ids(correlation_id="corr-8", traceparent=INCOMING):
        event = inject_into({"id": "ev-2", "type": "qgate.lot.blocked"})
    assert event["traceparent"] == INCOMING
    with start_consumer_span(event) as span:
        assert span is None
        traceparent = current_traceparent()
        assert traceparent is not None
        assert traceparent.split("-")[1] == TRACE_ID
        assert traceparent != INCOMING  # the handling is a step of its own in the trace


def test_a_failing_consumer_marks_its_span() -> None:
    exporter = InMemorySpanExporter()
    with tracing_to(exporter):
        tracer = layer_tracer("process")
    token = bind_tracer(tracer)
    try:
        with (
            pytest.raises(RuntimeError, match="handler broke"),
            start_consumer_span({"type": "qgate.x", "traceparent": INCOMING}),
        ):
            raise RuntimeError("handler broke")
    finally:
        reset_tracer(token)
    (span,) = exporter.get_finished_spans()
    assert not span.status.is_ok
    assert span.status.description == "RuntimeError"
