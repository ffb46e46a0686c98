"""What the README tells a newcomer, done for real: `qgate serve` (all-in-one), `qgate token`,
then one call per layer, and one correlation id through the logs of all three layers."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e._servers import PROJECT_ROOT, Cluster


def _qgate(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "shared.cli", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def qgate() -> Iterator[Cluster]:
    with Cluster() as cluster:
        cluster.add("qgate", "all")
        cluster.start()
        yield cluster


def test_token_list_names_the_demo_clients() -> None:
    listing = _qgate("token", "--list")
    for client in ("plant-app", "supplier-portal-sup-0001", "operations", "experience-service"):
        assert client in listing
    assert "plants=1000" in listing
    assert "supplier_id=SUP-0001" in listing


def test_newcomer_calls_each_layer_with_one_correlation_id(qgate: Cluster) -> None:
    url = qgate.url("qgate")
    plant = _qgate("token", "--client", "plant-app", "--url", url).strip()
    ops = _qgate("token", "--client", "operations", "--url", url).strip()
    assert plant.count(".") == 2
    assert ops.count(".") == 2

    correlation_id = f"readme-{uuid.uuid4()}"
    with httpx.Client(base_url=url, timeout=10) as http:
        answer = http.get(
            "/plant/v1/whoami",
            headers={"Authorization": f"Bearer {plant}", "X-Correlation-ID": correlation_id},
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-correlation-id"] == correlation_id
        body = answer.json()
        assert [hop["layer"] for hop in body["hops"]] == ["experience", "process", "system"]
        assert {hop["correlationId"] for hop in body["hops"]} == {correlation_id}
        system_hop = body["hops"][2]
        assert system_hop["caller"]["clientId"] == "process-service"
        assert [c["clientId"] for c in system_hop["caller"]["onBehalfOf"]] == [
            "plant-app",
            "experience-service",
        ]

        for path in ("/process/v1/whoami", "/system/erp/v1/whoami", "/system/qms/v1/whoami"):
            direct = http.get(path, headers={"Authorization": f"Bearer {ops}"})
            assert direct.status_code == 200, (path, direct.text)
            assert direct.json()["caller"]["clientId"] == "operations"

        key = f"check-{uuid.uuid4()}"
        headers = {"Authorization": f"Bearer {plant}", "Idempotency-Key": key}
        first = http.post("/plant/v1/connectivity-checks", json={"note": "first"}, headers=headers)
        again = http.post("/plant/v1/connectivity-checks", json={"note": "first"}, headers=headers)
        assert first.status_code == 201, first.text
        assert again.status_code == 201
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json()["checkId"] == first.json()["checkId"]
        assert [hop["surface"] for hop in first.json()["hops"]] == [
            "plant",
            "quality",
            "erp",
            "qms",
        ]

    # Each layer writes its access line just after answering: wait for the outermost one.
    qgate.wait_for_logs(
        "qgate",
        lambda e: e.get("correlationId") == correlation_id and e.get("layer") == "experience",
    )
    layers = {
        entry.get("layer")
        for entry in qgate.logs("qgate")
        if entry.get("correlationId") == correlation_id
    }
    assert {"experience", "process", "system"} <= layers


def test_newcomer_releases_a_quarantined_lot_with_its_etag(qgate: Cluster) -> None:
    """The README's system API walk-through against the demo data of `qgate serve`."""
    url = qgate.url("qgate")
    ops = _qgate("token", "--client", "operations", "--url", url).strip()
    auth = {"Authorization": f"Bearer {ops}"}
    lot_path = "/system/erp/v1/lots/LOT-1000-0022"
    with httpx.Client(base_url=url, timeout=10, headers=auth) as http:
        listed = http.get(
            "/system/erp/v1/lots", params={"plantId": "1000", "disposition": "QUARANTINE"}
        )
        assert listed.status_code == 200, listed.text
        assert "LOT-1000-0022" in {lot["lotId"] for lot in listed.json()["items"]}
        read = http.get(lot_path)
        assert read.status_code == 200, read.text
        assert read.headers["etag"] == '"1"'
        body = {"disposition": "RELEASED", "reason": "All characteristics within limits"}
        change = f"{lot_path}/disposition-changes"
        missing = http.post(change, json=body, headers={"Idempotency-Key": "readme-0"})
        assert missing.status_code == 428, missing.text
        released = http.post(
            change, json=body, headers={"Idempotency-Key": "readme-1", "If-Match": '"1"'}
        )
        assert released.status_code == 200, released.text
        assert released.json()["disposition"] == "RELEASED"
        stale = http.post(
            change,
            json={"disposition": "BLOCKED", "reason": "Too late"},
            headers={"Idempotency-Key": "readme-2", "If-Match": '"1"'},
        )
        assert stale.status_code == 412, stale.text


