"""Re-validate a decoded JSON body field by field against a type, collecting every error
(msgspec stops at the first). Bounded: at most ``_MAX_FIELD_ERRORS`` errors, ``_MAX_DEPTH`` deep."""

from __future__ import annotations

import json
import logging
import re
from collections import abc
from collections.abc import Sequence
from types import UnionType
from typing import Annotated, Any, Final, Union, get_args, get_origin

import msgspec

from shared.errors._tree import FieldError

_log = logging.getLogger("qgate.errors")


_MAX_FIELD_ERRORS: Final = 50
"""At most this many entries in ``errors[]``; ``detail`` says when more were found."""
_MAX_DEPTH: Final = 32
"""Below this nesting depth a value is checked as a whole (first error only)."""
_MSGSPEC_PATH: Final = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING_PARAMETER: Final = re.compile(
    r"^Missing required (?P<kind>\w+) parameter '(?P<name>[^']*)'"
)
_IDENTIFIER: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_JSON_TYPES: Final = (
    (bool, "bool"),
    (int, "int"),
    (float, "float"),
    (str, "str"),
    (list, "array"),
    (dict, "object"),
)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for python_type, name in _JSON_TYPES:
        if isinstance(value, python_type):
            return name
    return type(value).__name__


def _child(location: str, key: str) -> str:
    """``body.note``, or ``body["odd key"]`` when the key is not a plain name."""
    return f"{location}.{key}" if _IDENTIFIER.match(key) else f"{location}[{json.dumps(key)}]"


def _msgspec_message(exc: Exception) -> tuple[str, str]:
    """(message, path below the converted value) from a msgspec error: ``- at `$.a[0]```."""
    match = _MSGSPEC_PATH.match(str(exc))
    if match is None:  # pragma: no cover - the pattern matches any string
        return str(exc), ""
    return match.group("message"), match.group("path") or ""


def _unwrap(type_: Any) -> tuple[Any, tuple[msgspec.Meta, ...]]:
    """The bare type and its msgspec constraints; other ``Annotated`` metadata is dropped."""
    metas: list[msgspec.Meta] = []
    while True:
        if get_origin(type_) is Annotated:
            metas.extend(m for m in type_.__metadata__ if isinstance(m, msgspec.Meta))
            type_ = type_.__origin__
        elif hasattr(type_, "__supertype__"):  # typing.NewType
            type_ = type_.__supertype__
        else:
            return type_, tuple(metas)


def _annotate(type_: Any, metas: Sequence[msgspec.Meta]) -> Any:
    return Annotated.__class_getitem__((type_, *metas)) if metas else type_  # type: ignore[attr-defined]


_ARRAY_ORIGINS: Final = frozenset(
    {
        list,
        set,
        frozenset,
        abc.Sequence,
        abc.MutableSequence,
        abc.Set,
        abc.MutableSet,
        abc.Collection,
    }
)
_MAP_ORIGINS: Final = frozenset({dict, abc.Mapping, abc.MutableMapping})


