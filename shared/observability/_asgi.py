"""The per-request wrapper of every layer: a server span and the request metrics."""

from __future__ import annotations

import time
from contextvars import ContextVar, Token
from typing import Any

from opentelemetry.trace import Tracer

from shared.asgitypes import ASGIApp, Message, Receive, Scope, Send
from shared.correlation import TRACE_SCOPE_KEY
from shared.observability._metrics import LayerMetrics
from shared.observability._tracing import (
    bind_tracer,
    end_server_span,
    release_span,
    reset_tracer,
    server_span_context,
    start_server_span,
    use_span,
)

__all__ = ["ObservedASGI", "bind_metrics", "current_metrics", "operation_of"]

_metrics: ContextVar[LayerMetrics | None] = ContextVar("qgate_metrics", default=None)
UNMATCHED = "unmatched"


def current_metrics() -> LayerMetrics | None:
    """The metrics of the layer handling the current request (or running this worker)."""
    return _metrics.get()


def bind_metrics(metrics: LayerMetrics | None) -> Token[LayerMetrics | None]:
    return _metrics.set(metrics)


def operation_of(handler: Any) -> str:
    """The route's operation id (every qgate route declares one), else its handler's name."""
    if handler is None:
        return UNMATCHED
    operation = getattr(handler, "operation_id", None)
    if isinstance(operation, str) and operation:
        return operation
    return str(getattr(handler, "handler_name", UNMATCHED))


class ObservedASGI:
    """Wraps a layer app (outside :class:`~shared.correlation.CorrelationASGI`): times and
    counts each request by operation and status, and, when tracing is on, runs it inside a
    SERVER span whose ids the correlation wrapper then logs and returns."""

    def __init__(
        self, app: ASGIApp, *, layer: str, metrics: LayerMetrics, tracer: Tracer | None
    ) -> None:
        self.app = app
        self.layer = layer
        self.metrics = metrics
        self.tracer = tracer
        # Probes and scrapes arrive every few seconds: a trace each would drown the real ones.
        self.untraced = frozenset(
            {"/health/live", "/health/ready", "/metrics", f"/{layer}/metrics"}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics_token = _metrics.set(self.metrics)
        tracer_token = bind_tracer(self.tracer)
        span = None
        span_token = None
        if self.tracer is not None and scope["path"] not in self.untraced:
            span = start_server_span(self.tracer, scope, self.layer)
            scope[TRACE_SCOPE_KEY] = server_span_context(span)
            span_token = use_span(span)
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        except BaseException as exc:
            if span is not None:
                span.record_exception(exc)
            raise
        finally:
            handler = scope.get("route_handler")
            operation = operation_of(handler)
            method = str(scope.get("method", ""))
            self.metrics.observe_request(operation, method, status, time.perf_counter() - started)
            if span is not None and span_token is not None:
                route = scope.get("path_template") if handler is not None else None
                end_server_span(
                    span,
                    method=method,
                    route=route if isinstance(route, str) else None,
                    operation=operation,
                    status=status,
                )
                release_span(span_token)
            reset_tracer(tracer_token)
            _metrics.reset(metrics_token)
