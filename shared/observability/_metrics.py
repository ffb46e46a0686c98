"""One layer's metrics: its own registry, the platform's figures, and scrape-time callbacks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from typing import Final, NamedTuple

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = [
    "CIRCUIT_STATES",
    "CONSUMER_LAG",
    "DEAD_LETTERS",
    "DISPOSITIONS_PENDING",
    "DISPOSITIONS_PENDING_OLDEST_AGE",
    "GaugeCallback",
    "GaugeSpec",
    "LayerMetrics",
]

_log = logging.getLogger("qgate.metrics")

GaugeCallback = Callable[[], Awaitable[Mapping[tuple[str, ...], float]]]
"""Evaluated at scrape time: label values (in the order the gauge declares) -> value."""

_LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Containment is measured in minutes to hours: from the trigger to every affected lot held.
_CONTAINMENT_BUCKETS: Final = (
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    86400.0,
)
_CALLBACK_TIMEOUT_SECONDS: Final = 2.0

CIRCUIT_STATES: Final = {"closed": 0, "half_open": 1, "open": 2}
"""The values of ``qgate_connector_circuit_state``."""


class GaugeSpec(NamedTuple):
    """A gauge whose value is computed when Prometheus scrapes (see
    :meth:`LayerMetrics.register_gauge`)."""

    name: str
    help: str
    labels: tuple[str, ...]


DISPOSITIONS_PENDING: Final = GaugeSpec(
    "qgate_dispositions_pending",
    "Lot dispositions accepted but not yet confirmed, by status (PENDING_ERP, PENDING_QMS, "
    "PENDING_APPROVAL)",
    ("status",),
)
DISPOSITIONS_PENDING_OLDEST_AGE: Final = GaugeSpec(
    "qgate_dispositions_pending_oldest_age_seconds",
    "Age of the oldest disposition in each pending status (0 when there is none)",
    ("status",),
)
DEAD_LETTERS: Final = GaugeSpec(
    "qgate_dead_letters", "Events in the dead-letter stream, per stream", ("stream",)
)
CONSUMER_LAG: Final = GaugeSpec(
    "qgate_consumer_lag",
    "Events of a stream not yet delivered to (or acknowledged by) a consumer group",
    ("stream", "group"),
)


class _Callbacks(Collector):
    """Gauges whose values come from async callbacks, refreshed right before each scrape."""

    def __init__(self, errors: Counter) -> None:
        self._specs: dict[str, tuple[GaugeSpec, GaugeCallback]] = {}
        self._values: dict[str, Mapping[tuple[str, ...], float]] = {}
        self._errors = errors

    def add(self, spec: GaugeSpec, callback: GaugeCallback) -> None:
        if spec.name in self._specs:
            raise ValueError(f"a gauge callback named {spec.name} is registered already")
        self._specs[spec.name] = (spec, callback)

    async def refresh(self) -> None:
        async def one(spec: GaugeSpec, callback: GaugeCallback) -> None:
            try:
                async with asyncio.timeout(_CALLBACK_TIMEOUT_SECONDS):
                    self._values[spec.name] = dict(await callback())
            except Exception as exc:
                # A series that cannot be computed disappears (stale beats wrong) and the
                # failure is itself a figure to alert on.
                self._values.pop(spec.name, None)
                self._errors.labels(metric=spec.name).inc()
                _log.warning("metric %s could not be computed: %s", spec.name, type(exc).__name__)

        await asyncio.gather(*(one(spec, fn) for spec, fn in self._specs.values()))

    def collect(self) -> Iterator[Metric]:
        for name, (spec, _) in sorted(self._specs.items()):
            family = GaugeMetricFamily(name, spec.help, labels=spec.labels)
            for labels, value in sorted(self._values.get(name, {}).items()):
                family.add_metric(list(labels), float(value))
            yield family


class _Circuits(Collector):
    """``qgate_connector_circuit_state``: each breaker's state, read when scraped."""

    def __init__(self) -> None:
        self._states: dict[str, Callable[[], str]] = {}

    def add(self, backend: str, state: Callable[[], str]) -> None:
        self._states[backend] = state

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily(
            "qgate_connector_circuit_state",
            "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open",
            labels=("backend",),
        )
        for backend, state in sorted(self._states.items()):
            family.add_metric([backend], CIRCUIT_STATES[state()])
        yield family


class _WithLayer(Collector):
    """The layer's registry, every sample labelled ``layer``: one Prometheus job scraping the
    three layers (or the all-in-one's three paths) keeps their series apart."""

    def __init__(self, registry: CollectorRegistry, layer: str) -> None:
        self._registry = registry
        self._layer = layer

    def collect(self) -> Iterable[Metric]:
        for family in self._registry.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            # ``_created`` series (a counter's creation time) double the exposition for no
            # alert anyone writes; prometheus_client only offers a process-wide switch.
            labelled.samples = [
                sample._replace(labels={"layer": self._layer, **sample.labels})
                for sample in family.samples
                if not sample.name.endswith("_created")
            ]
            yield labelled


