"""The JSON-RPC client against a real Tryton: login, session reuse and renewal, context,
encodings, and each kind of Tryton error translated into qgate's error tree."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

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
from shared.models.commands import GoodsReceiptCreate
from system_apis.connectors.base import PageRequest, PurchaseOrderFilter
from system_apis.connectors.tryton import TrytonClient, TrytonErpConnector, TrytonSession
from system_apis.connectors.tryton._rpc import decode, encode
from tests.integration.tryton._server import PASSWORD, TrytonServer


def test_decimals_dates_and_datetimes_travel_tagged() -> None:
    payload = {
        "price": Decimal("2.50"),
        "day": dt.date(2026, 11, 1),
        "at": dt.datetime(2026, 11, 1, 6, 30, 5, 12),
        "blob": b"\x00qgate",
    }
    raw = encode(payload)
    assert b'{"__class__":"Decimal","decimal":"2.50"}' in raw
    assert b'"__class__":"date","year":2026,"month":11,"day":1' in raw
    assert decode(raw) == payload


async def test_login_once_then_the_session_is_reused_with_the_company_in_context(
    tryton: TrytonServer,
) -> None:
    client = tryton.client(logged_in=False)
    prefs = await client.call("model.res.user.get_preferences", False)
    session = client.session
    assert session is not None
    assert session.context["company"] == prefs["company"]
    await client.execute("stock.lot", "search", [])
    assert client.session is session
    # Decimals and dates come back as Python values.
    [purchase] = await client.execute(
        "purchase.purchase", "search_read", [], 0, 1, None, ["purchase_date", "total_amount"]
    )
    assert isinstance(purchase["purchase_date"], dt.date)
    assert isinstance(purchase["total_amount"], Decimal)
    await client.aclose()


async def test_an_expired_session_is_renewed_once(tryton: TrytonServer) -> None:
    client = tryton.client(logged_in=False)
    await client.call("model.res.user.get_preferences", False)
    live = client.session
    assert live is not None
    stale = TrytonSession(login="admin", user_id=live.user_id, token="0" * 64, context={})
    expired = TrytonClient(
        url=tryton.url, database="qgate", login="admin", password=PASSWORD, session=stale
    )
    assert await expired.execute("stock.lot", "search", [], 0, 1) is not None
    assert expired.session is not stale
    await expired.aclose()
    await client.aclose()


async def test_a_refused_login_is_a_downstream_rejection(tryton: TrytonServer) -> None:
    client = tryton.client(logged_in=False, password="wrong")
    with pytest.raises(DownstreamRejected, match="login"):
        await client.execute("stock.lot", "search", [])
    await client.aclose()


async def test_a_user_error_is_a_backend_rejection_with_tryton_s_reason(
    tryton: TrytonServer,
) -> None:
    client = tryton.client()
    with pytest.raises(BackendRejected, match=r"Tryton: .*Stock Lot"):
        await client.execute("stock.lot", "read", [999_999], ["number"])
    await client.aclose()


async def test_a_stale_timestamp_is_a_precondition_failure(tryton: TrytonServer) -> None:
    client = tryton.client()
    [party] = await client.execute("party.party", "search", [], 0, 1)
    with pytest.raises(PreconditionFailed):
        await client.execute(
            "party.party",
            "write",
            [party],
            {"name": "Renamed"},
            context={"_timestamp": {f"party.party,{party}": "0"}},
        )
    await client.aclose()


async def test_an_unexpected_tryton_failure_does_not_leak_its_text(tryton: TrytonServer) -> None:
    client = tryton.client()
    with pytest.raises(DownstreamRejected) as raised:
        await client.execute("party.address", "create", [{"no_such_field": "x"}])
    assert "Traceback" not in str(raised.value)
    assert str(raised.value) == "Tryton failed on create"
    await client.aclose()


async def test_an_unreachable_or_slow_tryton_is_retryable() -> None:
    unreachable = TrytonClient(url="http://127.0.0.1:9", database="qgate", login="a", password="b")
    with pytest.raises(DownstreamUnavailable):
        await unreachable.execute("stock.lot", "search", [])
    await unreachable.aclose()

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    timing_out = TrytonClient(
        url="http://tryton.test",
        database="qgate",
        login="a",
        password="b",
        transport=httpx.MockTransport(slow),
    )
    with pytest.raises(DownstreamTimeout):
        await timing_out.execute("stock.lot", "search", [])
    await timing_out.aclose()


async def _over_delivery(erp: TrytonErpConnector) -> GoodsReceiptCreate:
    orders = await erp.list_purchase_orders(PurchaseOrderFilter(), PageRequest(limit=200))
    order = next(o for o in orders.items if o.lines[1].received_quantity == 0)
    line = order.lines[1]
    await erp.post_goods_receipt(
        GoodsReceiptCreate(po_id=order.po_id, line_no=line.line_no, quantity=line.quantity),
        actor="test",
    )
    return GoodsReceiptCreate(po_id=order.po_id, line_no=line.line_no, quantity=line.quantity / 20)


async def test_a_warning_outside_the_policy_refuses_the_change(tryton: TrytonServer) -> None:
    erp = TrytonErpConnector(tryton.client(acknowledge=()))
    over = await _over_delivery(erp)
    with pytest.raises(BackendRejected, match=r"check_move_quantity.*acknowledgement policy"):
        await erp.post_goods_receipt(over, actor="test")
    await erp.aclose()


async def test_a_warning_in_the_policy_is_acknowledged(tryton: TrytonServer) -> None:
    erp = TrytonErpConnector(tryton.client(acknowledge=("*.check_move_quantity",)))
    over = await _over_delivery(erp)
    receipt = await erp.post_goods_receipt(over, actor="test")
    order = await erp.get_purchase_order(over.po_id)
    line = next(ln for ln in order.lines if ln.line_no == over.line_no)
    assert line.received_quantity == line.quantity + receipt.quantity
    await erp.aclose()


async def test_a_button_that_answers_a_wizard_is_not_done(tryton: TrytonServer) -> None:
    client = tryton.client()
    erp = TrytonErpConnector(client)
    orders = await erp.list_purchase_orders(PurchaseOrderFilter(), PageRequest(limit=200))
    order = next(o for o in orders.items if o.lines[0].item_id == "SEL-ORG25")
    [product] = await client.execute("product.product", "search", [("code", "=", "SEL-ORG25")])
    # A quality control on receipt: Tryton's receive now answers its inspection wizard.
    await client.execute("quality.control", "create", [{
        "name": "Inspect before receiving", "product": product,
        "operations": ["stock.shipment.in:receive"],
        "points": [["create", [{"name": "ok", "string": "OK", "type_": "boolean"}]]],
    }])  # fmt: skip
    before = await erp.get_purchase_order(order.po_id)
    with pytest.raises(BackendRejected, match="asks for an action"):
        await erp.post_goods_receipt(
            GoodsReceiptCreate(po_id=order.po_id, line_no=10, quantity=5), actor="test"
        )
    assert await erp.get_purchase_order(order.po_id) == before
    assert await client.execute("stock.shipment.in", "search", [("state", "=", "draft")]) == []
    with pytest.raises(NotFound):
        await erp.get_lot("LOT-999999")
    await erp.aclose()
