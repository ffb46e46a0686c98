"""The request pipeline through the all-in-one app, in process: authentication negatives on every
surface, idempotency, rate limits, on-behalf-of, correlation, problem+json for routing errors and
500s, and the health probes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Final, cast

import httpx
import pytest
from joserfc.jwk import RSAKey

from shared.auth import Caller, DevIssuer, demo_clients
from shared.composition import TransportWrapper, create_all_in_one
from shared.delegation import ON_BEHALF_OF_HEADER, encode_chain
from shared.settings import RateLimitSettings, Settings, StoreKind

PROBLEM_JSON: Final = "application/problem+json"
DEFAULTS: Final = Settings()

#: One secured read per surface, with the scope it declares.
WHOAMI: Final = {
    "/system/erp/v1/whoami": "erp.read",
    "/system/qms/v1/whoami": "qms.read",
    "/process/v1/whoami": "quality.read",
    "/partner/v1/whoami": "partner.read",
    "/plant/v1/whoami": "plant.read",
}
CHECKS: Final = "/process/v1/connectivity-checks"
UUID_RE: Final = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TRACEPARENT_RE: Final = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-01$")


# --- running the app ------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def lifespan(app: Any) -> AsyncIterator[None]:
    """Drive the ASGI lifespan protocol (httpx.ASGITransport runs none)."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    started = await asyncio.wait_for(from_app.get(), timeout=30)
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        stopped = await asyncio.wait_for(from_app.get(), timeout=30)
        await asyncio.wait_for(task, timeout=30)
        assert stopped["type"] == "lifespan.shutdown.complete", stopped


