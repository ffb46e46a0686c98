"""``/partner/v1`` reads: the supplier's lots, inspections, nonconformances and scorecard."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, Response, get
from litestar.params import QueryParameter

from experience_apis._api import CONDITIONAL, NOT_MODIFIED, IfNoneMatch, Process, Scope, conditional
from experience_apis._views import read_list, read_one
from experience_apis.clients.models import SupplierQualityRead
from experience_apis.partner.schemas import (
    PartnerInspection,
    PartnerInspectionPage,
    PartnerLot,
    PartnerLotPage,
    PartnerNonconformance,
    PartnerNonconformancePage,
    Scorecard,
    Trend,
)
from shared.models import (
    InspectionResult,
    InspectionStatus,
    LotDisposition,
    NonconformanceStatus,
    Severity,
)
from shared.models.erp import Lot, LotPage
from shared.models.qms import Inspection, InspectionPage, Nonconformance, NonconformancePage
from shared.params import DEFAULT_PAGE_SIZE, Cursor, Limit, enum_query, id_query, path_id
from shared.platform import verified_principal
from shared.routes import DOWNSTREAM, PAGED, READ, problems, requires

__all__ = ["handlers"]

_READ: Final = requires("partner.read")
_LOTS: Final = "Lots"
_INSPECTIONS: Final = "Inspections"
_NCS: Final = "Nonconformances"
_SCORECARD: Final = "Scorecard"
_RECENT_DAYS: Final = 90
_TREND_TOLERANCE: Final = 0.10
"""A recent rate within 10 % of the window's is STABLE."""

PlantFilter = Annotated[str | None, id_query("plantId", "Only at this plant.")]
ItemFilter = Annotated[str | None, id_query("itemId", "Only of this item.")]
LotFilter = Annotated[str | None, id_query("lotId", "Only of this lot.")]


def _lot_owner(lot: Lot) -> tuple[str | None, str | None]:
    return lot.plant_id, lot.supplier_id


def _inspection_owner(inspection: Inspection) -> tuple[str | None, str | None]:
    return inspection.plant_id, inspection.supplier_id


def _nc_owner(nc: Nonconformance) -> tuple[str | None, str | None]:
    return nc.plant_id, nc.supplier_id


@get(
    "/lots",
    operation_id="listMyLots",
    summary="List my lots at the customer's plants and their disposition",
    tags=[_LOTS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, PAGED, DOWNSTREAM)},
    response_headers=CONDITIONAL,
)
async def list_my_lots(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    plant_id: PlantFilter = None,
    item_id: ItemFilter = None,
    disposition: Annotated[
        str | None, enum_query("disposition", LotDisposition, "Only in this disposition.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    if_none_match: IfNoneMatch = None,
) -> Response[PartnerLotPage]:
    items, following = await read_list(
        process,
        verified_principal(request),
        "/lots",
        LotPage,
        tenancy.queries(plant_id, itemId=item_id, disposition=disposition),
        cursor=cursor,
        limit=limit,
        view=PartnerLot.of,
    )
    return conditional(PartnerLotPage(items=items, next_cursor=following), if_none_match)


@get(
    "/lots/{lot_id:str}",
    operation_id="getMyLot",
    summary="Get one of my lots and its disposition",
    tags=[_LOTS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, DOWNSTREAM, 404)},
    response_headers=CONDITIONAL,
)
async def get_my_lot(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    lot_id: Annotated[str, path_id("The lot's id.")],
    if_none_match: IfNoneMatch = None,
) -> Response[PartnerLot]:
    lot = await read_one(
        process,
        verified_principal(request),
        tenancy,
        f"/lots/{lot_id}",
        Lot,
        owner=_lot_owner,
        missing=f"You have no lot {lot_id}.",
    )
    return conditional(PartnerLot.of(lot), if_none_match)


@get(
    "/inspections",
    operation_id="listMyInspections",
    summary="List inspections of my material (summaries)",
    tags=[_INSPECTIONS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, PAGED, DOWNSTREAM)},
    response_headers=CONDITIONAL,
)
async def list_my_inspections(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    lot_id: LotFilter = None,
    plant_id: PlantFilter = None,
    status: Annotated[
        str | None, enum_query("status", InspectionStatus, "Only in this status.")
    ] = None,
    result: Annotated[
        str | None, enum_query("result", InspectionResult, "Only with this overall result.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    if_none_match: IfNoneMatch = None,
) -> Response[PartnerInspectionPage]:
    items, following = await read_list(
        process,
        verified_principal(request),
        "/inspections",
        InspectionPage,
        tenancy.queries(plant_id, lotId=lot_id, status=status, result=result),
        cursor=cursor,
        limit=limit,
        view=PartnerInspection.of,
    )
    return conditional(PartnerInspectionPage(items=items, next_cursor=following), if_none_match)


@get(
    "/inspections/{inspection_id:str}",
    operation_id="getMyInspection",
    summary="Get the summary of an inspection of my material",
    tags=[_INSPECTIONS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, DOWNSTREAM, 404)},
    response_headers=CONDITIONAL,
)
async def get_my_inspection(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    inspection_id: Annotated[str, path_id("The inspection's id.")],
    if_none_match: IfNoneMatch = None,
) -> Response[PartnerInspection]:
    inspection = await read_one(
        process,
        verified_principal(request),
        tenancy,
        f"/inspections/{inspection_id}",
        Inspection,
        owner=_inspection_owner,
        missing=f"You have no inspection {inspection_id}.",
    )
    return conditional(PartnerInspection.of(inspection), if_none_match)


@get(
    "/nonconformances",
    operation_id="listMyNonconformances",
    summary="List nonconformances about my material",
    tags=[_NCS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, PAGED, DOWNSTREAM)},
    response_headers=CONDITIONAL,
)
async def list_my_nonconformances(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    status: Annotated[
        str | None, enum_query("status", NonconformanceStatus, "Only in this status.")
    ] = None,
    severity: Annotated[
        str | None, enum_query("severity", Severity, "Only of this severity.")
    ] = None,
    lot_id: LotFilter = None,
    plant_id: PlantFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    if_none_match: IfNoneMatch = None,
) -> Response[PartnerNonconformancePage]:
    items, following = await read_list(
        process,
        verified_principal(request),
        "/nonconformances",
        NonconformancePage,
        tenancy.queries(plant_id, status=status, severity=severity, lotId=lot_id),
        cursor=cursor,
        limit=limit,
        view=PartnerNonconformance.of,
    )
    return conditional(PartnerNonconformancePage(items=items, next_cursor=following), if_none_match)


