"""The system APIs over the reference connectors, through HTTP and the whole pipeline.

What the issue asks of the routes themselves: ETags and optimistic concurrency (428 / 412),
a blocked or quarantined lot that cannot be issued, cursor pagination, 404 and 501 as
problem+json, and the goods receipt -> inspection -> usage decision flow.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final, cast

import httpx
import pytest

from shared.auth import DevIssuer, demo_clients
from shared.composition import PrefixDispatcher, build_issuer_app
from shared.settings import Settings
from system_apis.app import create_app
from system_apis.connectors.base import ErpCapability, ErpConnector, QmsConnector
from system_apis.connectors.reference import ReferenceErpConnector, ReferenceQmsConnector
from tests.integration.test_pipeline import lifespan

ERP: Final = "/system/erp/v1"
QMS: Final = "/system/qms/v1"
PROBLEM_JSON: Final = "application/problem+json"
SETTINGS: Final = Settings()


@dataclass
class Api:
    http: httpx.AsyncClient
    token: str

    def headers(self, *, key: bool = False, **extra: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", **extra}
        if key:
            headers["Idempotency-Key"] = f"test-{uuid.uuid4()}"
        return headers

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.headers())

    async def ok(self, path: str, **params: Any) -> Any:
        response = await self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def send(self, method: str, path: str, body: Any, **headers: str) -> httpx.Response:
        return await self.http.request(
            method, path, json=body, headers=self.headers(key=True, **headers)
        )


Start = Callable[..., contextlib.AbstractAsyncContextManager[Api]]


@pytest.fixture
def start() -> Start:
    """``async with start(erp=..., qms=...) as api``: issuer + system layer, in process."""

    @contextlib.asynccontextmanager
    async def run(
        *, erp: ErpConnector | None = None, qms: QmsConnector | None = None
    ) -> AsyncIterator[Api]:
        issuer = DevIssuer(
            issuer=SETTINGS.auth.issuer, audience=SETTINGS.auth.audience, clients=demo_clients()
        )
        issuer_app, _ = build_issuer_app(SETTINGS, issuer=issuer)
        system = create_app(
            SETTINGS,
            issuer_transport=httpx.ASGITransport(app=cast("Any", issuer_app)),
            erp_connector=erp or ReferenceErpConnector(),
            qms_connector=qms or ReferenceQmsConnector(),
        )
        app = PrefixDispatcher([("/system/", system), ("/oauth/", issuer_app)], default=system)
        transport = httpx.ASGITransport(app=cast("Any", app))
        async with (
            lifespan(app),
            httpx.AsyncClient(transport=transport, base_url=SETTINGS.auth.issuer) as http,
        ):
            answer = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("operations", "operations-secret"),
            )
            assert answer.status_code == 200, answer.text
            yield Api(http, answer.json()["access_token"])

    return run


@pytest.fixture
async def api(start: Start) -> AsyncIterator[Api]:
    async with start() as running:
        yield running


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + slug), body
    return body


async def lot_in(api: Api, disposition: str) -> dict[str, Any]:
    page = await api.ok(f"{ERP}/lots", disposition=disposition, limit=1)
    assert page["items"], f"the demo data has no {disposition} lot"
    lot: dict[str, Any] = page["items"][0]
    return lot


def stock(lot: dict[str, Any], category: str) -> float:
    return float(next(s["quantity"] for s in lot["stock"] if s["category"] == category))


async def test_reads_carry_the_version_as_etag(api: Api) -> None:
    lot = await lot_in(api, "RELEASED")
    response = await api.get(f"{ERP}/lots/{lot['lotId']}")
    assert response.headers["etag"] == f'"{lot["version"]}"'
    stock_view = await api.ok(f"{ERP}/lots/{lot['lotId']}/stock")
    assert sum(s["quantity"] for s in stock_view["stock"]) == pytest.approx(lot["totalQuantity"])


async def test_disposition_change_requires_if_match(api: Api) -> None:
    lot = await lot_in(api, "QUARANTINE")
    path = f"{ERP}/lots/{lot['lotId']}/disposition-changes"
    body = {"disposition": "BLOCKED", "reason": "Suspected contamination"}
    assert_problem(await api.send("POST", path, body), 428, "precondition-required")
    stale = f'"{lot["version"] + 7}"'
    assert_problem(
        await api.send("POST", path, body, **{"If-Match": stale}), 412, "precondition-failed"
    )
    assert_problem(
        await api.send("POST", path, body, **{"If-Match": "no-quotes"}), 422, "validation-failed"
    )
    unchanged = await api.ok(f"{ERP}/lots/{lot['lotId']}")
    assert unchanged["disposition"] == "QUARANTINE"
    assert unchanged["version"] == lot["version"]


async def test_two_concurrent_updates_with_one_etag_exactly_one_wins(api: Api) -> None:
    lot = await lot_in(api, "QUARANTINE")
    path = f"{ERP}/lots/{lot['lotId']}/disposition-changes"
    if_match = {"If-Match": f'"{lot["version"]}"'}
    responses = await asyncio.gather(
        api.send("POST", path, {"disposition": "RELEASED", "reason": "Passed"}, **if_match),
        api.send("POST", path, {"disposition": "BLOCKED", "reason": "Failed"}, **if_match),
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 412], [r.text for r in responses]
    winner = next(r for r in responses if r.status_code == 200).json()
    loser = next(r for r in responses if r.status_code == 412)
    assert_problem(loser, 412, "precondition-failed")
    current = await api.ok(f"{ERP}/lots/{lot['lotId']}")
    assert current["disposition"] == winner["disposition"]
    assert current["version"] == lot["version"] + 1


@pytest.mark.parametrize("disposition", ["QUARANTINE", "BLOCKED", "REJECTED"])
async def test_a_lot_on_hold_cannot_be_issued(api: Api, disposition: str) -> None:
    lot = await lot_in(api, disposition)
    path = f"{ERP}/lots/{lot['lotId']}/goods-issues"
    for category in ("AVAILABLE", "RESTRICTED", "QUALITY_INSPECTION", "BLOCKED"):
        response = await api.send("POST", path, {"quantity": 1, "category": category})
        body = assert_problem(response, 409, "backend-rejected")
        assert body["detail"], body
    after = await api.ok(f"{ERP}/lots/{lot['lotId']}")
    assert after["stock"] == lot["stock"]
    assert after["version"] == lot["version"]


async def test_stock_becomes_available_only_through_the_status_change(api: Api) -> None:
    lot = await lot_in(api, "QUARANTINE")
    lot_path = f"{ERP}/lots/{lot['lotId']}"
    issue = {"quantity": 1, "category": "AVAILABLE"}
    assert_problem(
        await api.send("POST", f"{lot_path}/goods-issues", issue), 409, "backend-rejected"
    )

    released = await api.send(
        "POST",
        f"{lot_path}/disposition-changes",
        {"disposition": "RELEASED", "reason": "All characteristics within limits"},
        **{"If-Match": f'"{lot["version"]}"'},
    )
    assert released.status_code == 200, released.text
    assert released.headers["etag"] == f'"{lot["version"] + 1}"'
    after = released.json()
    assert after["disposition"] == "RELEASED"
    assert stock(after, "AVAILABLE") == pytest.approx(lot["totalQuantity"])
    assert stock(after, "QUALITY_INSPECTION") == 0

    issued = await api.send("POST", f"{lot_path}/goods-issues", issue)
    assert issued.status_code == 200, issued.text
    assert stock(issued.json(), "AVAILABLE") == pytest.approx(lot["totalQuantity"] - 1)


async def test_partial_release_must_add_up(api: Api) -> None:
    lot = await lot_in(api, "QUARANTINE")
    total = lot["totalQuantity"]
    path = f"{ERP}/lots/{lot['lotId']}/disposition-changes"
    wrong = {
        "disposition": "RELEASED",
        "reason": "Partial release after sorting",
        "quantities": [{"category": "AVAILABLE", "quantity": total / 2}],
    }
    if_match = {"If-Match": f'"{lot["version"]}"'}
    assert_problem(await api.send("POST", path, wrong, **if_match), 409, "backend-rejected")
    right = {
        **wrong,
        "quantities": [
            {"category": "AVAILABLE", "quantity": total / 2},
            {"category": "BLOCKED", "quantity": total - total / 2},
        ],
    }
    response = await api.send("POST", path, right, **if_match)
    assert response.status_code == 200, response.text
    assert stock(response.json(), "BLOCKED") == pytest.approx(total - total / 2)


async def test_lists_paginate_with_a_cursor(api: Api) -> None:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor is not None:
            params["cursor"] = cursor
        page = await api.ok(f"{ERP}/lots", **params)
        assert len(page["items"]) <= 7
        seen.extend(lot["lotId"] for lot in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) >= 30
    everything = await api.ok(f"{ERP}/lots", limit=200)
    assert [lot["lotId"] for lot in everything["items"]] == seen
    assert_problem(await api.get(f"{ERP}/lots", cursor="bm90LWEtY3Vyc29y"), 400, "invalid-cursor")
    assert_problem(await api.get(f"{ERP}/lots", limit=201), 422, "validation-failed")


async def test_filters_return_only_matching_records(api: Api) -> None:
    page = await api.ok(f"{ERP}/lots", plantId="2000", limit=200)
    assert page["items"]
    assert {lot["plantId"] for lot in page["items"]} == {"2000"}
    failed = await api.ok(f"{QMS}/inspections", result="FAIL", limit=200)
    assert failed["items"]
    assert {i["result"] for i in failed["items"]} == {"FAIL"}


@pytest.mark.parametrize(
    "path",
    [
        f"{ERP}/lots/LOT-NOPE",
        f"{ERP}/items/NOPE",
        f"{ERP}/suppliers/NOPE",
        f"{ERP}/plants/9999",
        f"{ERP}/purchase-orders/NOPE",
        f"{ERP}/goods-receipts/NOPE",
        f"{QMS}/inspections/NOPE",
        f"{QMS}/specifications/NOPE",
        f"{QMS}/nonconformances/NOPE",
        f"{QMS}/capas/NOPE",
        f"{QMS}/suppliers/NOPE/quality-status",
    ],
)
async def test_unknown_records_are_404_problems(api: Api, path: str) -> None:
    assert_problem(await api.get(path), 404, "not-found")


async def test_a_capability_the_backend_lacks_is_501(start: Start) -> None:
    lacking = frozenset(ErpCapability) - {ErpCapability.PURCHASING_BLOCK}
    async with start(erp=ReferenceErpConnector(capabilities=lacking)) as api:
        before = await api.ok(f"{ERP}/suppliers/SUP-0001")
        response = await api.send(
            "PUT",
            f"{ERP}/suppliers/SUP-0001/purchasing-block",
            {"functions": ["PURCHASE_ORDER"], "reason": "Repeated defects"},
        )
        body = assert_problem(response, 501, "capability-unsupported")
        assert "purchasing block" in body["detail"]
        assert await api.ok(f"{ERP}/suppliers/SUP-0001") == before


async def test_purchasing_block_is_set_and_lifted(api: Api) -> None:
    path = f"{ERP}/suppliers/SUP-0002/purchasing-block"
    blocked = await api.send(
        "PUT", path, {"functions": ["PURCHASE_ORDER", "GOODS_RECEIPT"], "reason": "8D overdue"}
    )
    assert blocked.status_code == 200, blocked.text
    assert blocked.json()["purchasingBlocked"] is True
    assert blocked.json()["purchasingBlock"]["functions"] == ["PURCHASE_ORDER", "GOODS_RECEIPT"]
    assert blocked.json()["purchasingBlock"]["blockedBy"] == "operations"
    lifted = await api.send("PUT", path, {"functions": [], "reason": "8D closed"})
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["purchasingBlocked"] is False
    assert lifted.json()["purchasingBlock"] is None
    assert lifted.json()["version"] == blocked.json()["version"] + 1


async def test_goods_receipt_inspection_and_usage_decision(api: Api) -> None:
    item = await first_item_inspected_at(api, "1000")
    order = await open_order_for(api, item["itemId"], "1000")
    line = next(line for line in order["lines"] if line["itemId"] == item["itemId"])
    receipt_body = {
        "poId": order["poId"],
        "lineNo": line["lineNo"],
        "quantity": 10,
        "supplierLotNumber": "SL-TEST-1",
        "deliveryNote": f"DN-{uuid.uuid4().hex[:8]}",
    }
    posted = await api.send("POST", f"{ERP}/goods-receipts", receipt_body)
    assert posted.status_code == 201, posted.text
    receipt = posted.json()
    assert posted.headers["location"] == f"{ERP}/goods-receipts/{receipt['receiptId']}"
    assert receipt["stockCategory"] == "QUALITY_INSPECTION"
    again = await api.send("POST", f"{ERP}/goods-receipts", receipt_body)
    assert again.json()["receiptId"] == receipt["receiptId"], "a delivery note posts once"
    lot = await api.ok(f"{ERP}/lots/{receipt['lotId']}")
    assert lot["disposition"] == "QUARANTINE"

    created = await api.send(
        "POST",
        f"{QMS}/inspections",
        {
            "origin": "GOODS_RECEIPT",
            "lotId": lot["lotId"],
            "itemId": item["itemId"],
            "plantId": "1000",
            "quantity": 10,
            "supplierId": order["supplierId"],
            "goodsReceiptId": receipt["receiptId"],
        },
    )
    assert created.status_code == 201, created.text
    inspection = created.json()
    assert inspection["status"] == "CREATED"
    assert inspection["result"] == "PENDING"
    spec = await api.ok(f"{QMS}/specifications/{inspection['specId']}")
    measurements = [in_limits(c) for c in spec["characteristics"]]
    recorded = await api.send(
        "POST",
        f"{QMS}/inspections/{inspection['inspectionId']}/results",
        {"results": measurements},
        **{"If-Match": created.headers["etag"]},
    )
    assert recorded.status_code == 200, recorded.text
    assert recorded.json()["status"] == "RESULTS_RECORDED"
    assert recorded.json()["result"] == "PASS"
    decided = await api.send(
        "POST",
        f"{QMS}/inspections/{inspection['inspectionId']}/usage-decision",
        {"decision": "RELEASE", "reason": "All within limits", "decidedBy": "qa.lead"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "DECIDED"
    assert decided.json()["decision"]["decision"] == "RELEASE"
    twice = await api.send(
        "POST",
        f"{QMS}/inspections/{inspection['inspectionId']}/usage-decision",
        {"decision": "BLOCK", "reason": "Changed my mind", "decidedBy": "qa.lead"},
    )
    assert_problem(twice, 409, "backend-rejected")


def in_limits(characteristic: dict[str, Any]) -> dict[str, Any]:
    if not characteristic["quantitative"]:
        return {"characteristicId": characteristic["characteristicId"], "conforming": True}
    low, high = characteristic.get("lowerLimit"), characteristic.get("upperLimit")
    if low is not None and high is not None:
        value = (low + high) / 2
    else:
        value = low if low is not None else (high if high is not None else 0.0)
    return {"characteristicId": characteristic["characteristicId"], "measuredValue": value}


async def first_item_inspected_at(api: Api, plant: str) -> dict[str, Any]:
    items = await api.ok(f"{ERP}/items", plantId=plant, limit=200)
    for item in items["items"]:
        if any(p["plantId"] == plant and p["inspectionRequiredOnReceipt"] for p in item["plants"]):
            return cast("dict[str, Any]", item)
    raise AssertionError(f"no demo item needs inspection at {plant}")


async def open_order_for(api: Api, item_id: str, plant: str) -> dict[str, Any]:
    orders = await api.ok(f"{ERP}/purchase-orders", plantId=plant, limit=200)
    for order in orders["items"]:
        for line in order["lines"]:
            if line["itemId"] == item_id and line["quantity"] - line["receivedQuantity"] >= 10:
                return cast("dict[str, Any]", order)
    raise AssertionError(f"no open demo order line for {item_id} at {plant}")


async def test_nonconformance_and_capa_lifecycle(api: Api) -> None:
    created = await api.send(
        "POST",
        f"{QMS}/nonconformances",
        {
            "type": "SUPPLIER_NC",
            "severity": "MAJOR",
            "title": "Burr on housing flange",
            "plantId": "1000",
            "supplierId": "SUP-0001",
        },
    )
    assert created.status_code == 201, created.text
    nc = created.json()
    assert nc["status"] == "OPEN"
    path = f"{QMS}/nonconformances/{nc['ncId']}"
    skipped = await api.send("PATCH", path, {"status": "CLOSED", "reason": "Skipping"})
    assert_problem(skipped, 409, "backend-rejected")
    for status in ("IN_PROGRESS", "IN_REVIEW"):
        moved = await api.send("PATCH", path, {"status": status, "reason": "Working on it"})
        assert moved.status_code == 200, moved.text
    closed = await api.send(
        "PATCH",
        path,
        {"status": "CLOSED", "materialDisposition": "REWORK", "reason": "Reworked and verified"},
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "CLOSED"

    capa = await api.send(
        "POST",
        f"{QMS}/capas",
        {
            "type": "SUPPLIER_CORRECTIVE",
            "title": "Deburring step missing",
            "plantId": "1000",
            "owner": "qa.lead",
            "ncIds": [nc["ncId"]],
        },
    )
    assert capa.status_code == 201, capa.text
    capa_path = f"{QMS}/capas/{capa.json()['capaId']}/stage-advances"
    advanced = await api.send("POST", capa_path, {"stage": "D0", "summary": "Team formed"})
    assert advanced.status_code == 200, advanced.text
    assert advanced.json()["stage"] == "D1"
    repeated = await api.send("POST", capa_path, {"stage": "D0", "summary": "Team formed"})
    assert_problem(repeated, 409, "backend-rejected")


async def test_json_bodies_are_validated_strictly(api: Api) -> None:
    # Litestar converts leniently (as query strings need); a JSON body must carry real types.
    event = {"supplierId": "SUP-0001", "kind": "INSPECTION_FAILED", "occurredAt": 0}
    body = assert_problem(
        await api.send("POST", f"{QMS}/supplier-quality-events", event), 422, "validation-failed"
    )
    assert [e["location"] for e in body["errors"]] == ["body.occurredAt"]
    lot = await lot_in(api, "RELEASED")
    issue = {"quantity": "1", "category": 7}
    body = assert_problem(
        await api.send("POST", f"{ERP}/lots/{lot['lotId']}/goods-issues", issue),
        422,
        "validation-failed",
    )
    assert sorted(e["location"] for e in body["errors"]) == ["body.category", "body.quantity"]
    assert (await api.ok(f"{ERP}/lots/{lot['lotId']}"))["version"] == lot["version"]


async def test_a_repeated_query_parameter_is_refused(api: Api) -> None:
    response = await api.http.get(f"{ERP}/lots?plantId=1000&plantId=2000", headers=api.headers())
    body = assert_problem(response, 422, "validation-failed")
    assert body["errors"][0]["location"] == "query.plantId"


async def test_enumeration_filters_take_only_their_values(api: Api) -> None:
    for value in ("null", "released", ""):
        response = await api.get(f"{ERP}/lots", disposition=value)
        assert_problem(response, 422, "validation-failed")
