"""What every Tryton record goes through: ids, references, quantities, timestamps, paging.

Ids are Tryton's own numbers or codes (product code, party code, purchase / shipment /
inspection / alert number, warehouse code); a lot, whose number is unique per product only, is
``LOT-<stock.lot id>`` (six digits at least, so the ids sort as they were created).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar

from shared.errors import InvalidCursor, NotFound, PreconditionFailed
from shared.models import ExternalRef
from system_apis.connectors.base import MAX_PAGE_SIZE, PageRequest

__all__ = [
    "SYSTEM",
    "check_version",
    "lot_db_id",
    "lot_id_of",
    "many2one",
    "paginate",
    "qty",
    "refs",
    "show",
    "utc",
]

SYSTEM: Final = "tryton"
_T = TypeVar("_T")
_TAG: Final = "qgate-tryton-v1"
_LOT = re.compile(r"^LOT-(\d{6,})$")


def qty(value: float) -> float:
    """A quantity as compared and shown: 3 decimals."""
    return float(round(value, 3))


def show(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def utc(value: dt.datetime | None) -> dt.datetime:
    """Tryton's naive UTC timestamps as aware ones."""
    if value is None:
        return dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def lot_id_of(db_id: int) -> str:
    return f"LOT-{db_id:06d}"


def lot_db_id(lot_id: str) -> int:
    """The ``stock.lot`` id of a canonical lot id, or :class:`NotFound`."""
    match = _LOT.match(lot_id)
    if match is None:
        raise NotFound(f"Lot {lot_id} not found")
    return int(match[1])


def many2one(value: Any) -> int | None:
    return int(value) if isinstance(value, int) else None


def refs(model: str, db_id: int, version: int) -> list[ExternalRef]:
    """The record's reference in Tryton; its etag is the canonical version."""
    return [ExternalRef(system=SYSTEM, type=model, id=str(db_id), etag=str(version))]


def check_version(kind: str, record_id: str, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"{kind} {record_id} is at version {current}, not {expected}; "
            "read it again and retry with the current version."
        )


def paginate(
    records: Iterable[_T], *, key: Callable[[_T], str], page: PageRequest, list_name: str
) -> tuple[list[_T], str | None]:
    """The page after ``page.cursor`` in ``key`` order and the next cursor (None: last page).

    The cursor is the last key, tagged with the list's name, url-safe base64: a cursor of
    another list or edited by hand is :class:`InvalidCursor`."""
    after = _decode(page.cursor, list_name) if page.cursor is not None else None
    ordered = sorted(records, key=key)
    if after is not None:
        ordered = [r for r in ordered if key(r) > after]
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
