"""Reading process-layer records for a view: scoped lists and scoped single records."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from experience_apis.clients.process import ProcessClient
from experience_apis.scoping import Query, Tenancy, scoped_page
from shared.auth import Principal
from shared.errors import NotFound
from shared.models.records import Page

__all__ = ["read_list", "read_one"]

_R = TypeVar("_R")
_V = TypeVar("_V")


async def read_list(
    process: ProcessClient,
    principal: Principal,
    path: str,
    page_type: type[Page[_R]],
    queries: Sequence[Query],
    *,
    cursor: str | None,
    limit: int,
    view: Callable[[_R], _V],
) -> tuple[list[_V], str | None]:
    """One page of ``path`` across the tenant's ``queries``, each record turned into its view."""

    async def fetch(query: Query, inner: str | None) -> Page[_R]:
        params: dict[str, str | None] = {**query, "cursor": inner, "limit": str(limit)}
        return await process.get(path, page_type, principal, params)

    items, following = await scoped_page(queries, fetch, cursor)
    return [view(item) for item in items], following


async def read_one(
    process: ProcessClient,
    principal: Principal,
    tenancy: Tenancy,
    path: str,
    into: type[_R],
    *,
    owner: Callable[[_R], tuple[str | None, str | None]],
    missing: str,
) -> _R:
    """The record at ``path`` if the caller's tenancy owns it (``owner`` gives its plant and
    supplier); the same 404 ``missing`` whether it does not exist or is another tenant's."""
    try:
        record = await process.get(path, into, principal)
    except NotFound:
        raise NotFound(missing) from None
    plant_id, supplier_id = owner(record)
    return tenancy.visible(record, plant_id=plant_id, supplier_id=supplier_id, missing=missing)
