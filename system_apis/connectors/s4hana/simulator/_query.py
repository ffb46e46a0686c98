"""OData v2 system query options as SAP Gateway reads them: ``$filter`` (``eq``, ``ne``,
``gt``, ``ge``, ``lt``, ``le``, ``and``, ``or``, parentheses), and the JSON form of entities."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from system_apis.connectors.s4hana._odata import odata_date, parse_odata_date
from system_apis.connectors.s4hana.simulator._state import SapError

__all__ = ["compile_filter", "edm_decimal", "from_wire", "to_wire"]

Entity = dict[str, Any]
Predicate = Callable[[Entity], bool]

_TOKEN: Final = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<paren>[()])|(?P<word>[^\s()']+))")
_OPS: Final = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


def _bad(text: str) -> SapError:
    return SapError(400, "/IWBEP/CM_MGW_RT/006", f"Invalid filter expression: '{text}'")


def _tokens(text: str) -> list[str]:
    tokens, pos = [], 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            if text[pos:].strip():
                raise _bad(text)
            break
        tokens.append(match.group(match.lastgroup or "word"))
        pos = match.end()
    return tokens


def _literal(token: str) -> object:
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    if token in ("true", "false"):
        return token == "true"  # noqa: S105 - an OData literal, not a secret
    try:
        return Decimal(token)
    except ArithmeticError:
        raise SapError(400, "/IWBEP/CM_MGW_RT/006", f"Invalid literal '{token}'") from None


def _value(entity: Entity, field: str, like: object) -> object:
    value = entity.get(field)
    if isinstance(like, bool):
        return bool(value)
    if isinstance(like, Decimal):
        return Decimal(str(value or 0))
    return "" if value is None else str(value)


def compile_filter(text: str) -> Predicate:
    """A predicate for ``$filter``; SapError 400 for what it cannot parse."""
    tokens = _tokens(text)
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise _bad(text)
        position += 1
        return tokens[position - 1]

    def factor() -> Predicate:
        if peek() == "(":
            take()
            inner = expression()
            if take() != ")":
                raise _bad(text)
            return inner
        field, op, literal = take(), take(), _literal(take())
        compare = _OPS.get(op)
        if compare is None:
            raise _bad(text)
        return lambda entity: bool(compare(_value(entity, field, literal), literal))

    def term() -> Predicate:
        parts = [factor()]
        while peek() == "and":
            take()
            parts.append(factor())
        return lambda entity: all(part(entity) for part in parts)

    def expression() -> Predicate:
        parts = [term()]
        while peek() == "or":
            take()
            parts.append(term())
        return lambda entity: any(part(entity) for part in parts)

    predicate = expression()
    if position != len(tokens):
        raise _bad(text)
    return predicate


def to_wire(entity: Entity) -> Entity:
    """An entity's JSON form: ``/Date(ms)/`` dates, decimals as strings, no internal fields."""
    out: Entity = {}
    for name, value in entity.items():
        if name.startswith("_"):
            continue
        if isinstance(value, datetime):
            out[name] = odata_date(value)
        elif isinstance(value, Decimal):
            out[name] = str(value)
        else:
            out[name] = value
    return out


def from_wire(body: Entity) -> Entity:
    """A request body's values as the state keeps them (``/Date(ms)/`` strings to datetimes)."""
    out: Entity = {}
    for name, value in body.items():
        if isinstance(value, str) and value.startswith("/Date("):
            try:
                out[name] = parse_odata_date(value)
            except ValueError:
                raise SapError(400, "/IWBEP/CM_MGW_RT/001", f"Invalid date in '{name}'") from None
        elif isinstance(value, dict) and not name.startswith("to_"):
            raise SapError(400, "/IWBEP/CM_MGW_RT/004", f"Property '{name}' is invalid")
        else:
            out[name] = value
    return out


def edm_decimal(value: object, field: str) -> Decimal:
    """An ``Edm.Decimal`` request value at three places: SAP Gateway reads decimals only from
    JSON strings (a JSON number is refused, as it could have lost precision)."""
    if not isinstance(value, str):
        raise SapError(
            400, "/IWBEP/CM_MGW_RT/001", f"Property '{field}' must be an Edm.Decimal string"
        )
    try:
        number = Decimal(value).quantize(Decimal("0.001"))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise SapError(400, "/IWBEP/CM_MGW_RT/001", f"Invalid value '{value}' for '{field}'")
    return number
