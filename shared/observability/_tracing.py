"""OpenTelemetry tracing: off unless the standard ``OTEL_*`` variables ask for it.

Each layer gets its own ``TracerProvider`` (``service.name`` ``qgate-<layer>`` unless
``OTEL_SERVICE_NAME`` names one), so the all-in-one process reports three services like a split
deployment does. The providers are kept here, not as OpenTelemetry's global provider, which can
be set only once per process (tests build many apps, with and without tracing).

When tracing is off no span is created at all; :mod:`shared.correlation` still carries one
``traceparent`` trace id through every layer and log line.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar, Token
from typing import Any, Final, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.correlation import TraceContext, bound_ids, current_traceparent
from shared.settings import SettingsError

__all__ = [
    "bind_tracer",
    "client_span",
    "current_tracer",
    "end_server_span",
    "exporters_from_env",
    "inject_into",
    "layer_tracer",
    "release_span",
    "reset_tracer",
    "server_span_context",
    "start_consumer_span",
    "start_server_span",
    "trace_headers",
    "traced_handler",
    "tracing_to",
    "use_span",
]

_PROPAGATOR: Final = TraceContextTextMapPropagator()
_TRACE_FIELDS: Final = ("traceparent", "tracestate")
_EVENT_FIELDS: Final = ("id", "type", "source", "subject", "correlationid", *_TRACE_FIELDS)
_Event = TypeVar("_Event")
_tracer: ContextVar[Tracer | None] = ContextVar("qgate_tracer", default=None)
_providers: dict[str, TracerProvider] = {}
_override: list[SpanExporter] | None = None


def exporters_from_env(env: Mapping[str, str]) -> list[SpanExporter]:
    """The exporters the standard variables ask for (none: tracing stays off).

    ``OTEL_SDK_DISABLED=true`` turns it off; ``OTEL_TRACES_EXPORTER`` names exporters
    (``otlp``, ``console``, ``none``). Unlike the SDK's own default (``otlp``), an unset
    ``OTEL_TRACES_EXPORTER`` means off unless an OTLP endpoint is configured, so a default
    qgate never sends spans to a collector nobody runs.
    """
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return []
    names = env.get("OTEL_TRACES_EXPORTER")
    if names is None:
        endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        names = "otlp" if any(env.get(name) for name in endpoints) else "none"
    exporters: list[SpanExporter] = []
    for name in (part.strip().lower() for part in names.split(",")):
        if name in {"", "none"}:
            continue
        if name == "console":
            exporters.append(ConsoleSpanExporter())
        elif name == "otlp":
            exporters.append(_otlp_exporter(env))
        else:
            raise SettingsError(
                f"OTEL_TRACES_EXPORTER: {name!r} is not available (use otlp, console or none)"
            )
    return exporters


def _otlp_exporter(env: Mapping[str, str]) -> SpanExporter:
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol.strip() != "http/protobuf":
        raise SettingsError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL: {protocol!r} is not installed (use http/protobuf)"
        )
    # Imported when chosen: the exporter pulls in protobuf and requests.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )

    return OTLPSpanExporter()  # reads OTEL_EXPORTER_OTLP_* (endpoint, headers, timeout) itself


def layer_tracer(layer: str, env: Mapping[str, str] | None = None) -> Tracer | None:
    """The layer's tracer, or None when tracing is off (the variables are read here, once per
    layer and process).

    :raises SettingsError: the variables name an exporter or protocol that is not installed.
    """
    provider = _providers.get(layer)
    if provider is None:
        source = os.environ if env is None else env
        testing = _override is not None
        exporters = list(_override) if _override is not None else exporters_from_env(source)
        if not exporters:
            return None
        service = source.get("OTEL_SERVICE_NAME") or f"qgate-{layer}"
        provider = TracerProvider(
            resource=Resource.create({"service.name": service, "qgate.layer": layer})
        )
        for exporter in exporters:
            processor = SimpleSpanProcessor(exporter) if testing else BatchSpanProcessor(exporter)
            provider.add_span_processor(processor)
        _providers[layer] = provider
    return provider.get_tracer(f"qgate.{layer}")


@contextlib.contextmanager
def tracing_to(exporter: SpanExporter) -> Iterator[None]:
    """Trace every layer built inside the block to ``exporter``, span by span (tests: the SDK's
    ``InMemorySpanExporter``). The variables are ignored meanwhile."""
    global _override  # noqa: PLW0603 - the process-wide exporter, like logging's handlers
    saved = _override, dict(_providers)
    _override = [exporter]
    _providers.clear()
    try:
        yield
    finally:
        for provider in _providers.values():
            provider.force_flush()
        _override = saved[0]
        _providers.clear()
        _providers.update(saved[1])


def bind_tracer(tracer: Tracer | None) -> Token[Tracer | None]:
    """Make ``tracer`` the one spans started in this context use (a request, a worker)."""
    return _tracer.set(tracer)


def reset_tracer(token: Token[Tracer | None]) -> None:
    _tracer.reset(token)


def current_tracer() -> Tracer | None:
    return _tracer.get()


def trace_headers() -> dict[str, str]:
    """``traceparent`` (and ``tracestate``) of the current span; empty when tracing is off."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def server_span_context(span: Span) -> TraceContext:
    """The span's ids in the form :mod:`shared.correlation` logs and returns."""
    context = span.get_span_context()
    return TraceContext(
        f"{context.trace_id:032x}", f"{context.span_id:016x}", f"{int(context.trace_flags):02x}"
    )


