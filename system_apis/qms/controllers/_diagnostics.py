"""QMS system API routes (``/system/qms/v1``)."""

from __future__ import annotations

from shared.diagnostics import diagnostic_handlers
from system_apis.surfaces import QMS

__all__ = ["route_handlers"]

route_handlers = diagnostic_handlers(
    layer="system",
    surface=QMS.name,
    prefix=QMS.prefix,
    tag="Diagnostics",
    read_scope="qms.read",
    write_scope="qms.write",
)
