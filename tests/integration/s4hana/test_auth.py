"""How the connector authenticates: a communication user (basic) or OAuth 2.0 client
credentials, against the simulator's token endpoint or an identity provider on another host."""

from __future__ import annotations

import base64
from urllib.parse import parse_qsl

import httpx
import pytest

from shared.errors import DownstreamUnavailable
from shared.models.commands import PurchasingBlockChange
from shared.settings import S4HanaAuth
from system_apis.connectors.s4hana.simulator import S4HanaSimulator
from tests.integration.s4hana._sim import connect, sim_settings, simulator

TOKEN_PATH = "/sap/bc/sec/oauth2/token"
IDP = "https://idp.example.com/oauth/token"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_basic_auth_sends_the_communication_user_and_sap_client_on_every_call() -> None:
    settings = sim_settings(user="QGATE_COMM", password="s3cret-Pa55", sap_client="100")
    sim = simulator(settings)
    connector, recorder = connect(sim, settings)

    await connector.get_plant("1000")
    await connector.set_purchasing_block("SUP-0004", _lift(), actor="qe-1")

    assert recorder.sent
    assert {s.headers["authorization"] for s in recorder.sent} == {
        _basic("QGATE_COMM", "s3cret-Pa55")
    }
    assert {s.query.get("sap-client") for s in recorder.sent} == {"100"}
    assert {s.headers["accept-language"] for s in recorder.sent} == {"en"}
    await connector.aclose()


def _oauth(**overrides: object) -> dict[str, object]:
    return {
        "auth": S4HanaAuth.OAUTH2,
        "token_url": TOKEN_PATH,
        "client_id": "qgate-s4",
        "client_secret": "client-Secret-1",
        **overrides,
    }


async def test_oauth2_client_credentials_token_is_fetched_once_and_sent_as_bearer() -> None:
    settings = sim_settings(**_oauth())
    sim = simulator(settings)
    connector, recorder = connect(sim, settings)

    await connector.get_plant("1000")
    await connector.get_supplier("SUP-0001")
    await connector.set_purchasing_block("SUP-0004", _lift(), actor="qe-1")

    token_calls = [s for s in recorder.sent if s.path == TOKEN_PATH]
    assert len(token_calls) == 1
    assert token_calls[0].headers["authorization"] == _basic("qgate-s4", "client-Secret-1")
    assert dict(parse_qsl(token_calls[0].body.decode())) == {"grant_type": "client_credentials"}
    odata = [s for s in recorder.sent if s.path != TOKEN_PATH]
    (token,) = sim.bearer_tokens
    assert {s.headers["authorization"] for s in odata} == {f"Bearer {token}"}
    assert all(s.status not in (401, 403) for s in odata)
    await connector.aclose()


async def test_a_bearer_token_sap_no_longer_accepts_is_replaced_once() -> None:
    settings = sim_settings(**_oauth())
    sim = simulator(settings)
    connector, recorder = connect(sim, settings)
    await connector.get_plant("1000")
    sim.bearer_tokens.clear()  # revoked before its expires_in

    assert (await connector.get_plant("1000")).plant_id == "1000"

    statuses = [(s.path == TOKEN_PATH, s.status) for s in recorder.sent]
    assert statuses == [(True, 200), (False, 200), (False, 401), (True, 200), (False, 200)]
    await connector.aclose()


def _identity_provider(sim: S4HanaSimulator) -> httpx.AsyncBaseTransport:
    """SAP BTP style: the token comes from another host, which the simulator trusts."""
    simulated = httpx.ASGITransport(app=sim)

    def issue(request: httpx.Request) -> httpx.Response:
        form = dict(parse_qsl(request.content.decode()))
        if request.headers.get("authorization") != _basic("qgate-s4", "client-Secret-1") or (
            form.get("grant_type") != "client_credentials"
        ):
            return httpx.Response(401, json={"error": "invalid_client"})
        sim.bearer_tokens.add("idp-token-1")
        return httpx.Response(
            200, json={"access_token": "idp-token-1", "token_type": "bearer", "expires_in": 600}
        )

    idp = httpx.MockTransport(issue)

    class Route(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.host == "idp.example.com":
                return await idp.handle_async_request(request)
            return await simulated.handle_async_request(request)

    return Route()


async def test_oauth2_token_from_an_identity_provider_on_another_host() -> None:
    settings = sim_settings(**_oauth(token_url=IDP))
    sim = simulator(sim_settings())
    connector, recorder = connect(sim, settings, route=_identity_provider(sim))

    assert (await connector.get_plant("1000")).plant_id == "1000"

    assert [s.path for s in recorder.sent] == [
        "/oauth/token",
        "/sap/opu/odata/sap/API_PLANT_SRV/A_Plant('1000')",
    ]
    assert recorder.sent[1].headers["authorization"] == "Bearer idp-token-1"
    await connector.aclose()


async def test_a_token_endpoint_refusing_the_client_is_reported_not_sent_to_sap() -> None:
    settings = sim_settings(**_oauth(token_url=IDP, client_secret="wrong-secret"))
    sim = simulator(sim_settings())
    connector, recorder = connect(sim, settings, route=_identity_provider(sim))

    with pytest.raises(DownstreamUnavailable, match="token endpoint"):
        await connector.get_plant("1000")

    assert [s.path for s in recorder.sent] == ["/oauth/token"]
    assert sim.exchanges == []
    await connector.aclose()


def _lift() -> PurchasingBlockChange:
    return PurchasingBlockChange(functions=[], reason="Supplier audit passed")
