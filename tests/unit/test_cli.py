"""The ``qgate`` command, called in process: token, contracts, serve's refusal, audit verify."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn

from shared.audit import AuditCaller, AuditEntry, RedisAuditTrail
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


# --- audit verify ---------------------------------------------------------------------------


def fill_trail(url: str, count: int, *, alter: int | None = None) -> str:
    """Append ``count`` records to the trail at ``url``, optionally edit record ``alter`` in
    place (as someone with write access to Redis could); return the head hash."""

    async def fill() -> str:
        actor = AuditCaller(client_id="process-service", subject="process-service")
        async with RedisAuditTrail.from_url(url) as trail:
            for n in range(count):
                action = "lot.disposition-changed"
                record = await trail.append(
                    AuditEntry(action=action, entity_type="Lot", entity_id=f"LOT-{n}", actor=actor)
                )
            if alter is not None:
                client = aioredis.Redis.from_url(url, decode_responses=True)
                raw = await client.lindex(trail.log_key, alter - 1)
                assert isinstance(raw, str)
                await client.lset(trail.log_key, alter - 1, raw.replace("LOT-", "LOT-X"))
                await client.aclose()
            return record.hash

    return asyncio.run(fill())


def test_audit_verify_an_intact_trail(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    head = fill_trail(redis_url, 3)

    assert main(["audit", "verify", "--redis-url", redis_url]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"audit trail intact: 3 records, head {head}\n"
    assert captured.err == ""


def test_audit_verify_as_json(redis_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    head = fill_trail(redis_url, 2)

    assert main(["audit", "verify", "--redis-url", redis_url, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "ok": True,
        "records": 2,
        "headHash": head,
        "problem": None,
    }


def test_audit_verify_uses_the_configured_redis_store(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QGATE_STORE", "redis")
    monkeypatch.setenv("QGATE_REDIS_URL", redis_url)

    assert main(["audit", "verify"]) == 0
    assert capsys.readouterr().out == "audit trail intact: 0 records\n"


def test_audit_verify_reports_a_tampered_record_and_exits_1(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fill_trail(redis_url, 4, alter=2)

    assert main(["audit", "verify", "--redis-url", redis_url]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        "audit trail BROKEN: altered at record 2 (record 1 intact)",
        "record 2 was altered: its hash does not match its content",
    ]
    assert captured.err == ""

    assert main(["audit", "verify", "--redis-url", redis_url, "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert (result["ok"], result["records"]) == (False, 1)
    assert result["problem"]["kind"] == "altered"
    assert result["problem"]["seq"] == 2


def test_audit_verify_with_the_memory_store_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify"]) == 2
    captured = capsys.readouterr()
    assert "lives inside the running qgate process" in captured.err
    assert "--redis-url" in captured.err
    assert captured.out == ""


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:1/0", "redis://127.0.0.1:1/0"),
        ("redis://auditor:s3cret@127.0.0.1:1/0", "redis://auditor:***@127.0.0.1:1/0"),
    ],
)
def test_audit_verify_when_redis_is_unreachable_is_exit_2(
    url: str, shown: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "verify", "--redis-url", url]) == 2
    captured = capsys.readouterr()
    assert f"qgate audit verify: cannot reach Redis at {shown} (" in captured.err
    assert "s3cret" not in captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""


def test_audit_verify_with_a_url_that_is_not_redis_is_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["audit", "verify", "--redis-url", "http://127.0.0.1:1"]) == 2
    assert "redis://" in capsys.readouterr().err  # redis-py names the schemes it takes
