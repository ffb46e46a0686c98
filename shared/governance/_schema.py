"""Schema comparison, direction-free: what got narrower, what got wider.

Both schemas are first normalised to a :class:`Shape`: ``$ref`` followed, ``allOf`` merged, and the
three spellings of "may be null" (3.0 ``nullable: true``, 3.1 ``type: [x, "null"]``, and a
``oneOf``/``anyOf`` with a ``{type: "null"}`` alternative) folded into one flag. What is left of a
``oneOf``/``anyOf`` is a list of alternatives, matched by ``$ref`` name, title or type.

:meth:`Comparator.compare` reports each difference as a rule *suffix* (``type-narrowed``,
``removed``, ...); the diff prefixes the side (``request-property-``), which decides the level.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from shared.governance._change import SchemaChange
from shared.governance._facets import MISSING, default, enum, facet, limits, names
from shared.governance._load import Contract

__all__ = ["Comparator", "SchemaChange", "Shape", "shape"]

_LOWER: Final = ("minLength", "minimum", "minItems", "minProperties")
_UPPER: Final = ("maxLength", "maximum", "maxItems", "maxProperties")
_MAX_DEPTH: Final = 48


class Shape:
    """A schema as the comparison sees it."""

    def __init__(self, flat: Mapping[str, Any], ref: str | None) -> None:
        self.ref = ref
        self.title: str | None = flat.get("title")
        raw_type = flat.get("type")
        types = {raw_type} if isinstance(raw_type, str) else set(raw_type or ())
        self.nullable = "null" in types or flat.get("nullable") is True
        types.discard("null")
        self.types: frozenset[str] | None = frozenset(types) if raw_type is not None else None
        self.format: str | None = flat.get("format")
        self.pattern: str | None = flat.get("pattern")
        enum = [flat["const"]] if "const" in flat else flat.get("enum")
        self.enum: list[Any] | None = list(enum) if isinstance(enum, list) else None
        if self.enum is not None and None in self.enum:
            self.nullable = True
            self.enum = [value for value in self.enum if value is not None]
        self.default: Any = flat.get("default", MISSING)
        self.lower: dict[str, tuple[float, bool]] = {}
        self.upper: dict[str, tuple[float, bool]] = {}
        for key in _LOWER:
            if isinstance(flat.get(key), int | float):
                exclusive = key == "minimum" and flat.get("exclusiveMinimum") is True
                self.lower[key] = (flat[key], exclusive)
        for key in _UPPER:
            if isinstance(flat.get(key), int | float):
                exclusive = key == "maximum" and flat.get("exclusiveMaximum") is True
                self.upper[key] = (flat[key], exclusive)
        # 3.1: exclusiveMinimum/Maximum are numbers of their own.
        for key, bounds, name in (
            ("exclusiveMinimum", self.lower, "minimum"),
            ("exclusiveMaximum", self.upper, "maximum"),
        ):
            value = flat.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                bounds[name] = (value, True)
        self.multiple_of: float | None = flat.get("multipleOf")
        self.properties: dict[str, Any] = dict(flat.get("properties") or {})
        self.required: frozenset[str] = frozenset(flat.get("required") or ())
        self.additional: Any = flat.get("additionalProperties")
        self.items: Any = flat.get("items")
        self.variants: list[Any] = list(flat.get("oneOf") or flat.get("anyOf") or [])

    @property
    def key(self) -> str:
        """How an alternative of a oneOf/anyOf is recognised on the other side."""
        if self.ref:
            return "ref:" + self.ref.rsplit("/", 1)[-1]
        if self.title:
            return "title:" + self.title
        return "type:" + ",".join(sorted(self.types or ()))


def _merge(contract: Contract, node: Mapping[str, Any], depth: int = 0) -> dict[str, Any]:
    """``node`` with its ``allOf`` merged in (recursively); the tightest constraint wins."""
    flat = {key: value for key, value in node.items() if key != "allOf"}
    for raw in node.get("allOf") or []:
        member = contract.resolve(raw)
        if not isinstance(member, Mapping) or depth > _MAX_DEPTH:
            continue
        part = _merge(contract, member, depth + 1)
        for key, value in part.items():
            if key not in flat:
                flat[key] = value
            elif key == "properties":
                props = dict(flat[key])
                for name, schema in value.items():
                    props[name] = {"allOf": [props[name], schema]} if name in props else schema
                flat[key] = props
            elif key == "required":
                flat[key] = sorted({*flat[key], *value})
            elif key == "enum":
                flat[key] = [item for item in flat[key] if item in value]
            elif key in _LOWER:
                flat[key] = max(flat[key], value)
            elif key in _UPPER:
                flat[key] = min(flat[key], value)
            elif key == "additionalProperties" and value is False:
                flat[key] = False
    return flat


def _is_null(contract: Contract, raw: Any) -> bool:
    node = contract.resolve(raw)
    if not isinstance(node, Mapping):
        return False
    return node.get("type") in ("null", ["null"]) or node.get("enum") == [None]


def shape(contract: Contract, raw: Any) -> Shape:
    """The normalised :class:`Shape` of the schema ``raw`` (``$ref`` allowed)."""
    ref = raw.get("$ref") if isinstance(raw, Mapping) else None
    node = contract.resolve(raw)
    if not isinstance(node, Mapping):  # `true`, `{}` or nonsense: anything goes
        return Shape({}, ref)
    flat = _merge(contract, node)
    alternatives = flat.get("oneOf") or flat.get("anyOf")
    if isinstance(alternatives, list):
        rest = [alt for alt in alternatives if not _is_null(contract, alt)]
        nullable = len(rest) < len(alternatives)
        flat = {key: value for key, value in flat.items() if key not in ("oneOf", "anyOf")}
        if len(rest) == 1:
            inner_ref = rest[0].get("$ref") if isinstance(rest[0], Mapping) else None
            inner = contract.resolve(rest[0])
            merged = {**_merge(contract, inner), **flat} if isinstance(inner, Mapping) else flat
            result = Shape(merged, ref or inner_ref)
        else:
            result = Shape({**flat, "oneOf": rest}, ref)
        result.nullable = result.nullable or nullable
        return result
    return Shape(flat, ref)


def _join(location: str, name: str) -> str:
    return f"{location}.{name}" if location else name


def _expand(types: frozenset[str]) -> set[str]:
    # An integer is a number: number -> integer narrows, integer -> number widens.
    return {*types, "integer"} if "number" in types else set(types)


class Comparator:
    """Compares schemas of one base and one revision contract."""

    def __init__(self, base: Contract, revision: Contract) -> None:
        self.base = base
        self.revision = revision
        self._active: set[tuple[str, str]] = set()

    def compare(self, old: Any, new: Any, location: str = "") -> list[SchemaChange]:
        """Every difference between the base schema ``old`` and the revision schema ``new``."""
        old_ref = old.get("$ref") if isinstance(old, Mapping) else None
        new_ref = new.get("$ref") if isinstance(new, Mapping) else None
        pair = (str(old_ref), str(new_ref))
        if (old_ref and new_ref and pair in self._active) or len(self._active) > _MAX_DEPTH:
            return []  # a recursive schema, already being compared further up
        if old_ref and new_ref:
            self._active.add(pair)
        try:
            return self._compare(shape(self.base, old), shape(self.revision, new), location)
        finally:
            self._active.discard(pair)

    def _compare(self, b: Shape, r: Shape, at: str) -> list[SchemaChange]:
        out: list[SchemaChange] = []
        if b.nullable and not r.nullable:
            out.append(SchemaChange("type-narrowed", at, "null no longer allowed"))
        elif r.nullable and not b.nullable:
            out.append(SchemaChange("type-widened", at, "null now allowed"))
        if b.variants or r.variants:
            out.extend(self._variants(b, r, at))
            if not (b.variants and r.variants):
                return out  # the plain side was compared with its matching alternative
        else:
            out.extend(self._types(b, r, at))
        out.extend(facet("format", b.format, r.format, at))
        out.extend(facet("pattern", b.pattern, r.pattern, at))
        out.extend(enum(b.enum, r.enum, at))
        out.extend(limits(b, r, at))
        out.extend(default(b.default, r.default, at))
        out.extend(self._objects(b, r, at))
        if b.items is not None and r.items is not None:
            out.extend(self.compare(b.items, r.items, at + "[]"))
        return out

    def _types(self, b: Shape, r: Shape, at: str) -> list[SchemaChange]:
        if b.types == r.types:
            return []
        if b.types is None:
            return [SchemaChange("type-narrowed", at, f"any type -> {names(r.types)}")]
        if r.types is None:
            return [SchemaChange("type-widened", at, f"{names(b.types)} -> any type")]
        lost = _expand(b.types) - _expand(r.types)
        gained = _expand(r.types) - _expand(b.types)
        detail = f"{names(b.types)} -> {names(r.types)}"
        if lost and gained:
            return [SchemaChange("type-changed", at, detail)]
        return [SchemaChange("type-narrowed" if lost else "type-widened", at, detail)]

    def _variants(self, b: Shape, r: Shape, at: str) -> list[SchemaChange]:
        old = {shape(self.base, raw).key: raw for raw in b.variants} if b.variants else {b.key: b}
        new = (
            {shape(self.revision, raw).key: raw for raw in r.variants} if r.variants else {r.key: r}
        )
        gone = [key for key in old if key not in new]
        came = [key for key in new if key not in old]
        pairs = [(old[key], new[key]) for key in old if key in new]
        if len(gone) == 1 and len(came) == 1:  # one alternative changed in place
            pairs.append((old[gone.pop()], new[came.pop()]))
        out = [SchemaChange("variants-narrowed", at, f"alternative {k} removed") for k in gone]
        out += [SchemaChange("variants-widened", at, f"alternative {k} added") for k in came]
        for old_alt, new_alt in pairs:
            if not isinstance(old_alt, Shape) and not isinstance(new_alt, Shape):
                out.extend(self.compare(old_alt, new_alt, at))
            else:
                # One side is the plain schema itself: compare its shape with the alternative.
                old_s = old_alt if isinstance(old_alt, Shape) else shape(self.base, old_alt)
                new_s = new_alt if isinstance(new_alt, Shape) else shape(self.revision, new_alt)
                out.extend(self._compare(_plain(old_s), _plain(new_s), at))
        return out

    def _objects(self, b: Shape, r: Shape, at: str) -> list[SchemaChange]:
        out: list[SchemaChange] = []
        gone = [name for name in b.properties if name not in r.properties]
        came = [name for name in r.properties if name not in b.properties]
        for old_name in list(gone):
            for new_name in came:
                same_required = (old_name in b.required) == (new_name in r.required)
                if same_required and not self.compare(
                    b.properties[old_name], r.properties[new_name]
                ):
                    out.append(
                        SchemaChange("renamed", _join(at, old_name), f"renamed to {new_name}")
                    )
                    gone.remove(old_name)
                    came.remove(new_name)
                    break
        out += [SchemaChange("removed", _join(at, name), "removed") for name in gone]
        for name in came:
            required = name in r.required
            change = "required-added" if required else "added"
            detail = "added as required" if required else "added"
            out.append(SchemaChange(change, _join(at, name), detail))
        for name, old in b.properties.items():
            if name not in r.properties:
                continue
            if name in b.required and name not in r.required:
                out.append(SchemaChange("became-optional", _join(at, name), "no longer required"))
            elif name in r.required and name not in b.required:
                out.append(SchemaChange("became-required", _join(at, name), "now required"))
            out.extend(self.compare(old, r.properties[name], _join(at, name)))
        if b.additional is not False and r.additional is False:
            out.append(
                SchemaChange("additional-properties-closed", at, "unknown properties refused")
            )
        elif b.additional is False and r.additional is not False:
            out.append(
                SchemaChange("additional-properties-opened", at, "unknown properties allowed")
            )
        if isinstance(b.additional, Mapping) and isinstance(r.additional, Mapping):
            out.extend(self.compare(b.additional, r.additional, _join(at, "*")))
        return out


def _plain(s: Shape) -> Shape:
    """``s`` without alternatives or nullability (both compared already, one level up)."""
    plain = copy.copy(s)
    plain.variants = []
    plain.nullable = False
    return plain
