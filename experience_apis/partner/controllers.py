"""Supplier portal routes (``/partner/v1``), every one scoped to the token's supplier."""

from __future__ import annotations

from litestar import Router
from litestar.types import ControllerRouterHandler

from experience_apis._api import process_dependency
from experience_apis.partner import _cases, _reads
from experience_apis.scoping import PARTNER_SCOPE
from experience_apis.surfaces import PARTNER
from shared.diagnostics import Downstream, diagnostic_handlers

__all__ = ["route_handlers"]

route_handlers: list[ControllerRouterHandler] = [
    Router(
        path=PARTNER.prefix,
        route_handlers=[*_reads.handlers, *_cases.handlers],
        dependencies={"process": process_dependency, "tenancy": PARTNER_SCOPE},
    ),
    *diagnostic_handlers(
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
    ),
]
