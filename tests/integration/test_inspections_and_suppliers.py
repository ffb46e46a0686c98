"""Inspection on goods receipt, results that propose or apply a disposition, and the supplier
quality status, through the whole in-process stack over the reference ERP and QMS."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.settings import ResultPolicy
from tests.integration._gateway import (
    ERP,
    PROCESS,
    QMS,
    Caller,
    Gateway,
    assert_problem,
    new_key,
    settings,
)

# Plant 2000 receives BRG-6205 without inspection (AVAILABLE); plant 1000 inspects it on receipt.
UNINSPECTED_LINE = {"poId": "PO-4500000120", "lineNo": 10}
INSPECTED_LINE = {"poId": "PO-4500000110", "lineNo": 10}


async def receive(ops: Caller, line: dict[str, Any], quantity: float) -> dict[str, Any]:
    response = await ops.post(
        f"{ERP}/goods-receipts",
        {**line, "quantity": quantity, "deliveryNote": f"DN-{new_key()[-12:]}"},
    )
    assert response.status_code == 201, response.text
    receipt: dict[str, Any] = response.json()
    return receipt


async def measurements(ops: Caller, inspection: dict[str, Any], *, fail: bool) -> list[Any]:
    """A result for every characteristic: on target, or (``fail``) the first one out of limits."""
    spec = await ops.ok(f"{QMS}/specifications/{inspection['specId']}")
    results = []
    for n, char in enumerate(spec["characteristics"]):
        entry: dict[str, Any] = {"characteristicId": char["characteristicId"]}
        if char["quantitative"]:
            low, high = char["lowerLimit"], char["upperLimit"]
            value = char["target"] if char["target"] is not None else (low + high) / 2
            if fail and n == 0:
                value = (high if high is not None else value) + 1000
            entry["measuredValue"] = value
        else:
            entry["conforming"] = not (fail and n == 0)
        results.append(entry)
    return results


async def test_an_inspection_request_quarantines_a_released_receipt_once() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops, gw.caller("quality-engineer") as engineer:
            receipt = await receive(ops, UNINSPECTED_LINE, 100)
            assert receipt["stockCategory"] == "AVAILABLE"
            request = {"goodsReceiptId": receipt["receiptId"]}
            response = await engineer.post(f"{PROCESS}/inspection-requests", request)
            assert response.status_code == 201, response.text
            body = response.json()
            inspection = body["inspection"]
            assert response.headers["location"] == (
                f"{PROCESS}/inspections/{inspection['inspectionId']}"
            )
            assert inspection["origin"] == "GOODS_RECEIPT"
            assert inspection["goodsReceiptId"] == receipt["receiptId"]
            assert inspection["lotId"] == receipt["lotId"]
            assert inspection["quantity"] == 100
            assert body["quarantine"]["status"] == "APPLIED"
            assert body["quarantine"]["decision"] == "QUARANTINE"
            lot = await ops.ok(f"{ERP}/lots/{receipt['lotId']}")
            assert lot["disposition"] == "QUARANTINE"
            stock = {s["category"]: s["quantity"] for s in lot["stock"]}
            assert stock["QUALITY_INSPECTION"] == lot["totalQuantity"]
            assert stock["AVAILABLE"] == 0

            again = await engineer.post(f"{PROCESS}/inspection-requests", request)
            assert again.status_code == 201, again.text
            assert again.json()["inspection"]["inspectionId"] == inspection["inspectionId"]
            assert again.json()["quarantine"] is None
            listed = await ops.ok(f"{QMS}/inspections", lotId=receipt["lotId"])
            assert [i["inspectionId"] for i in listed["items"]] == [inspection["inspectionId"]]
            trail = await ops.ok(
                f"{PROCESS}/audit", entityType="Inspection", entityId=inspection["inspectionId"]
            )
            assert [r["action"] for r in trail["items"]] == ["inspection.requested"] * 2
            read = await engineer.ok(response.headers["location"])
            assert read["inspectionId"] == inspection["inspectionId"]


async def test_results_propose_the_disposition_by_default() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            receipt = await receive(ops, INSPECTED_LINE, 50)
            response = await ops.post(
                f"{PROCESS}/inspection-requests", {"goodsReceiptId": receipt["receiptId"]}
            )
            assert response.status_code == 201, response.text
            assert response.json()["quarantine"] is None  # received into quarantine already
            inspection = response.json()["inspection"]
            results = await measurements(ops, inspection, fail=False)
            partial = await ops.post(
                f"{PROCESS}/inspections/{inspection['inspectionId']}/results",
                {"results": results[:1]},
            )
            assert partial.status_code == 200, partial.text
            if len(results) > 1:
                assert partial.json()["proposedDecision"] is None
            recorded = await ops.post(
                f"{PROCESS}/inspections/{inspection['inspectionId']}/results",
                {"results": results},
            )
            assert recorded.status_code == 200, recorded.text
            outcome = recorded.json()
            assert outcome["inspection"]["status"] == "RESULTS_RECORDED"
            assert outcome["inspection"]["result"] == "PASS"
            assert outcome["proposedDecision"] == "RELEASE"
            assert outcome["policy"] == "propose"
            assert outcome["disposition"] is None
            lot = await ops.ok(f"{ERP}/lots/{receipt['lotId']}")
            assert lot["disposition"] == "QUARANTINE"


async def test_failed_results_apply_a_block_under_the_apply_policy() -> None:
    # no containment saga: its BLOCK of the failed lot would race the one the policy requests
    async with Gateway(
        settings(result_policy=ResultPolicy.APPLY, containment={"enabled": False})
    ) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            receipt = await receive(ops, INSPECTED_LINE, 40)
            created = await ops.post(
                f"{PROCESS}/inspection-requests", {"goodsReceiptId": receipt["receiptId"]}
            )
            inspection = created.json()["inspection"]
            results = await measurements(ops, inspection, fail=True)
            recorded = await ops.post(
                f"{PROCESS}/inspections/{inspection['inspectionId']}/results",
                {"results": results},
            )
            assert recorded.status_code == 200, recorded.text
            outcome = recorded.json()
            assert outcome["inspection"]["result"] == "FAIL"
            assert outcome["proposedDecision"] == "BLOCK"
            assert outcome["policy"] == "apply"
            disposition = outcome["disposition"]
            assert disposition["status"] == "APPLIED"
            assert disposition["qms"]["reference"] == inspection["inspectionId"]
            decided = await ops.ok(f"{QMS}/inspections/{inspection['inspectionId']}")
            assert decided["decision"]["decision"] == "BLOCK"
            lot = await ops.ok(f"{ERP}/lots/{receipt['lotId']}")
            assert lot["disposition"] == "BLOCKED"


async def test_unknown_receipt_and_inspection_are_404() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops:
            response = await ops.post(
                f"{PROCESS}/inspection-requests", {"goodsReceiptId": "GR-999999"}
            )
            assert "GR-999999" in assert_problem(response, 404, "not-found")["detail"]
            results = await ops.post(
                f"{PROCESS}/inspections/INSP-999999/results",
                {"results": [{"characteristicId": "C1", "conforming": True}]},
            )
            assert_problem(results, 404, "not-found")


async def expected_rate(ops: Caller, supplier_id: str, days: int) -> tuple[int, float]:
    """(inspections with a result, ppm) computed from the QMS's own list."""
    since = datetime.now(UTC) - timedelta(days=days)
    items = (await ops.ok(f"{QMS}/inspections", supplierId=supplier_id, limit=200))["items"]
    counted = [
        i
        for i in items
        if i["result"] in {"PASS", "CONDITIONAL_PASS", "FAIL"}
        and datetime.fromisoformat(i["createdAt"]) >= since
    ]
    inspected = sum(i["quantity"] for i in counted)
    rejected = sum(i["quantity"] for i in counted if i["result"] == "FAIL")
    return len(counted), round(rejected / inspected * 1_000_000, 1) if inspected else 0.0


