"""Schemathesis' object-level authorization check (OWASP API1:2023) on the experience contracts.

The check needs state across a whole run: a record counts as one tenant's when that tenant's
list returned it and the other tenant's did not; then reading it as the other tenant must
fail. That bookkeeping lives in Schemathesis' run engine, so this test runs the Schemathesis
CLI (every phase, every default check) against ``qgate serve`` on a loopback port, with two
tenants of the surface as peers in a Web Fuzzing Commons auth document. The documented
answers no schema can rule out are accepted as in the in-process fuzzing tests
(``tests/contract/st_hooks.py``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Final

import httpx
import pytest

from tests.e2e._servers import PROJECT_ROOT, Cluster

CONTRACTS_DIR: Final = PROJECT_ROOT / "openapi" / "experience_apis"
PEERS: Final = {
    "partner": ("supplier-portal-sup-0001", "supplier-portal-sup-0002"),
    "plant": ("plant-app", "plant-app-2000"),
}
SCHEMATHESIS: Final = Path(sys.executable).parent / "schemathesis"


def _token(base_url: str, client_id: str) -> str:
    response = httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, f"{client_id}-secret"),
        timeout=10.0,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.mark.parametrize("surface", sorted(PEERS))
def test_no_tenant_reads_another_tenants_record(surface: str, tmp_path: Path) -> None:
    with Cluster({"QGATE_RATE_LIMIT_ENABLED": "false"}) as cluster:
        service = cluster.add("qgate", "all")
        cluster.start()
        users = [
            {
                "name": client_id,
                "fixedHeaders": [
                    {"name": "Authorization", "value": f"Bearer {_token(service.url, client_id)}"}
                ],
            }
            for client_id in PEERS[surface]
        ]
        (tmp_path / "auth.json").write_text(json.dumps({"auth": users}))
        peers = ", ".join(f'"{client_id}"' for client_id in PEERS[surface])
        (tmp_path / "schemathesis.toml").write_text(
            f'[auth.wfc]\npath = "{tmp_path / "auth.json"}"\npeers = [{peers}]\n'
        )
        env = {
            **os.environ,
            "SCHEMATHESIS_HOOKS": "tests.contract.st_hooks",
            "PYTHONPATH": str(PROJECT_ROOT),
        }
        run = subprocess.run(
            [
                str(SCHEMATHESIS),
                "run",
                str(CONTRACTS_DIR / f"{surface}.v1.yaml"),
                "--url",
                service.url,
                "--max-examples",
                "30",
                "--generation-deterministic",
                "--exclude-checks",
                "positive_data_acceptance",
                "--report",
                "ndjson",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=540,
            check=False,
        )
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    events = "".join(path.read_text() for path in (tmp_path / "report").glob("*.ndjson"))
    # The check ran, as each peer, on reads of single records.
    assert "object_level_authorization" in events
    for client_id in PEERS[surface]:
        assert client_id in events
