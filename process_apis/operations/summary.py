"""``GET /process/v1/ops/summary``: the figures an operator looks at first, in one answer
(pending dispositions, dead letters and consumer groups per stream, open containment cases);
what the operations console shows at its top."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

import msgspec
from litestar import get

from process_apis._api import Bus, Containments, Dispositions
from process_apis.containment.models import CaseStatus
from process_apis.dispositions.models import ACTIVE, DispositionStatus
from process_apis.operations.models import GroupView, StreamView
from shared.auth import OPERATIONS_SCOPE
from shared.models import QgateStruct, Timestamp
from shared.routes import READ, problems, requires

__all__ = [
    "OVERVIEW_TAG",
    "ContainmentFigure",
    "DispositionFigure",
    "OperationsSummary",
    "summary_handlers",
]

OVERVIEW_TAG: Final = "Overview"
_Count = Annotated[int, msgspec.Meta(ge=0)]
_Seconds = Annotated[float, msgspec.Meta(ge=0)]
_OPEN_CASES: Final = (CaseStatus.CONTAINING, CaseStatus.ATTENTION, CaseStatus.CONTAINED)
_PAGE: Final = 200


class DispositionFigure(QgateStruct, frozen=True, kw_only=True):
    """Dispositions waiting in one status."""

    status: DispositionStatus
    count: _Count
    oldest_age_seconds: _Seconds
    """Age of the oldest one (0 when none waits)."""


class ContainmentFigure(QgateStruct, frozen=True, kw_only=True):
    """Containment cases in one status that is not CLOSED."""

    status: CaseStatus
    count: _Count


class OperationsSummary(QgateStruct, frozen=True, kw_only=True):
    """Where qgate stands: what waits for a system, an event consumer or an operator."""

    dispositions: list[DispositionFigure]
    """PENDING_APPROVAL, PENDING_ERP and PENDING_QMS."""
    streams: list[StreamView]
    """Each stream's length and dead letters."""
    groups: list[GroupView]
    """Each consumer group's pending work and lag."""
    containments: list[ContainmentFigure]
    """CONTAINING, ATTENTION (a step waits for an operator) and CONTAINED (not closed yet)."""
    generated_at: Timestamp


@get(
    "/summary",
    operation_id="getOperationsSummary",
    summary="The figures to look at first: pending dispositions, dead letters, consumer lag, "
    "open containment cases",
    description=(
        "Read from the stores every replica shares, as `/metrics` does: pending dispositions "
        "by status with the oldest one's age, each stream's length and dead letters, each "
        "consumer group's pending events and lag, and containment cases by open status."
    ),
    tags=[OVERVIEW_TAG],
    security=requires(OPERATIONS_SCOPE),
    responses=problems(READ),
)
async def get_operations_summary(
    bus: Bus, dispositions: Dispositions, containments: Containments
) -> OperationsSummary:
    now = datetime.now(UTC)
    store = dispositions.store
    figures = []
    for status in sorted(ACTIVE):
        oldest = await store.oldest(status)
        age = 0.0 if oldest is None else max((now - oldest.created_at).total_seconds(), 0.0)
        figures.append(
            DispositionFigure(
                status=status, count=await store.count(status), oldest_age_seconds=age
            )
        )
    cases = []
    for case_status in _OPEN_CASES:
        count, after = 0, None
        while True:
            page = await containments.store.find(status=case_status, after=after, limit=_PAGE)
            count += len(page)
            if len(page) < _PAGE:
                break
            after = page[-1].containment_id
        cases.append(ContainmentFigure(status=case_status, count=count))
    return OperationsSummary(
        dispositions=figures,
        streams=[StreamView.of(s) for s in await bus.streams()],
        groups=[GroupView.of(g) for g in await bus.pending()],
        containments=cases,
        generated_at=now,
    )


summary_handlers: Final = [get_operations_summary]
