"""What the process layer's routes share: the services in ``app.state`` as dependencies."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide

from process_apis.clients.system import SystemClient
from process_apis.containment.consumers import SUBSCRIPTIONS as CONTAINMENT_SUBSCRIPTIONS
from process_apis.containment.service import ContainmentService
from process_apis.dispositions.service import DispositionService
from process_apis.holds.service import HoldService
from process_apis.inspections.service import InspectionService
from process_apis.metrics import SLA_SUBSCRIPTIONS
from process_apis.suppliers.service import SupplierQualityService
from process_apis.webhooks.service import WebhookService
from shared.audit import AuditTrail
from shared.events import EventBus, EventSubscription

__all__ = [
    "LOCATION",
    "SERVICES",
    "SUBSCRIPTIONS",
    "Audit",
    "Bus",
    "Containments",
    "Dispositions",
    "Holds",
    "Inspections",
    "Suppliers",
    "System",
    "Webhooks",
]


def _state(key: str) -> Provide:
    def provide(request: Request[Any, Any, Any]) -> Any:
        return request.app.state[key]

    return Provide(provide, sync_to_thread=False)


SERVICES: Final = {
    "dispositions": _state("dispositions"),
    "system": _state("system_client"),
    "audit": _state("audit"),
    "bus": _state("bus"),
    "inspections": _state("inspections"),
    "suppliers": _state("suppliers"),
    "containments": _state("containments"),
    "holds": _state("holds"),
    "webhooks": _state("webhooks"),
}
"""Dependencies for handlers: ``dispositions``, ``inspections``, ``suppliers``, ``system``,
``audit``, ``containments``, ``holds``, ``webhooks``."""

Dispositions = NamedDependency[DispositionService]
Inspections = NamedDependency[InspectionService]
Suppliers = NamedDependency[SupplierQualityService]
System = NamedDependency[SystemClient]
Audit = NamedDependency[AuditTrail]
Bus = NamedDependency[EventBus]
Containments = NamedDependency[ContainmentService]
Holds = NamedDependency[HoldService]
Webhooks = NamedDependency[WebhookService]

LOCATION: Final = ResponseHeader(
    name="Location",
    description="Where the resource can be read (poll it while it is pending).",
    documentation_only=True,
    required=True,
)

SUBSCRIPTIONS: Final[tuple[EventSubscription, ...]] = (
    *CONTAINMENT_SUBSCRIPTIONS,
    *SLA_SUBSCRIPTIONS,
)
"""The event consumers every process replica runs: ``EventSubscription(stream, group,
handler)``, where ``handler`` builds the handler from the layer's services (``app.state``:
``dispositions``, ``inspections``, ``bus``, ``settings``, ``metrics``, ...).
``create_app(subscriptions=...)`` replaces them (tests)."""
