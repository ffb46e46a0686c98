"""The rule catalogue: every change the diff can report, with a stable id and a level.

Ids never change meaning once released (waivers and CI reports name them). Levels: ``error``
breaks a consumer already in the field, ``warning`` may break one or changes behaviour,
``info`` is safe. Schema rules come in three *sides*: ``request-parameter`` and
``request-property`` (what a client sends: narrowing breaks it) and ``response-property`` (what a
client receives: widening breaks it).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, NamedTuple

__all__ = ["RULES", "SIDES", "Level", "Rule", "rule"]


class Level(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "error": 2}[self.value]


class Rule(NamedTuple):
    id: str
    level: Level
    description: str


E, W, I = Level.ERROR, Level.WARNING, Level.INFO  # noqa: E741 - the three levels, read as a table

SIDES: Final = ("request-parameter", "request-property", "response-property")

# (suffix, level on the request side, level on the response side, description)
_SCHEMA: Final[tuple[tuple[str, Level, Level, str], ...]] = (
    ("type-narrowed", E, I, "fewer types allowed (a type or null removed, number -> integer)"),
    ("type-widened", I, E, "more types allowed (a type or null added, integer -> number)"),
    ("type-changed", E, E, "type replaced by an unrelated one"),
    ("format-narrowed", E, I, "format added"),
    ("format-widened", I, E, "format removed"),
    ("format-changed", E, E, "format replaced by another"),
    ("enum-value-removed", E, W, "enum value removed (or enum added)"),
    ("enum-value-added", I, E, "enum value added (or enum removed)"),
    ("pattern-narrowed", E, I, "pattern added"),
    ("pattern-widened", I, E, "pattern removed"),
    ("pattern-changed", E, E, "pattern replaced by another"),
    ("limits-narrowed", E, I, "a length, size or range limit added or tightened"),
    ("limits-widened", I, E, "a length, size or range limit removed or loosened"),
    ("variants-narrowed", E, I, "oneOf/anyOf alternative removed"),
    ("variants-widened", I, E, "oneOf/anyOf alternative added"),
    ("additional-properties-closed", E, I, "unknown properties no longer allowed"),
    ("additional-properties-opened", I, W, "unknown properties now allowed"),
    ("default-changed", E, I, "default value changed: omitting the value now means another"),
    ("default-added", W, I, "default value added"),
    ("default-removed", W, I, "default value removed"),
    ("required-added", E, I, "new required property or parameter"),
    ("added", I, I, "new optional property or parameter"),
    ("removed", E, E, "property or parameter removed"),
    ("renamed", E, E, "property or parameter renamed (same schema, new name)"),
    ("became-required", E, I, "optional property or parameter made required"),
    ("became-optional", I, E, "required property or parameter made optional"),
)

_OTHER: Final[tuple[tuple[str, Level, str], ...]] = (
    ("path-removed", E, "path removed (every operation on it) without prior deprecation"),
    ("operation-removed", E, "operation removed without prior deprecation"),
    ("operation-removed-before-sunset", E, "deprecated operation removed before its x-sunset"),
    ("operation-removed-after-sunset", I, "deprecated operation removed after its x-sunset"),
    ("operation-added", I, "operation added"),
    ("operation-deprecated", I, "operation marked deprecated"),
    ("operation-undeprecated", I, "operation no longer deprecated"),
    ("operation-sunset-brought-forward", W, "x-sunset date moved earlier"),
    ("operation-sunset-postponed", I, "x-sunset date moved later or added"),
    ("operation-id-changed", W, "operationId changed (generated clients rename the method)"),
    ("request-body-required-added", E, "required request body added"),
    ("request-body-added", I, "optional request body added"),
    ("request-body-removed", E, "request body removed"),
    ("request-body-became-required", E, "request body made required"),
    ("request-body-became-optional", I, "request body made optional"),
    ("request-media-type-removed", E, "request media type no longer accepted"),
    ("request-media-type-added", I, "request media type added"),
    ("response-success-status-removed", E, "success (2xx/3xx) response status removed"),
    ("response-error-status-removed", W, "error response status no longer documented"),
    ("response-status-added", I, "response status added"),
    ("response-media-type-removed", E, "response media type removed"),
    ("response-media-type-added", I, "response media type added"),
    ("response-required-header-removed", E, "required response header removed"),
    ("response-header-removed", W, "optional response header removed"),
    ("response-header-became-optional", W, "required response header made optional"),
    ("response-header-added", I, "response header added"),
    ("security-scheme-removed", E, "security scheme removed"),
    ("security-scheme-added", I, "security scheme added"),
    ("security-scheme-changed", W, "security scheme type, flow or token URL changed"),
    ("security-scheme-scope-removed", E, "scope removed from a security scheme"),
    ("security-scheme-scope-added", I, "scope added to a security scheme"),
    ("security-scope-added", E, "scope added to an operation's security requirement"),
    ("security-scope-removed", I, "scope removed from an operation's security requirement"),
    ("security-requirement-added", E, "security required where none was"),
    ("security-requirement-changed", E, "security requirement replaced by an unrelated one"),
    ("security-requirement-removed", I, "operation no longer requires security"),
)


def _catalogue() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for side in SIDES:
        response = side.startswith("response")
        for suffix, on_request, on_response, text in _SCHEMA:
            rule_id = f"{side}-{suffix}"
            where = side.replace("-", " ")
            rules[rule_id] = Rule(
                rule_id, on_response if response else on_request, f"{where}: {text}"
            )
    for rule_id, level, text in _OTHER:
        rules[rule_id] = Rule(rule_id, level, text)
    return rules


RULES: Final = _catalogue()


def rule(rule_id: str) -> Rule:
    """The catalogued rule (KeyError for an id that is not in the catalogue)."""
    return RULES[rule_id]
