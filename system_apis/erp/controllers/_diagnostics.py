"""ERP diagnostics: whoami and connectivity checks (see shared.diagnostics)."""

from __future__ import annotations

from shared.diagnostics import diagnostic_handlers
from system_apis.surfaces import ERP

__all__ = ["diagnostics"]

diagnostics = diagnostic_handlers(
    layer="system",
    surface=ERP.name,
    prefix=ERP.prefix,
    tag="Diagnostics",
    read_scope="erp.read",
    write_scope="erp.write",
)
