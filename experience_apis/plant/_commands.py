"""``/plant/v1`` commands: record inspection results, request a lot disposition.

Both are forwarded to the process layer on behalf of the plant user and app (so the audit trail
names them), with an idempotency key derived from the caller's: a retried request is answered
from this layer's idempotency store, or, if that answer was lost, from the process layer's.
The record must be at one of the caller's plants first (else 404, nothing forwarded).
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody

from experience_apis._api import LOCATION, Process, Scope
from experience_apis.clients.models import DispositionRead, ResultsOutcomeRead
from experience_apis.plant._reads import (
    InspectionPath,
    LotPath,
    inspection_of_mine,
    lot_of_mine,
)
from experience_apis.plant.schemas import (
    DispositionCommand,
    PlantDisposition,
    PlantDispositionRequest,
    PlantResultsOutcome,
)
from experience_apis.surfaces import PLANT
from shared.models.commands import ResultsRecord
from shared.platform import verified_principal
from shared.routes import (
    DOWNSTREAM,
    IDEMPOTENT,
    REJECTABLE,
    SELF_APPROVAL,
    STATEFUL,
    WRITE,
    IdempotencyKey,
    problems,
    requires,
)

__all__ = ["handlers"]

_WRITE: Final = requires("plant.write")


@post(
    "/inspections/{inspection_id:str}/results",
    operation_id="recordPlantInspectionResults",
    summary="Record results of an inspection at my plants (idempotent)",
    description=(
        "Recorded in the QMS through the process layer on behalf of the plant user; once every "
        "characteristic has a result, the answer names the disposition the results suggest."
    ),
    tags=["Inspections"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, DOWNSTREAM, 404),
    status_code=200,
    opt=IDEMPOTENT,
)
async def record_plant_inspection_results(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    inspection_id: InspectionPath,
    data: JSONBody[ResultsRecord],
    idempotency_key: IdempotencyKey,
) -> PlantResultsOutcome:
    principal = verified_principal(request)
    await inspection_of_mine(process, principal, tenancy, inspection_id)
    posted = await process.post(
        f"/inspections/{inspection_id}/results",
        data,
        ResultsOutcomeRead,
        principal,
        idempotency_key=idempotency_key,
    )
    outcome: ResultsOutcomeRead = posted.record
    return PlantResultsOutcome.of(outcome)


@post(
    "/lots/{lot_id:str}/disposition-requests",
    operation_id="requestPlantLotDisposition",
    summary="Request a disposition for a lot at my plants (idempotent)",
    description=(
        "Forwarded to the process layer's lot disposition on behalf of the plant user: applied "
        "in QMS and ERP exactly once. 201: applied. 202: accepted and pending (approval by a "
        "second person, or a system that is unavailable); follow `Location`."
    ),
    tags=["Dispositions"],
    security=_WRITE,
    responses={
        202: ResponseSpec(
            data_container=PlantDisposition,
            description="Accepted, not applied yet: follow `Location`.",
            generate_examples=False,
        ),
        **problems(WRITE, STATEFUL, SELF_APPROVAL, DOWNSTREAM, 404),
    },
    response_headers=[LOCATION],
    status_code=201,
    opt=IDEMPOTENT,
)
async def request_plant_lot_disposition(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    lot_id: LotPath,
    data: JSONBody[PlantDispositionRequest],
    idempotency_key: IdempotencyKey,
) -> Response[PlantDisposition]:
    principal = verified_principal(request)
    await lot_of_mine(process, principal, tenancy, lot_id)
    posted = await process.post(
        "/lot-dispositions",
        DispositionCommand.of(lot_id, data),
        DispositionRead,
        principal,
        idempotency_key=idempotency_key,
    )
    disposition: DispositionRead = posted.record
    return Response(
        PlantDisposition.of(disposition),
        status_code=posted.status,
        headers={"Location": f"{PLANT.prefix}/dispositions/{disposition.disposition_id}"},
    )


handlers: Final = [record_plant_inspection_results, request_plant_lot_disposition]