@get(
    "/nonconformances/{nc_id:str}",
    operation_id="getMyNonconformance",
    summary="Get a nonconformance about my material",
    tags=[_NCS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, DOWNSTREAM, 404)},
    response_headers=CONDITIONAL,
)
async def get_my_nonconformance(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    nc_id: Annotated[str, path_id("The nonconformance's id.")],
    if_none_match: IfNoneMatch = None,
) -> Response[PartnerNonconformance]:
    nc = await read_one(
        process,
        verified_principal(request),
        tenancy,
        f"/nonconformances/{nc_id}",
        Nonconformance,
        owner=_nc_owner,
        missing=f"You have no nonconformance {nc_id}.",
    )
    return conditional(PartnerNonconformance.of(nc), if_none_match)


def _trend(window_ppm: float, recent_ppm: float) -> Trend:
    if recent_ppm > window_ppm * (1 + _TREND_TOLERANCE):
        return Trend.WORSENING
    if recent_ppm < window_ppm * (1 - _TREND_TOLERANCE):
        return Trend.IMPROVING
    return Trend.STABLE


@get(
    "/scorecard",
    operation_id="getMyScorecard",
    summary="My quality scorecard: rejection rate (ppm), trend, open cases, status",
    description=(
        "The rejection rate over `windowDays` (default 365) and over the last 90 days; the trend "
        "compares the two (within 10 %: STABLE)."
    ),
    tags=[_SCORECARD],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, DOWNSTREAM)},
    response_headers=CONDITIONAL,
)
async def get_my_scorecard(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    window_days: Annotated[
        int,
        QueryParameter(
            name="windowDays",
            description="Days of inspections the rejection rate covers.",
            ge=_RECENT_DAYS,
            le=3650,
        ),
    ] = 365,
    if_none_match: IfNoneMatch = None,
) -> Response[Scorecard]:
    principal = verified_principal(request)
    path = f"/suppliers/{tenancy.supplier_id}/quality-status"
    window = await process.get(
        path, SupplierQualityRead, principal, {"windowDays": str(window_days)}
    )
    recent = await process.get(
        path, SupplierQualityRead, principal, {"windowDays": str(_RECENT_DAYS)}
    )
    rate = window.rejection_rate
    scorecard = Scorecard(
        supplier_id=window.supplier_id,
        status=window.status,
        reasons=window.reasons,
        ppm=rate.ppm,
        window_days=rate.window_days,
        recent_ppm=recent.rejection_rate.ppm,
        recent_days=_RECENT_DAYS,
        trend=_trend(rate.ppm, recent.rejection_rate.ppm),
        inspections=rate.inspections,
        failed_inspections=rate.failed_inspections,
        open_nonconformances=len(window.open_nonconformances),
        open_critical_nonconformances=window.open_critical_nonconformances,
        open_capas=len(window.open_capas),
    )
    return conditional(scorecard, if_none_match)


handlers: Final = [
    list_my_lots,
    get_my_lot,
    list_my_inspections,
    get_my_inspection,
    list_my_nonconformances,
    get_my_nonconformance,
    get_my_scorecard,
]
