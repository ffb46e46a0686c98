"""``/plant/v1`` reads: lots, held inventory, inspections, dispositions and a lot's timeline."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any, Final

from litestar import Request, Response, get
from litestar.params import ParameterKwarg

from experience_apis._api import CONDITIONAL, NOT_MODIFIED, IfNoneMatch, Process, Scope, conditional
from experience_apis._views import read_list, read_one
from experience_apis.clients.models import AuditPageRead, DispositionRead
from experience_apis.clients.process import ProcessClient
from experience_apis.plant.schemas import (
    HeldGroup,
    HeldInventory,
    HeldItem,
    PlantDisposition,
    PlantInspection,
    PlantInspectionPage,
    PlantLot,
    PlantLotPage,
    Timeline,
    TimelineEntry,
)
from experience_apis.scoping import Tenancy
from shared.auth import Principal
from shared.errors import NotFound
from shared.models import InspectionResult, InspectionStatus, LotDisposition
from shared.models.erp import Lot, LotPage
from shared.models.qms import Inspection, InspectionPage
from shared.params import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Cursor,
    Limit,
    as_flag,
    enum_query,
    flag_query,
    id_query,
    path_id,
)
from shared.platform import verified_principal
from shared.routes import DOWNSTREAM, PAGED, READ, problems, requires

__all__ = ["InspectionPath", "LotPath", "handlers", "inspection_of_mine", "lot_of_mine"]

_READ: Final = requires("plant.read")
_LOTS: Final = "Lots"
_INSPECTIONS: Final = "Inspections"
_DISPOSITIONS: Final = "Dispositions"
_HELD: Final = (LotDisposition.QUARANTINE, LotDisposition.BLOCKED)
_PENDING: Final = (
    InspectionStatus.CREATED,
    InspectionStatus.IN_PROGRESS,
    InspectionStatus.RESULTS_RECORDED,
)
_SUMMARY_PAGES: Final = 25
"""The held-inventory summary reads at most this many pages (x 200 lots) per plant and
disposition, so one request stays bounded."""

PlantFilter = Annotated[str | None, id_query("plantId", "Only at this plant (one of mine).")]
ItemFilter = Annotated[str | None, id_query("itemId", "Only of this item.")]
SupplierFilter = Annotated[str | None, id_query("supplierId", "Only from this supplier.")]
LotPath = Annotated[str, path_id("The lot's id.")]
InspectionPath = Annotated[str, path_id("The inspection's id.")]
DispositionPath = Annotated[
    str,
    ParameterKwarg(
        description="The disposition's id (from `Location`).",
        pattern=r"^DSP-[0-9A-F]{20}$",
        min_length=24,
        max_length=24,
    ),
]


def _lot_owner(lot: Lot) -> tuple[str | None, str | None]:
    return lot.plant_id, lot.supplier_id


def _inspection_owner(inspection: Inspection) -> tuple[str | None, str | None]:
    return inspection.plant_id, inspection.supplier_id


async def lot_of_mine(
    process: ProcessClient, principal: Principal, tenancy: Tenancy, lot_id: str
) -> Lot:
    """The lot if it is at one of the caller's plants, else 404."""
    return await read_one(
        process,
        principal,
        tenancy,
        f"/lots/{lot_id}",
        Lot,
        owner=_lot_owner,
        missing=f"No lot {lot_id} at your plants.",
    )


async def inspection_of_mine(
    process: ProcessClient, principal: Principal, tenancy: Tenancy, inspection_id: str
) -> Inspection:
    """The inspection if it is at one of the caller's plants, else 404."""
    return await read_one(
        process,
        principal,
        tenancy,
        f"/inspections/{inspection_id}",
        Inspection,
        owner=_inspection_owner,
        missing=f"No inspection {inspection_id} at your plants.",
    )


@get(
    "/lots",
    operation_id="listPlantLots",
    summary="List lots at my plants by disposition",
    tags=[_LOTS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, PAGED, DOWNSTREAM)},
    response_headers=CONDITIONAL,
)
async def list_plant_lots(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    plant_id: PlantFilter = None,
    disposition: Annotated[
        str | None, enum_query("disposition", LotDisposition, "Only in this disposition.")
    ] = None,
    item_id: ItemFilter = None,
    supplier_id: SupplierFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    if_none_match: IfNoneMatch = None,
) -> Response[PlantLotPage]:
    items, following = await read_list(
        process,
        verified_principal(request),
        "/lots",
        LotPage,
        tenancy.queries(plant_id, disposition=disposition, itemId=item_id, supplierId=supplier_id),
        cursor=cursor,
        limit=limit,
        view=PlantLot.of,
    )
    return conditional(PlantLotPage(items=items, next_cursor=following), if_none_match)


@get(
    "/lots/{lot_id:str}",
    operation_id="getPlantLot",
    summary="Get a lot at my plants",
    tags=[_LOTS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, DOWNSTREAM, 404)},
    response_headers=CONDITIONAL,
)
async def get_plant_lot(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    lot_id: LotPath,
    if_none_match: IfNoneMatch = None,
) -> Response[PlantLot]:
    lot = await lot_of_mine(process, verified_principal(request), tenancy, lot_id)
    return conditional(PlantLot.of(lot), if_none_match)


