"""The diff: every change between a base (released) contract and a revision, by rule.

Operations are matched by method and path template (parameter names ignored: ``/lots/{id}`` is
``/lots/{lotId}``); parameters by location and name (path parameters by position, header names
case-insensitively); responses by status; bodies by media type. Schemas are compared by
:class:`~shared.governance._schema.Comparator`; the side (request or response) decides the level.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

import msgspec

from shared.governance._load import Contract
from shared.governance._rules import Level, rule
from shared.governance._schema import Comparator
from shared.governance._security import requirement_changes, scheme_changes

__all__ = ["Change", "diff_contracts", "sunset_date"]

_TEMPLATE: Final = re.compile(r"\{[^}]*\}")


class Change(msgspec.Struct, frozen=True, kw_only=True):
    """One reported change."""

    rule: str
    level: Level
    contract: str
    operation: str
    """``METHOD /path`` as in the base (``""`` for a document-level change)."""
    operation_id: str | None = msgspec.field(default=None, name="operationId")
    location: str = ""
    message: str = ""


def sunset_date(operation: Mapping[str, Any]) -> dt.date | None:
    """The operation's ``x-sunset`` as a date (YAML dates, ISO dates and datetimes)."""
    value = operation.get("x-sunset")
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _key(path: str) -> str:
    return _TEMPLATE.sub("{}", path)


