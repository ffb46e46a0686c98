"""``/process/v1/lot-dispositions``: request, follow and approve lot dispositions."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, ParameterKwarg

from process_apis._api import LOCATION, Dispositions
from process_apis.dispositions.models import (
    DISPOSITION_ID_PATTERN,
    TERMINAL,
    Disposition,
    DispositionApproval,
    DispositionPage,
    DispositionStatus,
    DispositionSummary,
    LotDispositionRequest,
)
from process_apis.surfaces import QUALITY
from shared.errors import BackendRejected, InvalidCursor
from shared.params import (
    DEFAULT_PAGE_SIZE,
    Cursor,
    Limit,
    as_enum,
    enum_query,
    id_query,
)
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

__all__ = ["handlers"]

_TAG: Final = "Lot dispositions"
_ID_PATTERN: Final = DISPOSITION_ID_PATTERN
DispositionPath = Annotated[
    str,
    ParameterKwarg(
        description="The disposition's id.", pattern=_ID_PATTERN, min_length=24, max_length=24
    ),
]
_PENDING: Final = ResponseSpec(
    data_container=Disposition,
    description=(
        "Accepted, not applied yet: waiting for approval, or for a system that is unavailable "
        "(the worker retries with backoff). Poll `Location`."
    ),
    generate_examples=False,
)


def _location(disposition: Disposition) -> str:
    return f"{QUALITY.prefix}/lot-dispositions/{disposition.disposition_id}"


def _answer(disposition: Disposition, *, done: int) -> Response[Disposition]:
    """201/200 once applied or declined, 202 while pending; a disposition that failed at once
    is a 409 whose detail says which system refused, why, and where the record is."""
    if disposition.status is DispositionStatus.FAILED:
        raise BackendRejected(
            f"Disposition {disposition.disposition_id} FAILED: {disposition.last_error} "
            f"(recorded at {_location(disposition)})."
        )
    status = done if disposition.status in TERMINAL else 202
    return Response(
        disposition,
        status_code=status,
        headers={"Location": _location(disposition)},
    )


@post(
    "/lot-dispositions",
    operation_id="requestLotDisposition",
    summary="Decide a lot's disposition, applied in QMS and ERP exactly once (idempotent)",
    description=(
        "Validated against the lot disposition state machine. Applied as the QMS usage decision "
        "of the inspection it concludes and as the ERP's change of the lot's disposition and "
        "stock. 201: applied everywhere. 202: accepted and kept; it is waiting for a second "
        "person's approval (releasing a BLOCKED lot needs a nonconformance decided USE_AS_IS "
        "and an approver who is not the requester) or for a system that is unavailable, which "
        "a worker retries with backoff. Follow `Location`. A permanent refusal by the ERP or "
        "QMS answers 409 and the disposition stays visible as FAILED."
    ),
    tags=[_TAG],
    security=requires("quality.write"),
    responses={202: _PENDING, **problems(WRITE, STATEFUL, DOWNSTREAM, 404)},
    response_headers=[LOCATION],
    status_code=201,
    opt=IDEMPOTENT,
)
async def request_lot_disposition(
    request: Request[Any, Any, Any],
    dispositions: Dispositions,
    data: JSONBody[LotDispositionRequest],
    idempotency_key: IdempotencyKey,
) -> Response[Disposition]:
    disposition = await dispositions.request(data, verified_principal(request))
    return _answer(disposition, done=201)


@get(
    "/lot-dispositions",
    operation_id="listLotDispositions",
    summary="List lot dispositions, oldest first (e.g. those awaiting ERP confirmation)",
    tags=[_TAG],
    security=requires("quality.read"),
    responses=problems(READ, PAGED),
)
async def list_lot_dispositions(
    dispositions: Dispositions,
    status: Annotated[
        str | None,
        enum_query("status", DispositionStatus, "Only in this status (PENDING_ERP, ...)."),
    ] = None,
    lot_id: Annotated[str | None, id_query("lotId", "Only of this lot.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> DispositionPage:
    if cursor is not None and not _valid_cursor(cursor):
        raise InvalidCursor("The cursor is not one this list issued.")
    found = await dispositions.store.find(
        status=as_enum(DispositionStatus, status), lot_id=lot_id, after=cursor, limit=limit + 1
    )
    now = datetime.now(UTC)
    page = found[:limit]
    return DispositionPage(
        items=[_summary(d, now) for d in page],
        next_cursor=page[-1].disposition_id if len(found) > limit else None,
    )


def _valid_cursor(cursor: str) -> bool:
    return re.match(_ID_PATTERN, cursor) is not None


def _summary(d: Disposition, now: datetime) -> DispositionSummary:
    return DispositionSummary(
        disposition_id=d.disposition_id,
        status=d.status,
        lot_id=d.lot_id,
        decision=d.decision,
        qms=d.qms.status,
        erp=d.erp.status,
        attempts=d.attempts,
        last_error=d.last_error,
        next_attempt_at=d.next_attempt_at,
        created_at=d.created_at,
        age_seconds=round(max((now - d.created_at).total_seconds(), 0.0), 3),
    )


@get(
    "/lot-dispositions/{disposition_id:str}",
    operation_id="getLotDisposition",
    summary="Get a lot disposition: its status, each system's step, attempts and last error",
    tags=[_TAG],
    security=requires("quality.read"),
    responses=problems(READ, 404),
)
async def get_lot_disposition(
    dispositions: Dispositions, disposition_id: DispositionPath
) -> Disposition:
    return await dispositions.get(disposition_id)


@post(
    "/lot-dispositions/{disposition_id:str}/approvals",
    operation_id="approveLotDisposition",
    summary="Approve or decline a disposition waiting for a second person (idempotent)",
    description=(
        "Four eyes: the caller must hold `quality.disposition.approve` and must not be the "
        "person who requested the disposition (403 `self-approval`). Approved, it is "
        "validated again against the lot as it is now and applied (200, or 202 while a system "
        "is unavailable); declined, it ends DECLINED and nothing is applied."
    ),
    tags=[_TAG],
    security=requires("quality.disposition.approve"),
    responses={202: _PENDING, **problems(WRITE, STATEFUL, SELF_APPROVAL, DOWNSTREAM, 404)},
    response_headers=[LOCATION],
    status_code=200,
    opt=IDEMPOTENT,
)
async def approve_lot_disposition(
    request: Request[Any, Any, Any],
    dispositions: Dispositions,
    disposition_id: DispositionPath,
    data: JSONBody[DispositionApproval],
    idempotency_key: IdempotencyKey,
) -> Response[Disposition]:
    disposition = await dispositions.approve(disposition_id, data, verified_principal(request))
    return _answer(disposition, done=200)


handlers: Final = [
    request_lot_disposition,
    list_lot_dispositions,
    get_lot_disposition,
    approve_lot_disposition,
]
