"""Helpers every reference record goes through: ids, external refs, versions, quantities."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import msgspec

from shared.errors import NotFound, PreconditionFailed
from shared.models import ExternalRef, Record

__all__ = [
    "ERP_SYSTEM",
    "QMS_SYSTEM",
    "IdSequence",
    "bump",
    "check_version",
    "external_refs",
    "find",
    "qty",
    "show",
    "utcnow",
]

ERP_SYSTEM: Final = "reference-erp"
QMS_SYSTEM: Final = "reference-qms"

_R = TypeVar("_R", bound=Record)
_V = TypeVar("_V")
_NUMBERED = re.compile(r"^(?P<prefix>.+)-(?P<number>\d+)$")


def qty(value: float) -> float:
    """A quantity as the reference systems keep it: 3 decimals (sums compare exactly)."""
    return float(round(value, 3))


def show(value: float) -> str:
    """A quantity for a message: up to 3 decimals, no exponent (``1250``, ``42.5``)."""
    return f"{value:.3f}".rstrip("0").rstrip(".")


def external_refs(system: str, record_type: str, record_id: str, version: int) -> list[ExternalRef]:
    """The record's reference in the reference system; its etag is the version."""
    return [ExternalRef(system=system, type=record_type, id=record_id, etag=str(version))]


def bump(record: _R, system: str, **changes: Any) -> _R:
    """A copy of ``record`` with ``changes``, the next version, and our etag kept in step."""
    version = record.version + 1
    refs = [
        msgspec.structs.replace(ref, etag=str(version)) if ref.system == system else ref
        for ref in record.external_refs
    ]
    return msgspec.structs.replace(record, version=version, external_refs=refs, **changes)


def check_version(kind: str, record_id: str, current: int, expected: int | None) -> None:
    """Raise :class:`PreconditionFailed` when ``expected`` is given and is not ``current``."""
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"{kind} {record_id} is at version {current}, not {expected}; "
            "read it again and retry with the current version."
        )


class IdSequence:
    """Deterministic ids ``<prefix>-<number>``, continuing after the highest one already used.

    Seeded from the dataset's ids, so a connector over the demo data numbers new records after
    the demo's and two connectors over the same data issue the same ids in the same order.
    """

    def __init__(self, existing: Iterable[str] = ()) -> None:
        self._last: dict[str, int] = {}
        for record_id in existing:
            self.seen(record_id)

    def seen(self, record_id: str) -> None:
        match = _NUMBERED.match(record_id)
        if match is not None:
            prefix, number = match["prefix"], int(match["number"])
            self._last[prefix] = max(self._last.get(prefix, 0), number)

    def next(self, prefix: str, width: int = 6) -> str:
        number = self._last.get(prefix, 0) + 1
        self._last[prefix] = number
        return f"{prefix}-{number:0{width}d}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def find(table: Mapping[str, _V], kind: str, record_id: str) -> _V:
    """``table[record_id]``, or :class:`NotFound` naming the ``kind`` of record."""
    try:
        return table[record_id]
    except KeyError:
        raise NotFound(f"{kind} {record_id} not found") from None