@contextlib.contextmanager
def client_span(
    name: str, attributes: Mapping[str, str | int] | None = None
) -> Iterator[Span | None]:
    """A CLIENT span around a call made for the current request (None when tracing is off).

    Inside the block :func:`trace_headers` names this span, so the callee continues the trace.
    An exception leaving the block marks the span as an error.
    """
    tracer = _tracer.get()
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(
        name, kind=SpanKind.CLIENT, attributes=dict(attributes or {})
    ) as span:
        yield span


def inject_into(event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Put the current trace context on an event being published (CloudEvents Distributed
    Tracing extension: ``traceparent``, ``tracestate``) and return it.

    With tracing off, the request's ``traceparent`` from :mod:`shared.correlation` is used, so
    the consumer's log lines still share the publisher's trace id.
    """
    headers = trace_headers()
    if headers:
        event.update(headers)
    else:
        traceparent = current_traceparent()
        if traceparent:
            event["traceparent"] = traceparent
    return event


@contextlib.contextmanager
def start_consumer_span(
    event: Mapping[str, Any], *, name: str | None = None, layer: str | None = None
) -> Iterator[Span | None]:
    """Handle one event inside a CONSUMER span continuing the publisher's trace.

    ``event`` is a CloudEvent as a mapping: ``traceparent`` / ``tracestate`` (extension
    attributes), ``id``, ``type``, ``source``, and ``correlationid`` if the publisher set one.
    For the block, log lines and calls to other layers carry the event's correlation id and
    this span's trace context. The span is named ``name`` or ``"<type> process"``. Uses the
    current layer's tracer, or ``layer``'s; yields None when tracing is off (the ids are bound
    all the same). An exception marks the span failed.
    """
    carrier = {key: event[key] for key in _TRACE_FIELDS if isinstance(event.get(key), str)}
    correlation_id = event.get("correlationid")
    correlation = correlation_id if isinstance(correlation_id, str) else None
    tracer = layer_tracer(layer) if layer is not None else _tracer.get()
    if tracer is None:
        parent = TraceContext.parse(carrier.get("traceparent"))
        trace_context = parent.child() if parent is not None else TraceContext.new()
        with bound_ids(correlation_id=correlation, traceparent=trace_context.header()):
            yield None
        return
    attributes = {
        f"cloudevents.event_{key}": str(event[key])
        for key in ("id", "type", "source", "subject")
        if event.get(key) is not None
    }
    token = otel_context.attach(_PROPAGATOR.extract(carrier))
    try:
        with tracer.start_as_current_span(
            name or f"{event.get('type', 'event')} process",
            kind=SpanKind.CONSUMER,
            attributes={"messaging.operation.type": "process", **attributes},
            set_status_on_exception=False,
        ) as span:
            own = server_span_context(span).header()
            with bound_ids(correlation_id=correlation, traceparent=own):
                try:
                    yield span
                except Exception as exc:
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    raise
    finally:
        otel_context.detach(token)


def traced_handler(
    handler: Callable[[_Event], Awaitable[None]], *, group: str
) -> Callable[[_Event], Awaitable[None]]:
    """``handler`` (of a consumer group) run inside :func:`start_consumer_span` for each event:
    the event's attributes (``id``, ``type``, ``traceparent``, ...) are read from the event
    object, and the span names the group (``messaging.consumer.group.name``)."""

    async def handle(event: _Event) -> None:
        attributes = {
            name: value
            for name in _EVENT_FIELDS
            if (value := getattr(event, name, None)) is not None
        }
        with start_consumer_span(attributes) as span:
            if span is not None:
                span.set_attribute("messaging.consumer.group.name", group)
            await handler(event)

    return handle


def end_server_span(
    span: Span, *, method: str, route: str | None, operation: str, status: int
) -> None:
    """Name the server span after its route and record the answer (then end it)."""
    if route:
        span.update_name(f"{method} {route}".strip())
        span.set_attribute("http.route", route)
    span.set_attribute("qgate.operation", operation)
    span.set_attribute("http.response.status_code", status)
    if status >= 500:
        span.set_status(Status(StatusCode.ERROR))
    span.end()


def start_server_span(tracer: Tracer, scope: Mapping[str, Any], layer: str) -> Span:
    """A SERVER span for an incoming request, child of its ``traceparent`` if it has one."""
    carrier: dict[str, str] = {}
    for key, value in scope.get("headers", ()):
        name = bytes(key).decode("latin-1").lower()
        if name in _TRACE_FIELDS:
            carrier[name] = bytes(value).decode("latin-1")
    method = str(scope.get("method", ""))
    return tracer.start_span(
        method,
        context=_PROPAGATOR.extract(carrier),
        kind=SpanKind.SERVER,
        attributes={
            "http.request.method": method,
            "url.path": str(scope.get("path", "")),
            "qgate.layer": layer,
        },
    )


def use_span(span: Span) -> Token[Context]:
    """Make ``span`` current; give the result to :func:`release_span` when done."""
    return otel_context.attach(trace.set_span_in_context(span))


def release_span(token: Token[Context]) -> None:
    otel_context.detach(token)
