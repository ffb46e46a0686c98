"""Acceptance: goods receipt -> inspection -> failed -> alert -> disposition, with Tryton as ERP
and QMS behind the real system and process layers, checked in Tryton's own records."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest

from shared.auth import DevIssuer
from shared.composition import PrefixDispatcher, build_issuer_app, create_layer
from system_apis.connectors.tryton import TrytonClient
from tests.integration._gateway import ERP, PROCESS, Caller, settings
from tests.integration.test_pipeline import lifespan
from tests.integration.tryton._server import TrytonServer


@contextlib.asynccontextmanager
async def _stack(tryton: TrytonServer) -> AsyncIterator[tuple[Caller, Caller]]:
    """Issuer, system layer over the Tryton connectors, process layer; the operations and the
    quality-engineer callers. No containment saga: its BLOCK of the failed lot would race
    the disposition this flow requests (the saga on Tryton is not what it tests)."""
    config = settings(containment={"enabled": False})
    issuer = DevIssuer(
        issuer=config.auth.issuer, audience=config.auth.audience, clients=config.dev_issuer.clients
    )
    issuer_app, _ = build_issuer_app(config, issuer=issuer)
    to_issuer = httpx.ASGITransport(app=cast("Any", issuer_app))
    system = create_layer(
        "system", config, issuer_transport=to_issuer,
        erp_connector=tryton.erp(), qms_connector=tryton.qms(),
    )  # fmt: skip
    process = create_layer(
        "process", config, issuer_transport=to_issuer,
        system_transport=httpx.ASGITransport(app=cast("Any", system)),
    )  # fmt: skip
    app = PrefixDispatcher(
        [("/system/", system), ("/process/", process), ("/oauth/", issuer_app)], default=process
    )
    async with contextlib.AsyncExitStack() as stack:
        for layer in (issuer_app, system, process):
            await stack.enter_async_context(lifespan(layer))
        http = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=cast("Any", app)),
                base_url="http://testserver",
                timeout=60.0,
            )
        )
        callers = []
        for client_id in ("operations", "quality-engineer"):
            answer = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client_id, f"{client_id}-secret"),
            )
            assert answer.status_code == 200, answer.text
            callers.append(Caller(http, answer.json()["access_token"]))
        yield callers[0], callers[1]


async def _lot_quantities(client: TrytonClient, lot_db_id: int, plant: str) -> dict[str, float]:
    """Tryton's own quantity of the lot in each of the plant's locations (``locations`` context)."""
    locations = await client.execute(
        "stock.location", "search_read", [("code", "like", f"{plant}-%")], 0, None, None, ["code"]
    )
    quantities = {}
    for location in locations:
        [row] = await client.execute(
            "stock.lot", "read", [lot_db_id], ["quantity"],
            context={"locations": [location["id"]]},
        )  # fmt: skip
        quantities[str(location["code"])] = float(row["quantity"])
    return quantities


@pytest.mark.parametrize("decision", ["BLOCK", "REJECT"])
async def test_a_failed_receipt_inspection_blocks_the_lot_in_tryton(
    tryton: TrytonServer, decision: str
) -> None:
    tryton_client = tryton.client()
    async with _stack(tryton) as (operations, engineer):
        # 1. Goods receipt on an open line of a purchase order for an inspected item.
        orders = await operations.ok(f"{ERP}/purchase-orders", plantId="1000", limit=200)
        order = next(o for o in orders["items"] if o["lines"][0]["itemId"] == "HSG-A100")
        receipt = await operations.post(
            f"{ERP}/goods-receipts",
            {"poId": order["poId"], "lineNo": 10, "quantity": 48.0, "deliveryNote": "DN-FLOW-1"},
        )
        assert receipt.status_code == 201, receipt.text
        received = receipt.json()
        assert received["stockCategory"] == "QUALITY_INSPECTION"
        lot_db_id = int(received["lotId"].removeprefix("LOT-"))
        assert (await _lot_quantities(tryton_client, lot_db_id, "1000"))["1000-QUARANTINE"] == 48

        # 2. Inspection request on the receipt.
        requested = await engineer.post(
            f"{PROCESS}/inspection-requests", {"goodsReceiptId": received["receiptId"]}
        )
        assert requested.status_code in (200, 201), requested.text
        inspection = requested.json()["inspection"]
        assert inspection["goodsReceiptId"] == received["receiptId"]

        # 3. Failing results: a critical characteristic out of tolerance.
        spec = await operations.ok(f"/system/qms/v1/specifications/{inspection['specId']}")
        results = []
        for char in spec["characteristics"]:
            if char["quantitative"]:
                value = char["upperLimit"] + 1 if char["critical"] else char["target"]
                results.append(
                    {"characteristicId": char["characteristicId"], "measuredValue": value}
                )
            else:
                results.append({"characteristicId": char["characteristicId"], "conforming": True})
        recorded = await engineer.post(
            f"{PROCESS}/inspections/{inspection['inspectionId']}/results", {"results": results}
        )
        assert recorded.status_code == 200, recorded.text
        outcome = recorded.json()
        assert outcome["inspection"]["result"] == "FAIL"
        assert outcome["proposedDecision"] == "BLOCK"

        # 4. Tryton failed the inspection and opened an alert on it.
        [tryton_inspection] = await tryton_client.execute(
            "quality.inspection", "search_read",
            [("number", "=", inspection["inspectionId"])], 0, 1, None, ["state", "alerts"],
        )  # fmt: skip
        assert tryton_inspection["state"] == "failed"
        [alert_id] = tryton_inspection["alerts"]
        [alert] = await tryton_client.execute("quality.alert", "read", [alert_id], ["state"])
        assert alert["state"] == "open"

        # 5. The disposition through the process layer: applied in QMS and ERP.
        disposition = await engineer.post(
            f"{PROCESS}/lot-dispositions",
            {"lotId": received["lotId"], "decision": decision, "reason": "Bearing seat oversize",
             "inspectionId": inspection["inspectionId"]},
        )  # fmt: skip
        assert disposition.status_code == 201, disposition.text
        assert disposition.json()["status"] == "APPLIED"

        # 6. Tryton's own records: the lot's stock moved out of quarantine, the alert in hand.
        quantities = await _lot_quantities(tryton_client, lot_db_id, "1000")
        target = "1000-BLOCKED" if decision == "BLOCK" else "1000-REJECTED"
        assert quantities[target] == 48
        assert quantities["1000-QUARANTINE"] == 0
        assert quantities["1000-STO"] == 0
        [alert] = await tryton_client.execute("quality.alert", "read", [alert_id], ["state"])
        assert alert["state"] == "processing"
        moves = await tryton_client.execute(
            "stock.shipment.internal", "search_read",
            [("moves.lot", "=", lot_db_id)], 0, None, None, ["state", "reference"],
        )  # fmt: skip
        assert [m["state"] for m in moves] == ["done"]
        lot = await operations.ok(f"{ERP}/lots/{received['lotId']}")
        assert lot["disposition"] == ("BLOCKED" if decision == "BLOCK" else "REJECTED")
    await tryton_client.aclose()
