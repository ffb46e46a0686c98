"""Cursor pages over a list read from SAP (the cursor is the last id, tagged with the list)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from typing import Final, TypeVar

from shared.errors import InvalidCursor
from system_apis.connectors.base import MAX_PAGE_SIZE, PageRequest

__all__ = ["decode_cursor", "encode_cursor", "paginate"]

_T = TypeVar("_T")
_TAG: Final = "qgate-s4-v1"


def paginate(
    records: Iterable[_T], *, key: Callable[[_T], str], page: PageRequest, list_name: str
) -> tuple[list[_T], str | None]:
    after = decode_cursor(page.cursor, list_name) if page.cursor is not None else None
    ordered = sorted(records, key=key)
    if after is not None:
        ordered = [record for record in ordered if key(record) > after]
    limit = max(1, min(page.limit, MAX_PAGE_SIZE))
    items = ordered[:limit]
    more = len(ordered) > limit
    return items, (encode_cursor(key(items[-1]), list_name) if more else None)


def encode_cursor(last: str, list_name: str) -> str:
    """A cursor naming the last id of a page of ``list_name``."""
    return base64.urlsafe_b64encode(f"{_TAG}|{list_name}|{last}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str, list_name: str) -> str:
    """The last id a cursor of ``list_name`` names; InvalidCursor for any other."""
    invalid = InvalidCursor(
        f"cursor is not valid for this list of {list_name}: pass back the nextCursor of the "
        "previous page unchanged, or omit it to start from the beginning."
    )
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid from exc
    tag, _, rest = raw.partition("|")
    name, _, last = rest.partition("|")
    if tag != _TAG or name != list_name or not last:
        raise invalid
    return last
