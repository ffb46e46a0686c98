"""Every connector call measured, traced, and guarded by a circuit breaker per backend.

:func:`instrument_erp` / :func:`instrument_qms` wrap a connector without changing its port: each
coroutine method becomes a call that

- is refused at once with the retryable :class:`~shared.errors.DownstreamUnavailable` while the
  backend's circuit is open (after ``failure_threshold`` consecutive retryable failures; one
  trial call is let through after ``open_seconds``, which closes it again on success);
- runs in a CLIENT span ``<backend> <operation>`` when tracing is on;
- is counted in ``qgate_connector_calls_total{backend, operation, outcome}`` and timed in
  ``qgate_connector_call_duration_seconds``; ``outcome`` is ``ok``, the problem slug of the
  error the connector raised (``not-found``, ``backend-rejected``, ``downstream-unavailable``,
  ``downstream-timeout``, ...), ``circuit-open``, or ``error`` for anything unexpected.

Only failures move the breaker (retryable errors, and anything the connector failed to
translate): a refusal or a missing record is the backend answering, so it counts as a success.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from shared.errors import DownstreamUnavailable, QgateError
from shared.observability import LayerMetrics, client_span
from shared.settings import CircuitSettings
from system_apis.connectors.base import ErpConnector, QmsConnector

__all__ = ["CircuitBreaker", "CircuitOpen", "CircuitState", "instrument_erp", "instrument_qms"]


class CircuitState(enum.StrEnum):
    CLOSED = "closed"
    HALF_OPEN = "half_open"
    OPEN = "open"


class CircuitOpen(DownstreamUnavailable):
    """503, retryable: the backend failed repeatedly and is not called until it cools down."""


class CircuitBreaker:
    """Consecutive-failure circuit breaker for one backend (one per process; each replica
    learns on its own, which needs no shared state and reacts within a few calls)."""

    def __init__(
        self,
        backend: str,
        *,
        failure_threshold: int,
        open_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        on_open: Callable[[], None] = lambda: None,
    ) -> None:
        self.backend = backend
        self._threshold = failure_threshold
        self._open_seconds = open_seconds
        self._clock = clock
        self._on_open = on_open
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    @property
    def state(self) -> CircuitState:
        if self._opened_at is None:
            return CircuitState.CLOSED
        if self._trial or self._clock() - self._opened_at >= self._open_seconds:
            return CircuitState.HALF_OPEN
        return CircuitState.OPEN

    def before(self) -> None:
        """Raise :class:`CircuitOpen` unless a call may go to the backend now."""
        state = self.state
        if state is CircuitState.CLOSED:
            return
        if state is CircuitState.HALF_OPEN and not self._trial:
            self._trial = True  # this call is the one trial; others wait for its outcome
            return
        raise CircuitOpen(
            f"{self.backend} failed {self._threshold} times in a row; not calling it for "
            f"{self._open_seconds:g} s"
        )

    def succeeded(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial = False

    def failed(self) -> None:
        self._failures += 1
        if self._trial or (self._opened_at is None and self._failures >= self._threshold):
            self._trial = False
            self._opened_at = self._clock()
            self._on_open()

    def released(self) -> None:
        """A trial call ended without telling whether the backend works (cancelled)."""
        self._trial = False


def _outcome(exc: BaseException) -> str:
    if isinstance(exc, CircuitOpen):
        return "circuit-open"
    if isinstance(exc, QgateError):
        return exc.slug
    return "error"


class _Instrumented:
    def __init__(
        self, inner: Any, *, metrics: LayerMetrics, breaker: CircuitBreaker | None
    ) -> None:
        self._inner = inner
        self._metrics = metrics
        self._breaker = breaker
        self._backend: str = inner.system

    @property
    def system(self) -> str:
        return self._backend

    @property
    def capabilities(self) -> Any:
        return self._inner.capabilities

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._inner, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(target):
            return target

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._call(name, target, args, kwargs)

        setattr(self, name, call)  # built once per method
        return call

    async def _call(
        self,
        operation: str,
        target: Callable[..., Awaitable[Any]],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Any:
        started = time.perf_counter()
        outcome = "ok"
        breaker = self._breaker
        try:
            if breaker is not None:
                breaker.before()
            attributes = {"qgate.backend": self._backend, "qgate.operation": operation}
            with client_span(f"{self._backend} {operation}", attributes):
                result = await target(*args, **kwargs)
        except asyncio.CancelledError:
            outcome = "cancelled"
            if breaker is not None:
                breaker.released()
            raise
        except BaseException as exc:
            outcome = _outcome(exc)
            if breaker is not None and outcome != "circuit-open":
                retryable = isinstance(exc, QgateError) and exc.retryable
                (breaker.failed if retryable or outcome == "error" else breaker.succeeded)()
            raise
        else:
            if breaker is not None:
                breaker.succeeded()
            return result
        finally:
            self._metrics.observe_connector_call(
                self._backend, operation, outcome, time.perf_counter() - started
            )


def _wrap(connector: Any, metrics: LayerMetrics, settings: CircuitSettings) -> _Instrumented:
    backend: str = connector.system
    if not settings.enabled:
        return _Instrumented(connector, metrics=metrics, breaker=None)
    breaker = CircuitBreaker(
        backend,
        failure_threshold=settings.failure_threshold,
        open_seconds=settings.open_seconds,
        on_open=metrics.circuit_opened.labels(backend=backend).inc,
    )
    metrics.track_circuit(backend, lambda: breaker.state.value)
    return _Instrumented(connector, metrics=metrics, breaker=breaker)


def instrument_erp(
    connector: ErpConnector, metrics: LayerMetrics, settings: CircuitSettings
) -> ErpConnector:
    """``connector`` measured, traced and behind a circuit breaker; same port."""
    return cast("ErpConnector", _wrap(connector, metrics, settings))


def instrument_qms(
    connector: QmsConnector, metrics: LayerMetrics, settings: CircuitSettings
) -> QmsConnector:
    """``connector`` measured, traced and behind a circuit breaker; same port."""
    return cast("QmsConnector", _wrap(connector, metrics, settings))
