"""The ``qgate`` command, called in process: token, contracts, and serve's refusal."""

from __future__ import annotations

import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from shared.auth import demo_clients
from shared.cli import main
from shared.settings import setting_names

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = PROJECT_ROOT / "openapi"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No QGATE_* variable from the host; `serve` may set QGATE_PORT, restored afterwards."""
    for name in [*(env for env, _ in setting_names()), "QGATE_CONFIG_FILE"]:
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    for name in [name for name in os.environ if name.startswith("QGATE_")]:
        monkeypatch.delenv(name)


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    """Record (instead of run) any server start."""
    started: list[tuple[Any, ...]] = []

    def fake_run(*args: Any, **kwargs: Any) -> None:
        started.append((args, kwargs))

    monkeypatch.setattr(uvicorn, "run", fake_run)
    return started


# --- token ----------------------------------------------------------------------------------


def test_token_list_shows_every_demo_client_with_scopes_and_claims(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["token", "--list"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    clients = demo_clients()
    assert set(lines) == {client.client_id for client in clients}
    for client in clients:
        line = lines[client.client_id]
        for scope in client.scopes:
            assert f" {scope}" in line, (scope, line)
        if client.supplier_id:
            assert f"supplier_id={client.supplier_id}" in line
        if client.plants:
            assert f"plants={','.join(client.plants)}" in line
        assert "secret" not in line  # secrets are never listed
    assert "plants=1000" in lines["plant-app"]
    assert "supplier_id=SUP-0003" in lines["supplier-portal-sup-0003"]
    assert "qgate.delegate" in lines["process-service"]


def test_token_list_follows_the_configured_clients(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clients = [{"client_id": "mes", "client_secret": "x", "scopes": ["plant.read"]}]
    monkeypatch.setenv("QGATE_DEV_ISSUER_CLIENTS", json.dumps(clients))
    assert main(["token", "--list"]) == 0
    out = capsys.readouterr().out.split()
    assert out == ["mes", "plant.read"]


def test_token_for_an_unknown_client_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--client", "unknown"]) == 2
    captured = capsys.readouterr()
    assert "unknown client 'unknown'" in captured.err
    assert "qgate token --list" in captured.err
    assert captured.out == ""


def test_token_without_client_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token"]) == 2
    assert "--client NAME or --list" in capsys.readouterr().err


def test_token_asks_the_token_endpoint(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[dict[str, Any]] = []

    def fake_post(url: str, **kwargs: Any) -> httpx.Response:
        seen.append({"url": url, **kwargs})
        return httpx.Response(200, json={"access_token": "header.payload.signature"})

    monkeypatch.setattr(httpx, "post", fake_post)  # the CLI calls httpx.post
    code = main(["token", "--client", "plant-app", "--scope", "plant.read", "--url", "http://h:1/"])
    assert code == 0
    assert capsys.readouterr().out.strip() == "header.payload.signature"
    assert seen[0]["url"] == "http://h:1/oauth/token"
    assert seen[0]["auth"] == ("plant-app", "plant-app-secret")
    assert seen[0]["data"] == {"grant_type": "client_credentials", "scope": "plant.read"}


def test_token_when_no_server_answers_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert main(["token", "--client", "operations", "--url", f"http://127.0.0.1:{port}"]) == 1
    assert "is `qgate serve` running?" in capsys.readouterr().err


# --- contracts ------------------------------------------------------------------------------


def test_contracts_check_passes_on_the_committed_tree(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contracts", "check", "--dir", str(CONTRACTS)]) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "contracts match the code"
    assert captured.err == ""


def test_contracts_check_reports_drift(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "openapi"
    shutil.copytree(CONTRACTS, copy)
    erp = copy / "system_apis" / "erp.v1.yaml"
    erp.write_text(erp.read_text(encoding="utf-8").replace("whoami", "whoarethey"), "utf-8")
    assert main(["contracts", "check", "--dir", str(copy)]) == 1
    err = capsys.readouterr().err
    assert "system_apis/erp.v1.yaml differs from the code" in err
    assert "-" in err
    assert "whoarethey" in err
    assert "run `qgate contracts export`" in err


# --- serve ----------------------------------------------------------------------------------


def test_serve_in_prod_with_defaults_refuses_without_starting(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_server: list[tuple[Any, ...]],
) -> None:
    monkeypatch.setenv("QGATE_MODE", "prod")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("qgate: qgate refuses to start in prod mode:")
    assert "QGATE_DEV_ISSUER_ENABLED=false" in err
    assert "QGATE_STORE=redis" in err
    assert "QGATE_AUTH_ISSUER must be an https:// URL" in err
    assert no_server == []


def test_serve_a_prod_layer_lists_its_missing_secret(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_server: list[tuple[Any, ...]],
) -> None:
    monkeypatch.setenv("QGATE_MODE", "prod")
    assert main(["serve", "experience", "--port", "8003"]) == 2
    err = capsys.readouterr().err
    assert "QGATE_LAYERS_EXPERIENCE_CLIENT_SECRET is missing" in err
    assert "in-memory stores" in err
    assert no_server == []


def test_serve_a_secure_prod_layer_starts_the_server(
    monkeypatch: pytest.MonkeyPatch, no_server: list[tuple[Any, ...]]
) -> None:
    for name, value in {
        "QGATE_MODE": "prod",
        "QGATE_STORE": "redis",
        "QGATE_DEV_ISSUER_ENABLED": "false",
        "QGATE_AUTH_ISSUER": "https://idp.example.com",
        "QGATE_LAYERS_PROCESS_CLIENT_SECRET": "from-the-vault",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["serve", "process", "--port", "8102"]) == 0
    assert len(no_server) == 1
    args, kwargs = no_server[0]
    assert args == ("shared.asgi:process",)
    assert kwargs["factory"] is True
    assert kwargs["port"] == 8102
    assert kwargs["host"] == "127.0.0.1"
    assert os.environ["QGATE_PORT"] == "8102"  # the factory reads the port it serves on
