"""The one tenant-scoping helper every experience query goes through (OWASP API1:2023).

Whose records a caller may see comes from its verified token only: the ``supplier_id`` claim
for a supplier portal, the ``plants`` claim for a plant app; never from a request parameter.
Lists are queried with the tenant's filters, and a single record is checked against them after
it is read: a record of another tenant answers the same 404 as one that does not exist, so an
identifier can't be probed for.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, TypeVar

import msgspec
from litestar import Request
from litestar.di import Provide

from shared.errors import Forbidden, InvalidCursor, NotFound
from shared.models.records import Page
from shared.platform import verified_principal

__all__ = ["PARTNER_SCOPE", "PLANT_SCOPE", "Tenancy", "scoped_page"]

_T = TypeVar("_T")
Query = dict[str, str]


class Tenancy:
    """The records a caller may see: one supplier's, or those of some plants."""

    def __init__(self, *, supplier_id: str | None = None, plants: Sequence[str] = ()) -> None:
        self.supplier_id = supplier_id
        self.plants = tuple(plants)

    @classmethod
    def of_partner(cls, request: Request[Any, Any, Any]) -> Tenancy:
        supplier = verified_principal(request).supplier_id
        if not supplier:
            raise Forbidden("This token names no supplier (the `supplier_id` claim).")
        return cls(supplier_id=supplier)

    @classmethod
    def of_plant(cls, request: Request[Any, Any, Any]) -> Tenancy:
        plants = verified_principal(request).plants
        if not plants:
            raise Forbidden("This token names no plant (the `plants` claim).")
        return cls(plants=plants)

    def queries(self, plant_id: str | None = None, **filters: str | None) -> list[Query]:
        """The process-layer queries that together list what the caller may see, narrowed by
        ``plant_id`` and ``filters``: one per plant (a plant outside the tenancy: none)."""
        base = {key: value for key, value in filters.items() if value is not None}
        if self.supplier_id is not None:
            base["supplierId"] = self.supplier_id
            return [base | {"plantId": plant_id} if plant_id else base]
        plants = self.plants if plant_id is None else [p for p in self.plants if p == plant_id]
        return [base | {"plantId": plant} for plant in plants]

    def owns(self, *, plant_id: str | None, supplier_id: str | None) -> bool:
        if self.supplier_id is not None:
            return supplier_id == self.supplier_id
        return plant_id in self.plants

    def visible(
        self, record: _T, *, plant_id: str | None, supplier_id: str | None, missing: str
    ) -> _T:
        """``record`` when the caller may see it; else the 404 ``missing`` (the same text as for
        a record that does not exist)."""
        if not self.owns(plant_id=plant_id, supplier_id=supplier_id):
            raise NotFound(missing)
        return record


def _partner(request: Request[Any, Any, Any]) -> Tenancy:
    return Tenancy.of_partner(request)


def _plant(request: Request[Any, Any, Any]) -> Tenancy:
    return Tenancy.of_plant(request)


PARTNER_SCOPE: Final = Provide(_partner, sync_to_thread=False)
"""The ``tenancy`` dependency of ``/partner/v1``."""
PLANT_SCOPE: Final = Provide(_plant, sync_to_thread=False)
"""The ``tenancy`` dependency of ``/plant/v1``."""


class _Position(msgspec.Struct, array_like=True, frozen=True):
    query: int
    inner: str | None


def _encode(position: _Position) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode("ascii").rstrip("=")


def _decode(cursor: str, queries: int) -> _Position:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = msgspec.json.decode(raw, type=_Position)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise InvalidCursor("The cursor is not one this list issued.") from exc
    if not 0 <= position.query < queries:
        raise InvalidCursor("The cursor is not one this list issued.")
    return position


async def scoped_page(
    queries: Sequence[Query],
    fetch: Callable[[Query, str | None], Awaitable[Page[_T]]],
    cursor: str | None,
) -> tuple[list[_T], str | None]:
    """One page of the union of ``queries`` (taken in order), and the cursor of the next.

    ``fetch(query, inner_cursor)`` reads one page of one query from the process layer. A page
    ends where a query ends, so it may be shorter than the limit; ``nextCursor`` is absent only
    after the last page of the last query.
    """
    if not queries:
        if cursor is not None:
            raise InvalidCursor("The cursor is not one this list issued.")
        return [], None
    position = _decode(cursor, len(queries)) if cursor else _Position(0, None)
    page = await fetch(queries[position.query], position.inner)
    if page.next_cursor:
        following: _Position | None = _Position(position.query, page.next_cursor)
    elif position.query + 1 < len(queries):
        following = _Position(position.query + 1, None)
    else:
        following = None
    return page.items, _encode(following) if following else None
