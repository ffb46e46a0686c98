"""QMS nonconformances, CAPA, supplier quality events and supplier quality status."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, Response, get, patch, post, put
from litestar.params import JSONBody

from shared.models import (
    NonconformanceStatus,
    NonconformanceType,
    Severity,
    SupplierQualityEventKind,
)
from shared.models.commands import (
    CapaCreate,
    CapaStageAdvance,
    NonconformanceCreate,
    NonconformanceUpdate,
    SupplierQualityEventCreate,
    SupplierQualityStatusChange,
)
from shared.models.qms import (
    Capa,
    CapaPage,
    Nonconformance,
    NonconformancePage,
    SupplierQualityEvent,
    SupplierQualityEventPage,
    SupplierQualityStatus,
)
from shared.params import Cursor, IfMatch, Limit, as_enum, enum_query, id_query, path_id
from shared.routes import (
    IDEMPOTENT,
    PAGED,
    READ,
    REJECTABLE,
    WRITE,
    IdempotencyKey,
    problems,
    requires,
)
from system_apis._api import (
    ETAG,
    LOCATION,
    Qms,
    actor,
    expected_version,
    page,
    record_response,
)
from system_apis.connectors.base import (
    DEFAULT_PAGE_SIZE,
    CapaFilter,
    NonconformanceFilter,
    QmsCapability,
    SupplierQualityEventFilter,
    require,
)
from system_apis.surfaces import QMS

__all__ = ["handlers"]

_READ: Final = requires("qms.read")
_WRITE: Final = requires("qms.write")
_CHANGE_ERRORS: Final = problems(WRITE, REJECTABLE, 404, 412, 501)

NcId = Annotated[str, path_id("The nonconformance's id.")]
CapaId = Annotated[str, path_id("The CAPA's id.")]
SupplierId = Annotated[str, path_id("The supplier's id.")]
Status = Annotated[str | None, enum_query("status", NonconformanceStatus, "Only in this status.")]


@get(
    "/nonconformances",
    operation_id="listNonconformances",
    summary="List nonconformances",
    tags=["Nonconformances"],
    security=_READ,
    responses=problems(READ, PAGED, 501),
)
async def list_nonconformances(
    qms: Qms,
    status: Status = None,
    type_: Annotated[
        str | None, enum_query("type", NonconformanceType, "Only of this type.")
    ] = None,
    severity: Annotated[
        str | None, enum_query("severity", Severity, "Only of this severity.")
    ] = None,
    plant_id: Annotated[str | None, id_query("plantId", "Only at this plant.")] = None,
    supplier_id: Annotated[str | None, id_query("supplierId", "Only this supplier's.")] = None,
    lot_id: Annotated[str | None, id_query("lotId", "Only concerning this lot.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> NonconformancePage:
    require(qms, QmsCapability.NONCONFORMANCES)
    query = NonconformanceFilter(
        status=as_enum(NonconformanceStatus, status),
        type=as_enum(NonconformanceType, type_),
        severity=as_enum(Severity, severity),
        plant_id=plant_id,
        supplier_id=supplier_id,
        lot_id=lot_id,
    )
    return await qms.list_nonconformances(query, page(cursor, limit))


@post(
    "/nonconformances",
    operation_id="createNonconformance",
    summary="Open a nonconformance (idempotent)",
    tags=["Nonconformances"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, 501),
    response_headers=[ETAG, LOCATION],
    status_code=201,
    opt=IDEMPOTENT,
)
async def create_nonconformance(
    request: Request[Any, Any, Any],
    qms: Qms,
    data: JSONBody[NonconformanceCreate],
    idempotency_key: IdempotencyKey,
) -> Response[Nonconformance]:
    require(qms, QmsCapability.NONCONFORMANCES)
    record = await qms.create_nonconformance(data, actor=actor(request))
    return record_response(
        record, status_code=201, location=f"{QMS.prefix}/nonconformances/{record.nc_id}"
    )


@get(
    "/nonconformances/{nc_id:str}",
    operation_id="getNonconformance",
    summary="Get a nonconformance",
    tags=["Nonconformances"],
    security=_READ,
    responses=problems(READ, 404, 501),
    response_headers=[ETAG],
)
async def get_nonconformance(qms: Qms, nc_id: NcId) -> Response[Nonconformance]:
    require(qms, QmsCapability.NONCONFORMANCES)
    return record_response(await qms.get_nonconformance(nc_id))


@patch(
    "/nonconformances/{nc_id:str}",
    operation_id="updateNonconformance",
    summary="Update a nonconformance along the allowed status transitions (idempotent)",
    description=(
        "Status moves OPEN → IN_PROGRESS → IN_REVIEW → CLOSED (IN_REVIEW may go back to "
        "IN_PROGRESS; OPEN and IN_PROGRESS may be CANCELLED); closing needs a material "
        "disposition. CLOSED and CANCELLED are final. `If-Match` optional (stale: 412)."
    ),
    tags=["Nonconformances"],
    security=_WRITE,
    responses=_CHANGE_ERRORS,
    response_headers=[ETAG],
    opt=IDEMPOTENT,
)
async def update_nonconformance(
    request: Request[Any, Any, Any],
    qms: Qms,
    nc_id: NcId,
    data: JSONBody[NonconformanceUpdate],
    idempotency_key: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response[Nonconformance]:
    require(qms, QmsCapability.NONCONFORMANCES)
    record = await qms.update_nonconformance(
        nc_id,
        data,
        actor=actor(request),
        expected_version=expected_version(if_match, required=False),
    )
    return record_response(record)


@get(
    "/capas",
    operation_id="listCapas",
    summary="List CAPAs",
    tags=["CAPA"],
    security=_READ,
    responses=problems(READ, PAGED, 501),
)
async def list_capas(
    qms: Qms,
    status: Status = None,
    plant_id: Annotated[str | None, id_query("plantId", "Only at this plant.")] = None,
    supplier_id: Annotated[str | None, id_query("supplierId", "Only this supplier's.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> CapaPage:
    require(qms, QmsCapability.CAPA)
    query = CapaFilter(
        status=as_enum(NonconformanceStatus, status), plant_id=plant_id, supplier_id=supplier_id
    )
    return await qms.list_capas(query, page(cursor, limit))


@post(
    "/capas",
    operation_id="createCapa",
    summary="Open a CAPA at 8D stage D0 (idempotent)",
    tags=["CAPA"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, 501),
    response_headers=[ETAG, LOCATION],
    status_code=201,
    opt=IDEMPOTENT,
)
async def create_capa(
    request: Request[Any, Any, Any],
    qms: Qms,
    data: JSONBody[CapaCreate],
    idempotency_key: IdempotencyKey,
) -> Response[Capa]:
    require(qms, QmsCapability.CAPA)
    record = await qms.create_capa(data, actor=actor(request))
    return record_response(record, status_code=201, location=f"{QMS.prefix}/capas/{record.capa_id}")


@get(
    "/capas/{capa_id:str}",
    operation_id="getCapa",
    summary="Get a CAPA",
    tags=["CAPA"],
    security=_READ,
    responses=problems(READ, 404, 501),
    response_headers=[ETAG],
)
async def get_capa(qms: Qms, capa_id: CapaId) -> Response[Capa]:
    require(qms, QmsCapability.CAPA)
    return record_response(await qms.get_capa(capa_id))


@post(
    "/capas/{capa_id:str}/stage-advances",
    operation_id="advanceCapaStage",
    summary="Complete the CAPA's current 8D stage and move to the next (idempotent)",
    description=(
        "`stage` names the stage being completed and must be the current one (409 otherwise, "
        "so a repeated advance never skips a stage). Completing D7 records the effectiveness "
        "verification; completing D8 closes the CAPA. `If-Match` optional (stale: 412)."
    ),
    tags=["CAPA"],
    security=_WRITE,
    responses=_CHANGE_ERRORS,
    response_headers=[ETAG],
    status_code=200,
    opt=IDEMPOTENT,
)
async def advance_capa_stage(
    request: Request[Any, Any, Any],
    qms: Qms,
    capa_id: CapaId,
    data: JSONBody[CapaStageAdvance],
    idempotency_key: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response[Capa]:
    require(qms, QmsCapability.CAPA)
    record = await qms.advance_capa(
        capa_id,
        data,
        actor=actor(request),
        expected_version=expected_version(if_match, required=False),
    )
    return record_response(record)


@get(
    "/supplier-quality-events",
    operation_id="listSupplierQualityEvents",
    summary="List supplier quality events",
    tags=["Supplier quality"],
    security=_READ,
    responses=problems(READ, PAGED, 501),
)
async def list_supplier_quality_events(
    qms: Qms,
    supplier_id: Annotated[str | None, id_query("supplierId", "Only this supplier's.")] = None,
    kind: Annotated[
        str | None, enum_query("kind", SupplierQualityEventKind, "Only this kind.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> SupplierQualityEventPage:
    require(qms, QmsCapability.SUPPLIER_QUALITY_EVENTS)
    query = SupplierQualityEventFilter(
        supplier_id=supplier_id, kind=as_enum(SupplierQualityEventKind, kind)
    )
    return await qms.list_supplier_quality_events(query, page(cursor, limit))


@post(
    "/supplier-quality-events",
    operation_id="recordSupplierQualityEvent",
    summary="Record a supplier quality event (idempotent)",
    tags=["Supplier quality"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, 404, 501),
    response_headers=[ETAG],
    status_code=201,
    opt=IDEMPOTENT,
)
async def record_supplier_quality_event(
    request: Request[Any, Any, Any],
    qms: Qms,
    data: JSONBody[SupplierQualityEventCreate],
    idempotency_key: IdempotencyKey,
) -> Response[SupplierQualityEvent]:
    require(qms, QmsCapability.SUPPLIER_QUALITY_EVENTS)
    event = await qms.record_supplier_quality_event(data, actor=actor(request))
    return record_response(event, status_code=201)


@get(
    "/suppliers/{supplier_id:str}/quality-status",
    operation_id="getSupplierQualityStatus",
    summary="Get a supplier's quality status as the QMS keeps it",
    tags=["Supplier quality"],
    security=_READ,
    responses=problems(READ, 404, 501),
    response_headers=[ETAG],
)
async def get_supplier_quality_status(
    qms: Qms, supplier_id: SupplierId
) -> Response[SupplierQualityStatus]:
    require(qms, QmsCapability.SUPPLIER_QUALITY_STATUS)
    return record_response(await qms.get_supplier_quality_status(supplier_id))


@put(
    "/suppliers/{supplier_id:str}/quality-status",
    operation_id="setSupplierQualityStatus",
    summary="Set a supplier's quality status (idempotent)",
    tags=["Supplier quality"],
    security=_WRITE,
    responses=_CHANGE_ERRORS,
    response_headers=[ETAG],
    opt=IDEMPOTENT,
)
async def set_supplier_quality_status(
    request: Request[Any, Any, Any],
    qms: Qms,
    supplier_id: SupplierId,
    data: JSONBody[SupplierQualityStatusChange],
    idempotency_key: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response[SupplierQualityStatus]:
    require(qms, QmsCapability.SUPPLIER_QUALITY_STATUS)
    record = await qms.set_supplier_quality_status(
        supplier_id,
        data,
        actor=actor(request),
        expected_version=expected_version(if_match, required=False),
    )
    return record_response(record)


handlers: Final = [
    list_nonconformances,
    create_nonconformance,
    get_nonconformance,
    update_nonconformance,
    list_capas,
    create_capa,
    get_capa,
    advance_capa_stage,
    list_supplier_quality_events,
    record_supplier_quality_event,
    get_supplier_quality_status,
    set_supplier_quality_status,
]
