"""The event consumers of the containment saga and the webhooks, for the layer's bus.

- ``quality`` / ``containment-saga``: ``inspection.completed`` with result FAIL of a goods
  receipt opens a containment case (:meth:`ContainmentService.on_event`);
- ``quality`` and ``containment`` / ``webhooks``: every event, to the webhook subscribers that
  want its type (:meth:`WebhookService.on_event`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from process_apis.containment.service import ContainmentService
from process_apis.webhooks.service import WebhookService
from shared.events import CONTAINMENT_STREAM, QUALITY_STREAM, EventSubscription, Handler

__all__ = ["SAGA_GROUP", "SUBSCRIPTIONS", "WEBHOOKS_GROUP"]

SAGA_GROUP: Final = "containment-saga"
WEBHOOKS_GROUP: Final = "webhooks"


def _saga(state: Mapping[str, Any]) -> Handler:
    service: ContainmentService = state["containments"]
    return service.on_event


def _webhooks(state: Mapping[str, Any]) -> Handler:
    service: WebhookService = state["webhooks"]
    return service.on_event


SUBSCRIPTIONS: Final = (
    EventSubscription(QUALITY_STREAM, SAGA_GROUP, _saga),
    EventSubscription(QUALITY_STREAM, WEBHOOKS_GROUP, _webhooks),
    EventSubscription(CONTAINMENT_STREAM, WEBHOOKS_GROUP, _webhooks),
)
"""The consumers to subscribe on the process layer's bus (with ``app.state``)."""
