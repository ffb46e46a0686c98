"""SAP's failure modes, each mapped to the connector error tree (the simulator's fault hooks;
``httpx.MockTransport`` only where the simulator cannot produce the shape)."""

from __future__ import annotations

import httpx
import pytest

from shared.errors import (
    BackendRejected,
    DownstreamRejected,
    DownstreamTimeout,
    DownstreamUnavailable,
    NotFound,
    PreconditionFailed,
)
from shared.models import BlockedFunction, LotDisposition
from shared.models.commands import GoodsReceiptCreate, LotDispositionChange, PurchasingBlockChange
from system_apis.connectors.s4hana import S4HanaClient
from tests.integration.s4hana._sim import Recorder, connect, sim_settings, simulator

BP = "API_BUSINESS_PARTNER"
SUPPLIER = "A_Supplier('SUP-0001')"
ACTOR = "qe-1"


def _block(*functions: BlockedFunction) -> PurchasingBlockChange:
    return PurchasingBlockChange(functions=list(functions), reason="Repeated late deliveries")


async def test_an_expired_csrf_token_is_fetched_again_once_and_the_write_goes_through() -> None:
    sim = simulator()
    connector, recorder = connect(sim)
    await connector.set_purchasing_block(
        "SUP-0001", _block(BlockedFunction.PURCHASE_ORDER), actor=ACTOR
    )
    assert len(recorder.csrf_fetches()) == 1
    writes_before = len(recorder.writes())

    sim.faults.expire_csrf(sim)  # the session times out between two writes
    lifted = await connector.set_purchasing_block("SUP-0001", _block(), actor=ACTOR)

    assert not lifted.purchasing_blocked
    assert len(recorder.csrf_fetches()) == 2
    later = recorder.writes()[writes_before:]
    assert [w.status for w in later[:2]] == [403, 204]  # refused once, then the same PATCH again
    assert later[0].path == later[1].path
    assert later[0].headers["x-csrf-token"] != later[1].headers["x-csrf-token"]
    assert all(w.status < 300 for w in later[1:])
    # the fresh token is reused for every later write of the session
    assert {w.headers["x-csrf-token"] for w in later[1:]} == {later[1].headers["x-csrf-token"]}
    await connector.aclose()


async def test_a_fresh_csrf_token_refused_again_is_not_retried_in_a_loop() -> None:
    sim = simulator()
    connector, recorder = connect(sim)
    sim.faults.refuse_csrf = 5

    with pytest.raises(DownstreamRejected, match="CSRF"):
        await connector.set_purchasing_block(
            "SUP-0001", _block(BlockedFunction.PURCHASE_ORDER), actor=ACTOR
        )

    assert [w.status for w in recorder.writes()] == [403, 403]
    assert len(recorder.csrf_fetches()) == 2
    assert sim.faults.refuse_csrf == 3
    assert not (await connector.get_supplier("SUP-0001")).purchasing_blocked
    await connector.aclose()


async def test_a_stale_etag_is_a_precondition_failure_and_changes_nothing() -> None:
    sim = simulator()
    client = S4HanaClient(sim_settings(), transport=httpx.ASGITransport(app=sim))
    _, etag = await client.entity(BP, SUPPLIER)
    sim.state.touch(sim.state.require("A_Supplier", ("SUP-0001",)))  # someone else changed it

    with pytest.raises(PreconditionFailed) as caught:
        await client.update(
            BP, SUPPLIER, {"PurchasingIsBlocked": True}, etag=etag, what="the block"
        )

    assert not caught.value.retryable
    assert "the entity was changed by someone else" in (caught.value.detail or "")
    assert "/IWBEP/CM_MGW_RT/161" in (caught.value.detail or "")
    row, fresh = await client.entity(BP, SUPPLIER)
    assert row["PurchasingIsBlocked"] is False
    assert fresh != etag
    await client.aclose()


async def test_a_write_without_etag_answered_428_reads_the_etag_and_is_sent_once_more() -> None:
    sim = simulator()
    recorder = Recorder(httpx.ASGITransport(app=sim))
    client = S4HanaClient(sim_settings(), transport=recorder)

    await client.update(BP, SUPPLIER, {"PurchasingIsBlocked": True}, etag=None, what="the block")

    calls = [(s.method, s.status) for s in recorder.sent if s.path.endswith(SUPPLIER)]
    assert calls == [("PATCH", 428), ("GET", 200), ("PATCH", 204)]
    patches = [s for s in recorder.sent if s.method == "PATCH"]
    assert "if-match" not in patches[0].headers
    assert patches[1].headers["if-match"] == "W/\"'1'\""
    row, _ = await client.entity(BP, SUPPLIER)
    assert row["PurchasingIsBlocked"] is True
    await client.aclose()


async def test_sap_error_bodies_become_backend_rejected_with_sap_message_and_code() -> None:
    sim = simulator()
    client = S4HanaClient(sim_settings(), transport=httpx.ASGITransport(app=sim))

    with pytest.raises(BackendRejected) as caught:
        await client.create(
            "API_MATERIAL_DOCUMENT_SRV",
            "A_MaterialDocumentHeader",
            {"GoodsMovementCode": "04", "to_MaterialDocumentItem": {"results": []}},
            what="an empty material document",
        )

    body = sim.exchanges[-1].response
    assert set(body["error"]) >= {"code", "message", "innererror"}
    assert body["error"]["message"]["lang"] == "en"
    assert caught.value.detail == (
        "S/4HANA refused an empty material document: "
        "Enter at least one item in the material document (M7/077)"
    )
    assert caught.value.status == 409
    assert not caught.value.retryable
    await client.aclose()


