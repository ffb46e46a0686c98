"""The ``qgate contracts diff|lint|rules`` commands (wired into :mod:`shared.cli`).

Exit codes: 0 the gate passed (no lint finding), 1 the gate failed (a lint finding), 2 a usage
error or a file that cannot be used (unreadable, not OpenAPI 3.x, a malformed waiver file).
"""

from __future__ import annotations

import argparse
import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Final

from shared.governance._diff import Change, diff_contracts
from shared.governance._lint import lint_contract
from shared.governance._load import Contract, ContractError, load_contract, parse_contract
from shared.governance._report import FORMATS, render
from shared.governance._rules import RULES, Level
from shared.governance._waivers import WAIVERS_FILE, apply_waivers, load_waivers

__all__ = ["RELEASED_DIR", "add_governance_commands", "committed_contracts"]

RELEASED_DIR: Final = Path("openapi/released")
"""Baselines: the last released version of each contract, at the contract's own relative path."""


class UsageError(Exception):
    pass


def committed_contracts(directory: Path, released: Path | None = None) -> list[Path]:
    """Every contract below ``directory``: its YAML files but the baselines and the waivers."""
    released = (released or directory / "released").resolve()
    return sorted(
        path
        for path in directory.rglob("*.yaml")
        if released not in path.resolve().parents and path.name != WAIVERS_FILE.name
    )


def _today(args: argparse.Namespace) -> dt.date:
    if not args.today:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(args.today)
    except ValueError as exc:
        raise UsageError(f"--today {args.today!r}: a date YYYY-MM-DD expected") from exc


def _at_ref(ref: str, path: Path) -> Contract | None:
    """The contract at ``path`` as committed at git ``ref`` (None when it did not exist there)."""
    if ref.startswith("-"):
        raise UsageError(f"--base-ref {ref!r}: not a git ref")
    folder = path.resolve().parent
    # Fixed argument lists, no shell; the ref cannot be taken for an option (checked above).
    try:
        shown = subprocess.run(  # noqa: S603
            ["git", "-C", str(folder), "show", f"{ref}:./{path.name}"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
        exists = subprocess.run(  # noqa: S603
            ["git", "-C", str(folder), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError as exc:
        raise ContractError(f"--base-ref needs git ({exc.__class__.__name__})") from exc
    if exists.returncode != 0:
        raise UsageError(f"--base-ref {ref!r}: no such commit, branch or tag")
    if shown.returncode != 0:
        return None
    return parse_contract(shown.stdout, f"{ref}:{path.as_posix()}")


def _pairs(args: argparse.Namespace) -> tuple[list[tuple[Contract, Contract, str]], list[str]]:
    directory, released = Path(args.dir), Path(args.released)
    notes: list[str] = []
    pairs: list[tuple[Contract, Contract, str]] = []
    files = [Path(p) for p in args.paths]
    if args.base_ref is None:
        if len(files) == 2:
            first, second = load_contract(files[0]), load_contract(files[1])
            notes.append(f"compared {files[0].as_posix()} -> {files[1].as_posix()}")
            return [(first, second, files[1].as_posix())], notes
        if files:
            raise UsageError("diff takes BASE and REVISION, or no file (every committed contract)")
    revisions = files or committed_contracts(directory, released)
    if not revisions:
        raise UsageError(f"no contract found below {directory}")
    for path in revisions:
        revision = load_contract(path)
        base: Contract | None
        name = _name(path, directory)
        if args.base_ref is not None:
            base = _at_ref(args.base_ref, path)
            origin = f"{args.base_ref}:{path.as_posix()}"
        else:
            baseline = released / name
            base = load_contract(baseline) if baseline.exists() else None
            origin = baseline.as_posix()
        if base is None:
            notes.append(f"{name}: no released version at {origin}; nothing to compare (new)")
            continue
        notes.append(f"compared {origin} -> {path.as_posix()}")
        pairs.append((base, revision, name))
    return pairs, notes


def _name(path: Path, directory: Path) -> str:
    try:
        return path.resolve().relative_to(directory.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _diff(args: argparse.Namespace) -> int:
    today = _today(args)
    pairs, notes = _pairs(args)
    changes: list[Change] = []
    for base, revision, name in pairs:
        changes.extend(diff_contracts(base, revision, contract=name, today=today))
    waivers_path = Path(args.waivers) if args.waivers else Path(args.dir) / WAIVERS_FILE.name
    waivers = load_waivers(waivers_path, missing_ok=args.waivers is None)
    result = apply_waivers(changes, waivers, fail_on=Level(args.fail_on), today=today)
    result.notes = notes
    sys.stdout.write(render(result, args.format))
    return 1 if result.failed else 0


def _lint(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    paths = [Path(p) for p in args.paths] or committed_contracts(directory, Path(args.released))
    findings = [
        finding
        for path in paths
        for finding in lint_contract(load_contract(path), _name(path, directory))
    ]
    lines = [f"{f.rule}  {f.contract}  {f.operation}: {f.message}" for f in findings]
    lines.append(f"lint: {len(findings)} finding(s) in {len(paths)} contract(s)")
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if findings else 0


def _rules(args: argparse.Namespace) -> int:
    if args.format == "markdown":
        lines = ["| Rule | Level | Change |", "|---|---|---|"]
        lines += [f"| `{r.id}` | {r.level.value} | {r.description} |" for r in RULES.values()]
    else:
        lines = [f"{r.id:44} {r.level.value:8} {r.description}" for r in RULES.values()]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _guarded(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def command(args: argparse.Namespace) -> int:
        try:
            code = run(args)
        except (ContractError, UsageError) as exc:
            sys.stderr.write(f"qgate contracts {args.action}: {exc}\n")
            return 2
        return code

    return command


def add_governance_commands(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``diff``, ``lint`` and ``rules`` to the ``qgate contracts`` sub-commands."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--dir", default="openapi", help="the committed contracts (openapi)")
    common.add_argument(
        "--released", default=str(RELEASED_DIR), help="the baselines (openapi/released)"
    )

    diff = actions.add_parser(
        "diff",
        parents=[common],
        help="report contract changes and gate breaking ones",
        description="With no file, compare each committed contract with its released baseline.",
    )
    diff.add_argument("paths", nargs="*", metavar="BASE REVISION", help="two contract files")
    diff.add_argument("--base-ref", help="compare with the contracts committed at this git ref")
    diff.add_argument("--format", choices=FORMATS, default="text")
    diff.add_argument("--fail-on", choices=("error", "warning"), default="error")
    diff.add_argument("--waivers", help="waiver file (default: <dir>/waivers.yaml, if present)")
    diff.add_argument("--today", help="the date sunsets and waivers are judged by (YYYY-MM-DD)")
    diff.set_defaults(run=_guarded(_diff))

    lint = actions.add_parser("lint", parents=[common], help="check the governance policy")
    lint.add_argument("paths", nargs="*", help="contracts (default: every committed one)")
    lint.set_defaults(run=_guarded(_lint))

    rules = actions.add_parser("rules", help="list the diff rules with their levels")
    rules.add_argument("--format", choices=("text", "markdown"), default="text")
    rules.set_defaults(run=_guarded(_rules))
