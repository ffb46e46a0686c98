"""What the process layer's routes share: the services in ``app.state`` as dependencies."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide

from process_apis.clients.system import SystemClient
from process_apis.dispositions.service import DispositionService
from process_apis.inspections.service import InspectionService
from process_apis.suppliers.service import SupplierQualityService
from shared.audit import AuditTrail

__all__ = [
    "LOCATION",
    "SERVICES",
    "Audit",
    "Dispositions",
    "Inspections",
    "Suppliers",
    "System",
]


def _state(key: str) -> Provide:
    def provide(request: Request[Any, Any, Any]) -> Any:
        return request.app.state[key]

    return Provide(provide, sync_to_thread=False)


SERVICES: Final = {
    "dispositions": _state("dispositions"),
    "system": _state("system_client"),
    "audit": _state("audit"),
    "inspections": _state("inspections"),
    "suppliers": _state("suppliers"),
}
"""Dependencies for handlers: ``dispositions``, ``inspections``, ``suppliers``, ``system``,
``audit``."""

Dispositions = NamedDependency[DispositionService]
Inspections = NamedDependency[InspectionService]
Suppliers = NamedDependency[SupplierQualityService]
System = NamedDependency[SystemClient]
Audit = NamedDependency[AuditTrail]

LOCATION: Final = ResponseHeader(
    name="Location",
    description="Where the resource can be read (poll it while it is pending).",
    documentation_only=True,
    required=True,
)