class LayerMetrics:
    """Every figure one layer app exposes, in a registry of its own.

    One registry per app (not prometheus_client's global one): the all-in-one process builds
    three layers, and tests build many apps, each of which must count only its own requests
    (the global registry would also refuse a second metric of the same name). The ``layer``
    label is added when the registry is rendered (:meth:`render`), so handlers and services
    never pass it.

    Figures other features update directly: :attr:`containment_time` (``plant``),
    :attr:`sync_sla_breaches` (``workflow``, ``plant``). Figures computed from a store when
    scraped: :meth:`register_gauge` with :data:`DEAD_LETTERS`, :data:`CONSUMER_LAG`, or a
    :class:`GaugeSpec` of their own.
    """

    def __init__(self, layer: str) -> None:
        self.layer = layer
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "qgate_http_requests",
            "HTTP requests answered, by operation (the route's operation id) and status",
            ("operation", "method", "status"),
            registry=r,
        )
        self.request_duration = Histogram(
            "qgate_http_request_duration_seconds",
            "Time to answer an HTTP request, by operation and status",
            ("operation", "status"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.connector_calls = Counter(
            "qgate_connector_calls",
            "Calls to a system of record through its connector, by outcome",
            ("backend", "operation", "outcome"),
            registry=r,
        )
        self.connector_duration = Histogram(
            "qgate_connector_call_duration_seconds",
            "Time of a connector call, by backend, operation and outcome",
            ("backend", "operation", "outcome"),
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.circuit_opened = Counter(
            "qgate_connector_circuit_opened",
            "Times a backend's circuit breaker opened",
            ("backend",),
            registry=r,
        )
        self.idempotent_replays = Counter(
            "qgate_idempotent_replays",
            "Responses replayed for a repeated Idempotency-Key, by operation",
            ("operation",),
            registry=r,
        )
        self.rate_limit_rejections = Counter(
            "qgate_rate_limit_rejections",
            "Requests refused with 429, by client id ('anonymous' before authentication)",
            ("client",),
            registry=r,
        )
        self.containment_time = Histogram(
            "qgate_containment_time_seconds",
            "Time from a containment trigger to every affected lot held, by plant",
            ("plant",),
            buckets=_CONTAINMENT_BUCKETS,
            registry=r,
        )
        self.sync_sla_breaches = Counter(
            "qgate_sync_sla_breaches",
            "ERP/QMS synchronisations that missed their SLA, by workflow and plant",
            ("workflow", "plant"),
            registry=r,
        )
        callback_errors = Counter(
            "qgate_metric_callback_errors",
            "Scrape-time figures that could not be computed (their series is left out)",
            ("metric",),
            registry=r,
        )
        self._callbacks = _Callbacks(callback_errors)
        self._circuits = _Circuits()
        r.register(self._callbacks)
        r.register(self._circuits)
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._exposed = CollectorRegistry(auto_describe=False)
        self._exposed.register(_WithLayer(r, layer))

    def register_gauge(self, spec: GaugeSpec, callback: GaugeCallback) -> None:
        """Compute ``spec``'s series with ``callback`` at every scrape (bounded by a timeout; a
        failure leaves the series out and counts ``qgate_metric_callback_errors_total``)."""
        self._callbacks.add(spec, callback)

    def register_gauge_callback(
        self, name: str, help: str, labels: Sequence[str], callback: GaugeCallback
    ) -> None:
        """:meth:`register_gauge` without a :class:`GaugeSpec`."""
        self.register_gauge(GaugeSpec(name, help, tuple(labels)), callback)

    def track_circuit(self, backend: str, state: Callable[[], str]) -> None:
        """Export ``state()`` (a key of :data:`CIRCUIT_STATES`) as the backend's circuit state."""
        self._circuits.add(backend, state)

    def observe_request(
        self, operation: str, method: str, status: int, duration_seconds: float
    ) -> None:
        # On every request: the labelled children are looked up once per combination (a
        # ``labels()`` call costs a few microseconds).
        key = (operation, method, status)
        children = self._request_children.get(key)
        if children is None:
            code = str(status)
            children = (
                self.requests.labels(operation=operation, method=method, status=code),
                self.request_duration.labels(operation=operation, status=code),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(duration_seconds)

    def observe_connector_call(
        self, backend: str, operation: str, outcome: str, duration_seconds: float
    ) -> None:
        self.connector_calls.labels(backend=backend, operation=operation, outcome=outcome).inc()
        self.connector_duration.labels(
            backend=backend, operation=operation, outcome=outcome
        ).observe(duration_seconds)

    async def render(self) -> bytes:
        """The Prometheus text exposition, scrape-time gauges refreshed first."""
        await self._callbacks.refresh()
        return generate_latest(self._exposed)
