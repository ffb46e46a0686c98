"""Supplier portal routes (``/partner/v1``)."""

from __future__ import annotations

from experience_apis.surfaces import PARTNER
from shared.diagnostics import Downstream, diagnostic_handlers

__all__ = ["route_handlers"]

route_handlers = diagnostic_handlers(
    layer="experience",
    surface=PARTNER.name,
    prefix=PARTNER.prefix,
    tag="Diagnostics",
    read_scope="partner.read",
    write_scope="partner.respond",
    downstream=Downstream(
        state_key="process",
        layer="process",
        whoami_path="/process/v1/whoami",
        check_paths=("/process/v1/connectivity-checks",),
    ),
)