@get(
    "/held-inventory",
    operation_id="getHeldInventory",
    summary="Blocked and quarantined inventory at my plants, by plant, disposition and item",
    tags=[_LOTS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, DOWNSTREAM)},
    response_headers=CONDITIONAL,
)
async def get_held_inventory(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    plant_id: PlantFilter = None,
    if_none_match: IfNoneMatch = None,
) -> Response[HeldInventory]:
    principal = verified_principal(request)
    groups: list[HeldGroup] = []
    complete = True
    for disposition in _HELD:
        for query in tenancy.queries(plant_id, disposition=disposition.value):
            items: dict[tuple[str, str], list[float]] = defaultdict(list)
            cursor: str | None = None
            for _ in range(_SUMMARY_PAGES):
                params: dict[str, str | None] = {
                    **query,
                    "cursor": cursor,
                    "limit": str(MAX_PAGE_SIZE),
                }
                page = await process.get("/lots", LotPage, principal, params)
                for lot in page.items:
                    items[(lot.item_id, lot.uom)].append(lot.total_quantity)
                cursor = page.next_cursor
                if not cursor:
                    break
            complete = complete and cursor is None
            groups.append(
                HeldGroup(
                    plant_id=query["plantId"],
                    disposition=disposition,
                    lots=sum(len(quantities) for quantities in items.values()),
                    items=[
                        HeldItem(item_id=item, uom=uom, lots=len(q), quantity=sum(q))
                        for (item, uom), q in sorted(items.items())
                    ],
                )
            )
    groups.sort(key=lambda group: (group.plant_id, group.disposition))
    return conditional(HeldInventory(groups=groups, complete=complete), if_none_match)


@get(
    "/inspections",
    operation_id="listPlantInspections",
    summary="List inspections at my plants (`pending=true`: those awaiting results or decision)",
    tags=[_INSPECTIONS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, PAGED, DOWNSTREAM)},
    response_headers=CONDITIONAL,
)
async def list_plant_inspections(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    plant_id: PlantFilter = None,
    pending: Annotated[
        str | None,
        flag_query("pending", "Only CREATED, IN_PROGRESS and RESULTS_RECORDED (work to do)."),
    ] = None,
    status: Annotated[
        str | None, enum_query("status", InspectionStatus, "Only in this status.")
    ] = None,
    result: Annotated[
        str | None, enum_query("result", InspectionResult, "Only with this overall result.")
    ] = None,
    lot_id: Annotated[str | None, id_query("lotId", "Only of this lot.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    if_none_match: IfNoneMatch = None,
) -> Response[PlantInspectionPage]:
    statuses: list[str | None] = [status]
    if as_flag(pending):
        statuses = [s.value for s in _PENDING if status is None or s.value == status]
    queries = [
        query
        for one in statuses
        for query in tenancy.queries(plant_id, status=one, result=result, lotId=lot_id)
    ]
    items, following = await read_list(
        process,
        verified_principal(request),
        "/inspections",
        InspectionPage,
        queries,
        cursor=cursor,
        limit=limit,
        view=PlantInspection.of,
    )
    return conditional(PlantInspectionPage(items=items, next_cursor=following), if_none_match)


@get(
    "/inspections/{inspection_id:str}",
    operation_id="getPlantInspection",
    summary="Get an inspection at my plants, with its results and decision",
    tags=[_INSPECTIONS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, DOWNSTREAM, 404)},
    response_headers=CONDITIONAL,
)
async def get_plant_inspection(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    inspection_id: InspectionPath,
    if_none_match: IfNoneMatch = None,
) -> Response[PlantInspection]:
    inspection = await inspection_of_mine(
        process, verified_principal(request), tenancy, inspection_id
    )
    return conditional(PlantInspection.of(inspection), if_none_match)


@get(
    "/dispositions/{disposition_id:str}",
    operation_id="getPlantDisposition",
    summary="Follow a disposition requested for a lot at my plants",
    tags=[_DISPOSITIONS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, DOWNSTREAM, 404)},
    response_headers=CONDITIONAL,
)
async def get_plant_disposition(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    disposition_id: DispositionPath,
    if_none_match: IfNoneMatch = None,
) -> Response[PlantDisposition]:
    principal = verified_principal(request)
    missing = f"No disposition {disposition_id} at your plants."
    try:
        disposition = await process.get(
            f"/lot-dispositions/{disposition_id}", DispositionRead, principal
        )
    except NotFound:
        raise NotFound(missing) from None
    # A disposition is about a lot: it is the caller's when the lot is at one of its plants.
    await read_one(
        process,
        principal,
        tenancy,
        f"/lots/{disposition.lot_id}",
        Lot,
        owner=_lot_owner,
        missing=missing,
    )
    return conditional(PlantDisposition.of(disposition), if_none_match)


@get(
    "/lots/{lot_id:str}/timeline",
    operation_id="getLotTimeline",
    summary="A lot's timeline from the audit trail: who changed it, when, why, from what to what",
    tags=[_LOTS],
    security=_READ,
    responses={**NOT_MODIFIED, **problems(READ, PAGED, DOWNSTREAM, 404)},
    response_headers=CONDITIONAL,
)
async def get_lot_timeline(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    lot_id: LotPath,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    if_none_match: IfNoneMatch = None,
) -> Response[Timeline]:
    principal = verified_principal(request)
    await lot_of_mine(process, principal, tenancy, lot_id)
    page = await process.get(
        "/audit",
        AuditPageRead,
        principal,
        {
            "entityType": "Lot",
            "entityId": lot_id,
            "cursor": cursor,
            "limit": str(limit),
        },
    )
    timeline = Timeline(
        lot_id=lot_id,
        items=[TimelineEntry.of(record) for record in page.items],
        next_cursor=page.next_cursor,
    )
    return conditional(timeline, if_none_match)


handlers: Final = [
    list_plant_lots,
    get_plant_lot,
    get_held_inventory,
    list_plant_inspections,
    get_plant_inspection,
    get_plant_disposition,
    get_lot_timeline,
]
