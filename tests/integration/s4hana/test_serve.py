"""``qgate serve`` with ``QGATE_ERP=s4hana-sim`` and ``QGATE_QMS=s4hana-sim`` (what ``--erp
s4hana-sim --qms s4hana-sim`` set): a real server process whose system layer reads and changes
lots in the in-process S/4HANA simulator, and reads their inspection lots from the same one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.e2e._servers import Cluster

LOT = "/system/erp/v1/lots/LOT-1000-0019"


@pytest.fixture(scope="module")
def served() -> Iterator[Cluster]:
    with Cluster({"QGATE_ERP": "s4hana-sim", "QGATE_QMS": "s4hana-sim"}) as cluster:
        cluster.add("qgate", "all")
        cluster.start()
        yield cluster


def _headers(http: httpx.Client) -> dict[str, str]:
    token = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=("operations", "operations-secret"),
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_the_served_system_api_reads_and_changes_a_lot_in_the_simulator(served: Cluster) -> None:
    with httpx.Client(base_url=served.url("qgate"), timeout=10) as http:
        headers = _headers(http)

        ready = http.get("/health/ready")
        lot = http.get(LOT, headers=headers)

        assert ready.status_code == 200, ready.text
        assert lot.status_code == 200, lot.text
        body = lot.json()
        assert body["disposition"] == "QUARANTINE"
        assert body["externalRefs"] == [
            {"system": "s4hana", "type": "Batch", "id": "HSG-A100/1000/0019", "etag": "1"}
        ]
        changed = http.post(
            f"{LOT}/disposition-changes",
            json={"disposition": "RELEASED", "reason": "All characteristics conform"},
            headers={**headers, "Idempotency-Key": "serve-s4-1", "If-Match": lot.headers["etag"]},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["disposition"] == "RELEASED"
        assert changed.json()["sourceStatus"] == "UD A1"


def test_the_served_qms_reads_the_inspection_lot_the_erp_decided(served: Cluster) -> None:
    """One simulator serves both ports: the usage decision the ERP side made on releasing
    the lot (the test above) is the QMS inspection's decision."""
    with httpx.Client(base_url=served.url("qgate"), timeout=10) as http:
        listed = http.get(
            "/system/qms/v1/inspections", params={"lotId": "LOT-1000-0019"}, headers=_headers(http)
        )

    assert listed.status_code == 200, listed.text
    (inspection,) = listed.json()["items"]
    assert inspection["externalRefs"][0]["system"] == "s4hana"
    assert inspection["status"] == "DECIDED"
    assert inspection["decision"]["sourceCode"] == "A1"
