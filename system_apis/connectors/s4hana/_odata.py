"""The OData v2 wire rules SAP's APIs follow, shared by the connector and the simulator.

- envelopes: ``{"d": {...}}`` for an entity, ``{"d": {"results": [...], "__count", "__next"}}``
  for a collection;
- ``Edm.DateTime`` as ``/Date(<ms since epoch>)/`` (``DateTimeOffset`` may add ``+0000``);
- ``Edm.Decimal`` as a JSON string (``"12.500"``), never a number;
- key literals quoted ``'…'`` with ``''`` doubling a quote, in ``A_Set('K')`` or
  ``A_Set(A='1',B='2')`` and in ``$filter`` (``Plant eq '1000' and Batch eq 'B1'``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Final

__all__ = [
    "Entity",
    "and_filter",
    "decimal_text",
    "entity_path",
    "eq",
    "odata_date",
    "parse_decimal",
    "parse_odata_date",
    "quote",
    "unwrap_collection",
    "unwrap_entity",
]

Entity = dict[str, Any]
"""One OData entity as SAP sends it (properties by their SAP names)."""

_DATE: Final = re.compile(r"^/Date\((?P<ms>-?\d+)(?P<offset>[+-]\d{4})?\)/$")
_MILLI: Final = Decimal("0.001")


def odata_date(moment: datetime) -> str:
    """``/Date(ms)/`` of an aware datetime (UTC milliseconds)."""
    return f"/Date({round(moment.timestamp() * 1000)})/"


def parse_odata_date(text: str) -> datetime:
    """The UTC datetime of ``/Date(ms)/`` or ``/Date(ms+0000)/``; ValueError otherwise."""
    match = _DATE.match(text)
    if match is None:
        raise ValueError(f"not an OData v2 date: {text!r}")
    return datetime.fromtimestamp(int(match["ms"]) / 1000, tz=UTC)


def decimal_text(value: float | Decimal) -> str:
    """A decimal as SAP sends it: a string with 3 decimals (``"12.500"``)."""
    return str(Decimal(str(value)).quantize(_MILLI, rounding=ROUND_HALF_EVEN))


def parse_decimal(text: object) -> float:
    """A float from an ``Edm.Decimal`` string (empty or missing: 0)."""
    if text in (None, ""):
        return 0.0
    if not isinstance(text, str):
        raise TypeError(f"an Edm.Decimal must be a JSON string, got {text!r}")
    try:
        return float(Decimal(text).quantize(_MILLI, rounding=ROUND_HALF_EVEN))
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {text!r}") from exc


def quote(value: str) -> str:
    """A quoted key or filter literal: ``O'Neil`` -> ``'O''Neil'``."""
    return "'" + value.replace("'", "''") + "'"


def entity_path(entity_set: str, keys: Mapping[str, str]) -> str:
    """``A_Set('K')`` for one key, ``A_Set(A='1',B='2')`` for several."""
    if len(keys) == 1:
        return f"{entity_set}({quote(next(iter(keys.values())))})"
    inner = ",".join(f"{name}={quote(value)}" for name, value in keys.items())
    return f"{entity_set}({inner})"


def eq(field: str, value: str | bool) -> str:
    """One ``$filter`` comparison (strings quoted, booleans bare)."""
    literal = ("true" if value else "false") if isinstance(value, bool) else quote(value)
    return f"{field} eq {literal}"


def and_filter(*clauses: str | None) -> str | None:
    """The clauses given, joined by ``and`` (None when there are none)."""
    present = [clause for clause in clauses if clause]
    return " and ".join(present) if present else None


def unwrap_entity(body: object) -> Entity:
    """The entity of ``{"d": {...}}``; ValueError when the body is not one."""
    if isinstance(body, dict) and isinstance(body.get("d"), dict):
        entity: Entity = body["d"]
        return entity
    raise ValueError("not an OData v2 entity envelope")


def unwrap_collection(body: object) -> tuple[list[Entity], int | None, str | None]:
    """The results, ``__count`` (as an int) and ``__next`` of a collection envelope."""
    if isinstance(body, dict) and isinstance(body.get("d"), dict):
        inner = body["d"]
        results = inner.get("results")
        if isinstance(results, list):
            count = inner.get("__count")
            following = inner.get("__next")
            return (
                [r for r in results if isinstance(r, dict)],
                int(count) if isinstance(count, str | int) else None,
                following if isinstance(following, str) else None,
            )
    raise ValueError("not an OData v2 collection envelope")
