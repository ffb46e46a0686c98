"""``/process/v1/procurement-holds``: the holds qgate keeps, and the approval of their lift."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from litestar import Request, get, post
from litestar.params import JSONBody, ParameterKwarg

from process_apis._api import Containments, Holds
from process_apis.holds.models import (
    HOLD_ID_PATTERN,
    HoldLiftApproval,
    HoldPage,
    HoldStatus,
    ProcurementHold,
)
from shared.errors import InvalidCursor
from shared.params import DEFAULT_PAGE_SIZE, Cursor, Limit, as_enum, enum_query, id_query
from shared.platform import verified_principal
from shared.routes import (
    DOWNSTREAM,
    IDEMPOTENT,
    PAGED,
    READ,
    SELF_APPROVAL,
    STATEFUL,
    WRITE,
    IdempotencyKey,
    problems,
    requires,
)

__all__ = ["TAG", "handlers"]

TAG: Final = "Procurement holds"
HoldPath = Annotated[
    str,
    ParameterKwarg(
        description="The hold's id.", pattern=HOLD_ID_PATTERN, min_length=24, max_length=24
    ),
]


@get(
    "/procurement-holds",
    operation_id="listProcurementHolds",
    summary="List procurement holds kept in qgate, oldest first",
    description=(
        "Holds of a supplier's item placed by containment cases. While ACTIVE (or awaiting the "
        "approval of their lift) `POST /inspection-requests` refuses receipts of the item from "
        "the supplier with 409 `procurement-hold`. `enforcement` says whether the ERP blocks "
        "the supplier too."
    ),
    tags=[TAG],
    security=requires("quality.read"),
    responses=problems(READ, PAGED),
)
async def list_procurement_holds(
    holds: Holds,
    supplier_id: Annotated[str | None, id_query("supplierId", "Only this supplier's.")] = None,
    item_id: Annotated[str | None, id_query("itemId", "Only of this item.")] = None,
    status: Annotated[str | None, enum_query("status", HoldStatus, "Only in this status.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> HoldPage:
    if cursor is not None and re.match(HOLD_ID_PATTERN, cursor) is None:
        raise InvalidCursor("The cursor is not one this list issued.")
    found = await holds.store.find(
        supplier_id=supplier_id,
        item_id=item_id,
        status=as_enum(HoldStatus, status),
        after=cursor,
        limit=limit + 1,
    )
    page = found[:limit]
    return HoldPage(items=page, next_cursor=page[-1].hold_id if len(found) > limit else None)


@get(
    "/procurement-holds/{hold_id:str}",
    operation_id="getProcurementHold",
    summary="Get a procurement hold",
    tags=[TAG],
    security=requires("quality.read"),
    responses=problems(READ, 404),
)
async def get_procurement_hold(holds: Holds, hold_id: HoldPath) -> ProcurementHold:
    return await holds.get(hold_id)


@post(
    "/procurement-holds/{hold_id:str}/approvals",
    operation_id="approveProcurementHoldLift",
    summary="Approve or decline lifting a hold whose CAPA is verified (idempotent)",
    description=(
        "Four eyes: once the nonconformance is closed and the supplier's CAPA is at D8 with its "
        "effectiveness verified, the hold waits (LIFT_PENDING_APPROVAL) for a person holding "
        "`quality.disposition.approve` who is not the CAPA's owner (403 `self-approval`). "
        "Approved, the hold is lifted (in the ERP too, where qgate blocked the supplier) and "
        "the containment case closed; declined, it stays ACTIVE."
    ),
    tags=[TAG],
    security=requires("quality.disposition.approve"),
    responses=problems(WRITE, STATEFUL, SELF_APPROVAL, DOWNSTREAM, 404),
    status_code=200,
    opt=IDEMPOTENT,
)
async def approve_procurement_hold_lift(
    request: Request[Any, Any, Any],
    holds: Holds,
    containments: Containments,
    hold_id: HoldPath,
    data: JSONBody[HoldLiftApproval],
    idempotency_key: IdempotencyKey,
) -> ProcurementHold:
    hold = await holds.approve(hold_id, data, verified_principal(request))
    if hold.status is HoldStatus.LIFTED:
        await containments.sync_case(hold.containment_id)
    return hold


handlers: Final = [
    list_procurement_holds,
    get_procurement_hold,
    approve_procurement_hold_lift,
]
