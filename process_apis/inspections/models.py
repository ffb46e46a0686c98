"""Wire types of inspection on goods receipt and of recording results."""

from __future__ import annotations

from process_apis.dispositions.models import Disposition
from shared.models import DispositionCode, QgateStruct, RequestStruct
from shared.models._types import ReceiptId, SpecId
from shared.models.qms import Inspection
from shared.settings import ResultPolicy

__all__ = ["InspectionRequestCreate", "InspectionRequestResult", "ResultsOutcome"]


class InspectionRequestCreate(RequestStruct, frozen=True, kw_only=True):
    """Inspect what a goods receipt brought in."""

    goods_receipt_id: ReceiptId
    spec_id: SpecId | None = None
    """Inspect against this specification instead of the item's current one."""


class InspectionRequestResult(QgateStruct, frozen=True, kw_only=True):
    inspection: Inspection
    """The QMS inspection (one per goods receipt: a repeat request returns the same one)."""
    quarantine: Disposition | None = None
    """The disposition that moved the lot to QUARANTINE (QUALITY_INSPECTION stock), when it was
    not there yet."""


class ResultsOutcome(QgateStruct, frozen=True, kw_only=True):
    inspection: Inspection
    """The inspection with every result valuated and its overall result."""
    proposed_decision: DispositionCode | None = None
    """What the overall result suggests (PASS: RELEASE, CONDITIONAL_PASS: RESTRICT, FAIL:
    BLOCK); none until every characteristic has a result."""
    policy: ResultPolicy
    """``propose``: a person requests the disposition; ``apply``: requested here."""
    disposition: Disposition | None = None
    """The disposition requested under the ``apply`` policy."""
    disposition_problem: str | None = None
    """Why the ``apply`` policy could not request it (the results are recorded regardless)."""
