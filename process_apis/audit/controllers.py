"""``/process/v1/audit``: the tamper-evident audit trail, read and verified."""

from __future__ import annotations

import re
from typing import Annotated, Final

from litestar import get
from litestar.params import QueryParameter

from process_apis._api import Audit
from shared.audit import AuditRecord, Verification
from shared.errors import InvalidCursor
from shared.models import QgateStruct
from shared.params import DEFAULT_PAGE_SIZE, Cursor, Limit, id_query
from shared.routes import PAGED, READ, problems, requires

__all__ = ["AuditPage", "handlers"]

_TAG: Final = "Audit trail"
_SEQ: Final = re.compile(r"^[0-9]{1,18}$")


class AuditPage(QgateStruct, frozen=True, kw_only=True):
    """Audit records in the order they were written; pass ``nextCursor`` back for more."""

    items: list[AuditRecord]
    next_cursor: str | None = None


_Name = Annotated[
    str | None,
    QueryParameter(
        name="entityType",
        description="Only records about this kind of entity (`Lot`, `LotDisposition`, ...).",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9]*$",
    ),
]
_Action = Annotated[
    str | None,
    QueryParameter(
        name="action",
        description="Only this action (`lot.disposition-changed`, ...).",
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9.-]*$",
    ),
]


@get(
    "/audit",
    operation_id="listAuditRecords",
    summary="Read the audit trail: who changed what, when, why, before and after",
    description=(
        "Append-only records, each chained to the previous one by its SHA-256 hash "
        "(21 CFR 11.10(e), EU GMP Annex 11). Filter by entity (`entityType` and `entityId`, "
        "e.g. `Lot` and a lot id for its timeline) and action."
    ),
    tags=[_TAG],
    security=requires("quality.audit.read"),
    responses=problems(READ, PAGED),
)
async def list_audit_records(
    audit: Audit,
    entity_type: _Name = None,
    entity_id: Annotated[str | None, id_query("entityId", "Only records about this id.")] = None,
    action: _Action = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> AuditPage:
    after = 0
    if cursor is not None:
        if not _SEQ.match(cursor):
            raise InvalidCursor("The cursor is not one this list issued.")
        after = int(cursor)
    found = await audit.list(
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        after_seq=after,
        limit=limit + 1,
    )
    page = found[:limit]
    return AuditPage(items=page, next_cursor=str(page[-1].seq) if len(found) > limit else None)


@get(
    "/audit/verification",
    operation_id="verifyAuditTrail",
    summary="Verify the audit trail's hash chain (the first altered, inserted or removed record)",
    tags=[_TAG],
    security=requires("quality.audit.read"),
    responses=problems(READ),
)
async def verify_audit_trail(audit: Audit) -> Verification:
    return await audit.verify()


handlers: Final = [list_audit_records, verify_audit_trail]
