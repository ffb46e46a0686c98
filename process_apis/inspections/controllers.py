"""``/process/v1/inspection-requests`` and ``/process/v1/inspections``."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.params import JSONBody

from process_apis._api import LOCATION, Inspections, System
from process_apis.inspections.models import (
    InspectionRequestCreate,
    InspectionRequestResult,
    ResultsOutcome,
)
from process_apis.surfaces import QUALITY
from shared.delegation import chain_for
from shared.errors import NotFound
from shared.models.commands import ResultsRecord
from shared.models.qms import Inspection
from shared.params import path_id
from shared.platform import verified_principal
from shared.routes import (
    DOWNSTREAM,
    HELD,
    IDEMPOTENT,
    READ,
    REJECTABLE,
    STATEFUL,
    WRITE,
    IdempotencyKey,
    problems,
    requires,
)

__all__ = ["handlers"]

_TAG: Final = "Inspections"
InspectionPath = Annotated[str, path_id("The inspection's id.")]


@post(
    "/inspection-requests",
    operation_id="requestIncomingInspection",
    summary="Inspect a goods receipt: QMS inspection, lot into quarantine (idempotent)",
    description=(
        "Creates the QMS inspection of the receipt's lot against the item's current "
        "specification (or `specId`), one per goods receipt: a repeat returns the same "
        "inspection. The lot is put into QUALITY_INSPECTION stock (disposition QUARANTINE) "
        "through a lot disposition when it is not there yet."
    ),
    tags=[_TAG],
    security=requires("quality.write"),
    responses=problems(WRITE, STATEFUL, REJECTABLE, HELD, DOWNSTREAM, 404),
    response_headers=[LOCATION],
    status_code=201,
    opt=IDEMPOTENT,
)
async def request_incoming_inspection(
    request: Request[Any, Any, Any],
    inspections: Inspections,
    data: JSONBody[InspectionRequestCreate],
    idempotency_key: IdempotencyKey,
) -> Response[InspectionRequestResult]:
    result = await inspections.request(data, verified_principal(request))
    return Response(
        result,
        status_code=201,
        headers={"Location": f"{QUALITY.prefix}/inspections/{result.inspection.inspection_id}"},
    )


@get(
    "/inspections/{inspection_id:str}",
    operation_id="getInspection",
    summary="Get an inspection with its results and decision",
    tags=[_TAG],
    security=requires("quality.read"),
    responses=problems(READ, DOWNSTREAM, 404),
)
async def get_inspection(
    request: Request[Any, Any, Any], system: System, inspection_id: InspectionPath
) -> Inspection:
    try:
        return await system.inspection(inspection_id, chain_for(verified_principal(request)))
    except NotFound:
        raise NotFound(f"No inspection {inspection_id} in the QMS.") from None


@post(
    "/inspections/{inspection_id:str}/results",
    operation_id="recordInspectionResults",
    summary="Record inspection results; propose or apply the lot's disposition (idempotent)",
    description=(
        "Records the results in the QMS, which valuates each against the specification and "
        "computes the overall result. Once every characteristic has a result, the outcome "
        "names the disposition it suggests (PASS: RELEASE, CONDITIONAL_PASS: RESTRICT, FAIL: "
        "BLOCK); under the `apply` policy (QGATE_PROCESS_RESULT_POLICY) it is requested too, "
        "on behalf of the caller."
    ),
    tags=[_TAG],
    security=requires("quality.write"),
    responses=problems(WRITE, REJECTABLE, DOWNSTREAM, 404),
    status_code=200,
    opt=IDEMPOTENT,
)
async def record_inspection_results(
    request: Request[Any, Any, Any],
    inspections: Inspections,
    inspection_id: InspectionPath,
    data: JSONBody[ResultsRecord],
    idempotency_key: IdempotencyKey,
) -> ResultsOutcome:
    return await inspections.record_results(
        inspection_id, data, verified_principal(request), idempotency_key=idempotency_key
    )


handlers: Final = [request_incoming_inspection, get_inspection, record_inspection_results]
