"""The domain's state machines (../shared/docs/DOMAIN.md), shared by connectors and processes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from shared.models._types import (
    CapaStage,
    DispositionCode,
    LotDisposition,
    NonconformanceStatus,
    StockCategory,
)

__all__ = [
    "DECISION_TARGET",
    "DEFAULT_CATEGORY",
    "DISPOSITION_TRANSITIONS",
    "FINAL_DISPOSITIONS",
    "NC_TRANSITIONS",
    "next_stage",
]

_D = LotDisposition

DISPOSITION_TRANSITIONS: Final[Mapping[LotDisposition, frozenset[LotDisposition]]] = {
    _D.QUARANTINE: frozenset({_D.RELEASED, _D.RESTRICTED, _D.BLOCKED, _D.REJECTED}),
    _D.RESTRICTED: frozenset({_D.RELEASED, _D.BLOCKED, _D.REJECTED}),
    _D.RELEASED: frozenset({_D.BLOCKED, _D.QUARANTINE}),
    # BLOCKED -> RELEASED needs a USE_AS_IS nonconformance and a second person (process layer).
    _D.BLOCKED: frozenset({_D.RELEASED, _D.QUARANTINE, _D.REJECTED}),
    _D.REJECTED: frozenset({_D.SCRAPPED, _D.RETURNED_TO_SUPPLIER, _D.QUARANTINE}),
    _D.SCRAPPED: frozenset(),
    _D.RETURNED_TO_SUPPLIER: frozenset(),
}
"""Allowed lot disposition transitions; every one needs a reason."""

FINAL_DISPOSITIONS: Final = frozenset({_D.SCRAPPED, _D.RETURNED_TO_SUPPLIER})

DECISION_TARGET: Final[Mapping[DispositionCode, LotDisposition]] = {
    DispositionCode.RELEASE: _D.RELEASED,
    DispositionCode.RESTRICT: _D.RESTRICTED,
    DispositionCode.BLOCK: _D.BLOCKED,
    DispositionCode.REJECT: _D.REJECTED,
    DispositionCode.QUARANTINE: _D.QUARANTINE,
    DispositionCode.SCRAP: _D.SCRAPPED,
    DispositionCode.RETURN_TO_SUPPLIER: _D.RETURNED_TO_SUPPLIER,
}
"""The lot disposition a decision leads to."""

DEFAULT_CATEGORY: Final[Mapping[LotDisposition, StockCategory | None]] = {
    _D.QUARANTINE: StockCategory.QUALITY_INSPECTION,
    _D.RELEASED: StockCategory.AVAILABLE,
    _D.RESTRICTED: StockCategory.RESTRICTED,
    _D.BLOCKED: StockCategory.BLOCKED,
    _D.REJECTED: StockCategory.BLOCKED,
    _D.SCRAPPED: None,  # the stock leaves the books
    _D.RETURNED_TO_SUPPLIER: StockCategory.RETURNS,
}
"""Where a lot's stock goes when a disposition names no quantities (None: written off)."""

_S = NonconformanceStatus
NC_TRANSITIONS: Final[Mapping[NonconformanceStatus, frozenset[NonconformanceStatus]]] = {
    _S.OPEN: frozenset({_S.IN_PROGRESS, _S.CANCELLED}),
    _S.IN_PROGRESS: frozenset({_S.IN_REVIEW, _S.CANCELLED}),
    _S.IN_REVIEW: frozenset({_S.CLOSED, _S.IN_PROGRESS}),
    _S.CLOSED: frozenset(),
    _S.CANCELLED: frozenset(),
}
"""Allowed nonconformance (and CAPA) status transitions; closing needs a material disposition."""

_STAGES: Final = list(CapaStage)


def next_stage(stage: CapaStage) -> CapaStage | None:
    """The 8D stage after ``stage`` (None after D8)."""
    index = _STAGES.index(stage)
    return _STAGES[index + 1] if index + 1 < len(_STAGES) else None
