"""Plant app routes (``/plant/v1``)."""

from __future__ import annotations

from experience_apis.surfaces import PLANT
from shared.diagnostics import Downstream, diagnostic_handlers

__all__ = ["route_handlers"]

route_handlers = diagnostic_handlers(
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
)
