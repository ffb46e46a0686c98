"""QMS specifications and inspections: create, record results, usage decision."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.params import JSONBody, QueryParameter

from shared.models import InspectionOrigin, InspectionResult, InspectionStatus
from shared.models.commands import InspectionCreate, ResultsRecord, UsageDecisionCreate
from shared.models.qms import Inspection, InspectionPage, Specification, SpecificationPage
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
    InspectionFilter,
    QmsCapability,
    SpecificationFilter,
    require,
)
from system_apis.surfaces import QMS

__all__ = ["handlers"]

_READ: Final = requires("qms.read")
_WRITE: Final = requires("qms.write")

SpecId = Annotated[str, path_id("The specification's id.")]
InspectionId = Annotated[str, path_id("The inspection's id.")]


@get(
    "/specifications",
    operation_id="listSpecifications",
    summary="List specifications (current versions)",
    tags=["Specifications"],
    security=_READ,
    responses=problems(READ, PAGED, 501),
)
async def list_specifications(
    qms: Qms,
    item_id: Annotated[str | None, id_query("itemId", "Only for this item.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> SpecificationPage:
    require(qms, QmsCapability.SPECIFICATIONS)
    return await qms.list_specifications(SpecificationFilter(item_id=item_id), page(cursor, limit))


@get(
    "/specifications/{spec_id:str}",
    operation_id="getSpecification",
    summary="Get a specification (the current version, or the one asked for)",
    tags=["Specifications"],
    security=_READ,
    responses=problems(READ, 404, 501),
    response_headers=[ETAG],
)
async def get_specification(
    qms: Qms,
    spec_id: SpecId,
    spec_version: Annotated[
        str | None,
        QueryParameter(
            name="specVersion",
            pattern="^[1-9][0-9]{0,4}$",
            description="A past version (1 to 99999).",
            schema_extra={"type": "integer", "minimum": 1, "maximum": 99999},
        ),
    ] = None,
) -> Response[Specification]:
    require(qms, QmsCapability.SPECIFICATIONS)
    version = None if spec_version is None else int(spec_version)
    return record_response(await qms.get_specification(spec_id, version))


@get(
    "/inspections",
    operation_id="listInspections",
    summary="List inspections",
    tags=["Inspections"],
    security=_READ,
    responses=problems(READ, PAGED, 501),
)
async def list_inspections(
    qms: Qms,
    lot_id: Annotated[str | None, id_query("lotId", "Only of this lot.")] = None,
    plant_id: Annotated[str | None, id_query("plantId", "Only at this plant.")] = None,
    supplier_id: Annotated[str | None, id_query("supplierId", "Only this supplier's.")] = None,
    item_id: Annotated[str | None, id_query("itemId", "Only of this item.")] = None,
    status: Annotated[
        str | None, enum_query("status", InspectionStatus, "Only in this status.")
    ] = None,
    result: Annotated[
        str | None, enum_query("result", InspectionResult, "Only with this result.")
    ] = None,
    origin: Annotated[
        str | None, enum_query("origin", InspectionOrigin, "Only of this origin.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> InspectionPage:
    require(qms, QmsCapability.INSPECTIONS)
    query = InspectionFilter(
        lot_id=lot_id,
        plant_id=plant_id,
        supplier_id=supplier_id,
        item_id=item_id,
        status=as_enum(InspectionStatus, status),
        result=as_enum(InspectionResult, result),
        origin=as_enum(InspectionOrigin, origin),
    )
    return await qms.list_inspections(query, page(cursor, limit))


@post(
    "/inspections",
    operation_id="createInspection",
    summary="Open an inspection of a lot (idempotent)",
    description=(
        "Against `specId`, or the item's current specification. A GOODS_RECEIPT inspection "
        "of a receipt that already has one returns that one (looked up by `goodsReceiptId`)."
    ),
    tags=["Inspections"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, 404, 501),
    response_headers=[ETAG, LOCATION],
    status_code=201,
    opt=IDEMPOTENT,
)
async def create_inspection(
    request: Request[Any, Any, Any],
    qms: Qms,
    data: JSONBody[InspectionCreate],
    idempotency_key: IdempotencyKey,
) -> Response[Inspection]:
    require(qms, QmsCapability.INSPECTIONS)
    inspection = await qms.create_inspection(data, actor=actor(request))
    return record_response(
        inspection,
        status_code=201,
        location=f"{QMS.prefix}/inspections/{inspection.inspection_id}",
    )


@get(
    "/inspections/{inspection_id:str}",
    operation_id="getInspection",
    summary="Get an inspection with its results and decision",
    tags=["Inspections"],
    security=_READ,
    responses=problems(READ, 404, 501),
    response_headers=[ETAG],
)
async def get_inspection(qms: Qms, inspection_id: InspectionId) -> Response[Inspection]:
    require(qms, QmsCapability.INSPECTIONS)
    return record_response(await qms.get_inspection(inspection_id))


@post(
    "/inspections/{inspection_id:str}/results",
    operation_id="recordInspectionResults",
    summary="Record results per characteristic (idempotent)",
    description=(
        "Each measurement is valuated against the specification's limits (ACCEPT / REJECT). "
        "Once every characteristic is evaluated the inspection is RESULTS_RECORDED with the "
        "overall result: FAIL when a critical characteristic is rejected, CONDITIONAL_PASS "
        "when only non-critical ones are, else PASS. `If-Match` optional (stale: 412)."
    ),
    tags=["Inspections"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, 404, 412, 501),
    response_headers=[ETAG],
    status_code=200,
    opt=IDEMPOTENT,
)
async def record_inspection_results(
    request: Request[Any, Any, Any],
    qms: Qms,
    inspection_id: InspectionId,
    data: JSONBody[ResultsRecord],
    idempotency_key: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response[Inspection]:
    require(qms, QmsCapability.INSPECTION_RESULTS)
    inspection = await qms.record_results(
        inspection_id,
        data,
        actor=actor(request),
        expected_version=expected_version(if_match, required=False),
    )
    return record_response(inspection)


@post(
    "/inspections/{inspection_id:str}/usage-decision",
    operation_id="recordUsageDecision",
    summary="Record the usage decision on the inspected lot (idempotent)",
    description=(
        "The QMS half of a lot disposition (SAP: usage decision). Allowed once results are "
        "recorded, and only once. `If-Match` optional (stale: 412)."
    ),
    tags=["Inspections"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, 404, 412, 501),
    response_headers=[ETAG],
    status_code=200,
    opt=IDEMPOTENT,
)
async def record_usage_decision(
    request: Request[Any, Any, Any],
    qms: Qms,
    inspection_id: InspectionId,
    data: JSONBody[UsageDecisionCreate],
    idempotency_key: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response[Inspection]:
    require(qms, QmsCapability.USAGE_DECISION)
    inspection = await qms.record_usage_decision(
        inspection_id,
        data,
        actor=actor(request),
        expected_version=expected_version(if_match, required=False),
    )
    return record_response(inspection)


handlers: Final = [
    list_specifications,
    get_specification,
    list_inspections,
    create_inspection,
    get_inspection,
    record_inspection_results,
    record_usage_decision,
]
