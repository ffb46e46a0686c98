"""qgate's own contracts: they follow the governance policy, and none breaks its released
baseline without a live waiver (what ``.ci/run`` gates on)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import pytest

from shared.cli import main
from shared.governance import committed_contracts, lint_contract, load_contract

OPENAPI: Final = Path(__file__).resolve().parents[3] / "openapi"
RELEASED: Final = OPENAPI / "released"

# Known gaps, to be closed (then removed here). Nothing may be added to this list: a new
# operation must come with its examples.
KNOWN_GAPS: Final[set[tuple[str, str, str]]] = set()


@pytest.mark.parametrize(
    "path", committed_contracts(OPENAPI), ids=lambda p: p.relative_to(OPENAPI).as_posix()
)
def test_the_committed_contract_follows_the_policy(path: Path) -> None:
    name = path.relative_to(OPENAPI).as_posix()
    findings = lint_contract(load_contract(path), name)
    found = {(f.contract, f.operation, f.message) for f in findings if f.rule == "example-missing"}
    others = [f for f in findings if f.rule != "example-missing"]
    assert others == []
    assert found - KNOWN_GAPS == set()
    stale = {gap for gap in KNOWN_GAPS if gap[0] == name} - found
    assert not stale, f"fixed, remove from KNOWN_GAPS: {sorted(stale)}"


def test_no_unwaived_breaking_change_against_the_baselines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["contracts", "diff", "--dir", str(OPENAPI), "--released", str(RELEASED)])
    out = capsys.readouterr().out
    assert code == 0, out
    contracts = committed_contracts(OPENAPI)
    released = [path for path in contracts if (RELEASED / path.relative_to(OPENAPI)).exists()]
    assert released, "the released baselines are committed"
    # Every contract with a baseline is compared; one not released yet is reported as new.
    assert out.count("compared ") == len(released)
    for path in contracts:
        if path not in released:
            assert f"{path.relative_to(OPENAPI).as_posix()}: no released version" in out
