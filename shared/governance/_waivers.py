"""Waivers: reviewed, expiring acceptances of a breaking change (``openapi/waivers.yaml``).

::

    waivers:
      - rule: operation-removed                 # a rule id from the catalogue
        contract: system_apis/erp.v1.yaml       # the contract below openapi/
        operation: DELETE /system/erp/v1/lots/{lotId}   # or its operationId, or "*"
        location: query parameter plant         # optional: only changes at (below) this place
        reason: No consumer calls it (access logs since 2025-01-01)
        approver: api-governance (J. Doe)
        expires: 2026-03-31                     # the waiver stops counting after this day

A waiver matches a change with the same rule, contract and operation (and location, if given).
The gate passes a waived change only while its waiver has not expired; expired waivers are
reported, so the file is cleaned up.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import msgspec
import yaml

from shared.governance._diff import Change
from shared.governance._load import ContractError
from shared.governance._rules import RULES, Level

__all__ = ["WAIVERS_FILE", "GateResult", "Verdict", "Waiver", "apply_waivers", "load_waivers"]

WAIVERS_FILE: Final = Path("openapi/waivers.yaml")


class Waiver(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    rule: str
    contract: str
    operation: str
    reason: str
    approver: str
    expires: dt.date
    location: str | None = None

    def matches(self, change: Change) -> bool:
        if self.rule != change.rule:
            return False
        contract = change.contract.replace("\\", "/")
        if contract != self.contract and not contract.endswith("/" + self.contract):
            return False
        operation = self.operation.strip()
        method, _, path = operation.partition(" ")
        named = operation in ("*", change.operation_id) or (
            f"{method.upper()} {path.strip()}" == change.operation
        )
        if not named:
            return False
        return self.location is None or change.location.startswith(self.location)


class _File(msgspec.Struct, forbid_unknown_fields=True):
    waivers: list[Waiver] = msgspec.field(default_factory=list)


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    change: Change
    waiver: Waiver | None = None
    blocking: bool = False


class GateResult(msgspec.Struct, kw_only=True):
    verdicts: list[Verdict]
    fail_on: Level
    expired: list[Waiver] = msgspec.field(default_factory=list)
    unused: list[Waiver] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)
    """What was compared, and what was skipped (a contract without a released baseline)."""

    @property
    def failed(self) -> bool:
        return any(verdict.blocking for verdict in self.verdicts)

    def count(self, level: Level) -> int:
        return sum(1 for verdict in self.verdicts if verdict.change.level is level)


def load_waivers(path: Path, *, missing_ok: bool = False) -> list[Waiver]:
    """The waivers in ``path``; :class:`ContractError` (with the reason) when malformed."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        if missing_ok:
            return []
        raise ContractError(f"{path}: no such waiver file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: cannot be read ({exc.__class__.__name__})") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML") from exc
    if raw is None:
        return []
    try:
        waivers = msgspec.convert(raw, _File).waivers
    except msgspec.ValidationError as exc:
        raise ContractError(f"{path}: malformed waiver file: {exc}") from exc
    for index, waiver in enumerate(waivers):
        where = f"{path}: waivers[{index}]"
        if waiver.rule not in RULES:
            raise ContractError(
                f"{where}: unknown rule {waiver.rule!r} (see qgate contracts rules)"
            )
        for field in ("contract", "operation", "reason", "approver"):
            if not getattr(waiver, field).strip():
                raise ContractError(f"{where}: `{field}` must not be empty")
    return waivers


def apply_waivers(
    changes: Sequence[Change],
    waivers: Sequence[Waiver],
    *,
    fail_on: Level = Level.ERROR,
    today: dt.date | None = None,
) -> GateResult:
    """Which changes block the gate: at or above ``fail_on`` and not covered by a live waiver."""
    today = today or dt.date.today()
    live = [waiver for waiver in waivers if waiver.expires >= today]
    expired = [waiver for waiver in waivers if waiver.expires < today]
    used: set[int] = set()
    verdicts: list[Verdict] = []
    for change in changes:
        waiver = next((w for w in live if w.matches(change)), None)
        if waiver is not None:
            used.add(id(waiver))
        blocking = change.level.rank >= fail_on.rank and waiver is None
        verdicts.append(Verdict(change=change, waiver=waiver, blocking=blocking))
    unused = [waiver for waiver in live if id(waiver) not in used]
    return GateResult(verdicts=verdicts, fail_on=fail_on, expired=expired, unused=unused)
