"""Canonical and wire Structs on one base class (frozen, keyword-only, camelCase on the wire).

- :mod:`~shared.models.erp` and :mod:`~shared.models.qms`: the canonical records;
- :mod:`~shared.models.commands`: the canonical commands (request bodies);
- :mod:`~shared.models.lifecycle`: the domain's state machines;
- constrained scalars (``Identifier``, ``Quantity``) and every enumeration.
"""

from shared.models._types import (
    ID_PATTERN,
    BlockedFunction,
    CapaStage,
    CapaType,
    CharacteristicValuation,
    Day,
    DispositionCode,
    Identifier,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    LotDisposition,
    MaterialDisposition,
    NonconformanceStatus,
    NonconformanceType,
    Quantity,
    Reason,
    Severity,
    ShortText,
    StockCategory,
    SupplierQualityEventKind,
    SupplierQualityStatusCode,
    Text,
    Timestamp,
    Version,
)
from shared.models.base import QgateStruct, RequestStruct, request_struct_names, struct_classes
from shared.models.records import ExternalRef, Page, Record

__all__ = [
    "ID_PATTERN",
    "BlockedFunction",
    "CapaStage",
    "CapaType",
    "CharacteristicValuation",
    "Day",
    "DispositionCode",
    "ExternalRef",
    "Identifier",
    "InspectionOrigin",
    "InspectionResult",
    "InspectionStatus",
    "LotDisposition",
    "MaterialDisposition",
    "NonconformanceStatus",
    "NonconformanceType",
    "Page",
    "QgateStruct",
    "Quantity",
    "Reason",
    "Record",
    "RequestStruct",
    "Severity",
    "ShortText",
    "StockCategory",
    "SupplierQualityEventKind",
    "SupplierQualityStatusCode",
    "Text",
    "Timestamp",
    "Version",
    "request_struct_names",
    "struct_classes",
]
