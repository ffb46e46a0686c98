"""``qgate tryton init-demo`` (its seeding is what the test template is built with)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.cli import main


def test_init_demo_does_not_replace_an_existing_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    existing = tmp_path / "plant.sqlite"
    existing.write_bytes(b"someone's data")
    assert main(["tryton", "init-demo", "--dir", str(tmp_path), "--database", "plant"]) == 2
    assert "--force replaces it" in capsys.readouterr().err
    assert existing.read_bytes() == b"someone's data"


def test_init_demo_is_documented_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["tryton", "init-demo", "--help"])
    out = capsys.readouterr().out
    assert "--dir" in out
    assert "--force" in out
