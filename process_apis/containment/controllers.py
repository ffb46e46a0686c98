"""``/process/v1/containments``: follow supplier containment cases, resolve their steps, and the
supplier's answers (responses, acknowledgement).

A caller acting for a supplier (a supplier user on whose behalf the experience layer calls, the
``supplier_id`` of the on-behalf-of chain) sees only that supplier's cases once they are
published to its portal, without internal error text; another supplier's case answers 404.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody, ParameterKwarg

from process_apis._api import LOCATION, Containments
from process_apis.containment.models import (
    CONTAINMENT_ID_PATTERN,
    CaseStatus,
    ContainmentCase,
    ContainmentPage,
    ContainmentResponseCreate,
    ContainmentSummary,
    StepName,
    StepResolution,
    SupplierAcknowledgement,
)
from process_apis.surfaces import QUALITY
from shared.errors import InvalidCursor
from shared.params import DEFAULT_PAGE_SIZE, Cursor, Limit, as_enum, enum_query, id_query
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

__all__ = ["TAG", "handlers"]

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

TAG: Final = "Supplier containment"
ContainmentPath = Annotated[
    str,
    ParameterKwarg(
        description="The containment case's id.",
        pattern=CONTAINMENT_ID_PATTERN,
        min_length=24,
        max_length=24,
    ),
]
StepPath = Annotated[
    str,
    ParameterKwarg(
        description="The step: " + ", ".join(s.value for s in StepName) + ".",
        pattern="^(" + "|".join(s.value for s in StepName) + ")$",
        schema_extra={"enum": [s.value for s in StepName]},
    ),
]


def _location(case: ContainmentCase) -> str:
    return f"{QUALITY.prefix}/containments/{case.containment_id}"


@get(
    "/containments",
    operation_id="listContainments",
    summary="List supplier containment cases, oldest first",
    description=(
        "Filter by `supplierId` (the supplier portal's view), `plantId` (any plant holding a "
        "lot of the case) and `status`. A caller acting for a supplier sees only its own cases, "
        "once published to its portal."
    ),
    tags=[TAG],
    security=requires("quality.read"),
    responses=problems(READ, PAGED),
)
async def list_containments(
    request: Request[Any, Any, Any],
    containments: Containments,
    supplier_id: Annotated[str | None, id_query("supplierId", "Only this supplier's.")] = None,
    plant_id: Annotated[str | None, id_query("plantId", "Only those touching this plant.")] = None,
    status: Annotated[
        str | None, enum_query("status", CaseStatus, "Only in this status (CONTAINING, ...).")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> ContainmentPage:
    if cursor is not None and re.match(CONTAINMENT_ID_PATTERN, cursor) is None:
        raise InvalidCursor("The cursor is not one this list issued.")
    own = containments.supplier_of(verified_principal(request))
    if own is not None and supplier_id not in (None, own):
        return ContainmentPage(items=[])
    found = await containments.store.find(
        status=as_enum(CaseStatus, status),
        supplier_id=own or supplier_id,
        plant_id=plant_id,
        after=cursor,
        limit=limit + 1,
    )
    page = found[:limit]
    visible = [c for c in page if own is None or c.published_at is not None]
    return ContainmentPage(
        items=[ContainmentSummary.of(c) for c in visible],
        next_cursor=page[-1].containment_id if len(found) > limit else None,
    )


@get(
    "/containments/{containment_id:str}",
    operation_id="getContainment",
    summary="Get a containment case: every step's status, attempts and last error",
    tags=[TAG],
    security=requires("quality.read"),
    responses=problems(READ, 404),
)
async def get_containment(
    request: Request[Any, Any, Any], containments: Containments, containment_id: ContainmentPath
) -> ContainmentCase:
    case = await containments.get(containment_id)
    return containments.visible(case, verified_principal(request))


@post(
    "/containments/{containment_id:str}/steps/{step:str}/retry",
    operation_id="retryContainmentStep",
    summary="Retry a step waiting for an operator (MANUAL) or for its next attempt (idempotent)",
    description=(
        "The step is tried again at once with a fresh budget of attempts; the answer is the "
        "case after that attempt. A step that is not MANUAL or RETRYING answers 409."
    ),
    tags=[TAG],
    security=requires("qgate.ops"),
    responses=problems(WRITE, STATEFUL, DOWNSTREAM, 404),
    status_code=200,
    opt=IDEMPOTENT,
)
async def retry_containment_step(
    request: Request[Any, Any, Any],
    containments: Containments,
    containment_id: ContainmentPath,
    step: StepPath,
    idempotency_key: IdempotencyKey,
) -> ContainmentCase:
    return await containments.retry_step(
        containment_id, StepName(step), verified_principal(request)
    )


@post(
    "/containments/{containment_id:str}/steps/{step:str}/close",
    operation_id="closeContainmentStep",
    summary="Close a step resolved outside qgate, with the reason (idempotent)",
    description=(
        "For a step an operator resolved by hand (e.g. the lot blocked directly in the ERP): "
        "CLOSED counts as settled, so the case may become CONTAINED. A settled step answers 409."
    ),
    tags=[TAG],
    security=requires("qgate.ops"),
    responses=problems(WRITE, STATEFUL, DOWNSTREAM, 404),
    status_code=200,
    opt=IDEMPOTENT,
)
async def close_containment_step(
    request: Request[Any, Any, Any],
    containments: Containments,
    containment_id: ContainmentPath,
    step: StepPath,
    data: JSONBody[StepResolution],
    idempotency_key: IdempotencyKey,
) -> ContainmentCase:
    return await containments.close_step(
        containment_id, StepName(step), data.reason, verified_principal(request)
    )


@post(
    "/containments/{containment_id:str}/responses",
    operation_id="respondToContainment",
    summary="Record the supplier's response: containment actions, 8D D3 answer, documents",
    description=(
        "Called on behalf of the supplier user (the supplier portal), or by quality staff for "
        "the supplier. At least one of `actions`, `d3Answer`, `documents`. Answers the case "
        "with the response appended; a CLOSED case answers 409."
    ),
    tags=[TAG],
    security=requires("quality.write"),
    responses=problems(WRITE, STATEFUL, 404),
    response_headers=[LOCATION],
    status_code=201,
    opt=IDEMPOTENT,
)
async def respond_to_containment(
    request: Request[Any, Any, Any],
    containments: Containments,
    containment_id: ContainmentPath,
    data: Annotated[
        ContainmentResponseCreate,
        Body(media_type=RequestEncodingType.JSON, schema_extra=_ONE_OF_THE_PARTS),
    ],
    idempotency_key: IdempotencyKey,
) -> Response[ContainmentCase]:
    principal = verified_principal(request)
    case = await containments.respond(containment_id, data, principal)
    return Response(
        containments.visible(case, principal),
        status_code=201,
        headers={"Location": _location(case)},
    )


@post(
    "/containments/{containment_id:str}/acknowledgement",
    operation_id="acknowledgeContainment",
    summary="The supplier acknowledges the case (idempotent; the first acknowledgement counts)",
    tags=[TAG],
    security=requires("quality.write"),
    responses=problems(WRITE, 404),
    status_code=200,
    opt=IDEMPOTENT,
)
async def acknowledge_containment(
    request: Request[Any, Any, Any],
    containments: Containments,
    containment_id: ContainmentPath,
    data: JSONBody[SupplierAcknowledgement],
    idempotency_key: IdempotencyKey,
) -> ContainmentCase:
    principal = verified_principal(request)
    case = await containments.acknowledge(containment_id, data, principal)
    return containments.visible(case, principal)


handlers: Final = [
    list_containments,
    get_containment,
    retry_containment_step,
    close_containment_step,
    respond_to_containment,
    acknowledge_containment,
]
