"""The Tryton connectors: a real ERP (stock, lots, purchasing) and its quality module as QMS.

Over Tryton's JSON-RPC (``_rpc``). What maps where, and what Tryton cannot do, is described in
``_locations`` (dispositions are stock locations), ``_inspections`` and ``_alerts`` (the quality
module), ``_notes`` (what Tryton has no field for) and the connectors' capability sets.
"""

from shared.settings import TrytonSettings
from system_apis.connectors.tryton._demo import create_database, seed
from system_apis.connectors.tryton._erp import ERP_CAPABILITIES, TrytonErpConnector
from system_apis.connectors.tryton._init_demo import init_demo, trytond_env
from system_apis.connectors.tryton._qms import QMS_CAPABILITIES, TrytonQmsConnector
from system_apis.connectors.tryton._rpc import TrytonClient, TrytonSession

__all__ = [
    "ERP_CAPABILITIES",
    "QMS_CAPABILITIES",
    "TrytonClient",
    "TrytonErpConnector",
    "TrytonQmsConnector",
    "TrytonSession",
    "client_for",
    "create_database",
    "init_demo",
    "seed",
    "trytond_env",
]


def client_for(settings: TrytonSettings) -> TrytonClient:
    """A client of the configured Tryton database (each connector gets its own)."""
    return TrytonClient(
        url=settings.url,
        database=settings.database,
        login=settings.login,
        password=settings.password,
        company=settings.company,
        timeout_seconds=settings.timeout_seconds,
        acknowledge=settings.acknowledge_warnings,
    )
