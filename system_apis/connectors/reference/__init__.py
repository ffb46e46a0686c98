"""The bundled reference ERP and QMS: in-process, seeded with deterministic demo data.

They are the embedded default connectors and the reference behaviour the conformance suite
(``tests/contract/conformance``) pins down for every other connector. ``ErpDataset()`` and
``QmsDataset()`` are empty datasets; :func:`build_demo` gives the demo's.
"""

from system_apis.connectors.reference._dataset import ErpDataset, QmsDataset
from system_apis.connectors.reference._erp import ReferenceErpConnector
from system_apis.connectors.reference._qms import ReferenceQmsConnector
from system_apis.connectors.reference._stock import ALLOWED_CATEGORIES, ISSUABLE
from system_apis.connectors.reference.demo import BASE_TIME, build_demo, demo_lot_ids

__all__ = [
    "ALLOWED_CATEGORIES",
    "BASE_TIME",
    "ISSUABLE",
    "ErpDataset",
    "QmsDataset",
    "ReferenceErpConnector",
    "ReferenceQmsConnector",
    "build_demo",
    "demo_lot_ids",
]
