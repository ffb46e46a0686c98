"""Typed path, query and header parameters shared by every layer's routes.

Identifiers are path-safe; lists take ``cursor`` and ``limit`` (1..200, default 50); updates
take ``If-Match``.
"""

from __future__ import annotations

import enum
import re
from typing import Annotated, Final, TypeVar

from litestar.params import HeaderParameter, ParameterKwarg, QueryParameter

from shared.models import ID_PATTERN

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "Cursor",
    "IfMatch",
    "IfMatchRequired",
    "Limit",
    "as_enum",
    "as_flag",
    "enum_query",
    "flag_query",
    "id_query",
    "path_id",
]

DEFAULT_PAGE_SIZE: Final = 50
MAX_PAGE_SIZE: Final = 200

Cursor = Annotated[
    str | None,
    QueryParameter(
        name="cursor",
        description="Where the page starts: `nextCursor` of the previous page (opaque).",
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_=-]+$",
    ),
]
Limit = Annotated[
    int,
    QueryParameter(
        name="limit",
        description=f"Page size, 1 to {MAX_PAGE_SIZE}.",
        ge=1,
        le=MAX_PAGE_SIZE,
    ),
]
_IF_MATCH_DESCRIPTION: Final = (
    'The record\'s current `ETag` (`"<version>"`, from the last read or write): the change '
    "applies only if nobody changed the record since (412 otherwise)."
)
_IF_MATCH_PATTERN: Final = r'^(\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)$'
# Where If-Match is optional, empty is allowed too (RFC 9110's #list may be empty) and means
# the same as no If-Match.
_IF_MATCH_OPTIONAL_PATTERN: Final = _IF_MATCH_PATTERN[:-1] + "?$"

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description=_IF_MATCH_DESCRIPTION,
        pattern=_IF_MATCH_OPTIONAL_PATTERN,
    ),
]
IfMatchRequired = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        description=_IF_MATCH_DESCRIPTION + " Required: without it the answer is 428.",
        pattern=_IF_MATCH_PATTERN,
        # Documented as required; the handler still sees None when it is missing, and answers
        # 428 (RFC 6585) rather than a generic validation error.
        required=True,
    ),
]


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
