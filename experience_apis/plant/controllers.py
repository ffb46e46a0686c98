"""Plant app routes (``/plant/v1``), every one scoped to the token's plants."""

from __future__ import annotations

from litestar import Router
from litestar.types import ControllerRouterHandler

from experience_apis._api import process_dependency
from experience_apis.plant import _commands, _reads
from experience_apis.scoping import PLANT_SCOPE
from experience_apis.surfaces import PLANT
from shared.diagnostics import Downstream, diagnostic_handlers

__all__ = ["route_handlers"]

route_handlers: list[ControllerRouterHandler] = [
    Router(
        path=PLANT.prefix,
        route_handlers=[*_reads.handlers, *_commands.handlers],
        dependencies={"process": process_dependency, "tenancy": PLANT_SCOPE},
    ),
    *diagnostic_handlers(
        layer="experience",
        surface=PLANT.name,
        prefix=PLANT.prefix,
        tag="Diagnostics",
        read_scope="plant.read",
        write_scope="plant.write",
        downstream=Downstream(
            state_key="process",
            layer="process",
            whoami_path="/process/v1/whoami",
            check_paths=("/process/v1/connectivity-checks",),
        ),
    ),
]
