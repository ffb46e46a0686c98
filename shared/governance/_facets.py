"""Facet comparisons of two schema shapes: format, pattern, enum, limits, default."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from shared.governance._change import SchemaChange

if TYPE_CHECKING:
    from shared.governance._schema import Shape

__all__ = ["MISSING", "default", "enum", "facet", "limits", "names"]

MISSING: Final[Any] = object()


def names(types: frozenset[str] | None) -> str:
    return "|".join(sorted(types or ())) or "any"


def facet(name: str, old: str | None, new: str | None, at: str) -> list[SchemaChange]:
    if old == new:
        return []
    if old is None:
        return [SchemaChange(f"{name}-narrowed", at, f"{name} {new!r} added")]
    if new is None:
        return [SchemaChange(f"{name}-widened", at, f"{name} {old!r} removed")]
    return [SchemaChange(f"{name}-changed", at, f"{name} {old!r} -> {new!r}")]


def enum(old: list[Any] | None, new: list[Any] | None, at: str) -> list[SchemaChange]:
    if old == new:
        return []
    if old is None:
        return [SchemaChange("enum-value-removed", at, f"restricted to {new}")]
    if new is None:
        return [SchemaChange("enum-value-added", at, "any value now allowed (enum removed)")]
    out = [SchemaChange("enum-value-removed", at, f"{v!r} removed") for v in old if v not in new]
    out += [SchemaChange("enum-value-added", at, f"{v!r} added") for v in new if v not in old]
    return out


def limits(b: Shape, r: Shape, at: str) -> list[SchemaChange]:
    out: list[SchemaChange] = []
    for key in sorted({*b.lower, *r.lower}):
        old, new = b.lower.get(key), r.lower.get(key)
        if old != new:
            tighter = old is None or (new is not None and (new[0], new[1]) > (old[0], old[1]))
            change = "limits-narrowed" if tighter else "limits-widened"
            out.append(SchemaChange(change, at, f"{key} {_bound(old)} -> {_bound(new)}"))
    for key in sorted({*b.upper, *r.upper}):
        old, new = b.upper.get(key), r.upper.get(key)
        if old != new:
            tighter = old is None or (new is not None and (-new[0], new[1]) > (-old[0], old[1]))
            change = "limits-narrowed" if tighter else "limits-widened"
            out.append(SchemaChange(change, at, f"{key} {_bound(old)} -> {_bound(new)}"))
    if b.multiple_of != r.multiple_of:
        wider = r.multiple_of is None or (
            b.multiple_of is not None and b.multiple_of % r.multiple_of == 0
        )
        change = "limits-widened" if wider else "limits-narrowed"
        out.append(SchemaChange(change, at, f"multipleOf {b.multiple_of} -> {r.multiple_of}"))
    return out


def _bound(value: tuple[float, bool] | None) -> str:
    if value is None:
        return "none"
    return f"{value[0]}{' (exclusive)' if value[1] else ''}"


def default(old: Any, new: Any, at: str) -> list[SchemaChange]:
    if old is MISSING and new is MISSING:
        return []
    if old is MISSING:
        return [SchemaChange("default-added", at, f"default {new!r} added")]
    if new is MISSING:
        return [SchemaChange("default-removed", at, f"default {old!r} removed")]
    if old != new:
        return [SchemaChange("default-changed", at, f"default {old!r} -> {new!r}")]
    return []