async def test_a_posting_sap_refuses_reaches_the_port_with_sap_message() -> None:
    connector, _ = connect(simulator())

    with pytest.raises(BackendRejected, match=r"PO quantity exceeded by .*\(M7/022\)"):
        await connector.post_goods_receipt(
            GoodsReceiptCreate(po_id="PO-4500000210", line_no=10, quantity=10_000),
            actor=ACTOR,
        )
    with pytest.raises(BackendRejected, match=r"blocked for goods receipts .*\(M7/136\)"):
        await connector.post_goods_receipt(
            GoodsReceiptCreate(po_id="PO-4500000510", line_no=10, quantity=1), actor=ACTOR
        )
    await connector.aclose()


async def test_an_unknown_key_is_not_found_with_sap_message() -> None:
    connector, _ = connect(simulator())

    with pytest.raises(NotFound, match="Resource not found for segment"):
        await connector.get_plant("9999")
    with pytest.raises(NotFound):
        await connector.get_lot("LOT-1000-9999")
    await connector.aclose()


async def test_an_error_body_that_is_not_sap_json_still_gives_its_text() -> None:
    def proxy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="<html>Bad Request: header too long</html>")

    client = S4HanaClient(sim_settings(), transport=httpx.MockTransport(proxy))

    with pytest.raises(BackendRejected, match="header too long"):
        await client.request("GET", BP, "A_Supplier", what="the suppliers")
    await client.aclose()


async def test_a_slow_answer_is_a_retryable_timeout() -> None:
    sim = simulator()
    connector, _ = connect(sim, sim_settings(timeout_seconds=0.05))
    sim.faults.delay_seconds = 30.0

    with pytest.raises(DownstreamTimeout) as caught:
        await connector.get_lot("LOT-1000-0019")

    assert caught.value.retryable
    assert caught.value.status == 504
    sim.faults.delay_seconds = 0.0
    assert (await connector.get_lot("LOT-1000-0019")).disposition is LotDisposition.QUARANTINE
    await connector.aclose()


@pytest.mark.parametrize("status", [503, 500, 502, 429])
async def test_an_unavailable_sap_is_retryable_and_the_next_call_works(status: int) -> None:
    sim = simulator()
    connector, _ = connect(sim)
    sim.faults.fail_next = [status]

    with pytest.raises(DownstreamUnavailable) as caught:
        await connector.get_lot("LOT-1000-0019")

    assert caught.value.retryable
    assert caught.value.status == 503
    assert (await connector.get_lot("LOT-1000-0019")).lot_id == "LOT-1000-0019"
    await connector.aclose()


@pytest.mark.parametrize("failing", ["A_InspLotUsageDecision", "A_InspLotMatlDocItem"])
async def test_a_503_on_a_posting_is_retried_to_one_decision_and_one_stock_posting(
    failing: str,
) -> None:
    sim = simulator()
    connector, _ = connect(sim)
    lot = await connector.get_lot("LOT-1000-0019")
    change = LotDispositionChange(disposition=LotDisposition.RELEASED, reason="Within limits")
    sim.faults.fail_next, sim.faults.fail_path, sim.faults.fail_method = [503], failing, "POST"

    with pytest.raises(DownstreamUnavailable):
        await connector.change_lot_disposition(
            lot.lot_id, change, actor=ACTOR, expected_version=lot.version
        )
    unchanged = await connector.get_lot(lot.lot_id)
    assert (unchanged.version, unchanged.disposition) == (lot.version, lot.disposition)

    released = await connector.change_lot_disposition(
        lot.lot_id, change, actor=ACTOR, expected_version=lot.version
    )

    assert released.disposition is LotDisposition.RELEASED
    assert released.version == lot.version + 1
    (inspection,) = sim.state.where("A_InspectionLot", Plant="1000", Batch="0019")
    number = inspection["InspectionLot"]
    assert len(sim.state.where("A_InspLotUsageDecision", InspectionLot=number)) == 1
    assert len(sim.state.where("A_InspLotMatlDocItem", InspectionLot=number)) == 1
    await connector.aclose()


async def test_a_gateway_timeout_is_a_timeout_and_unreachable_sap_is_unavailable() -> None:
    sim = simulator()
    connector, _ = connect(sim)
    sim.faults.fail_next = [504]
    with pytest.raises(DownstreamTimeout):
        await connector.get_plant("1000")

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = S4HanaClient(sim_settings(), transport=httpx.MockTransport(refused))
    with pytest.raises(DownstreamUnavailable):
        await client.request("GET", "API_PLANT_SRV", "A_Plant")
    await client.aclose()
    await connector.aclose()


async def test_wrong_credentials_are_a_downstream_rejection_not_a_retry() -> None:
    sim = simulator()
    connector, recorder = connect(sim, sim_settings(password="not-the-password"))

    with pytest.raises(DownstreamRejected, match="credentials") as caught:
        await connector.get_plant("1000")

    assert not caught.value.retryable
    assert [s.status for s in recorder.sent] == [401]
    await connector.aclose()
