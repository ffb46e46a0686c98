"""``qgate contracts diff|lint|rules``: exit codes (0 passed, 1 gate failed, 2 usage or file
error), the three report formats, --fail-on, waivers, --base-ref and the baseline layout."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.cli import main
from shared.governance import RULES

ROOT = Path(__file__).resolve().parents[3]
PLANT = ROOT / "openapi" / "released" / "experience_apis" / "plant.v1.yaml"


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


def _write(path: Path, document: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=True), encoding="utf-8")
    return path


def _breaking_copy(tmp_path: Path) -> Path:
    """The released plant contract with whoami removed and a required request property added."""
    document = _load(PLANT)
    del document["paths"]["/plant/v1/whoami"]
    request = document["components"]["schemas"]["ConnectivityCheckRequest"]
    request["properties"]["plantId"] = {"type": "string", "examples": ["1000"]}
    request["required"] = ["plantId"]
    return _write(tmp_path / "plant.v1.yaml", document)


def _additive_copy(tmp_path: Path) -> Path:
    document = _load(PLANT)
    whoami = document["paths"]["/plant/v1/whoami"]["get"]
    document["paths"]["/plant/v1/lots"] = {"get": {**whoami, "operationId": "listPlantLots"}}
    return _write(tmp_path / "plant.v1.yaml", document)


def test_an_unchanged_contract_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "diff", str(PLANT), str(PLANT)]) == 0
    out = capsys.readouterr().out
    assert "gate passed" in out
    assert "0 breaking (error), 0 warning, 0 info" in out


def test_an_addition_is_info_and_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "diff", str(PLANT), str(_additive_copy(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "INFO    operation-added" in out
    assert "GET /plant/v1/lots" in out


def test_a_breaking_change_fails_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    revision = _breaking_copy(tmp_path)
    assert main(["contracts", "diff", str(PLANT), str(revision)]) == 1
    out = capsys.readouterr().out
    assert "BLOCKING ERROR   path-removed" in out
    assert "request-property-required-added" in out
    assert "gate FAILED" in out


def test_markdown_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    revision = _breaking_copy(tmp_path)
    assert main(["contracts", "diff", str(PLANT), str(revision), "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("### Contract changes: gate failed: unwaived breaking changes\n")
    assert "| Level | Rule | Operation | Where | Change |" in out
    assert (
        "| **error** | `path-removed` | `GET /plant/v1/whoami` (plantWhoAmI) |  | "
        "path removed (every operation on it) without prior deprecation |"
    ) in out
    assert (
        "| **error** | `request-property-required-added` | `POST /plant/v1/connectivity-checks` "
        "(createPlantConnectivityCheck) | request body application/json: plantId | "
        "added as required |"
    ) in out


def test_json_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    revision = _breaking_copy(tmp_path)
    assert main(["contracts", "diff", str(PLANT), str(revision), "--format", "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["failed"] is True
    assert report["summary"] == {"error": 2, "warning": 0, "info": 0}
    rules = {(c["rule"], c["level"], c["operationId"], c["blocking"]) for c in report["changes"]}
    assert rules == {
        ("path-removed", "error", "plantWhoAmI", True),
        ("request-property-required-added", "error", "createPlantConnectivityCheck", True),
    }


def test_fail_on_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = _load(PLANT)
    document["paths"]["/plant/v1/whoami"]["get"]["operationId"] = "plantWhoIsCalling"
    revision = _write(tmp_path / "plant.v1.yaml", document)
    assert main(["contracts", "diff", str(PLANT), str(revision)]) == 0
    assert main(["contracts", "diff", str(PLANT), str(revision), "--fail-on", "warning"]) == 1
    assert "operation-id-changed" in capsys.readouterr().out


def test_a_waiver_lets_the_change_through_until_it_expires(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = _load(PLANT)
    del document["paths"]["/plant/v1/whoami"]
    revision = _write(tmp_path / "plant.v1.yaml", document)
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(
        "waivers:\n  - rule: path-removed\n    contract: plant.v1.yaml\n"
        "    operation: plantWhoAmI\n    reason: replaced by /plant/v1/me\n"
        "    approver: api-governance\n    expires: 2026-03-31\n",
        encoding="utf-8",
    )
    command = ["contracts", "diff", str(PLANT), str(revision), "--waivers", str(waivers)]
    assert main([*command, "--today", "2026-03-31"]) == 0
    assert "waived by api-governance until 2026-03-31" in capsys.readouterr().out
    assert main([*command, "--today", "2026-04-01"]) == 1
    assert "expired waiver (no longer counts): path-removed" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("paths: [\n", "not valid YAML or JSON"),
        ("swagger: '2.0'\npaths: {}\n", "OpenAPI 3.0 or 3.1 expected"),
        ("- a list\n", "no mapping at the top"),
        (
            "openapi: 3.1.0\npaths:\n  /x:\n    get:\n      responses:\n        '200':\n"
            "          $ref: '#/components/responses/Nope'\n",
            "points to nothing",
        ),
    ],
    ids=["missing", "yaml", "swagger-2", "not-a-mapping", "dangling-ref"],
)
def test_an_unusable_file_is_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    revision = tmp_path / "revision.yaml"
    if content is not None:
        revision.write_text(content, encoding="utf-8")
    assert main(["contracts", "diff", str(PLANT), str(revision)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("qgate contracts diff: ")
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_usage_errors_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "diff", str(PLANT)]) == 2
    assert "BASE and REVISION" in capsys.readouterr().err
    assert main(["contracts", "diff", str(PLANT), str(PLANT), "--today", "soon"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers: 3\n", encoding="utf-8")
    assert main(["contracts", "diff", str(PLANT), str(PLANT), "--waivers", str(waivers)]) == 2
    assert "malformed waiver file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["contracts", "diff", "--format", "html"])
    assert exited.value.code == 2


def _tree(tmp_path: Path) -> tuple[Path, Path]:
    directory = tmp_path / "openapi"
    shutil.copytree(ROOT / "openapi" / "released", directory / "released")
    for baseline in (directory / "released").rglob("*.yaml"):
        target = directory / baseline.relative_to(directory / "released")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(baseline, target)
    return directory, directory / "released"


def test_with_no_file_each_contract_is_compared_with_its_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory, released = _tree(tmp_path)
    shutil.copy(_breaking_copy(tmp_path), directory / "experience_apis" / "plant.v1.yaml")
    _write(directory / "process_apis" / "new.v2.yaml", _load(PLANT))  # not released yet
    command = ["contracts", "diff", "--dir", str(directory), "--released", str(released)]
    assert main([*command, "--format", "markdown"]) == 1
    out = capsys.readouterr().out
    assert out.count("- compared ") == 5
    assert "process_apis/new.v2.yaml: no released version" in out
    assert "`path-removed`" in out
    # the baselines themselves are no contracts of their own
    assert "released/released" not in out


def test_base_ref_compares_with_the_committed_contract(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    contract = repo / "openapi" / "experience_apis" / "plant.v1.yaml"
    contract.parent.mkdir(parents=True)
    shutil.copy(PLANT, contract)

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=repo,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "release 1.0")
    git("tag", "plant-v1.0.0")
    shutil.copy(_breaking_copy(tmp_path), contract)
    assert main(["contracts", "diff", "--base-ref", "plant-v1.0.0", str(contract)]) == 1
    out = capsys.readouterr().out
    assert "compared plant-v1.0.0:" in out
    assert "path-removed" in out
    assert main(["contracts", "diff", "--base-ref", "no-such-tag", str(contract)]) == 2
    assert "no such commit, branch or tag" in capsys.readouterr().err
    fresh = contract.parent / "partner.v1.yaml"
    shutil.copy(PLANT, fresh)
    assert main(["contracts", "diff", "--base-ref", "HEAD", str(fresh)]) == 0
    assert "no released version at HEAD:" in capsys.readouterr().out


def test_lint_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = _load(PLANT)
    del document["paths"]["/plant/v1/whoami"]["get"]["security"]
    broken = _write(tmp_path / "plant.v1.yaml", document)
    assert main(["contracts", "lint", str(broken)]) == 1
    out = capsys.readouterr().out
    assert "security-requirement-count" in out
    assert "GET /plant/v1/whoami" in out
    assert main(["contracts", "lint", str(tmp_path / "absent.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_rules_lists_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "rules"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(RULES)
    assert main(["contracts", "rules", "--format", "markdown"]) == 0
    assert "| `security-scope-added` | error |" in capsys.readouterr().out


def test_the_readme_shows_the_real_report_of_a_change_to_the_plant_contract(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The README's example report is what the command prints for the change it describes."""
    monkeypatch.chdir(tmp_path)
    baseline = Path("openapi/released/experience_apis/plant.v1.yaml")
    baseline.parent.mkdir(parents=True)
    shutil.copy(PLANT, baseline)
    document = _load(PLANT)
    del document["paths"]["/plant/v1/whoami"]
    schemas = document["components"]["schemas"]
    schemas["ConnectivityCheckRequest"]["properties"]["plantId"] = {"type": "string"}
    schemas["ConnectivityCheckRequest"]["required"] = ["plantId"]
    schemas["ConnectivityCheck"]["properties"]["plantId"] = {"type": "string"}
    _write(Path("build/plant.v1.yaml"), document)
    command = ["contracts", "diff", str(baseline), "build/plant.v1.yaml", "--format", "markdown"]
    assert main(command) == 1
    report = capsys.readouterr().out
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quoted = "\n".join(f"> {line}".rstrip() for line in report.rstrip("\n").splitlines())
    assert quoted in readme