class _BodyChecker:
    """Every error in a decoded JSON body against the handler's ``data`` type, with locations.

    msgspec stops at the first error; this walks Structs, arrays, maps and optional values
    itself and lets msgspec judge each leaf (with the same lax conversions Litestar applies),
    so one response lists every wrong, missing and unknown field. Bounded by
    :data:`_MAX_FIELD_ERRORS` and :data:`_MAX_DEPTH`.
    """

    def __init__(self, *, strict: bool = False) -> None:
        self.errors: list[FieldError] = []
        self.truncated = False
        self.strict = strict

    def add(self, location: str, message: str) -> None:
        if len(self.errors) >= _MAX_FIELD_ERRORS:
            self.truncated = True
            return
        self.errors.append(FieldError(location=location, message=message))

    def leaf(self, value: Any, type_: Any, location: str) -> None:
        """Let msgspec judge ``value`` as a whole: its first error, at the path it names."""
        try:
            msgspec.convert(value, type_, strict=self.strict, str_keys=True)
        except msgspec.ValidationError as exc:
            message, path = _msgspec_message(exc)
            self.add(location + path, message)
        except (TypeError, ValueError):
            # A type msgspec cannot convert by itself (Litestar may decode it with its own hooks):
            # nothing certain to report here; the fallback keeps Litestar's own message.
            return

    def walk(self, value: Any, annotated: Any, location: str, depth: int = 0) -> None:
        if self.truncated:
            return
        type_, metas = _unwrap(annotated)
        origin = get_origin(type_) or type_
        before = len(self.errors)
        if depth >= _MAX_DEPTH or type_ is Any:
            if type_ is not Any:
                self.leaf(value, annotated, location)
            return
        if isinstance(type_, type) and issubclass(type_, msgspec.Struct):
            if not type_.__struct_config__.array_like:
                self._struct(value, type_, location, depth)
            if len(self.errors) == before:  # tags, __post_init__, array-like Structs
                self.leaf(value, annotated, location)
        elif origin in (Union, UnionType):
            self._union(value, type_, metas, location, depth)
        elif origin in _ARRAY_ORIGINS or (origin is tuple and get_args(type_)[1:] == (...,)):
            self._array(value, type_, metas, location, depth)
        elif origin in _MAP_ORIGINS:
            self._map(value, type_, metas, location, depth)
        else:
            self.leaf(value, annotated, location)

    def _struct(self, value: Any, type_: type[msgspec.Struct], location: str, depth: int) -> None:
        if not isinstance(value, dict):
            self.add(location, f"Expected `object`, got `{_json_type(value)}`")
            return
        config = type_.__struct_config__
        known: set[str] = set()
        if isinstance(config.tag_field, str):
            known.add(config.tag_field)
        for field in msgspec.structs.fields(type_):
            known.add(field.encode_name)
            if field.encode_name in value:
                self.walk(
                    value[field.encode_name],
                    field.type,
                    _child(location, field.encode_name),
                    depth + 1,
                )
            elif field.required:
                self.add(_child(location, field.encode_name), "Missing required field")
        if config.forbid_unknown_fields:
            for key in value:
                if key not in known:
                    self.add(_child(location, str(key)), "Unknown field")

    def _union(
        self, value: Any, type_: Any, metas: Sequence[msgspec.Meta], location: str, depth: int
    ) -> None:
        members = get_args(type_)
        if value is None and type(None) in members:
            return
        others = [member for member in members if member is not type(None)]
        if len(others) == 1 and not metas:
            self.walk(value, others[0], location, depth + 1)
        else:
            self.leaf(value, _annotate(type_, metas), location)

    def _array(
        self, value: Any, type_: Any, metas: Sequence[msgspec.Meta], location: str, depth: int
    ) -> None:
        if not isinstance(value, list):
            self.add(location, f"Expected `array`, got `{_json_type(value)}`")
            return
        args = get_args(type_)
        item_type = args[0] if args else Any
        before = len(self.errors)
        for index, item in enumerate(value):
            self.walk(item, item_type, f"{location}[{index}]", depth + 1)
            if self.truncated:
                return
        if len(self.errors) == before:
            self.leaf(value, _annotate(type_, metas), location)  # uniqueness, lengths
        elif metas:
            self.leaf(value, _annotate(list[Any], metas), location)  # lengths

    def _map(
        self, value: Any, type_: Any, metas: Sequence[msgspec.Meta], location: str, depth: int
    ) -> None:
        if not isinstance(value, dict):
            self.add(location, f"Expected `object`, got `{_json_type(value)}`")
            return
        args = get_args(type_)
        key_type, value_type = args if len(args) == 2 else (str, Any)
        for key, item in value.items():
            child = _child(location, str(key))
            self.leaf(key, key_type, child)
            self.walk(item, value_type, child, depth + 1)
            if self.truncated:
                return
        if metas:
            self.leaf(value, _annotate(dict[Any, Any], metas), location)
