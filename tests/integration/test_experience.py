"""The experience APIs over the whole in-process stack: tenant scoping (OWASP API1:2023),
views that carry only what the audience may see, conditional reads, commands on behalf of the
plant user."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from tests.integration._experience import (
    PARTNER,
    PLANT,
    PROCESS,
    Client,
    Qgate,
    running,
)
from tests.integration._gateway import assert_problem

ERP = "/system/erp/v1"


@pytest.fixture
async def qgate() -> Any:
    async with running() as gateway:
        yield gateway


async def _one(ops: Client, path: str, **filters: str) -> dict[str, Any]:
    page = await ops.ok(path, limit=1, **filters)
    assert page["items"], f"no record for {path} {filters}"
    item: dict[str, Any] = page["items"][0]
    return item


# -- object-level authorization: every operation that takes an identifier -------------------


async def test_a_supplier_gets_404_for_every_record_of_another_supplier(qgate: Qgate) -> None:
    ops = qgate.client("operations")
    own = qgate.client("supplier-portal-sup-0002")
    other = qgate.client("supplier-portal-sup-0001")
    lot = await _one(ops, f"{PROCESS}/lots", supplierId="SUP-0002")
    inspection = await _one(ops, f"{PROCESS}/inspections", supplierId="SUP-0002")
    nc = await _one(ops, f"{PROCESS}/nonconformances", supplierId="SUP-0002")
    paths = [
        f"{PARTNER}/lots/{lot['lotId']}",
        f"{PARTNER}/inspections/{inspection['inspectionId']}",
        f"{PARTNER}/nonconformances/{nc['ncId']}",
    ]
    for path in paths:
        assert (await own.get(path)).status_code == 200, path
        refused = assert_problem(await other.get(path), 404, "not-found")
        # The same answer as for an id that does not exist: nothing to probe for.
        missing_path = re.sub(r"[^/]+$", "X-DOES-NOT-EXIST", path)
        missing = assert_problem(await other.get(missing_path), 404, "not-found")
        assert refused["detail"].split(" ")[:3] == missing["detail"].split(" ")[:3]


async def test_a_plant_gets_404_for_every_record_of_another_plant(qgate: Qgate) -> None:
    ops = qgate.client("operations")
    own = qgate.client("plant-app-2000", subject="j.lee")
    other = qgate.client("plant-app", subject="a.becker")
    lot = await _one(ops, f"{PROCESS}/lots", plantId="2000", disposition="QUARANTINE")
    inspection = await _one(ops, f"{PROCESS}/inspections", plantId="2000", status="CREATED")
    lot_id, inspection_id = lot["lotId"], inspection["inspectionId"]

    reads = [
        f"{PLANT}/lots/{lot_id}",
        f"{PLANT}/lots/{lot_id}/timeline",
        f"{PLANT}/inspections/{inspection_id}",
    ]
    for path in reads:
        assert_problem(await other.get(path), 404, "not-found")
        assert (await own.get(path)).status_code == 200, path

    results = {"results": [{"characteristicId": "C-DIM-ID", "measuredValue": 1.0}]}
    assert_problem(
        await other.post(f"{PLANT}/inspections/{inspection_id}/results", results), 404, "not-found"
    )
    request = {"decision": "BLOCK", "reason": "Damaged on arrival"}
    assert_problem(
        await other.post(f"{PLANT}/lots/{lot_id}/disposition-requests", request),
        404,
        "not-found",
    )
    # Nothing was forwarded: the lot is still in quarantine.
    assert (await ops.ok(f"{ERP}/lots/{lot_id}"))["disposition"] == "QUARANTINE"

    created = await own.post(f"{PLANT}/lots/{lot_id}/disposition-requests", request)
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    assert location.startswith(f"{PLANT}/dispositions/DSP-")
    assert (await own.get(location)).status_code == 200
    assert_problem(await other.get(location), 404, "not-found")


async def test_a_token_without_tenant_claims_sees_nothing(qgate: Qgate) -> None:
    # The operations client holds every scope, but names no supplier and no plant.
    ops = qgate.client("operations")
    assert_problem(await ops.get(f"{PARTNER}/lots"), 403, "forbidden")
    assert_problem(await ops.get(f"{PLANT}/lots"), 403, "forbidden")


# -- views: only what the audience may see ----------------------------------------------------


async def test_partner_views_leave_out_internal_fields(qgate: Qgate) -> None:
    portal = qgate.client("supplier-portal-sup-0002")
    inspections = await portal.all(f"{PARTNER}/inspections")
    decided = [i for i in inspections if i["decision"]]
    assert decided, "the demo has decided inspections of SUP-0002"
    for inspection in inspections:
        assert "decidedBy" not in inspection
        for characteristic in inspection["characteristics"]:
            assert set(characteristic) <= {"characteristicId", "valuation", "measuredValue"}
    for nc in await portal.all(f"{PARTNER}/nonconformances"):
        assert "description" not in nc
        assert "supplierId" not in nc
    for lot in await portal.all(f"{PARTNER}/lots"):
        assert "supplierId" not in lot
        assert "stock" not in lot


async def test_scorecard_and_held_inventory_agree_with_the_records(qgate: Qgate) -> None:
    ops = qgate.client("operations")
    portal = qgate.client("supplier-portal-sup-0002")
    scorecard = await portal.ok(f"{PARTNER}/scorecard")
    status = await ops.ok(f"{PROCESS}/suppliers/SUP-0002/quality-status")
    assert scorecard["supplierId"] == "SUP-0002"
    assert scorecard["ppm"] == status["rejectionRate"]["ppm"]
    assert scorecard["openNonconformances"] == len(status["openNonconformances"])
    assert scorecard["trend"] in {"IMPROVING", "STABLE", "WORSENING"}

    plant = qgate.client("plant-app")
    held = await plant.ok(f"{PLANT}/held-inventory")
    assert held["complete"] is True
    for group in held["groups"]:
        assert group["plantId"] == "1000"
        lots = await plant.all(f"{PLANT}/lots", disposition=group["disposition"])
        assert group["lots"] == len(lots)
        assert sum(item["quantity"] for item in group["items"]) == pytest.approx(
            sum(lot["totalQuantity"] for lot in lots)
        )


async def test_pending_inspections_are_the_open_ones_of_my_plants(qgate: Qgate) -> None:
    plant = qgate.client("plant-app")
    pending = await plant.all(f"{PLANT}/inspections", pending="true")
    assert pending
    assert {i["status"] for i in pending} <= {"CREATED", "IN_PROGRESS", "RESULTS_RECORDED"}
    everything = await plant.all(f"{PLANT}/inspections")
    assert {i["inspectionId"] for i in pending} == {
        i["inspectionId"]
        for i in everything
        if i["status"] in {"CREATED", "IN_PROGRESS", "RESULTS_RECORDED"}
    }


# -- conditional reads ------------------------------------------------------------------------


async def test_polling_with_if_none_match_gets_304_until_the_view_changes(qgate: Qgate) -> None:
    plant = qgate.client("plant-app", subject="a.becker")
    path = f"{PLANT}/lots/LOT-1000-0019"
    first = await plant.get(path)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "private, no-cache"
    etag = first.headers["ETag"]
    again = await plant.http.get(path, headers=plant.headers(**{"If-None-Match": etag}))
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    weak = await plant.http.get(path, headers=plant.headers(**{"If-None-Match": f"W/{etag}"}))
    assert weak.status_code == 304

    request = {"decision": "RELEASE", "reason": "All characteristics within limits"}
    done = await plant.post(f"{PLANT}/lots/LOT-1000-0019/disposition-requests", request)
    assert done.status_code == 201, done.text
    changed = await plant.http.get(path, headers=plant.headers(**{"If-None-Match": etag}))
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.json()["disposition"] == "RELEASED"


# -- commands on behalf of the plant user -----------------------------------------------------


async def test_a_plant_disposition_is_audited_with_the_plant_user_and_app(qgate: Qgate) -> None:
    plant = qgate.client("plant-app", subject="a.becker")
    request = {
        "decision": "RELEASE",
        "reason": "All characteristics within limits",
        "signatureMeaning": "Reviewed and approved",
    }
    key = "plant-release-0019"
    answer = await plant.post(f"{PLANT}/lots/LOT-1000-0019/disposition-requests", request, key=key)
    assert answer.status_code == 201, answer.text
    disposition = answer.json()
    assert disposition["requestedBy"] == "a.becker"
    assert disposition["requestedWith"] == "plant-app"
    assert disposition["status"] == "APPLIED"

    replay = await plant.post(f"{PLANT}/lots/LOT-1000-0019/disposition-requests", request, key=key)
    assert replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json()["dispositionId"] == disposition["dispositionId"]

    auditor = qgate.client("operations")
    trail = await auditor.ok(f"{PROCESS}/audit", entityType="Lot", entityId="LOT-1000-0019")
    changes = [r for r in trail["items"] if r["action"] == "lot.disposition-changed"]
    assert len(changes) == 1
    record = changes[0]
    assert record["actor"]["clientId"] == "experience-service"
    assert record["onBehalfOf"][0]["clientId"] == "plant-app"
    assert record["onBehalfOf"][0]["subject"] == "a.becker"
    assert record["signatureMeaning"] == "Reviewed and approved"

    timeline = await plant.ok(f"{PLANT}/lots/LOT-1000-0019/timeline")
    entry = next(e for e in timeline["items"] if e["action"] == "lot.disposition-changed")
    assert (entry["by"], entry["via"]) == ("a.becker", "plant-app")
    assert entry["before"]["disposition"] == "QUARANTINE"
    assert entry["after"]["disposition"] == "RELEASED"
    assert entry["correlationId"] == record["correlationId"]


async def test_the_process_layers_refusal_reaches_the_plant_app(qgate: Qgate) -> None:
    plant = qgate.client("plant-app", subject="a.becker")
    # LOT-1000-0009 is RELEASED: scrapping it is outside the disposition state machine.
    refused = await plant.post(
        f"{PLANT}/lots/LOT-1000-0009/disposition-requests",
        {"decision": "SCRAP", "reason": "Wrong decision"},
    )
    problem = assert_problem(refused, 409, "transition-not-allowed")
    assert "RELEASED" in problem["detail"]
    # A release of a BLOCKED lot waits for a second person: 202 and a place to follow it.
    pending = await plant.post(
        f"{PLANT}/lots/LOT-1000-0016/disposition-requests",
        {"decision": "RELEASE", "reason": "Use as is, NC decided", "ncId": "NC-000001"},
    )
    assert pending.status_code == 202, pending.text
    assert pending.json()["status"] == "PENDING_APPROVAL"
    followed = await plant.ok(pending.headers["Location"])
    assert followed["dispositionId"] == pending.json()["dispositionId"]


async def test_recording_results_from_the_plant_app_proposes_a_disposition(qgate: Qgate) -> None:
    ops = qgate.client("operations")
    plant = qgate.client("plant-app", subject="m.novak")
    inspection = await _one(ops, f"{PROCESS}/inspections", plantId="1000", status="CREATED")
    spec = await ops.ok(f"/system/qms/v1/specifications/{inspection['specId']}")
    results = []
    for characteristic in spec["characteristics"]:
        if characteristic["quantitative"]:
            limits = [characteristic.get(k) for k in ("target", "lowerLimit", "upperLimit")]
            value = next(v for v in limits if v is not None)
            results.append(
                {"characteristicId": characteristic["characteristicId"], "measuredValue": value}
            )
        else:
            results.append(
                {"characteristicId": characteristic["characteristicId"], "conforming": True}
            )
    answer = await plant.post(
        f"{PLANT}/inspections/{inspection['inspectionId']}/results", {"results": results}
    )
    assert answer.status_code == 200, answer.text
    outcome = answer.json()
    assert outcome["inspection"]["result"] == "PASS"
    assert outcome["proposedDecision"] == "RELEASE"


# -- containment cases in the supplier portal --------------------------------------------------


async def _failed_receipt_case(qgate: Qgate, supplier_lot: str) -> str:
    """A receipt of SUP-0001 at plant 1000 whose incoming inspection fails: its case id."""
    ops = qgate.client("operations")
    engineer = qgate.client("quality-engineer")
    receipt = await ops.post(
        f"{ERP}/goods-receipts",
        {
            "poId": "PO-4500000110",
            "lineNo": 10,
            "quantity": 100.0,
            "supplierLotNumber": supplier_lot,
            "deliveryNote": f"DN-{supplier_lot}",
        },
    )
    assert receipt.status_code == 201, receipt.text
    requested = await engineer.post(
        f"{PROCESS}/inspection-requests", {"goodsReceiptId": receipt.json()["receiptId"]}
    )
    assert requested.status_code == 201, requested.text
    inspection_id = requested.json()["inspection"]["inspectionId"]
    failing = [
        {"characteristicId": "C010", "measuredValue": 25.4},
        {"characteristicId": "C020", "measuredValue": 51.995},
        {"characteristicId": "C030", "measuredValue": 14.95},
        {"characteristicId": "C040", "conforming": True},
    ]
    recorded = await engineer.post(
        f"{PROCESS}/inspections/{inspection_id}/results", {"results": failing}
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["inspection"]["result"] == "FAIL"
    deadline = asyncio.get_running_loop().time() + 20
    while True:
        page = await ops.ok(f"{PROCESS}/containments", supplierId="SUP-0001", limit=200)
        cases = [c for c in page["items"] if c["inspectionId"] == inspection_id]
        if cases and cases[0]["status"] == "CONTAINED":
            containment_id: str = cases[0]["containmentId"]
            return containment_id
        assert asyncio.get_running_loop().time() < deadline, f"no contained case: {page}"
        await asyncio.sleep(0.05)


async def test_a_containment_case_is_the_suppliers_alone_and_it_responds(qgate: Qgate) -> None:
    containment_id = await _failed_receipt_case(qgate, "SL-PORTAL-1")
    mine = qgate.client("supplier-portal-sup-0001", subject="quality@sup-0001.example")
    other = qgate.client("supplier-portal-sup-0002")
    path = f"{PARTNER}/containment-cases/{containment_id}"

    listed = await mine.all(f"{PARTNER}/containment-cases")
    assert containment_id in {c["containmentId"] for c in listed}
    assert containment_id not in {
        c["containmentId"] for c in await other.all(f"{PARTNER}/containment-cases")
    }
    case = await mine.ok(path)
    assert case["supplierLotNumber"] == "SL-PORTAL-1"
    assert any(lot["failedInspection"] for lot in case["lots"])
    assert "steps" not in case
    assert "correlationId" not in case
    assert_problem(await other.get(path), 404, "not-found")

    response = {
        "actions": [{"description": "Sorted our stock", "lotNumbers": ["SL-PORTAL-1"]}],
        "d3Answer": "Lot quarantined at our warehouse, 100% measured",
        "documents": [{"title": "8D report", "reference": "https://sup.example/8d.pdf"}],
    }
    assert_problem(await other.post(f"{path}/responses", response), 404, "not-found")
    assert_problem(await mine.post(f"{path}/responses", {}), 422, "validation-failed")
    answered = await mine.post(f"{path}/responses", response, key="respond-1")
    assert answered.status_code == 201, answered.text
    assert answered.headers["Location"] == path
    (given,) = answered.json()["responses"]
    assert given["respondedBy"] == "quality@sup-0001.example"
    assert given["d3Answer"].startswith("Lot quarantined")
    replay = await mine.post(f"{path}/responses", response, key="respond-1")
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert len((await mine.ok(path))["responses"]) == 1

    assert_problem(await other.post(f"{path}/acknowledgement", {}), 404, "not-found")
    acknowledged = await mine.post(f"{path}/acknowledgement", {"note": "Seen"})
    assert acknowledged.status_code == 200, acknowledged.text
    assert acknowledged.json()["acknowledgedAt"] is not None

    trail = await qgate.client("operations").ok(
        f"{PROCESS}/audit", entityType="ContainmentCase", entityId=containment_id
    )
    responded = [r for r in trail["items"] if r["action"] == "containment.supplier-responded"]
    assert len(responded) == 1
    assert responded[0]["onBehalfOf"][0]["subject"] == "quality@sup-0001.example"
    assert responded[0]["onBehalfOf"][0]["clientId"] == "supplier-portal-sup-0001"
