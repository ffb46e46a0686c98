"""QMS diagnostics: whoami and connectivity checks (see shared.diagnostics)."""

from __future__ import annotations

from shared.diagnostics import diagnostic_handlers
from system_apis.surfaces import QMS

__all__ = ["diagnostics"]

diagnostics = diagnostic_handlers(
    layer="system",
    surface=QMS.name,
    prefix=QMS.prefix,
    tag="Diagnostics",
    read_scope="qms.read",
    write_scope="qms.write",
)
