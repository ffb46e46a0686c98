"""The SAP S/4HANA connectors (OData v2) and their simulator.

``S4HanaErpConnector`` implements the ERP port over API_PLANT_SRV, API_PRODUCT_SRV,
API_BUSINESS_PARTNER, API_PURCHASEORDER_PROCESS_SRV, API_MATERIAL_DOCUMENT_SRV,
API_MATERIAL_STOCK_SRV, API_INSPECTIONLOT_SRV and API_QUALITYINFORECORD_SRV;
``S4HanaQmsConnector`` the QMS port's inspections, results and usage decisions over
API_INSPECTIONLOT_SRV (SAP QM). ``simulator_connector`` / ``simulator_qms_connector`` build them
over the in-process simulator (``QGATE_ERP=s4hana-sim``, ``QGATE_QMS=s4hana-sim``).
"""

from __future__ import annotations

import httpx

from shared.settings import S4HanaSettings
from system_apis.connectors.base import ErpCapability, QmsCapability
from system_apis.connectors.s4hana._client import S4HanaClient
from system_apis.connectors.s4hana._erp import S4HanaErpConnector
from system_apis.connectors.s4hana._notes import (
    BlockNote,
    BlockNotes,
    InspectionNote,
    InspectionNotes,
    MemoryBlockNotes,
    MemoryInspectionNotes,
    RedisBlockNotes,
    RedisInspectionNotes,
)
from system_apis.connectors.s4hana._qms import QMS_CAPABILITIES, S4HanaQmsConnector
from system_apis.connectors.s4hana.simulator import S4HanaSimulator, build_simulator
from system_apis.connectors.s4hana.simulator._seed import demo_block_notes

__all__ = [
    "QMS_CAPABILITIES",
    "SIMULATOR_URL",
    "BlockNote",
    "BlockNotes",
    "InspectionNote",
    "InspectionNotes",
    "MemoryBlockNotes",
    "MemoryInspectionNotes",
    "RedisBlockNotes",
    "RedisInspectionNotes",
    "S4HanaClient",
    "S4HanaErpConnector",
    "S4HanaQmsConnector",
    "S4HanaSimulator",
    "build_simulator",
    "simulator_connector",
    "simulator_qms_connector",
]

SIMULATOR_URL = "http://s4hana-sim"


def simulator_connector(
    settings: S4HanaSettings,
    simulator: S4HanaSimulator | None = None,
    *,
    capabilities: frozenset[ErpCapability] | None = None,
    notes: BlockNotes | None = None,
) -> S4HanaErpConnector:
    """A connector over ``simulator`` (a demo-seeded one by default), in-process; ``notes``
    default to qgate's notes of the demo's purchasing blocks, in memory."""
    app = simulator if simulator is not None else build_simulator(settings)
    return S4HanaErpConnector(
        _at_simulator(settings),
        transport=httpx.ASGITransport(app=app),
        capabilities=capabilities,
        notes=notes if notes is not None else MemoryBlockNotes(demo_block_notes()),
    )


def simulator_qms_connector(
    settings: S4HanaSettings,
    simulator: S4HanaSimulator | None = None,
    *,
    capabilities: frozenset[QmsCapability] | None = None,
    notes: InspectionNotes | None = None,
) -> S4HanaQmsConnector:
    """A QM connector over ``simulator`` (a demo-seeded one by default; pass the ERP
    connector's simulator so both see the same system), in-process."""
    app = simulator if simulator is not None else build_simulator(settings)
    return S4HanaQmsConnector(
        _at_simulator(settings),
        transport=httpx.ASGITransport(app=app),
        capabilities=capabilities,
        notes=notes,
    )


def _at_simulator(settings: S4HanaSettings) -> S4HanaSettings:
    return S4HanaSettings(
        **{
            **{f: getattr(settings, f) for f in settings.__struct_fields__},
            "base_url": SIMULATOR_URL,
        }
    )
