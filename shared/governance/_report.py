"""Reports of a gate result: text (a terminal), markdown (a pull-request comment), JSON (tools)."""

from __future__ import annotations

from typing import Any, Final

import msgspec

from shared.governance._rules import Level
from shared.governance._waivers import GateResult, Verdict, Waiver

__all__ = ["FORMATS", "render"]

FORMATS: Final = ("text", "markdown", "json")
_ORDER: Final = {Level.ERROR: 0, Level.WARNING: 1, Level.INFO: 2}


def _sorted(result: GateResult) -> list[Verdict]:
    return sorted(
        result.verdicts,
        key=lambda v: (_ORDER[v.change.level], v.change.contract, v.change.operation),
    )


def _status(result: GateResult) -> str:
    return "FAILED" if result.failed else "passed"


def _summary(result: GateResult) -> str:
    waived = sum(1 for verdict in result.verdicts if verdict.waiver is not None)
    return (
        f"{result.count(Level.ERROR)} breaking (error), {result.count(Level.WARNING)} warning, "
        f"{result.count(Level.INFO)} info; {waived} waived"
    )


def _waiver_note(waiver: Waiver) -> str:
    return f"waived by {waiver.approver} until {waiver.expires}: {waiver.reason}"


def _text(result: GateResult) -> str:
    lines = [*result.notes]
    for verdict in _sorted(result):
        change = verdict.change
        where = f" [{change.location}]" if change.location else ""
        mark = "BLOCKING " if verdict.blocking else ""
        lines.append(
            f"{mark}{change.level.value.upper():7} {change.rule}  {change.contract}  "
            f"{change.operation or '(document)'}{where}: {change.message}"
        )
        if verdict.waiver is not None:
            lines.append(f"        {_waiver_note(verdict.waiver)}")
    lines.extend(_waiver_lines(result, bullet=""))
    lines.append(f"gate {_status(result)} (--fail-on {result.fail_on.value}): {_summary(result)}")
    return "\n".join(lines) + "\n"


def _waiver_lines(result: GateResult, *, bullet: str) -> list[str]:
    lines = []
    for waiver in result.expired:
        lines.append(
            f"{bullet}expired waiver (no longer counts): {waiver.rule} {waiver.contract} "
            f"{waiver.operation}, expired {waiver.expires} (approved by {waiver.approver})"
        )
    for waiver in result.unused:
        lines.append(
            f"{bullet}unused waiver: {waiver.rule} {waiver.contract} {waiver.operation} "
            f"(matches no change; remove it)"
        )
    return lines


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(result: GateResult) -> str:
    verdict = "failed: unwaived breaking changes" if result.failed else "passed"
    lines = [
        f"### Contract changes: gate {verdict}",
        "",
        f"{_summary(result)} (the gate fails on unwaived `{result.fail_on.value}` and above).",
        "",
    ]
    lines += [f"- {note}" for note in result.notes]
    if result.notes:
        lines.append("")
    if result.verdicts:
        lines += [
            "| Level | Rule | Operation | Where | Change |",
            "|---|---|---|---|---|",
        ]
        for item in _sorted(result):
            change = item.change
            level = f"**{change.level.value}**" if item.blocking else change.level.value
            operation = f"`{change.operation}`" if change.operation else "(document)"
            if change.operation_id:
                operation += f" ({change.operation_id})"
            message = change.message
            if item.waiver is not None:
                message += f" ({_waiver_note(item.waiver)})"
            lines.append(
                f"| {level} | `{change.rule}` | {_cell(operation)} | "
                f"{_cell(change.location)} | {_cell(message)} |"
            )
    else:
        lines.append("No changes.")
    waivers = _waiver_lines(result, bullet="- ")
    if waivers:
        lines += ["", "Waivers:", "", *waivers]
    return "\n".join(lines) + "\n"


def _json(result: GateResult) -> str:
    document: dict[str, Any] = {
        "failed": result.failed,
        "failOn": result.fail_on.value,
        "summary": {level.value: result.count(level) for level in Level},
        "notes": result.notes,
        "changes": [
            {
                **msgspec.to_builtins(item.change),
                "blocking": item.blocking,
                "waiver": msgspec.to_builtins(item.waiver) if item.waiver else None,
            }
            for item in _sorted(result)
        ],
        "expiredWaivers": msgspec.to_builtins(result.expired),
        "unusedWaivers": msgspec.to_builtins(result.unused),
    }
    return msgspec.json.format(msgspec.json.encode(document), indent=2).decode("utf-8") + "\n"


def render(result: GateResult, fmt: str = "text") -> str:
    """The report of ``result`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "markdown":
        return _markdown(result)
    if fmt == "json":
        return _json(result)
    return _text(result)
