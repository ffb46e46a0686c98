"""One difference found between two schemas."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SchemaChange"]


class SchemaChange(NamedTuple):
    change: str
    """Rule suffix, e.g. ``type-narrowed``; the diff adds the side."""
    location: str
    detail: str
