"""LayerClient and ServiceTokenSource against httpx.MockTransport: token caching and refetch,
headers sent down, and transport failures translated at the boundary."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Coroutine
from urllib.parse import parse_qs

import httpx
import msgspec
import pytest

from shared.asgitypes import Message, Receive, Scope, Send
from shared.auth import Caller
from shared.correlation import CorrelationASGI
from shared.delegation import ON_BEHALF_OF_HEADER, decode_chain
from shared.errors import DownstreamTimeout, DownstreamUnavailable
from shared.http import LayerClient, ServiceTokenSource, build_layer_client

TOKEN_URL = "http://issuer.test/oauth/token"
Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Issuer:
    """A token endpoint that hands out t1, t2, … and records every request."""

    def __init__(self, expires_in: int = 300, delay: float = 0.0) -> None:
        self.expires_in = expires_in
        self.delay = delay
        self.requests: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        token = f"t{len(self.requests)}"
        return httpx.Response(200, json={"access_token": token, "expires_in": self.expires_in})

    @property
    def fetches(self) -> int:
        return len(self.requests)


def token_source(issuer: Issuer, clock: Callable[[], float] = time.monotonic) -> ServiceTokenSource:
    http = httpx.AsyncClient(transport=httpx.MockTransport(issuer))
    return ServiceTokenSource(
        http,
        token_url=TOKEN_URL,
        client_id="process-service",
        client_secret="process-service-secret",
        clock=clock,
    )


def layer_client(handler: Handler, issuer: Issuer, *, timeout: float = 5.0) -> LayerClient:
    return build_layer_client(
        name="system",
        base_url="http://system.test",
        transport=httpx.MockTransport(handler),
        token_url=TOKEN_URL,
        token_transport=httpx.MockTransport(issuer),
        client_id="process-service",
        client_secret="process-service-secret",
        timeout=timeout,
    )


def bearer(request: httpx.Request) -> str:
    scheme, _, token = request.headers["authorization"].partition(" ")
    assert scheme == "Bearer"
    return token


async def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"path": request.url.path})


# --- service tokens -------------------------------------------------------------------------


async def test_token_request_is_client_credentials_with_basic_auth() -> None:
    issuer = Issuer()
    assert await token_source(issuer).token() == "t1"
    request = issuer.requests[0]
    assert request.method == "POST"
    assert str(request.url) == TOKEN_URL
    credentials = base64.b64decode(request.headers["authorization"].removeprefix("Basic "))
    assert credentials == b"process-service:process-service-secret"
    assert parse_qs(request.content.decode()) == {"grant_type": ["client_credentials"]}


async def test_token_cached_until_shortly_before_expiry() -> None:
    issuer, clock = Issuer(expires_in=300), Clock()
    source = token_source(issuer, clock)
    assert await source.token() == "t1"
    clock.now += 269  # 30 s refresh margin: still good
    assert await source.token() == "t1"
    assert issuer.fetches == 1
    clock.now += 2
    assert await source.token() == "t2"
    assert issuer.fetches == 2


async def test_short_lived_token_is_kept_for_half_its_life() -> None:
    issuer, clock = Issuer(expires_in=40), Clock()
    source = token_source(issuer, clock)
    await source.token()
    clock.now += 19
    assert await source.token() == "t1"
    clock.now += 2
    assert await source.token() == "t2"


async def test_token_fetched_once_under_concurrency() -> None:
    issuer = Issuer(delay=0.02)
    source = token_source(issuer)
    tokens = await asyncio.gather(*(source.token() for _ in range(25)))
    assert set(tokens) == {"t1"}
    assert issuer.fetches == 1


async def test_concurrent_requests_share_one_token() -> None:
    issuer = Issuer(delay=0.02)
    client = layer_client(ok, issuer)
    answers = await asyncio.gather(*(client.request("GET", f"/r/{n}") for n in range(10)))
    assert [a.status_code for a in answers] == [200] * 10
    assert issuer.fetches == 1
    await client.aclose()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (httpx.Response(401, json={"error": "invalid_client"}), "refused"),
        (httpx.Response(200, content=b"<html>"), "garbage"),
        (httpx.Response(200, json={"token_type": "Bearer"}), "garbage"),
    ],
)
async def test_token_endpoint_failures_are_downstream_unavailable(
    answer: httpx.Response, reason: str
) -> None:
    async def endpoint(request: httpx.Request) -> httpx.Response:
        return answer

    http = httpx.AsyncClient(transport=httpx.MockTransport(endpoint))
    source = ServiceTokenSource(
        http,
        token_url=TOKEN_URL,
        client_id="c",
        client_secret="s",
    )
    with pytest.raises(DownstreamUnavailable, match=reason):
        await source.token()


async def test_token_endpoint_unreachable_is_downstream_unavailable() -> None:
    async def endpoint(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    http = httpx.AsyncClient(transport=httpx.MockTransport(endpoint))
    source = ServiceTokenSource(
        http,
        token_url=TOKEN_URL,
        client_id="c",
        client_secret="s",
    )
    with pytest.raises(DownstreamUnavailable, match="unreachable"):
        await source.token()


# --- a 401 from the layer below -------------------------------------------------------------


async def test_401_from_below_refetches_the_token_once() -> None:
    seen: list[str] = []

    async def layer(request: httpx.Request) -> httpx.Response:
        seen.append(bearer(request))
        return httpx.Response(401 if bearer(request) == "t1" else 200)

    issuer = Issuer()
    client = layer_client(layer, issuer)
    answer = await client.request("GET", "/system/erp/v1/whoami")
    assert answer.status_code == 200
    assert seen == ["t1", "t2"]
    assert issuer.fetches == 2
    # The new token is cached for the next call.
    assert (await client.request("GET", "/again")).status_code == 200
    assert issuer.fetches == 2


async def test_401_twice_is_returned_not_retried_forever() -> None:
    calls = 0

    async def layer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(401)

    issuer = Issuer()
    answer = await layer_client(layer, issuer).request("GET", "/x")
    assert answer.status_code == 401
    assert calls == 2
    assert issuer.fetches == 2


async def test_concurrent_401s_with_one_stale_token_cause_one_refetch() -> None:
    async def layer(request: httpx.Request) -> httpx.Response:
        if bearer(request) == "t1":
            await asyncio.sleep(0.01)
            return httpx.Response(401)
        return httpx.Response(200)

    issuer = Issuer()
    client = layer_client(layer, issuer)
    answers = await asyncio.gather(*(client.request("GET", "/x") for _ in range(10)))
    assert {a.status_code for a in answers} == {200}
    assert issuer.fetches == 2


# --- headers sent down ----------------------------------------------------------------------


async def test_correlation_and_on_behalf_of_headers_are_sent() -> None:
    sent: list[httpx.Request] = []

    async def layer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(201, json={"ok": True})

    issuer = Issuer()
    client = layer_client(layer, issuer)
    chain = (
        Caller(client_id="plant-app", subject="plant-app", plants=("1000",)),
        Caller(client_id="experience-service", subject="experience-service"),
    )
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        answer = await client.request(
            "POST",
            "/system/erp/v1/connectivity-checks",
            json={"note": "hi"},
            on_behalf_of=chain,
            headers={"Idempotency-Key": "k-1"},
        )
        assert answer.status_code == 201
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(message: Message) -> None:
        return None

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [
            (b"x-correlation-id", b"corr-42"),
            (b"traceparent", f"00-{trace_id}-00f067aa0ba902b7-01".encode()),
        ],
    }
    await CorrelationASGI(app, layer="process")(scope, receive, send)

    request = sent[0]
    assert request.headers["x-correlation-id"] == "corr-42"
    traceparent = request.headers["traceparent"]
    assert traceparent.startswith(f"00-{trace_id}-")
    assert traceparent.split("-")[2] != "00f067aa0ba902b7"
    assert request.headers["authorization"] == "Bearer t1"
    assert request.headers["idempotency-key"] == "k-1"
    assert request.headers["content-type"] == "application/json"
    assert msgspec.json.decode(request.content) == {"note": "hi"}
    assert decode_chain(request.headers[ON_BEHALF_OF_HEADER]) == chain
    # The token request carries the correlation id too.
    assert issuer.requests[0].headers["x-correlation-id"] == "corr-42"


async def test_no_on_behalf_of_header_without_a_chain() -> None:
    sent: list[httpx.Request] = []

    async def layer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    await layer_client(layer, Issuer()).request("GET", "/x")
    assert ON_BEHALF_OF_HEADER.lower() not in sent[0].headers
    assert "x-correlation-id" not in sent[0].headers  # no request being handled
    assert "content-type" not in sent[0].headers


# --- failures translated --------------------------------------------------------------------


async def test_connection_error_is_downstream_unavailable() -> None:
    async def layer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(DownstreamUnavailable, match="system unreachable"):
        await layer_client(layer, Issuer()).request("GET", "/x")


async def test_slow_layer_is_downstream_timeout() -> None:
    async def layer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(10)  # MockTransport, like ASGITransport, ignores httpx timeouts
        return httpx.Response(200)

    # Had the timeout not fired, the layer would have answered 200 and nothing raised.
    client = layer_client(layer, Issuer(), timeout=0.05)
    with pytest.raises(DownstreamTimeout, match="did not answer in time"):
        await client.request("GET", "/x")


async def test_httpx_timeout_is_downstream_timeout() -> None:
    async def layer(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    with pytest.raises(DownstreamTimeout):
        await layer_client(layer, Issuer()).request("GET", "/x")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_downstream_unavailable(status: int) -> None:
    async def layer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="stack trace from below")

    with pytest.raises(DownstreamUnavailable, match=f"system answered {status}"):
        await layer_client(layer, Issuer()).request("GET", "/x")


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
async def test_4xx_is_returned_to_the_caller(status: int) -> None:
    async def layer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"status": status})

    answer = await layer_client(layer, Issuer()).request("GET", "/x")
    assert answer.status_code == status


async def test_ready_probe() -> None:
    async def healthy(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/health/ready"
        assert "authorization" not in request.headers
        return httpx.Response(200, json={"status": "ready"})

    async def unhealthy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503)

    issuer = Issuer()
    await layer_client(healthy, issuer).ready()
    assert issuer.fetches == 0  # the probe needs no token
    with pytest.raises(DownstreamUnavailable, match=r"system is not ready \(503\)"):
        await layer_client(unhealthy, issuer).ready()


async def test_aclose_closes_both_clients() -> None:
    client = layer_client(ok, Issuer())
    await client.request("GET", "/x")
    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.request("GET", "/x")
