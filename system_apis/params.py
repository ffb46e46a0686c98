"""Typed path and query parameters of the system APIs (identifiers are path-safe)."""

from __future__ import annotations

import enum
import re
from typing import TypeVar

from litestar.params import ParameterKwarg, QueryParameter

from shared.models import ID_PATTERN

__all__ = ["as_enum", "as_flag", "enum_query", "flag_query", "id_query", "path_id"]


def id_query(name: str, description: str) -> ParameterKwarg:
    """An optional identifier filter ``?<name>=``: ``Annotated[str | None, id_query(...)]``."""
    return QueryParameter(
        name=name, description=description, min_length=1, max_length=64, pattern=ID_PATTERN
    )


def path_id(description: str) -> ParameterKwarg:
    """An identifier in the path: ``Annotated[str, path_id(...)]``."""
    return ParameterKwarg(description=description, min_length=1, max_length=64, pattern=ID_PATTERN)


def enum_query(name: str, values: type[enum.StrEnum], description: str) -> ParameterKwarg:
    """An optional enumeration filter, taken as text: ``Annotated[str | None, enum_query(...)]``.

    Litestar reads ``?x=null`` as None for an optional enum (the filter would silently vanish);
    as text, only the listed values match.
    """
    names = [member.value for member in values]
    return QueryParameter(
        name=name,
        description=description,
        pattern=f"^({'|'.join(re.escape(value) for value in names)})$",
        schema_extra={"enum": names},
    )


def flag_query(name: str, description: str) -> ParameterKwarg:
    """An optional boolean filter, ``true`` or ``false`` (see :func:`enum_query` for why text)."""
    return QueryParameter(
        name=name,
        description=description,
        pattern="^(true|false)$",
        schema_extra={"type": "boolean"},
    )


_E = TypeVar("_E", bound=enum.StrEnum)


def as_enum(values: type[_E], value: str | None) -> _E | None:
    """The member for a value :func:`enum_query` already matched (None: not given)."""
    return None if value is None else values(value)


def as_flag(value: str | None) -> bool | None:
    """The boolean for a value :func:`flag_query` already matched (None: not given)."""
    return None if value is None else value == "true"
