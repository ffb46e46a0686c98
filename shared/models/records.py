"""What every canonical record carries: its references in the source systems and a version."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

import msgspec

from shared.models._types import Version
from shared.models.base import QgateStruct

__all__ = ["ExternalRef", "Page", "Record"]

_T = TypeVar("_T")


class ExternalRef(QgateStruct, frozen=True, kw_only=True):
    """Where the record lives in a system of record, and that system's own version tag."""

    system: Annotated[str, msgspec.Meta(examples=["reference-erp"])]
    """The connector / system, e.g. ``reference-erp``, ``s4hana``, ``tryton``."""
    type: Annotated[str, msgspec.Meta(examples=["Batch"])]
    """The source system's entity type, e.g. ``A_InspectionLot`` or ``stock.lot``."""
    id: Annotated[str, msgspec.Meta(examples=["0010000123"])]
    etag: str | None = None


class Record(QgateStruct, frozen=True, kw_only=True):
    """Base of every canonical record: version for optimistic concurrency, source references."""

    version: Version = 1
    external_refs: list[ExternalRef] = msgspec.field(default_factory=list)
    source_status: str | None = None
    """The source system's own status or code, kept verbatim (e.g. an SAP usage-decision code)."""


class Page(QgateStruct, Generic[_T], frozen=True, kw_only=True):
    """One page of a list; pass ``nextCursor`` back as ``cursor`` for the next page."""

    items: list[_T]
    next_cursor: str | None = None
    """Opaque; absent on the last page."""
