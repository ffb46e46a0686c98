"""QMS system API routes (``/system/qms/v1``): the canonical contract over the QMS connector."""

from __future__ import annotations

from typing import Final

from litestar import Router
from litestar.types import ControllerRouterHandler

from system_apis._api import CONNECTORS
from system_apis.qms.controllers._diagnostics import diagnostics
from system_apis.qms.controllers._inspections import handlers as _inspections
from system_apis.qms.controllers._quality import handlers as _quality
from system_apis.surfaces import QMS

__all__ = ["route_handlers"]

route_handlers: Final[list[ControllerRouterHandler]] = [
    Router(path=QMS.prefix, route_handlers=[*_inspections, *_quality], dependencies=CONNECTORS),
    *diagnostics,
]
