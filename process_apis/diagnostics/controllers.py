"""Diagnostics of the process layer: relayed to the ERP and QMS system APIs."""

from __future__ import annotations

from process_apis.surfaces import QUALITY
from shared.diagnostics import Downstream, diagnostic_handlers

__all__ = ["route_handlers"]

route_handlers = diagnostic_handlers(
    layer="process",
    surface=QUALITY.name,
    prefix=QUALITY.prefix,
    tag="Diagnostics",
    read_scope="quality.read",
    write_scope="quality.write",
    downstream=Downstream(
        state_key="system",
        layer="system",
        whoami_path="/system/erp/v1/whoami",
        check_paths=("/system/erp/v1/connectivity-checks", "/system/qms/v1/connectivity-checks"),
    ),
)
