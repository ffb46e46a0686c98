"""The ERP and QMS connectors, and the one place that picks them from the settings.

``QGATE_ERP`` / ``QGATE_QMS`` select the connector; ``reference`` (the default) is the bundled
in-process reference ERP / QMS seeded with demo data; ``tryton`` a Tryton server.
"""

from __future__ import annotations

from shared.settings import ErpKind, QmsKind, Settings, StoreKind
from system_apis.connectors.base import ErpConnector, QmsConnector

__all__ = ["build_erp_connector", "build_qms_connector"]


def build_erp_connector(settings: Settings) -> ErpConnector:
    """The ERP connector the settings name (nothing connects until it is first used)."""
    if settings.erp is ErpKind.REFERENCE:
        from system_apis.connectors.reference import ReferenceErpConnector  # noqa: PLC0415

        return ReferenceErpConnector()
    if settings.erp is ErpKind.S4HANA:
        from system_apis.connectors.s4hana import (  # noqa: PLC0415
            MemoryBlockNotes,
            RedisBlockNotes,
            S4HanaErpConnector,
        )

        # Purchasing-block notes live in qgate (SAP has no writable field for them): in Redis
        # when replicas share state, so every system-layer replica reads the same ones.
        shared_store = settings.store is StoreKind.REDIS
        notes = RedisBlockNotes.from_url(settings.redis_url) if shared_store else MemoryBlockNotes()
        return S4HanaErpConnector(settings.s4hana, notes=notes)
    if settings.erp is ErpKind.S4HANA_SIM:
        from system_apis.connectors.s4hana import simulator_connector  # noqa: PLC0415

        return simulator_connector(settings.s4hana)
    if settings.erp is ErpKind.TRYTON:
        from system_apis.connectors.tryton import TrytonErpConnector, client_for  # noqa: PLC0415

        return TrytonErpConnector(client_for(settings.tryton))
    raise NotImplementedError(settings.erp)  # pragma: no cover - the enum lists only these


def build_qms_connector(settings: Settings) -> QmsConnector:
    """The QMS connector the settings name (nothing connects until it is first used)."""
    if settings.qms is QmsKind.REFERENCE:
        from system_apis.connectors.reference import ReferenceQmsConnector  # noqa: PLC0415

        return ReferenceQmsConnector()
    if settings.qms is QmsKind.TRYTON:
        from system_apis.connectors.tryton import TrytonQmsConnector, client_for  # noqa: PLC0415

        return TrytonQmsConnector(client_for(settings.tryton))
    raise NotImplementedError(settings.qms)  # pragma: no cover - the enum lists only these
