"""The ERP and QMS connectors, and the one place that picks them from the settings.

``QGATE_ERP`` / ``QGATE_QMS`` select the connector; ``reference`` (the default) is the bundled
in-process reference ERP / QMS seeded with demo data; ``s4hana`` SAP S/4HANA (``s4hana-sim`` its
bundled simulator, one for both ports); ``tryton`` a Tryton server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.settings import ErpKind, QmsKind, Settings, StoreKind
from system_apis.connectors.base import ErpConnector, QmsConnector

if TYPE_CHECKING:
    from system_apis.connectors.s4hana import S4HanaSimulator

__all__ = ["build_connectors", "build_erp_connector", "build_qms_connector"]


def build_connectors(
    settings: Settings, *, erp: ErpConnector | None = None, qms: QmsConnector | None = None
) -> tuple[ErpConnector, QmsConnector]:
    """The connectors not given, as the settings name them; with ``s4hana-sim`` for both
    ports, one simulator serves both (a goods receipt's inspection lot is the QMS's)."""
    simulator = None
    if (erp is None and settings.erp is ErpKind.S4HANA_SIM) or (
        qms is None and settings.qms is QmsKind.S4HANA_SIM
    ):
        from system_apis.connectors.s4hana import build_simulator  # noqa: PLC0415

        simulator = build_simulator(settings.s4hana)
    return (
        erp if erp is not None else build_erp_connector(settings, simulator),
        qms if qms is not None else build_qms_connector(settings, simulator),
    )


def build_erp_connector(
    settings: Settings, simulator: S4HanaSimulator | None = None
) -> ErpConnector:
    """The ERP connector the settings name (nothing connects until it is first used);
    ``simulator`` is the S/4HANA simulator to use with ``s4hana-sim``."""
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

        return simulator_connector(settings.s4hana, simulator)
    if settings.erp is ErpKind.TRYTON:
        from system_apis.connectors.tryton import TrytonErpConnector, client_for  # noqa: PLC0415

        return TrytonErpConnector(client_for(settings.tryton))
    raise NotImplementedError(settings.erp)  # pragma: no cover - the enum lists only these


def build_qms_connector(
    settings: Settings, simulator: S4HanaSimulator | None = None
) -> QmsConnector:
    """The QMS connector the settings name (nothing connects until it is first used);
    ``simulator`` is the S/4HANA simulator to use with ``s4hana-sim``."""
    if settings.qms is QmsKind.REFERENCE:
        from system_apis.connectors.reference import ReferenceQmsConnector  # noqa: PLC0415

        return ReferenceQmsConnector()
    if settings.qms is QmsKind.S4HANA:
        from system_apis.connectors.s4hana import (  # noqa: PLC0415
            MemoryInspectionNotes,
            RedisInspectionNotes,
            S4HanaQmsConnector,
        )

        # qgate's version count and decision details of inspection lots: shared by replicas
        # in Redis, as the purchasing-block notes are.
        shared_store = settings.store is StoreKind.REDIS
        notes = (
            RedisInspectionNotes.from_url(settings.redis_url)
            if shared_store
            else MemoryInspectionNotes()
        )
        return S4HanaQmsConnector(settings.s4hana, notes=notes)
    if settings.qms is QmsKind.S4HANA_SIM:
        from system_apis.connectors.s4hana import simulator_qms_connector  # noqa: PLC0415

        return simulator_qms_connector(settings.s4hana, simulator)
    if settings.qms is QmsKind.TRYTON:
        from system_apis.connectors.tryton import TrytonQmsConnector, client_for  # noqa: PLC0415

        return TrytonQmsConnector(client_for(settings.tryton))
    raise NotImplementedError(settings.qms)  # pragma: no cover - the enum lists only these