async def test_supplier_quality_status_combines_erp_and_qms() -> None:
    async with Gateway(settings()) as gw:
        await gw.start()
        async with gw.caller("operations") as ops, gw.caller("readonly-auditor") as auditor:
            suppliers = (await ops.ok(f"{ERP}/suppliers"))["items"]
            for supplier in suppliers:
                sid = supplier["supplierId"]
                view = await auditor.ok(f"{PROCESS}/suppliers/{sid}/quality-status")
                ncs = (await ops.ok(f"{QMS}/nonconformances", supplierId=sid, limit=200))["items"]
                open_ncs = sorted(
                    nc["ncId"] for nc in ncs if nc["status"] not in {"CLOSED", "CANCELLED"}
                )
                assert sorted(view["openNonconformances"]) == open_ncs
                count, ppm = await expected_rate(ops, sid, 365)
                assert view["rejectionRate"]["inspections"] == count
                assert view["rejectionRate"]["ppm"] == ppm
                recorded = await ops.ok(f"{QMS}/suppliers/{sid}/quality-status")
                assert view["recordedStatus"] == recorded["status"]
                assert view["purchasingBlocked"] == supplier["purchasingBlocked"]
                if supplier["purchasingBlocked"]:
                    assert view["status"] in {"BLOCKED", "DISQUALIFIED"}
                elif ppm > 10_000:
                    assert view["status"] in {"PROBATION", "BLOCKED", "DISQUALIFIED"}
                elif open_ncs or view["openCapas"]:
                    assert view["status"] != "APPROVED"
                assert view["reasons"]
            narrow = await ops.ok(f"{PROCESS}/suppliers/SUP-0002/quality-status", windowDays=1)
            assert narrow["rejectionRate"]["windowDays"] == 1
            assert (
                narrow["rejectionRate"]["inspections"]
                == (await expected_rate(ops, "SUP-0002", 1))[0]
            )
            blocked = await ops.http.put(
                f"{ERP}/suppliers/SUP-0001/purchasing-block",
                json={"functions": ["PURCHASE_ORDER"], "reason": "Containment"},
                headers=ops.headers(new_key()),
            )
            assert blocked.status_code == 200, blocked.text
            view = await ops.ok(f"{PROCESS}/suppliers/SUP-0001/quality-status")
            assert view["status"] == "BLOCKED"
            assert view["blockedFunctions"] == ["PURCHASE_ORDER"]
            assert "blocks purchasing" in view["reasons"][0]
            missing = await ops.get(f"{PROCESS}/suppliers/SUP-9999/quality-status")
            assert_problem(missing, 404, "not-found")


async def test_supplier_quality_status_without_capa_or_recorded_status_in_the_qms() -> None:
    # A QMS like Tryton's keeps no CAPA and no supplier status: the system layer answers 501
    # for them, and the status is computed from what the ERP and QMS do keep.
    async with Gateway(settings()) as gw:
        await gw.start()
        gw.faults.unsupported.update({"/capas", "/quality-status"})
        async with gw.caller("operations") as ops:
            view = await ops.ok(f"{PROCESS}/suppliers/SUP-0002/quality-status")
            assert view["openCapas"] == []
            assert view["openNonconformances"]
            assert view["status"] != "APPROVED"
            assert any("no CAPA" in reason for reason in view["reasons"])
            assert any("no supplier quality status" in reason for reason in view["reasons"])