@dataclass
class Gateway:
    http: httpx.AsyncClient
    issuer: DevIssuer

    async def token(self, client_id: str, scope: str | None = None) -> str:
        form = {"grant_type": "client_credentials"}
        if scope is not None:
            form["scope"] = scope
        answer = await self.http.post(
            "/oauth/token", data=form, auth=(client_id, f"{client_id}-secret")
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    async def get(self, path: str, token: str | None = None, **headers: str) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.get(path, headers=headers)

    async def post_check(
        self, token: str, key: str | None, body: Any, path: str = CHECKS
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return await self.http.post(path, json=body, headers=headers)


@pytest.fixture(scope="module")
def issuer() -> DevIssuer:
    """The issuer the app serves: tests sign tokens with its key."""
    return DevIssuer(
        issuer=DEFAULTS.auth.issuer, audience=DEFAULTS.auth.audience, clients=demo_clients()
    )


@pytest.fixture(scope="module")
def stranger() -> DevIssuer:
    """Same issuer name and audience, another key: its signatures must not verify."""
    return DevIssuer(
        issuer=DEFAULTS.auth.issuer, audience=DEFAULTS.auth.audience, clients=demo_clients()
    )


Start = Callable[..., contextlib.AbstractAsyncContextManager[Gateway]]


@pytest.fixture
def start(issuer: DevIssuer) -> Start:
    """``async with start(settings, wrap_transport=...) as gw``: a running all-in-one app."""

    @contextlib.asynccontextmanager
    async def run(
        settings: Settings = DEFAULTS, *, wrap_transport: TransportWrapper | None = None
    ) -> AsyncIterator[Gateway]:
        app = create_all_in_one(settings, issuer=issuer, wrap_transport=wrap_transport)
        transport = httpx.ASGITransport(app=cast("Any", app))
        async with (
            lifespan(app),
            httpx.AsyncClient(transport=transport, base_url=settings.auth.issuer) as http,
        ):
            yield Gateway(http, issuer)

    return run


@pytest.fixture
async def gw(start: Start) -> AsyncIterator[Gateway]:
    async with start() as gateway:
        yield gateway


class SlowTransport(httpx.AsyncBaseTransport):
    """Delays every request to the layer below and counts them."""

    def __init__(self, inner: httpx.AsyncBaseTransport, delay: float) -> None:
        self.inner = inner
        self.delay = delay
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        await asyncio.sleep(self.delay)
        return await self.inner.handle_async_request(request)


class FailingTransport(httpx.AsyncBaseTransport):
    """Fails the first ``failures`` requests with ``error``, then passes through."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, error: Exception, failures: int = 1_000_000
    ) -> None:
        self.inner = inner
        self.error = error
        self.failures = failures

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.failures > 0:
            self.failures -= 1
            raise self.error
        return await self.inner.handle_async_request(request)


def wrap(target: str, make: Callable[[httpx.AsyncBaseTransport], Any]) -> TransportWrapper:
    def wrapper(name: str, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return cast("httpx.AsyncBaseTransport", make(transport)) if name == target else transport

    return wrapper


def assert_problem(response: httpx.Response, status: int, slug: str | None = None) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status
    if slug is not None:
        assert body["type"] == f"https://qgate.dev/problems/{slug}"
    assert body["correlationId"] == response.headers["x-correlation-id"]
    return body


# --- crafted tokens -------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value).encode())


def claims(client_id: str = "operations", **overrides: Any) -> dict[str, Any]:
    """Valid claims for a demo client (all its scopes), with ``overrides``."""
    client = next(c for c in demo_clients() if c.client_id == client_id)
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": DEFAULTS.auth.issuer,
        "aud": DEFAULTS.auth.audience,
        "sub": client_id,
        "client_id": client_id,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "scope": " ".join(client.scopes),
    }
    base.update(overrides)
    return base


def hs256_with_public_key(issuer: DevIssuer) -> str:
    """The classic key-confusion forgery: HMAC keyed with the issuer's public RSA key."""
    public = RSAKey.import_key(issuer.jwks()["keys"][0])
    secret = public.as_pem(private=False)
    signing_input = (
        b64json({"alg": "HS256", "typ": "at+jwt", "kid": issuer.kid}) + "." + b64json(claims())
    )
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def unsigned(_: DevIssuer) -> str:
    return b64json({"alg": "none", "typ": "at+jwt"}) + "." + b64json(claims()) + "."


#: case -> (token factory given (app issuer, stranger), expected error_description)
BAD_TOKENS: Final[dict[str, tuple[Callable[[DevIssuer, DevIssuer], str], str]]] = {
    "malformed": (lambda i, s: "not-a-jwt", "malformed token"),
    "garbage segments": (lambda i, s: "eyJ!.e30.sig", "malformed token"),
    "expired": (
        lambda i, s: i.sign(claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
        "token expired",
    ),
    "not yet valid": (
        lambda i, s: i.sign(claims(nbf=int(time.time()) + 3600)),
        "token not yet valid",
    ),
    "wrong iss": (lambda i, s: i.sign(claims(iss="https://evil.example")), "wrong issuer"),
    "wrong aud": (lambda i, s: i.sign(claims(aud="another-api")), "wrong audience"),
    "alg none": (lambda i, s: unsigned(i), "algorithm not allowed"),
    "hs256 with rsa public key": (lambda i, s: hs256_with_public_key(i), "algorithm not allowed"),
    "unknown kid": (
        lambda i, s: i.sign(claims(), headers={"kid": "no-such-key"}),
        "unknown signing key",
    ),
    "another key": (
        lambda i, s: s.sign(claims(), headers={"kid": i.kid}),
        "invalid signature",
    ),
}


# --- authentication and scopes --------------------------------------------------------------


async def test_valid_token_reaches_every_surface(gw: Gateway) -> None:
    token = await gw.token("operations")
    for path in WHOAMI:
        answer = await gw.get(path, token)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.json()["caller"]["clientId"] == "operations"


async def test_missing_token_is_401_without_error_code(gw: Gateway) -> None:
    for path in WHOAMI:
        answer = await gw.get(path)
        body = assert_problem(answer, 401, "unauthenticated")
        assert answer.headers["www-authenticate"] == 'Bearer realm="qgate"', path
        assert "error=" not in answer.headers["www-authenticate"]
        assert body["detail"] == "a bearer access token is required"


async def test_not_a_bearer_scheme_is_invalid_token(gw: Gateway) -> None:
    for path in WHOAMI:
        answer = await gw.http.get(path, headers={"Authorization": "Basic b3BzOm9wcw=="})
        assert_problem(answer, 401, "unauthenticated")
        assert 'error="invalid_token"' in answer.headers["www-authenticate"]


@pytest.mark.parametrize("case", sorted(BAD_TOKENS))
async def test_bad_token_is_401_invalid_token_on_every_surface(
    gw: Gateway, stranger: DevIssuer, case: str
) -> None:
    make, description = BAD_TOKENS[case]
    token = make(gw.issuer, stranger)
    for path in WHOAMI:
        answer = await gw.get(path, token)
        body = assert_problem(answer, 401, "unauthenticated")
        challenge = answer.headers["www-authenticate"]
        assert challenge.startswith("Bearer "), challenge
        assert 'error="invalid_token"' in challenge, challenge
        assert f'error_description="{description}"' in challenge, (path, challenge)
        assert body["detail"] == description
        assert token not in answer.text  # never echoed


async def test_missing_scope_is_403_naming_the_scope(gw: Gateway) -> None:
    # A real token from the token endpoint, narrowed to a scope no surface asks for.
    token = await gw.token("operations", scope="qgate.ops")
    for path, scope in WHOAMI.items():
        answer = await gw.get(path, token)
        body = assert_problem(answer, 403, "insufficient-scope")
        assert answer.headers["www-authenticate"] == (
            f'Bearer realm="qgate", error="insufficient_scope", scope="{scope}"'
        )
        assert scope in body["detail"]


async def test_token_of_another_client_without_the_scope(gw: Gateway) -> None:
    supplier = await gw.token("supplier-portal-sup-0001")
    answer = await gw.get("/plant/v1/whoami", supplier)
    assert_problem(answer, 403, "insufficient-scope")
    assert "plant.read" in answer.json()["detail"]
    assert (await gw.get("/partner/v1/whoami", supplier)).status_code == 200


# --- idempotency ----------------------------------------------------------------------------


async def test_idempotency_key_missing_or_invalid_is_400(gw: Gateway) -> None:
    token = await gw.token("operations")
    missing = await gw.post_check(token, None, {"note": "x"})
    body = assert_problem(missing, 400, "idempotency-key-missing")
    assert "Idempotency-Key" in body["detail"]
    for bad in ("has space", "x" * 256, "", '""'):
        answer = await gw.post_check(token, bad, {"note": "x"})
        assert_problem(answer, 400, "bad-request")
        assert "Idempotency-Key" in answer.json()["detail"]


async def test_replay_and_reuse_with_another_payload(gw: Gateway) -> None:
    token = await gw.token("operations")
    key = f"k-{uuid.uuid4()}"
    first = await gw.post_check(token, key, {"note": "first"})
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers
    hops = first.json()["hops"]
    assert [hop["layer"] for hop in hops] == ["process", "system", "system"]

    again = await gw.post_check(token, key, {"note": "first"})
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()

    other = await gw.post_check(token, key, {"note": "second"})
    assert_problem(other, 422, "idempotency-key-reused")

    # Keys are scoped per client: the same key from another client is a new request.
    plant_token = await gw.token("plant-app")
    plant = await gw.post_check(
        plant_token, key, {"note": "first"}, path="/plant/v1/connectivity-checks"
    )
    assert plant.status_code == 201, plant.text
    assert "idempotent-replayed" not in plant.headers


async def test_concurrent_requests_with_one_key_run_once(start: Start) -> None:
    slow: list[SlowTransport] = []

    def make(inner: httpx.AsyncBaseTransport) -> SlowTransport:
        slow.append(SlowTransport(inner, delay=0.3))
        return slow[-1]

    async with start(wrap_transport=wrap("system", make)) as gw:
        token = await gw.token("operations")
        key = f"k-{uuid.uuid4()}"
        answers = await asyncio.gather(
            *(gw.post_check(token, key, {"note": "once"}) for _ in range(20))
        )
        fresh = [
            a for a in answers if a.status_code == 201 and "idempotent-replayed" not in a.headers
        ]
        in_flight = [a for a in answers if a.status_code == 409]
        assert len(fresh) == 1, [a.status_code for a in answers]
        assert len(in_flight) == 19, [a.status_code for a in answers]
        for answer in in_flight:
            assert_problem(answer, 409, "idempotency-key-in-flight")
        # The downstream operation ran once: one POST to each system surface.
        posts = [r for r in slow[0].requests if r.method == "POST"]
        assert sorted(r.url.path for r in posts) == [
            "/system/erp/v1/connectivity-checks",
            "/system/qms/v1/connectivity-checks",
        ]
        replay = await gw.post_check(token, key, {"note": "once"})
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.json() == fresh[0].json()


async def test_an_error_response_frees_the_key(start: Start) -> None:
    failing: list[FailingTransport] = []

    def make(inner: httpx.AsyncBaseTransport) -> FailingTransport:
        failing.append(FailingTransport(inner, httpx.ConnectError("refused"), failures=1))
        return failing[-1]

    async with start(wrap_transport=wrap("system", make)) as gw:
        token = await gw.token("operations")
        key = f"k-{uuid.uuid4()}"
        # A body the contract refuses: the key is released, so a corrected request may use it.
        invalid = await gw.post_check(token, key, {"note": "n" * 201})
        assert_problem(invalid, 422, "validation-failed")
        # The system layer is unreachable once: 503, key released again.
        down = await gw.post_check(token, key, {"note": "corrected"})
        assert_problem(down, 503, "downstream-unavailable")
        ok = await gw.post_check(token, key, {"note": "corrected"})
        assert ok.status_code == 201, ok.text
        assert "idempotent-replayed" not in ok.headers
        assert ok.json()["note"] == "corrected"


# --- rate limits ----------------------------------------------------------------------------


def tiny_limits() -> Settings:
    return Settings(
        rate_limit=RateLimitSettings(
            tiers={
                "standard": "2/minute",
                "operations": "3000/minute",
                "anonymous": "2/minute",
                "service": "60000/minute",
            }
        )
    )


async def test_rate_limit_per_client(start: Start) -> None:
    async with start(tiny_limits()) as gw:
        token = await gw.token("readonly-auditor")  # standard tier
        path = "/system/erp/v1/whoami"
        first = await gw.get(path, token)
        assert first.status_code == 200
        assert first.headers["ratelimit-policy"] == '"standard";q=2;w=60'
        assert re.fullmatch(r'"standard";r=1;t=\d+', first.headers["ratelimit"])
        second = await gw.get(path, token)
        assert second.status_code == 200
        assert re.fullmatch(r'"standard";r=0;t=\d+', second.headers["ratelimit"])

        refused = await gw.get(path, token)
        body = assert_problem(refused, 429, "rate-limited")
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit-policy"] == '"standard";q=2;w=60'
        assert re.fullmatch(r'"standard";r=0;t=[1-9]\d*', refused.headers["ratelimit"])
        assert "client readonly-auditor" in body["detail"]

        # Another client has its own window (and tier).
        ops = await gw.token("operations")
        other = await gw.get(path, ops)
        assert other.status_code == 200
        assert other.headers["ratelimit-policy"] == '"operations";q=3000;w=60'


async def test_unauthenticated_callers_are_limited_by_address(start: Start) -> None:
    async with start(tiny_limits()) as gw:
        path = "/system/qms/v1/whoami"
        for _ in range(2):
            answer = await gw.get(path)
            assert_problem(answer, 401, "unauthenticated")
            assert answer.headers["ratelimit-policy"] == '"anonymous";q=2;w=60'
        refused = await gw.get(path, "not-a-jwt")
        body = assert_problem(refused, 429, "rate-limited")
        assert "this address" in body["detail"]
        assert "retry-after" in refused.headers
        # Health probes are exempt; an authenticated client is keyed by its id, not the address.
        assert (await gw.get("/health/live")).status_code == 200
        ops = await gw.token("operations")
        assert (await gw.get(path, ops)).status_code == 200


# --- on behalf of ---------------------------------------------------------------------------


PLANT_CALLER: Final = Caller(client_id="plant-app", subject="plant-app", plants=("1000",))


async def test_on_behalf_of_requires_the_delegate_scope(gw: Gateway) -> None:
    ops = await gw.token("operations")  # every scope but qgate.delegate
    header = {ON_BEHALF_OF_HEADER: encode_chain([PLANT_CALLER])}
    answer = await gw.get("/process/v1/whoami", ops, **header)
    body = assert_problem(answer, 403, "forbidden")
    assert "qgate.delegate" in body["detail"]


async def test_malformed_on_behalf_of_is_400(gw: Gateway) -> None:
    service = await gw.token("experience-service")
    for value in ("%%%not-base64%%%", b64url(b'{"not": "a list"}'), b64url(b"[]"), "x" * 5000):
        answer = await gw.get("/process/v1/whoami", service, **{ON_BEHALF_OF_HEADER: value})
        body = assert_problem(answer, 400, "bad-request")
        assert ON_BEHALF_OF_HEADER in body["detail"]


async def test_on_behalf_of_from_a_delegate_is_visible_in_whoami(gw: Gateway) -> None:
    service = await gw.token("experience-service")
    header = {ON_BEHALF_OF_HEADER: encode_chain([PLANT_CALLER])}
    answer = await gw.get("/process/v1/whoami", service, **header)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["caller"]["clientId"] == "experience-service"
    assert body["caller"]["onBehalfOf"] == [
        {"clientId": "plant-app", "subject": "plant-app", "supplierId": None, "plants": ["1000"]}
    ]
    system_hop = body["hops"][1]
    assert system_hop["caller"]["clientId"] == "process-service"
    assert [c["clientId"] for c in system_hop["caller"]["onBehalfOf"]] == [
        "plant-app",
        "experience-service",
    ]


# --- correlation ----------------------------------------------------------------------------


async def test_correlation_id_is_echoed_and_reaches_every_hop(gw: Gateway) -> None:
    token = await gw.token("supplier-portal-sup-0002")
    correlation_id = f"corr-{uuid.uuid4()}"
    answer = await gw.get("/partner/v1/whoami", token, **{"X-Correlation-ID": correlation_id})
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-correlation-id"] == correlation_id
    hops = answer.json()["hops"]
    assert [hop["layer"] for hop in hops] == ["experience", "process", "system"]
    assert [hop["correlationId"] for hop in hops] == [correlation_id] * 3
    assert hops[0]["caller"]["supplierId"] == "SUP-0002"

    problem = await gw.get("/partner/v1/whoami", **{"X-Correlation-ID": correlation_id})
    assert problem.status_code == 401
    assert problem.json()["correlationId"] == correlation_id


@pytest.mark.parametrize("sent", [None, "has spaces", "x" * 129, "semi;colon"])
async def test_correlation_id_created_when_missing_or_invalid(
    gw: Gateway, sent: str | None
) -> None:
    token = await gw.token("operations")
    headers = {} if sent is None else {"X-Correlation-ID": sent}
    answer = await gw.get("/process/v1/whoami", token, **headers)
    assert answer.status_code == 200
    created = answer.headers["x-correlation-id"]
    assert UUID_RE.match(created), created
    assert created != sent
    assert {hop["correlationId"] for hop in answer.json()["hops"]} == {created}


async def test_traceparent_stays_in_the_same_trace(gw: Gateway) -> None:
    token = await gw.token("operations")
    trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    answer = await gw.get("/plant/v1/whoami", token, traceparent=f"00-{trace_id}-{parent_id}-01")
    assert answer.status_code == 200
    match = TRACEPARENT_RE.match(answer.headers["traceparent"])
    assert match is not None, answer.headers["traceparent"]
    assert match.group(1) == trace_id
    assert match.group(2) != parent_id  # this hop's own span

    fresh = await gw.get("/plant/v1/whoami", token, traceparent="00-zz-not-valid-01")
    new = TRACEPARENT_RE.match(fresh.headers["traceparent"])
    assert new is not None
    assert new.group(1) != trace_id


# --- routing errors and 500s ----------------------------------------------------------------


async def test_unknown_route_and_wrong_method_are_problems(gw: Gateway) -> None:
    token = await gw.token("operations")
    for path in ("/no/such/thing", "/system/erp/v1/nothing", "/process/v2/whoami"):
        answer = await gw.get(path, token)
        body = assert_problem(answer, 404, "not-found")
        assert body["instance"] == path
    for method, path in (("DELETE", "/process/v1/whoami"), ("PUT", "/system/qms/v1/whoami")):
        answer = await gw.http.request(method, path, headers={"Authorization": f"Bearer {token}"})
        body = assert_problem(answer, 405, "method-not-allowed")
        assert method in body["detail"]


async def test_500_never_leaks_the_exception(start: Start) -> None:
    secret = "hunter2-database-password"
    boom = RuntimeError(f"boom: cannot connect with password={secret} at /srv/qgate/erp.py")

    def make(inner: httpx.AsyncBaseTransport) -> FailingTransport:
        return FailingTransport(inner, boom)

    async with start(wrap_transport=wrap("system", make)) as gw:
        token = await gw.token("operations")
        direct = await gw.get("/process/v1/whoami", token)
        body = assert_problem(direct, 500, "internal-error")
        assert body["title"] == "Internal server error"
        relayed = await gw.get("/plant/v1/whoami", token)
        assert_problem(relayed, 503, "downstream-unavailable")
        for answer in (direct, relayed):
            text = answer.text
            for leak in ("boom", secret, "Traceback", "RuntimeError", "erp.py", 'File "'):
                assert leak not in text, (leak, text)


# --- health ---------------------------------------------------------------------------------


async def test_health_live_and_ready(gw: Gateway) -> None:
    live = await gw.get("/health/live")
    assert live.status_code == 200
    assert live.json()["status"] == "live"
    ready = await gw.get("/health/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["checks"] == {
        "idempotency-store": "ok",
        "rate-limit-store": "ok",
        "process-layer": "ok",
    }


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_ready_is_503_when_a_store_is_down(start: Start) -> None:
    settings = Settings(store=StoreKind.REDIS, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    async with start(settings) as gw:
        assert (await gw.get("/health/live")).status_code == 200
        ready = await gw.get("/health/ready")
        body = assert_problem(ready, 503, "not-ready")
        assert "idempotency-store" in body["detail"]
        assert "process-layer" in body["detail"]


async def test_idempotent_operation_is_503_when_the_store_is_down(start: Start) -> None:
    # Without the idempotency store nothing guarantees "at most once": refuse, retryably.
    settings = Settings(store=StoreKind.REDIS, redis_url=f"redis://127.0.0.1:{closed_port()}/0")
    async with start(settings) as gw:
        token = await gw.token("operations")
        answer = await gw.post_check(token, f"key-{uuid.uuid4()}", {"note": "x"})
        assert_problem(answer, 503, "downstream-unavailable")
        assert "redis" not in answer.text.lower()  # no backend detail leaks


async def test_token_endpoint_is_limited_by_address_but_keys_are_not(start: Start) -> None:
    async with start(tiny_limits()) as gw:  # anonymous tier: 2/minute
        form = {"grant_type": "client_credentials"}
        for _ in range(2):
            answer = await gw.http.post("/oauth/token", data=form, auth=("operations", "wrong"))
            assert answer.status_code == 401
            assert answer.headers["ratelimit-policy"] == '"anonymous";q=2;w=60'
        # Guessing secrets stops at the limit, even with the right one.
        refused = await gw.http.post(
            "/oauth/token", data=form, auth=("operations", "operations-secret")
        )
        assert_problem(refused, 429, "rate-limited")
        assert int(refused.headers["retry-after"]) >= 1
        # The keys and metadata every verifier fetches are not limited.
        for _ in range(5):
            assert (await gw.http.get("/.well-known/jwks.json")).status_code == 200
            assert (await gw.http.get("/.well-known/oauth-authorization-server")).status_code == 200
