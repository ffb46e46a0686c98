"""Waivers: a matching, unexpired waiver lets a breaking change through; an expired one is
reported and does not count; a malformed file is a clear error."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from shared.governance import (
    Change,
    ContractError,
    Level,
    Waiver,
    apply_waivers,
    load_waivers,
    render,
)

TODAY = dt.date(2026, 1, 15)
REMOVED = Change(
    rule="operation-removed",
    level=Level.ERROR,
    contract="system_apis/erp.v1.yaml",
    operation="DELETE /system/erp/v1/lots/{lotId}",
    operation_id="deleteLot",
)
ADDED = Change(
    rule="operation-added",
    level=Level.INFO,
    contract="system_apis/erp.v1.yaml",
    operation="GET /system/erp/v1/items",
)
RENAMED = Change(
    rule="operation-id-changed",
    level=Level.WARNING,
    contract="system_apis/erp.v1.yaml",
    operation="GET /system/erp/v1/lots",
    location="operationId",
)


def _waiver(**changes: object) -> Waiver:
    fields: dict[str, object] = {
        "rule": "operation-removed",
        "contract": "system_apis/erp.v1.yaml",
        "operation": "DELETE /system/erp/v1/lots/{lotId}",
        "reason": "no consumer calls it",
        "approver": "api-governance",
        "expires": dt.date(2026, 3, 31),
        **changes,
    }
    return Waiver(**fields)  # type: ignore[arg-type]


def test_without_a_waiver_a_breaking_change_fails_the_gate() -> None:
    result = apply_waivers([REMOVED, ADDED], [], today=TODAY)
    assert result.failed
    assert [v.blocking for v in result.verdicts] == [True, False]


@pytest.mark.parametrize(
    "waiver",
    [
        _waiver(),
        _waiver(operation="deleteLot"),
        _waiver(operation="delete /system/erp/v1/lots/{lotId}"),
        _waiver(operation="*"),
        _waiver(contract="erp.v1.yaml"),
        _waiver(expires=TODAY),  # the last day still counts
    ],
    ids=["method-path", "operation-id", "method-case", "any-operation", "file-name", "last-day"],
)
def test_a_matching_live_waiver_passes_the_gate(waiver: Waiver) -> None:
    result = apply_waivers([REMOVED], [waiver], today=TODAY)
    assert not result.failed
    assert result.verdicts[0].waiver == waiver
    assert result.expired == []
    assert result.unused == []


@pytest.mark.parametrize(
    "waiver",
    [
        _waiver(rule="path-removed"),
        _waiver(operation="GET /system/erp/v1/lots/{lotId}"),
        _waiver(contract="system_apis/qms.v1.yaml"),
        _waiver(location="query parameter plant"),
    ],
    ids=["other-rule", "other-operation", "other-contract", "other-location"],
)
def test_a_waiver_for_something_else_does_not_count(waiver: Waiver) -> None:
    result = apply_waivers([REMOVED], [waiver], today=TODAY)
    assert result.failed
    assert result.unused == [waiver]


def test_an_expired_waiver_is_reported_and_does_not_count() -> None:
    expired = _waiver(expires=dt.date(2026, 1, 14))
    result = apply_waivers([REMOVED], [expired], today=TODAY)
    assert result.failed
    assert result.expired == [expired]
    text = render(result, "text")
    assert "expired waiver (no longer counts): operation-removed" in text
    assert "expired 2026-01-14" in text
    assert "expired waiver" in render(result, "markdown")


def test_fail_on_warning_also_blocks_warnings() -> None:
    assert not apply_waivers([RENAMED], [], today=TODAY).failed
    assert apply_waivers([RENAMED], [], today=TODAY, fail_on=Level.WARNING).failed


def test_the_waiver_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(
        "waivers:\n"
        "  - rule: operation-removed\n"
        "    contract: system_apis/erp.v1.yaml\n"
        "    operation: deleteLot\n"
        "    reason: no consumer calls it\n"
        "    approver: api-governance\n"
        "    expires: 2026-03-31\n",
        encoding="utf-8",
    )
    (waiver,) = load_waivers(path)
    assert waiver.expires == dt.date(2026, 3, 31)
    assert not apply_waivers([REMOVED], [waiver], today=TODAY).failed


def test_the_committed_waiver_file_loads() -> None:
    committed = Path(__file__).resolve().parents[3] / "openapi" / "waivers.yaml"
    assert isinstance(load_waivers(committed), list)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("waivers: [\n", "not valid YAML"),
        ("waivers: 3\n", "malformed waiver file"),
        ("waivers:\n  - rule: operation-removed\n", "missing required field"),
        (
            "waivers:\n  - {rule: nope, contract: c, operation: o, reason: r, approver: a,"
            " expires: 2026-01-01}\n",
            "unknown rule 'nope'",
        ),
        (
            "waivers:\n  - {rule: operation-removed, contract: c, operation: o, reason: ' ',"
            " approver: a, expires: 2026-01-01}\n",
            "`reason` must not be empty",
        ),
        (
            "waivers:\n  - {rule: operation-removed, contract: c, operation: o, reason: r,"
            " approver: a, expires: someday}\n",
            "malformed waiver file",
        ),
        (
            "waivers:\n  - {rule: operation-removed, contract: c, operation: o, reason: r,"
            " approver: a, expires: 2026-01-01, owner: me}\n",
            "unknown field",
        ),
    ],
    ids=[
        "yaml",
        "not-a-list",
        "missing-fields",
        "unknown-rule",
        "empty-reason",
        "bad-date",
        "extra",
    ],
)
def test_a_malformed_waiver_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ContractError, match=message) as raised:
        load_waivers(path)
    assert str(path) in str(raised.value)


def test_a_missing_waiver_file_is_an_error_unless_optional(tmp_path: Path) -> None:
    with pytest.raises(ContractError, match="no such waiver file"):
        load_waivers(tmp_path / "absent.yaml")
    assert load_waivers(tmp_path / "absent.yaml", missing_ok=True) == []
