"""How the app factory builds the rate limiter from settings."""

from __future__ import annotations

from typing import Any, cast

import httpx
from litestar import get, post

from shared.appfactory import build_layer_app, build_rate_limiter
from shared.settings import DevIssuerSettings, RateLimitSettings, Settings


async def test_layer_service_clients_get_the_service_tier_without_the_dev_issuer() -> None:
    limiter = build_rate_limiter(Settings(dev_issuer=DevIssuerSettings(enabled=False)))
    assert limiter is not None
    try:
        for client in ("experience-service", "process-service"):
            decision = await limiter.hit(client_id=client, remote_addr="127.0.0.1")
            assert decision.policy == "service"
        other = await limiter.hit(client_id="some-idp-client", remote_addr="127.0.0.1")
        assert other.policy == "standard"
    finally:
        await limiter.aclose()


async def test_configured_client_tiers_win() -> None:
    settings = Settings(
        dev_issuer=DevIssuerSettings(enabled=False),
        rate_limit=RateLimitSettings(client_tiers={"process-service": "operations"}),
    )
    limiter = build_rate_limiter(settings)
    assert limiter is not None
    try:
        decision = await limiter.hit(client_id="process-service", remote_addr="127.0.0.1")
        assert decision.policy == "operations"
    finally:
        await limiter.aclose()


def test_no_limiter_when_rate_limiting_is_off() -> None:
    assert build_rate_limiter(Settings(rate_limit=RateLimitSettings(enabled=False))) is None


async def test_options_lists_every_method_of_a_path() -> None:
    # Litestar 2.25's automatic OPTIONS answer kept only the first handler's methods.
    @get("/things", operation_id="listThings", sync_to_thread=False, security=[])
    def list_things() -> list[str]:
        return []

    @post("/things", operation_id="makeThing", sync_to_thread=False, security=[])
    def make_thing() -> str:
        return "made"

    app = build_layer_app(
        layer="system", settings=Settings(), surfaces=(), route_handlers=[list_things, make_thing]
    )
    transport = httpx.ASGITransport(app=cast("Any", app))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.options("/things")
    assert answer.status_code == 204
    assert answer.headers["allow"] == "GET, OPTIONS, POST"
