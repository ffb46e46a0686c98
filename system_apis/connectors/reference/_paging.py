"""The one way the reference connectors filter and paginate a list.

Lists are ordered by a sort key (the record's id, or id and version for specifications); the
cursor is the sort key of the last record returned, tagged with the list's name and encoded as
url-safe base64, so a cursor from another list, or one edited by hand, is a 400, not an empty page.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeVar

import msgspec

from shared.errors import InvalidCursor
from system_apis.connectors.base import MAX_PAGE_SIZE, PageRequest

__all__ = ["matches", "paginate"]

_T = TypeVar("_T")
_TAG: Final = "qgate-ref-v1"

Special = Mapping[str, Callable[[Any, Any], bool]]
"""Filter fields that are not a plain equality with the record's attribute of the same name."""


def matches(record: object, query: msgspec.Struct, special: Special | None = None) -> bool:
    """True when every filter field that is set equals the record's attribute of that name
    (or satisfies ``special[field](record, value)``)."""
    for name in query.__struct_fields__:
        wanted = getattr(query, name)
        if wanted is None:
            continue
        if special is not None and name in special:
            if not special[name](record, wanted):
                return False
        elif getattr(record, name) != wanted:
            return False
    return True


def paginate(
    records: Iterable[_T], *, key: Callable[[_T], str], page: PageRequest, list_name: str
) -> tuple[list[_T], str | None]:
    """The page of ``records`` after ``page.cursor`` in ``key`` order, and the next cursor
    (None on the last page). Raises :class:`InvalidCursor` for a cursor not issued for this list."""
    after = _decode(page.cursor, list_name) if page.cursor is not None else None
    ordered = sorted(records, key=key)
    if after is not None:
        ordered = [record for record in ordered if key(record) > after]
    # PageRequest is validated on the wire; a connector built directly may still get 0 or 10_000.
    limit = max(1, min(page.limit, MAX_PAGE_SIZE))
    items = ordered[:limit]
    more = len(ordered) > limit
    return items, (_encode(key(items[-1]), list_name) if more else None)


def _encode(last_key: str, list_name: str) -> str:
    raw = f"{_TAG}|{list_name}|{last_key}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, list_name: str) -> str:
    invalid = InvalidCursor(
        f"cursor is not valid for this list of {list_name}: pass back the nextCursor of the "
        "previous page unchanged, or omit it to start from the beginning."
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid from exc
    tag, _, rest = raw.partition("|")
    name, _, last_key = rest.partition("|")
    if tag != _TAG or name != list_name or not last_key:
        raise invalid
    return last_key
