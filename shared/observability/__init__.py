"""Observability: Prometheus metrics per layer, OpenTelemetry traces, alerting rules.

**Metrics.** Each layer app owns a :class:`LayerMetrics` (its own registry, labelled ``layer``
when rendered) and serves it at ``/metrics`` and ``/<layer>/metrics``
(:func:`metrics_handlers`). :class:`ObservedASGI` counts and times every request by operation id
and status; the pipeline counts idempotent replays and rate-limit rejections; the system layer's
instrumented connectors count calls by backend, operation and outcome. Features add business
figures:

- updated as they happen: ``metrics.containment_time.labels(plant=...).observe(seconds)``,
  ``metrics.sync_sla_breaches.labels(workflow=..., plant=...).inc()``;
- computed at scrape time from a store: ``metrics.register_gauge(DEAD_LETTERS, fn)`` with
  ``async fn() -> {("<stream>",): depth}`` (likewise :data:`CONSUMER_LAG`,
  :data:`DISPOSITIONS_PENDING`), or :meth:`LayerMetrics.register_gauge_callback`.

A feature finds its layer's metrics as ``app.state["metrics"]``, or :func:`current_metrics`
inside a request and in background tasks started by the app's starters.

**Tracing** (off unless ``OTEL_TRACES_EXPORTER`` / ``OTEL_EXPORTER_OTLP_ENDPOINT`` ask for it):
a SERVER span per request, a CLIENT span per inter-layer and connector call (:func:`client_span`,
whose context :func:`trace_headers` injects as ``traceparent``), and for events
:func:`inject_into` (publisher) and :func:`start_consumer_span` (consumer), which carry the
trace in the CloudEvents ``traceparent`` / ``tracestate`` extension attributes
(:func:`traced_handler` wraps a consumer group's handler in the latter).

**Alerting rules**: :func:`render_rules` (``qgate metrics rules``).
"""

from __future__ import annotations

from shared.observability._asgi import ObservedASGI, bind_metrics, current_metrics, operation_of
from shared.observability._business import register_pending
from shared.observability._metrics import (
    CIRCUIT_STATES,
    CONSUMER_LAG,
    DEAD_LETTERS,
    DISPOSITIONS_PENDING,
    DISPOSITIONS_PENDING_OLDEST_AGE,
    GaugeCallback,
    GaugeSpec,
    LayerMetrics,
)
from shared.observability._routes import metrics_handlers
from shared.observability._rules import EXAMPLE_RULES, alert_rules, render_rules
from shared.observability._tracing import (
    bind_tracer,
    client_span,
    current_tracer,
    exporters_from_env,
    inject_into,
    layer_tracer,
    reset_tracer,
    start_consumer_span,
    trace_headers,
    traced_handler,
    tracing_to,
)

__all__ = [
    "CIRCUIT_STATES",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "DISPOSITIONS_PENDING",
    "DISPOSITIONS_PENDING_OLDEST_AGE",
    "EXAMPLE_RULES",
    "GaugeCallback",
    "GaugeSpec",
    "LayerMetrics",
    "ObservedASGI",
    "alert_rules",
    "bind_metrics",
    "bind_tracer",
    "client_span",
    "current_metrics",
    "current_tracer",
    "exporters_from_env",
    "inject_into",
    "layer_tracer",
    "metrics_handlers",
    "operation_of",
    "register_pending",
    "render_rules",
    "reset_tracer",
    "start_consumer_span",
    "trace_headers",
    "traced_handler",
    "tracing_to",
]
