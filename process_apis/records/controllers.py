"""``/process/v1/lots``, ``/inspections`` and ``/nonconformances``: quality records to read.

The experience layer reads ERP and QMS records only through the process layer (a layer calls
the layer directly below it). These routes pass the system layer's canonical records and its
cursors through unchanged, with the same filters, so a view above can scope them by plant or
supplier and page through them.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, get

from process_apis._api import System
from process_apis.clients.system import ERP, QMS
from shared.delegation import chain_for
from shared.errors import NotFound
from shared.models import (
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    LotDisposition,
    NonconformanceStatus,
    NonconformanceType,
    Severity,
)
from shared.models.erp import Lot, LotPage
from shared.models.qms import InspectionPage, Nonconformance, NonconformancePage
from shared.params import DEFAULT_PAGE_SIZE, Cursor, Limit, enum_query, id_query, path_id
from shared.platform import verified_principal
from shared.routes import DOWNSTREAM, PAGED, READ, problems, requires

__all__ = ["handlers"]

_LOTS: Final = "Lots"
_INSPECTIONS: Final = "Inspections"
_NCS: Final = "Nonconformances"

PlantFilter = Annotated[str | None, id_query("plantId", "Only at this plant.")]
SupplierFilter = Annotated[str | None, id_query("supplierId", "Only of this supplier.")]
ItemFilter = Annotated[str | None, id_query("itemId", "Only of this item.")]
LotFilter = Annotated[str | None, id_query("lotId", "Only of this lot.")]


def _page_params(cursor: str | None, limit: int, **filters: str | None) -> dict[str, str | None]:
    return {**filters, "cursor": cursor, "limit": str(limit)}


@get(
    "/lots",
    operation_id="listLots",
    summary="List lots (ERP) with their disposition and stock, filtered",
    tags=[_LOTS],
    security=requires("quality.read"),
    responses=problems(READ, PAGED, DOWNSTREAM),
)
async def list_lots(
    request: Request[Any, Any, Any],
    system: System,
    plant_id: PlantFilter = None,
    supplier_id: SupplierFilter = None,
    item_id: ItemFilter = None,
    disposition: Annotated[
        str | None, enum_query("disposition", LotDisposition, "Only in this disposition.")
    ] = None,
    supplier_lot_number: Annotated[
        str | None, id_query("supplierLotNumber", "Only with this supplier lot number.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> LotPage:
    params = _page_params(
        cursor,
        limit,
        plantId=plant_id,
        supplierId=supplier_id,
        itemId=item_id,
        disposition=disposition,
        supplierLotNumber=supplier_lot_number,
    )
    return await system.page(f"{ERP}/lots", LotPage, params, chain_for(verified_principal(request)))


@get(
    "/lots/{lot_id:str}",
    operation_id="getLot",
    summary="Get a lot (ERP) with its disposition and stock",
    tags=[_LOTS],
    security=requires("quality.read"),
    responses=problems(READ, DOWNSTREAM, 404),
)
async def get_lot(
    request: Request[Any, Any, Any],
    system: System,
    lot_id: Annotated[str, path_id("The lot's id.")],
) -> Lot:
    try:
        read = await system.lot(lot_id, chain_for(verified_principal(request)))
    except NotFound:
        raise NotFound(f"No lot {lot_id} in the ERP.") from None
    return read.lot


@get(
    "/inspections",
    operation_id="listInspections",
    summary="List inspections (QMS), filtered",
    tags=[_INSPECTIONS],
    security=requires("quality.read"),
    responses=problems(READ, PAGED, DOWNSTREAM),
)
async def list_inspections(
    request: Request[Any, Any, Any],
    system: System,
    lot_id: LotFilter = None,
    plant_id: PlantFilter = None,
    supplier_id: SupplierFilter = None,
    item_id: ItemFilter = None,
    status: Annotated[
        str | None, enum_query("status", InspectionStatus, "Only in this status.")
    ] = None,
    result: Annotated[
        str | None, enum_query("result", InspectionResult, "Only with this overall result.")
    ] = None,
    origin: Annotated[
        str | None, enum_query("origin", InspectionOrigin, "Only of this origin.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> InspectionPage:
    params = _page_params(
        cursor,
        limit,
        lotId=lot_id,
        plantId=plant_id,
        supplierId=supplier_id,
        itemId=item_id,
        status=status,
        result=result,
        origin=origin,
    )
    return await system.page(
        f"{QMS}/inspections", InspectionPage, params, chain_for(verified_principal(request))
    )


@get(
    "/nonconformances",
    operation_id="listNonconformances",
    summary="List nonconformances (QMS), filtered",
    tags=[_NCS],
    security=requires("quality.read"),
    responses=problems(READ, PAGED, DOWNSTREAM),
)
async def list_nonconformances(
    request: Request[Any, Any, Any],
    system: System,
    status: Annotated[
        str | None, enum_query("status", NonconformanceStatus, "Only in this status.")
    ] = None,
    type_: Annotated[
        str | None, enum_query("type", NonconformanceType, "Only of this type.")
    ] = None,
    severity: Annotated[
        str | None, enum_query("severity", Severity, "Only of this severity.")
    ] = None,
    plant_id: PlantFilter = None,
    supplier_id: SupplierFilter = None,
    lot_id: LotFilter = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> NonconformancePage:
    params = _page_params(
        cursor,
        limit,
        status=status,
        type=type_,
        severity=severity,
        plantId=plant_id,
        supplierId=supplier_id,
        lotId=lot_id,
    )
    return await system.page(
        f"{QMS}/nonconformances",
        NonconformancePage,
        params,
        chain_for(verified_principal(request)),
    )


@get(
    "/nonconformances/{nc_id:str}",
    operation_id="getNonconformance",
    summary="Get a nonconformance (QMS)",
    tags=[_NCS],
    security=requires("quality.read"),
    responses=problems(READ, DOWNSTREAM, 404),
)
async def get_nonconformance(
    request: Request[Any, Any, Any],
    system: System,
    nc_id: Annotated[str, path_id("The nonconformance's id.")],
) -> Nonconformance:
    try:
        return await system.nonconformance(nc_id, chain_for(verified_principal(request)))
    except NotFound:
        raise NotFound(f"No nonconformance {nc_id} in the QMS.") from None


handlers: Final = [
    list_lots,
    get_lot,
    list_inspections,
    list_nonconformances,
    get_nonconformance,
]
