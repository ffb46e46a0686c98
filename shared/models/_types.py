"""Constrained scalar types and enumerations shared by every canonical Struct.

Identifiers are path-safe strings (they appear in URLs), quantities are bounded non-negative
numbers in the item's base unit of measure. Every enumeration is a ``StrEnum`` whose values are
the wire values.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Annotated, Final

import msgspec

__all__ = [
    "ID_PATTERN",
    "BlockedFunction",
    "CapaId",
    "CapaStage",
    "CapaType",
    "CharacteristicId",
    "CharacteristicValuation",
    "Day",
    "DispositionCode",
    "EventId",
    "Identifier",
    "InspectionId",
    "InspectionOrigin",
    "InspectionResult",
    "InspectionStatus",
    "ItemId",
    "LotDisposition",
    "LotId",
    "LotNumber",
    "MaterialDisposition",
    "NcId",
    "NonconformanceStatus",
    "NonconformanceType",
    "PlantId",
    "PurchaseOrderId",
    "Quantity",
    "Reason",
    "ReceiptId",
    "Reference",
    "Severity",
    "ShortText",
    "SpecId",
    "StockCategory",
    "SupplierId",
    "SupplierLotNumber",
    "SupplierQualityEventKind",
    "SupplierQualityStatusCode",
    "Text",
    "Timestamp",
    "UserId",
    "Version",
]

ID_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

_ID_RULE: Final = "1-64 letters, digits, `.`, `_` or `-`, starting alphanumeric."

Identifier = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="Identifier: " + _ID_RULE,
        examples=["ID-0001"],
    ),
]
LotId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A lot's id in qgate's canonical model. " + _ID_RULE,
        examples=["LOT-1000-0001"],
    ),
]
LotNumber = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="The ERP's batch number. " + _ID_RULE,
        examples=["B2026-0001"],
    ),
]
SupplierLotNumber = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="The supplier's own lot number. " + _ID_RULE,
        examples=["SL-88-1234"],
    ),
]
ItemId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="An item (material) id. " + _ID_RULE,
        examples=["BRG-6205"],
    ),
]
PlantId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A plant id. " + _ID_RULE,
        examples=["1000"],
    ),
]
SupplierId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A supplier id. " + _ID_RULE,
        examples=["SUP-0001"],
    ),
]
PurchaseOrderId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A purchase order id. " + _ID_RULE,
        examples=["PO-4500000110"],
    ),
]
ReceiptId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A goods receipt id. " + _ID_RULE,
        examples=["GR-000001"],
    ),
]
InspectionId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="An inspection id. " + _ID_RULE,
        examples=["INSP-000001"],
    ),
]
SpecId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A specification id. " + _ID_RULE,
        examples=["SPEC-BRG-6205"],
    ),
]
NcId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A nonconformance id. " + _ID_RULE,
        examples=["NC-000001"],
    ),
]
CapaId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A CAPA id. " + _ID_RULE,
        examples=["CAPA-000001"],
    ),
]
EventId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A supplier quality event id. " + _ID_RULE,
        examples=["SQE-000001"],
    ),
]
CharacteristicId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A characteristic id within a specification. " + _ID_RULE,
        examples=["BORE-DIA"],
    ),
]
UserId = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A user or client id. " + _ID_RULE,
        examples=["qa.lead"],
    ),
]
Reference = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="A reference to the record that caused this change. " + _ID_RULE,
        examples=["DISP-000001"],
    ),
]
Quantity = Annotated[
    float,
    msgspec.Meta(
        ge=0,
        le=1_000_000_000,
        description="Quantity in the item's base unit of measure (at most 3 decimals kept).",
        examples=[120.0],
    ),
]
Version = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        description="Record version; the `ETag` of the record is this number, quoted.",
        examples=[3],
    ),
]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Bore diameter"])]
Text = Annotated[str, msgspec.Meta(max_length=4000, examples=["Found during incoming inspection."])]
Reason = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=500,
        description="Why: required by the audit trail (21 CFR 11.10(e)).",
        examples=["Bore diameter above the upper limit on 3 of 5 samples"],
    ),
]
Timestamp = Annotated[datetime, msgspec.Meta(tz=True, examples=["2026-11-20T08:30:00Z"])]
Day = Annotated[date, msgspec.Meta(examples=["2027-06-30"])]


class StockCategory(enum.StrEnum):
    """Stock category (ISA-95 / OPC UA: Unrestricted, QualityInspection, Blocked)."""

    AVAILABLE = "AVAILABLE"
    QUALITY_INSPECTION = "QUALITY_INSPECTION"
    BLOCKED = "BLOCKED"
    RESTRICTED = "RESTRICTED"
    RETURNS = "RETURNS"


class LotDisposition(enum.StrEnum):
    QUARANTINE = "QUARANTINE"
    RELEASED = "RELEASED"
    RESTRICTED = "RESTRICTED"
    BLOCKED = "BLOCKED"
    REJECTED = "REJECTED"
    SCRAPPED = "SCRAPPED"
    RETURNED_TO_SUPPLIER = "RETURNED_TO_SUPPLIER"


class DispositionCode(enum.StrEnum):
    """A disposition decision (the verb); :data:`~shared.models.DECISION_TARGET` maps it."""

    RELEASE = "RELEASE"
    RESTRICT = "RESTRICT"
    BLOCK = "BLOCK"
    REJECT = "REJECT"
    QUARANTINE = "QUARANTINE"
    SCRAP = "SCRAP"
    RETURN_TO_SUPPLIER = "RETURN_TO_SUPPLIER"


class BlockedFunction(enum.StrEnum):
    RFQ = "RFQ"
    PURCHASE_ORDER = "PURCHASE_ORDER"
    GOODS_RECEIPT = "GOODS_RECEIPT"
    PAYMENT = "PAYMENT"


class SupplierQualityStatusCode(enum.StrEnum):
    APPROVED = "APPROVED"
    CONDITIONAL = "CONDITIONAL"
    PROBATION = "PROBATION"
    BLOCKED = "BLOCKED"
    DISQUALIFIED = "DISQUALIFIED"


class InspectionOrigin(enum.StrEnum):
    GOODS_RECEIPT = "GOODS_RECEIPT"
    PRODUCTION = "PRODUCTION"
    IN_PROCESS = "IN_PROCESS"
    STOCK = "STOCK"
    RETURN = "RETURN"
    OTHER = "OTHER"


class InspectionStatus(enum.StrEnum):
    CREATED = "CREATED"
    IN_PROGRESS = "IN_PROGRESS"
    RESULTS_RECORDED = "RESULTS_RECORDED"
    DECIDED = "DECIDED"
    CANCELLED = "CANCELLED"


class InspectionResult(enum.StrEnum):
    PENDING = "PENDING"
    PASS = "PASS"  # noqa: S105 - an inspection result, not a password
    FAIL = "FAIL"
    CONDITIONAL_PASS = "CONDITIONAL_PASS"  # noqa: S105 - a result, not a password


class CharacteristicValuation(enum.StrEnum):
    ACCEPT = "ACCEPT"
    REJECT = "REJECT"
    NOT_EVALUATED = "NOT_EVALUATED"


class NonconformanceType(enum.StrEnum):
    NONCONFORMANCE = "NONCONFORMANCE"
    DEVIATION = "DEVIATION"
    COMPLAINT = "COMPLAINT"
    AUDIT_FINDING = "AUDIT_FINDING"
    SUPPLIER_NC = "SUPPLIER_NC"


class NonconformanceStatus(enum.StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    IN_REVIEW = "IN_REVIEW"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"


class Severity(enum.StrEnum):
    CRITICAL = "CRITICAL"
    MAJOR = "MAJOR"
    MINOR = "MINOR"
    OBSERVATION = "OBSERVATION"


class MaterialDisposition(enum.StrEnum):
    USE_AS_IS = "USE_AS_IS"
    REWORK = "REWORK"
    REPAIR = "REPAIR"
    SCRAP = "SCRAP"
    RETURN_TO_VENDOR = "RETURN_TO_VENDOR"
    SORT_AND_SCREEN = "SORT_AND_SCREEN"


class CapaType(enum.StrEnum):
    CORRECTIVE = "CORRECTIVE"
    PREVENTIVE = "PREVENTIVE"
    SUPPLIER_CORRECTIVE = "SUPPLIER_CORRECTIVE"


class CapaStage(enum.StrEnum):
    """8D stages, in order."""

    D0 = "D0"
    D1 = "D1"
    D2 = "D2"
    D3 = "D3"
    D4 = "D4"
    D5 = "D5"
    D6 = "D6"
    D7 = "D7"
    D8 = "D8"


class SupplierQualityEventKind(enum.StrEnum):
    INSPECTION_FAILED = "INSPECTION_FAILED"
    INSPECTION_PASSED = "INSPECTION_PASSED"
    NONCONFORMANCE_OPENED = "NONCONFORMANCE_OPENED"
    NONCONFORMANCE_CLOSED = "NONCONFORMANCE_CLOSED"
    AUDIT_FINDING = "AUDIT_FINDING"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    STATUS_CHANGED = "STATUS_CHANGED"
