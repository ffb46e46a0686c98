"""ERP system API routes (``/system/erp/v1``)."""

from __future__ import annotations

from shared.diagnostics import diagnostic_handlers
from system_apis.surfaces import ERP

__all__ = ["route_handlers"]

route_handlers = diagnostic_handlers(
    layer="system",
    surface=ERP.name,
    prefix=ERP.prefix,
    tag="Diagnostics",
    read_scope="erp.read",
    write_scope="erp.write",
)
