"""The process layer's business figures that come from the event platform.

- ``qgate_dead_letters{stream}`` and ``qgate_consumer_lag{stream,group}``: read from the bus at
  each scrape (every replica sees the same streams when the bus is Redis);
- ``qgate_sync_sla_breaches_total{workflow,plant}``: counted by the ``sync-sla`` consumer group
  when a synchronisation completes later than its policy allows (see :data:`SLA_SUBSCRIPTIONS`);
- ``qgate_containment_time_seconds{plant}`` is observed by the containment saga itself, where a
  case becomes contained (:func:`observe_contained`).

The SLA is counted when the synchronisation completes, once per event (the consumer group
skips an event id it processed, whichever replica handles it): a synchronisation still waiting
is what ``qgate_dispositions_pending_oldest_age_seconds`` and its alert are for.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from process_apis.containment.models import ContainmentCase
from process_apis.dispositions.models import Disposition
from process_apis.dispositions.store import DispositionStore
from shared.events import (
    CONTAINMENT_CONTAINED,
    CONTAINMENT_STREAM,
    LOT_DISPOSITION_CHANGED,
    QUALITY_STREAM,
    CloudEvent,
    EventBus,
    EventSubscription,
    Handler,
)
from shared.observability import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    LayerMetrics,
    current_metrics,
)
from shared.settings import ObservabilitySettings

__all__ = [
    "CONTAINMENT_WORKFLOW",
    "DISPOSITION_WORKFLOW",
    "SLA_GROUP",
    "SLA_SUBSCRIPTIONS",
    "SyncSla",
    "disposition_sync_seconds",
    "observe_contained",
    "register_bus_gauges",
]

_log = logging.getLogger("qgate.process.metrics")

SLA_GROUP: Final = "sync-sla"
DISPOSITION_WORKFLOW: Final = "lot-disposition"
"""A lot disposition applied to QMS and ERP: from acceptance (or approval) to both confirmed."""
CONTAINMENT_WORKFLOW: Final = "containment"
"""A containment case: from the failed inspection to every step settled."""
_UNKNOWN_PLANT: Final = "unknown"


def register_bus_gauges(metrics: LayerMetrics, bus: EventBus) -> None:
    """``qgate_dead_letters{stream}`` and ``qgate_consumer_lag{stream,group}`` from the bus."""

    async def dead_letters() -> dict[tuple[str, ...], float]:
        return {(s.stream,): float(s.dead_letters) for s in await bus.streams()}

    async def lag() -> dict[tuple[str, ...], float]:
        # Not yet delivered, plus delivered and not acknowledged: the group's work left.
        return {(g.stream, g.group): float((g.lag or 0) + g.pending) for g in await bus.pending()}

    metrics.register_gauge(DEAD_LETTERS, dead_letters)
    metrics.register_gauge(CONSUMER_LAG, lag)


def observe_contained(case: ContainmentCase) -> None:
    """Record a case that has just become contained (time to containment, by the trigger's
    plant) in the current layer's metrics."""
    metrics = current_metrics()
    if metrics is None or case.time_to_containment_seconds is None:
        return
    metrics.containment_time.labels(plant=case.trigger.lot.plant_id).observe(
        case.time_to_containment_seconds
    )


def disposition_sync_seconds(disposition: Disposition) -> float | None:
    """How long QMS and ERP took to confirm it: from its approval (four eyes) or else its
    acceptance, to completion; None while it is not complete. Waiting for the approver is a
    person's time, not the synchronisation's."""
    if disposition.completed_at is None:
        return None
    started: datetime = (
        disposition.approval.decided_at if disposition.approval else disposition.created_at
    )
    return max((disposition.completed_at - started).total_seconds(), 0.0)


class SyncSla:
    """The ``sync-sla`` consumer: counts a breach per late synchronisation.

    - ``lot-disposition`` (``lot.disposition-changed``): QMS and ERP confirmed more than
      ``QGATE_OBSERVABILITY_PENDING_ERP_ALERT_SECONDS`` after the disposition was accepted (or
      approved), labelled with the lot's plant;
    - ``containment`` (``containment.contained``): contained more than
      ``QGATE_OBSERVABILITY_CONTAINMENT_ALERT_SECONDS`` after the failed inspection, labelled
      with each affected plant.
    """

    def __init__(
        self, policy: ObservabilitySettings, dispositions: DispositionStore, metrics: LayerMetrics
    ) -> None:
        self.policy = policy
        self.dispositions = dispositions
        self.metrics = metrics

    def _breach(self, workflow: str, plant: object) -> None:
        label = plant if isinstance(plant, str) and plant else _UNKNOWN_PLANT
        self.metrics.sync_sla_breaches.labels(workflow=workflow, plant=label).inc()

    async def on_event(self, event: CloudEvent) -> None:
        if event.type == LOT_DISPOSITION_CHANGED:
            await self._disposition(event)
        elif event.type == CONTAINMENT_CONTAINED:
            self._containment(event)

    async def _disposition(self, event: CloudEvent) -> None:
        disposition_id = event.data.get("dispositionId")
        if not isinstance(disposition_id, str):
            return
        # Raises while the store is down: the bus retries the event.
        found = await self.dispositions.get(disposition_id)
        if found is None:
            _log.warning("%s names an unknown disposition %s", event.id, disposition_id)
            return
        took = disposition_sync_seconds(found)
        if took is not None and took > self.policy.pending_erp_alert_seconds:
            self._breach(DISPOSITION_WORKFLOW, event.data.get("plantId"))

    def _containment(self, event: CloudEvent) -> None:
        took = event.data.get("timeToContainmentSeconds")
        if not isinstance(took, int | float) or took <= self.policy.containment_alert_seconds:
            return
        plants = event.data.get("plantIds")
        for plant in plants if isinstance(plants, list) and plants else [None]:
            self._breach(CONTAINMENT_WORKFLOW, plant)


def _sla(state: Mapping[str, Any]) -> Handler:
    settings = state["settings"]
    consumer = SyncSla(settings.observability, state["dispositions"].store, state["metrics"])
    return consumer.on_event


SLA_SUBSCRIPTIONS: Final = (
    EventSubscription(QUALITY_STREAM, SLA_GROUP, _sla),
    EventSubscription(CONTAINMENT_STREAM, SLA_GROUP, _sla),
)
"""The ``sync-sla`` consumers (with ``app.state``: ``settings``, ``dispositions``, ``metrics``)."""
