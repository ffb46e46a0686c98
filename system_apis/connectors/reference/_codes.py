"""The reference systems' own status codes, kept in ``sourceStatus`` next to the canonical value.

They play the part of a vendor's codes (SAP's ``QI`` stock, ``UD`` usage decision), so clients
and tests see that the canonical value and the source system's value are different things.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from shared.models import (
    CapaStage,
    InspectionStatus,
    LotDisposition,
    NonconformanceStatus,
    SupplierQualityStatusCode,
)
from shared.models.erp import PurchaseOrderLine

__all__ = [
    "INSPECTION_CODES",
    "LOT_CODES",
    "NC_CODES",
    "SUPPLIER_STATUS_CODES",
    "capa_code",
    "po_code",
    "supplier_code",
]

LOT_CODES: Final[Mapping[LotDisposition, str]] = {
    LotDisposition.QUARANTINE: "QI",
    LotDisposition.RELEASED: "UNRESTRICTED",
    LotDisposition.RESTRICTED: "RESTRICTED",
    LotDisposition.BLOCKED: "BLOCKED",
    LotDisposition.REJECTED: "REJECTED",
    LotDisposition.SCRAPPED: "SCRAPPED",
    LotDisposition.RETURNED_TO_SUPPLIER: "RETURNED",
}

INSPECTION_CODES: Final[Mapping[InspectionStatus, str]] = {
    InspectionStatus.CREATED: "CRTD",
    InspectionStatus.IN_PROGRESS: "INSP",
    InspectionStatus.RESULTS_RECORDED: "RREC",
    InspectionStatus.DECIDED: "UD",
    InspectionStatus.CANCELLED: "CNCL",
}

NC_CODES: Final[Mapping[NonconformanceStatus, str]] = {
    NonconformanceStatus.OPEN: "OSNO",
    NonconformanceStatus.IN_PROGRESS: "NOPR",
    NonconformanceStatus.IN_REVIEW: "REVW",
    NonconformanceStatus.CLOSED: "NOCO",
    NonconformanceStatus.CANCELLED: "DLFL",
}


def supplier_code(*, blocked: bool) -> str:
    return "PURCH_BLOCKED" if blocked else "ACTIVE"


def po_code(lines: Sequence[PurchaseOrderLine]) -> str:
    if not any(line.received_quantity for line in lines):
        return "OPEN"
    done = all(line.received_quantity >= line.quantity for line in lines)
    return "RECEIVED" if done else "PARTIALLY_RECEIVED"


SUPPLIER_STATUS_CODES: Final[Mapping[SupplierQualityStatusCode, str]] = {
    SupplierQualityStatusCode.APPROVED: "REL",
    SupplierQualityStatusCode.CONDITIONAL: "COND",
    SupplierQualityStatusCode.PROBATION: "PROB",
    SupplierQualityStatusCode.BLOCKED: "BLKD",
    SupplierQualityStatusCode.DISQUALIFIED: "DISQ",
}


def capa_code(status: NonconformanceStatus, stage: CapaStage) -> str:
    return f"{NC_CODES[status]}/{stage.value}"