class _Differ:
    def __init__(self, base: Contract, revision: Contract, contract: str, today: dt.date) -> None:
        self.base = base
        self.revision = revision
        self.contract = contract
        self.today = today
        self.schemas = Comparator(base, revision)
        self.changes: list[Change] = []
        self._op = ""
        self._op_id: str | None = None

    def add(self, rule_id: str, location: str = "", message: str = "") -> None:
        self.changes.append(
            Change(
                rule=rule_id,
                level=rule(rule_id).level,
                contract=self.contract,
                operation=self._op,
                operation_id=self._op_id,
                location=location,
                message=message or rule(rule_id).description,
            )
        )

    def run(self) -> list[Change]:
        self._security_schemes()
        old = {(m, _key(p)): (p, m, op) for p, m, op in self.base.operations()}
        new = {(m, _key(p)): (p, m, op) for p, m, op in self.revision.operations()}
        new_paths = {_key(p) for p, _, _ in self.revision.operations()}
        for key, (path, method, operation) in old.items():
            self._op, self._op_id = f"{method.upper()} {path}", operation.get("operationId")
            if key in new:
                self._operation(path, operation, new[key][0], new[key][2])
            else:
                self._removed(operation, whole_path=key[1] not in new_paths)
        for key, (path, method, operation) in new.items():
            if key not in old:
                self._op, self._op_id = f"{method.upper()} {path}", operation.get("operationId")
                self.add("operation-added")
        return self.changes

    def _removed(self, operation: Mapping[str, Any], *, whole_path: bool) -> None:
        if not operation.get("deprecated"):
            self.add("path-removed" if whole_path else "operation-removed")
            return
        sunset = sunset_date(operation)
        if sunset is not None and sunset <= self.today:
            self.add("operation-removed-after-sunset", message=f"sunset {sunset} has passed")
        elif sunset is None:
            self.add("operation-removed-before-sunset", message="deprecated without an x-sunset")
        else:
            self.add("operation-removed-before-sunset", message=f"removed before sunset {sunset}")

    # --- one operation --------------------------------------------------------------------

    def _operation(
        self, old_path: str, old: Mapping[str, Any], new_path: str, new: Mapping[str, Any]
    ) -> None:
        if bool(old.get("deprecated")) != bool(new.get("deprecated")):
            self.add("operation-deprecated" if new.get("deprecated") else "operation-undeprecated")
        old_sunset, new_sunset = sunset_date(old), sunset_date(new)
        if old_sunset != new_sunset and new_sunset is not None:
            earlier = old_sunset is not None and new_sunset < old_sunset
            rule_id = (
                "operation-sunset-brought-forward" if earlier else "operation-sunset-postponed"
            )
            self.add(rule_id, "x-sunset", f"x-sunset {old_sunset or 'none'} -> {new_sunset}")
        if old.get("operationId") != new.get("operationId"):
            self.add(
                "operation-id-changed",
                "operationId",
                f"{old.get('operationId')} -> {new.get('operationId')}",
            )
        self._security(old, new)
        self._parameters(old_path, old, new_path, new)
        self._request_body(old, new)
        self._responses(old, new)

    def _security(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        before = self.base.security(old)
        after = self.revision.security(new)
        for rule_id, location, message in requirement_changes(before, after):
            self.add(rule_id, location, message)

    def _parameters(
        self, old_path: str, old: Mapping[str, Any], new_path: str, new: Mapping[str, Any]
    ) -> None:
        before = dict(_keyed(old_path, self.base.parameters(old_path, old)))
        after = dict(_keyed(new_path, self.revision.parameters(new_path, new)))
        gone = [key for key in before if key not in after]
        came = [key for key in after if key not in before]
        for old_key in list(gone):
            for new_key in came:
                o, n = before[old_key], after[new_key]
                if (
                    o["in"] == n["in"]
                    and bool(o.get("required")) == bool(n.get("required"))
                    and not self.schemas.compare(_param_schema(o), _param_schema(n))
                ):
                    self.add(
                        "request-parameter-renamed",
                        _where(o),
                        f"renamed to {n['name']}",
                    )
                    gone.remove(old_key)
                    came.remove(new_key)
                    break
        for key in gone:
            self.add("request-parameter-removed", _where(before[key]))
        for key in came:
            parameter = after[key]
            required = bool(parameter.get("required"))
            rule_id = "request-parameter-required-added" if required else "request-parameter-added"
            self.add(rule_id, _where(parameter))
        for key, o in before.items():
            if key not in after:
                continue
            n = after[key]
            if bool(o.get("required")) != bool(n.get("required")):
                became = "became-required" if n.get("required") else "became-optional"
                self.add(f"request-parameter-{became}", _where(o))
            for change in self.schemas.compare(_param_schema(o), _param_schema(n)):
                where = _where(o) + (f".{change.location}" if change.location else "")
                self.add(f"request-parameter-{change.change}", where, change.detail)

    def _request_body(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        before = self.base.resolve(old.get("requestBody"))
        after = self.revision.resolve(new.get("requestBody"))
        if not before and not after:
            return
        if not before:
            required = bool(after.get("required"))
            self.add("request-body-required-added" if required else "request-body-added")
            return
        if not after:
            self.add("request-body-removed")
            return
        if bool(before.get("required")) != bool(after.get("required")):
            self.add(f"request-body-became-{'required' if after.get('required') else 'optional'}")
        self._content("request", "request body", before, after)

    def _content(
        self, side: str, where: str, before: Mapping[str, Any], after: Mapping[str, Any]
    ) -> None:
        old_content = before.get("content") or {}
        new_content = after.get("content") or {}
        for media in old_content:
            if media not in new_content:
                self.add(f"{side}-media-type-removed", f"{where} {media}")
        for media in new_content:
            if media not in old_content:
                self.add(f"{side}-media-type-added", f"{where} {media}")
        for media, old_media in old_content.items():
            if media not in new_content:
                continue
            old_schema = (old_media or {}).get("schema")
            new_schema = (new_content[media] or {}).get("schema")
            if old_schema is None and new_schema is None:
                continue
            for change in self.schemas.compare(old_schema or {}, new_schema or {}):
                at = f"{where} {media}" + (f": {change.location}" if change.location else "")
                self.add(f"{side}-property-{change.change}", at, change.detail)

    def _responses(self, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        before = {str(k): v for k, v in (old.get("responses") or {}).items()}
        after = {str(k): v for k, v in (new.get("responses") or {}).items()}
        for status, raw in before.items():
            if status not in after:
                success = status[:1] in ("2", "3")
                kind = "success" if success else "error"
                self.add(f"response-{kind}-status-removed", f"response {status}")
                continue
            old_response = self.base.resolve(raw) or {}
            new_response = self.revision.resolve(after[status]) or {}
            self._content("response", f"response {status}", old_response, new_response)
            self._headers(status, old_response, new_response)
        for status in after:
            if status not in before:
                self.add("response-status-added", f"response {status}")

    def _headers(self, status: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> None:
        old = {
            k.lower(): (k, self.base.resolve(v)) for k, v in (before.get("headers") or {}).items()
        }
        new = {
            k.lower(): (k, self.revision.resolve(v))
            for k, v in (after.get("headers") or {}).items()
        }
        for key, (name, header) in old.items():
            where = f"response {status} header {name}"
            required = bool((header or {}).get("required"))
            if key not in new:
                self.add(
                    "response-required-header-removed" if required else "response-header-removed",
                    where,
                )
            elif required and not (new[key][1] or {}).get("required"):
                self.add("response-header-became-optional", where)
        for key, (name, _) in new.items():
            if key not in old:
                self.add("response-header-added", f"response {status} header {name}")

    # --- document level -------------------------------------------------------------------

    def _security_schemes(self) -> None:
        before = self.base.security_schemes()
        after = self.revision.security_schemes()
        self._op, self._op_id = "", None
        for rule_id, location, message in scheme_changes(before, after):
            self.add(rule_id, location, message)


def _keyed(path: str, parameters: list[dict[str, Any]]) -> Iterator[tuple[Any, dict[str, Any]]]:
    names = [match.group(0)[1:-1] for match in _TEMPLATE.finditer(path)]
    for parameter in parameters:
        where, name = str(parameter["in"]), str(parameter["name"])
        if where == "path" and name in names:
            yield ("path", names.index(name)), parameter
        else:
            yield (where, name.lower() if where == "header" else name), parameter


def _param_schema(parameter: Mapping[str, Any]) -> Any:
    if "schema" in parameter:
        return parameter["schema"]
    for media in (parameter.get("content") or {}).values():
        return (media or {}).get("schema", {})
    return {}


def _where(parameter: Mapping[str, Any]) -> str:
    return f"{parameter['in']} parameter {parameter['name']}"


def diff_contracts(
    base: Contract, revision: Contract, *, contract: str = "", today: dt.date | None = None
) -> list[Change]:
    """Every change from ``base`` to ``revision``; ``today`` decides whether a sunset passed."""
    return _Differ(base, revision, contract or revision.source, today or dt.date.today()).run()
