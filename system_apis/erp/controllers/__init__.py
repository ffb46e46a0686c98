"""ERP system API routes (``/system/erp/v1``): the canonical contract over the ERP connector."""

from __future__ import annotations

from typing import Final

from litestar import Router
from litestar.types import ControllerRouterHandler

from system_apis._api import CONNECTORS
from system_apis.erp.controllers._diagnostics import diagnostics
from system_apis.erp.controllers._lots import handlers as _lots
from system_apis.erp.controllers._master import handlers as _master
from system_apis.surfaces import ERP

__all__ = ["route_handlers"]

route_handlers: Final[list[ControllerRouterHandler]] = [
    Router(path=ERP.prefix, route_handlers=[*_master, *_lots], dependencies=CONNECTORS),
    *diagnostics,
]