def test_newcomer_disposes_lots_with_four_eyes_and_reads_the_audit_trail(qgate: Cluster) -> None:
    """The README's process API walk-through against `qgate serve`."""
    url = qgate.url("qgate")
    tokens = {
        client: _qgate("token", "--client", client, "--url", url).strip()
        for client in ("quality-engineer", "operations", "quality-approver")
    }

    def auth(client: str, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {tokens[client]}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    dispositions = "/process/v1/lot-dispositions"
    with httpx.Client(base_url=url, timeout=20) as http:
        released = http.post(
            dispositions,
            json={
                "lotId": "LOT-1000-0019",
                "decision": "RELEASE",
                "reason": "All characteristics conform",
            },
            headers=auth("quality-engineer", "dsp-0019"),
        )
        assert released.status_code == 201, released.text
        assert released.json()["status"] == "APPLIED"

        pending = http.post(
            dispositions,
            json={
                "lotId": "LOT-1000-0016",
                "decision": "RELEASE",
                "reason": "Use as is",
                "ncId": "NC-000001",
            },
            headers=auth("operations", "dsp-0016"),
        )
        assert pending.status_code == 202, pending.text
        approvals = pending.headers["location"] + "/approvals"
        approve = {"decision": "APPROVE", "reason": "NC reviewed"}
        own = http.post(approvals, json=approve, headers=auth("operations", "approve-own"))
        assert own.status_code == 403, own.text
        assert own.json()["type"].endswith("/self-approval")
        approved = http.post(approvals, json=approve, headers=auth("quality-approver", "approve"))
        assert approved.status_code == 200, approved.text
        assert approved.json()["status"] == "APPLIED"

        timeline = http.get(
            "/process/v1/audit",
            params={"entityType": "Lot", "entityId": "LOT-1000-0016"},
            headers=auth("quality-approver"),
        )
        assert timeline.status_code == 200, timeline.text
        assert [r["after"]["disposition"] for r in timeline.json()["items"]] == ["RELEASED"]
        status = http.get(
            "/process/v1/suppliers/SUP-0002/quality-status", headers=auth("operations")
        )
        assert status.status_code == 200, status.text
        assert status.json()["supplierId"] == "SUP-0002"


def test_newcomer_uses_the_plant_app_and_the_supplier_portal(qgate: Cluster) -> None:
    """The README's experience API walk-through against `qgate serve`."""
    url = qgate.url("qgate")
    plant = _qgate("token", "--client", "plant-app", "--subject", "a.becker", "--url", url).strip()
    portal = _qgate("token", "--client", "supplier-portal-sup-0002", "--url", url).strip()
    as_plant = {"Authorization": f"Bearer {plant}"}
    as_portal = {"Authorization": f"Bearer {portal}"}
    with httpx.Client(base_url=url, timeout=20) as http:
        held = http.get("/plant/v1/held-inventory", headers=as_plant)
        assert held.status_code == 200, held.text
        assert {group["plantId"] for group in held.json()["groups"]} == {"1000"}
        pending = http.get(
            "/plant/v1/inspections", params={"pending": "true", "limit": 5}, headers=as_plant
        )
        assert pending.status_code == 200, pending.text
        blocked = http.post(
            "/plant/v1/lots/LOT-1000-0022/disposition-requests",
            json={"decision": "BLOCK", "reason": "Packaging damaged on arrival"},
            headers={**as_plant, "Idempotency-Key": "block-0022"},
        )
        assert blocked.status_code == 201, blocked.text
        assert blocked.json()["requestedBy"] == "a.becker"
        timeline = http.get("/plant/v1/lots/LOT-1000-0022/timeline", headers=as_plant)
        assert timeline.status_code == 200, timeline.text
        assert [(e["by"], e["via"]) for e in timeline.json()["items"]] == [
            ("a.becker", "plant-app")
        ]
        scorecard = http.get("/partner/v1/scorecard", headers=as_portal)
        assert scorecard.status_code == 200, scorecard.text
        assert scorecard.json()["supplierId"] == "SUP-0002"
        lot = http.get("/plant/v1/lots/LOT-1000-0022", headers=as_plant).json()
        other = http.get("/partner/v1/lots/LOT-1000-0022", headers=as_portal)
        assert other.status_code == (200 if lot["supplierId"] == "SUP-0002" else 404)
