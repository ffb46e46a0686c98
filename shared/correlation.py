"""Correlation: W3C ``traceparent`` and ``X-Correlation-ID`` accepted or created on every request.

The ids live in context variables for the duration of a request, so every log line (see
:mod:`shared.logs`), every outgoing inter-layer call (see :mod:`shared.http`) and every problem
response carries them without being passed around. :class:`CorrelationASGI` wraps a whole
Litestar app (outside its exception handling), so even a 404 for an unknown route or a 500 is
answered with the ids.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Final, cast

from shared.asgitypes import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CORRELATION_HEADER",
    "TRACEPARENT_HEADER",
    "TRACE_SCOPE_KEY",
    "CorrelationASGI",
    "TraceContext",
    "bind_caller",
    "bind_operation",
    "bound_ids",
    "current_client_id",
    "current_correlation_id",
    "current_layer",
    "current_operation",
    "current_traceparent",
    "outgoing_headers",
    "request_header",
]

CORRELATION_HEADER: Final = "X-Correlation-ID"
TRACEPARENT_HEADER: Final = "traceparent"
TRACE_SCOPE_KEY: Final = "qgate.trace"
"""ASGI scope key where a tracing wrapper puts the request's own span (a :class:`TraceContext`),
so the ids logged and returned are the span's rather than made up here."""

_CORRELATION_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_TRACEPARENT_RE = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

_correlation_id: ContextVar[str | None] = ContextVar("qgate_correlation_id", default=None)
_traceparent: ContextVar[str | None] = ContextVar("qgate_traceparent", default=None)
_layer: ContextVar[str | None] = ContextVar("qgate_layer", default=None)
_client_id: ContextVar[str | None] = ContextVar("qgate_client_id", default=None)
_operation: ContextVar[str | None] = ContextVar("qgate_operation", default=None)
_access_log = logging.getLogger("qgate.access")


class TraceContext:
    """Parse or create a W3C trace context; each hop gets a new span id in the same trace."""

    __slots__ = ("flags", "span_id", "trace_id")

    def __init__(self, trace_id: str, span_id: str, flags: str = "01") -> None:
        self.trace_id = trace_id
        self.span_id = span_id
        self.flags = flags

    @classmethod
    def parse(cls, value: str | None) -> TraceContext | None:
        if not value:
            return None
        match = _TRACEPARENT_RE.match(value.strip())
        if match is None:
            return None
        trace_id, span_id, flags = match.groups()
        if trace_id == "0" * 32 or span_id == "0" * 16:
            return None
        return cls(trace_id, span_id, flags)

    @classmethod
    def new(cls) -> TraceContext:
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    def child(self) -> TraceContext:
        return TraceContext(self.trace_id, secrets.token_hex(8), self.flags)

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def current_correlation_id() -> str | None:
    """The correlation id of the request being handled, if any."""
    return _correlation_id.get()


def current_traceparent() -> str | None:
    return _traceparent.get()


def current_layer() -> str | None:
    """The layer handling the current request (several share a process when all-in-one)."""
    return _layer.get()


def current_client_id() -> str | None:
    """The authenticated client of the request being handled, once the pipeline verified it."""
    return _client_id.get()


def current_operation() -> str | None:
    """The operation id of the route handling the current request."""
    return _operation.get()


def bind_caller(client_id: str | None) -> None:
    """Record the verified client for the rest of the request (the pipeline calls it)."""
    _client_id.set(client_id)


def bind_operation(operation: str | None) -> None:
    """Record the operation for the rest of the request (the pipeline calls it)."""
    _operation.set(operation)


@contextlib.contextmanager
def bound_ids(*, correlation_id: str | None, traceparent: str | None) -> Iterator[None]:
    """Bind ids for work outside an HTTP request (an event being handled): a new correlation id
    when ``correlation_id`` is None or malformed, a new trace when ``traceparent`` is."""
    valid = correlation_id if correlation_id and _CORRELATION_RE.match(correlation_id) else None
    trace = TraceContext.parse(traceparent) or TraceContext.new()
    tokens = (
        _correlation_id.set(valid or str(uuid.uuid4())),
        _traceparent.set(trace.header()),
        _client_id.set(None),
        _operation.set(None),
    )
    try:
        yield
    finally:
        _operation.reset(tokens[3])
        _client_id.reset(tokens[2])
        _traceparent.reset(tokens[1])
        _correlation_id.reset(tokens[0])


def outgoing_headers() -> dict[str, str]:
    """Headers to put on every call made while handling the current request."""
    headers: dict[str, str] = {}
    correlation_id = _correlation_id.get()
    if correlation_id:
        headers[CORRELATION_HEADER] = correlation_id
    parent = TraceContext.parse(_traceparent.get())
    if parent is not None:
        headers[TRACEPARENT_HEADER] = parent.child().header()
    return headers


def request_header(scope: Mapping[str, object], name: bytes) -> str | None:
    """The first value of header ``name`` (lower-case bytes) in an ASGI scope."""
    headers = cast("Iterable[tuple[bytes, bytes]]", scope.get("headers", ()))
    for key, value in headers:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


class CorrelationASGI:
    """ASGI wrapper: binds the ids for the request, returns them on every response, and writes
    one access log line per request (method, path, status, duration, client)."""

    def __init__(self, app: ASGIApp, *, layer: str) -> None:
        self.app = app
        self.layer = layer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = request_header(scope, b"x-correlation-id")
        correlation_id = (
            incoming if incoming and _CORRELATION_RE.match(incoming) else str(uuid.uuid4())
        )
        own = scope.get(TRACE_SCOPE_KEY)
        if isinstance(own, TraceContext):
            trace = own
        else:
            parent = TraceContext.parse(request_header(scope, b"traceparent"))
            trace = parent.child() if parent is not None else TraceContext.new()
        traceparent = trace.header()
        cid_token = _correlation_id.set(correlation_id)
        tp_token = _traceparent.set(traceparent)
        layer_token = _layer.set(self.layer)
        client_token = _client_id.set(None)
        operation_token = _operation.set(None)
        started = time.perf_counter()
        status = 500
        extra = [
            (b"x-correlation-id", correlation_id.encode("latin-1")),
            (b"traceparent", traceparent.encode("latin-1")),
        ]

        async def send_with_ids(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v)
                    for k, v in message.get("headers", ())
                    if k.lower() not in (b"x-correlation-id", b"traceparent")
                ]
                message["headers"] = [*headers, *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_ids)
        finally:
            user = scope.get("user")
            _access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "qgate": {
                        "event": "request",
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "durationMs": round((time.perf_counter() - started) * 1000, 3),
                        "clientId": getattr(user, "client_id", None),
                    }
                },
            )
            _operation.reset(operation_token)
            _client_id.reset(client_token)
            _correlation_id.reset(cid_token)
            _traceparent.reset(tp_token)
            _layer.reset(layer_token)
