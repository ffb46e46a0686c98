"""``/partner/v1/containment-cases``: containment of my material, and my response to it.

The process layer keeps the cases and scopes them by the supplier it is told it acts for; this
layer asks for the caller's supplier only and checks every case it reads against the token's
claim as well (404 for another supplier's). What the supplier sees leaves out the saga's inner
workings (steps, attempts, errors, who at the customer did what).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody, ParameterKwarg

from experience_apis._api import (
    CONDITIONAL,
    LOCATION,
    NOT_MODIFIED,
    IfNoneMatch,
    Process,
    Scope,
    conditional,
)
from experience_apis._views import read_list, read_one
from experience_apis.clients.models import ContainmentCaseRead, ContainmentPageRead
from experience_apis.partner.schemas import (
    Case,
    CaseAcknowledgement,
    CaseResponse,
    CaseStatus,
    CaseSummary,
    CaseSummaryPage,
)
from experience_apis.surfaces import PARTNER
from shared.params import DEFAULT_PAGE_SIZE, Cursor, Limit, enum_query
from shared.platform import verified_principal
from shared.routes import (
    DOWNSTREAM,
    IDEMPOTENT,
    PAGED,
    READ,
    STATEFUL,
    WRITE,
    IdempotencyKey,
    problems,
    requires,
)

__all__ = ["handlers"]

# The service refuses an empty response (422): say so in the schema, so that a schema-valid
# body is one the service accepts.
_ONE_OF_THE_PARTS: Final = {
    "anyOf": [
        {"required": ["actions"], "properties": {"actions": {"minItems": 1}}},
        {"required": ["d3Answer"], "properties": {"d3Answer": {"type": "string", "minLength": 1}}},
        {"required": ["documents"], "properties": {"documents": {"minItems": 1}}},
    ],
    "description": "At least one of `actions`, `d3Answer`, `documents`.",
}

_TAG: Final = "Containment cases"
CasePath = Annotated[
    str,
    ParameterKwarg(
        description="The containment case's id.",
        pattern=r"^CNT-[0-9A-F]{20}$",
        min_length=24,
        max_length=24,
    ),
]


def _owner(case: ContainmentCaseRead) -> tuple[str | None, str | None]:
    return None, case.supplier_id


def _missing(containment_id: str) -> str:
    return f"You have no containment case {containment_id}."


@get(
    "/containment-cases",
    operation_id="listMyContainmentCases",
    summary="List containment cases about my material, oldest first",
    tags=[_TAG],
    security=requires("partner.read"),
    responses={**NOT_MODIFIED, **problems(READ, PAGED, DOWNSTREAM)},
    response_headers=CONDITIONAL,
)
async def list_my_containment_cases(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    status: Annotated[str | None, enum_query("status", CaseStatus, "Only in this status.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    if_none_match: IfNoneMatch = None,
) -> Response[CaseSummaryPage]:
    items, following = await read_list(
        process,
        verified_principal(request),
        "/containments",
        ContainmentPageRead,
        tenancy.queries(status=status),
        cursor=cursor,
        limit=limit,
        view=CaseSummary.of,
    )
    return conditional(CaseSummaryPage(items=items, next_cursor=following), if_none_match)


@get(
    "/containment-cases/{containment_id:str}",
    operation_id="getMyContainmentCase",
    summary="Get a containment case: my lots at every plant, the nonconformance, my responses",
    tags=[_TAG],
    security=requires("partner.read"),
    responses={**NOT_MODIFIED, **problems(READ, DOWNSTREAM, 404)},
    response_headers=CONDITIONAL,
)
async def get_my_containment_case(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    containment_id: CasePath,
    if_none_match: IfNoneMatch = None,
) -> Response[Case]:
    case = await read_one(
        process,
        verified_principal(request),
        tenancy,
        f"/containments/{containment_id}",
        ContainmentCaseRead,
        owner=_owner,
        missing=_missing(containment_id),
    )
    return conditional(Case.of(case), if_none_match)


async def _case_of_mine(
    request: Request[Any, Any, Any], process: Process, tenancy: Scope, containment_id: str
) -> None:
    await read_one(
        process,
        verified_principal(request),
        tenancy,
        f"/containments/{containment_id}",
        ContainmentCaseRead,
        owner=_owner,
        missing=_missing(containment_id),
    )


@post(
    "/containment-cases/{containment_id:str}/responses",
    operation_id="respondToMyContainmentCase",
    summary="Respond to a containment case: actions taken, 8D D3 answer, documents (idempotent)",
    description=(
        "At least one of `actions`, `d3Answer`, `documents`. Recorded on behalf of the "
        "supplier user and the portal (both in the audit trail). A closed case answers 409."
    ),
    tags=[_TAG],
    security=requires("partner.respond"),
    responses=problems(WRITE, STATEFUL, DOWNSTREAM, 404),
    response_headers=[LOCATION],
    status_code=201,
    opt=IDEMPOTENT,
)
async def respond_to_my_containment_case(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    containment_id: CasePath,
    data: Annotated[
        CaseResponse,
        Body(media_type=RequestEncodingType.JSON, schema_extra=_ONE_OF_THE_PARTS),
    ],
    idempotency_key: IdempotencyKey,
) -> Response[Case]:
    await _case_of_mine(request, process, tenancy, containment_id)
    posted = await process.post(
        f"/containments/{containment_id}/responses",
        data,
        ContainmentCaseRead,
        verified_principal(request),
        idempotency_key=idempotency_key,
    )
    case: ContainmentCaseRead = posted.record
    return Response(
        Case.of(case),
        status_code=201,
        headers={"Location": f"{PARTNER.prefix}/containment-cases/{containment_id}"},
    )


@post(
    "/containment-cases/{containment_id:str}/acknowledgement",
    operation_id="acknowledgeMyContainmentCase",
    summary="Acknowledge a containment case (idempotent; the first acknowledgement counts)",
    tags=[_TAG],
    security=requires("partner.respond"),
    responses=problems(WRITE, DOWNSTREAM, 404),
    status_code=200,
    opt=IDEMPOTENT,
)
async def acknowledge_my_containment_case(
    request: Request[Any, Any, Any],
    process: Process,
    tenancy: Scope,
    containment_id: CasePath,
    data: JSONBody[CaseAcknowledgement],
    idempotency_key: IdempotencyKey,
) -> Case:
    await _case_of_mine(request, process, tenancy, containment_id)
    posted = await process.post(
        f"/containments/{containment_id}/acknowledgement",
        data,
        ContainmentCaseRead,
        verified_principal(request),
        idempotency_key=idempotency_key,
    )
    case: ContainmentCaseRead = posted.record
    return Case.of(case)


handlers: Final = [
    list_my_containment_cases,
    get_my_containment_case,
    respond_to_my_containment_case,
    acknowledge_my_containment_case,
]
