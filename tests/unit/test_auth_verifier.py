"""TokenVerifier and JwksCache against a DevIssuer served in-process."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from litestar import Litestar

from shared.auth import (
    Caller,
    DevIssuer,
    JwksCache,
    Principal,
    TokenVerifier,
    demo_clients,
    dev_issuer_router,
)
from shared.errors import DownstreamUnavailable, Unauthenticated

ISSUER = "http://qgate.test/auth"
AUDIENCE = "qgate"
BASE_URL = "http://qgate.test"
JWKS_URL = "/.well-known/jwks.json"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value).encode())


class Clock:
    """A clock tests move by hand."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts requests; can play a JWKS endpoint that is down, failing or answering garbage."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.requests = 0
        self.mode = "ok"

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.mode == "down":
            raise httpx.ConnectError("connection refused", request=request)
        if self.mode == "500":
            return httpx.Response(500, content=b"oops")
        if self.mode == "garbage":
            return httpx.Response(200, content=b"<html>not json</html>")
        if self.mode == "no-keys-member":
            return httpx.Response(200, json={"kys": []})
        return await self.inner.handle_async_request(request)


@pytest.fixture(scope="module")
def issuer() -> DevIssuer:
    return DevIssuer(issuer=ISSUER, audience=AUDIENCE, clients=demo_clients())


@pytest.fixture(scope="module")
def other_issuer() -> DevIssuer:
    return DevIssuer(issuer=ISSUER, audience=AUDIENCE, clients=demo_clients())


@pytest.fixture
def transport(issuer: DevIssuer) -> CountingTransport:
    app = Litestar(route_handlers=[dev_issuer_router(issuer)])
    return CountingTransport(httpx.ASGITransport(app=cast("Any", app)))


@pytest.fixture
async def http(transport: CountingTransport) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client


@pytest.fixture
def mono() -> Clock:
    return Clock(now=1000.0)


@pytest.fixture
def jwks(http: httpx.AsyncClient, mono: Clock) -> JwksCache:
    return JwksCache(http, JWKS_URL, min_refetch_interval=30.0, clock=mono)


@pytest.fixture
def verifier(jwks: JwksCache) -> TokenVerifier:
    return TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "plant-app",
        "client_id": "plant-app",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": "jti-1",
        "scope": "plant.read plant.write",
        "plants": ["1000"],
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


# --- positives -------------------------------------------------------------------------------


async def test_valid_token_gives_principal_with_claims(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    token = issuer.issue("supplier-portal-sup-0003").access_token

    principal = await verifier.verify(token)

    assert principal.client_id == "supplier-portal-sup-0003"
    assert principal.subject == "supplier-portal-sup-0003"
    assert principal.scopes == frozenset({"partner.read", "partner.respond"})
    assert principal.supplier_id == "SUP-0003"
    assert principal.plants == ()
    assert principal.on_behalf_of == ()
    assert 0 < principal.expires_at - time.time() <= 300


async def test_plants_and_extra_spaces_in_scope(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    token = issuer.sign(claims(scope=" plant.read  plant.write ", plants=["1000", "1100"]))

    principal = await verifier.verify(token)

    assert principal.scopes == frozenset({"plant.read", "plant.write"})
    assert principal.plants == ("1000", "1100")
    assert principal.supplier_id is None


async def test_missing_scope_means_no_scopes(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    token = issuer.sign(claims(scope=None))

    assert (await verifier.verify(token)).scopes == frozenset()


async def test_audience_list_containing_ours_is_accepted(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    token = issuer.sign(claims(aud=["other-api", AUDIENCE]))

    assert (await verifier.verify(token)).client_id == "plant-app"


async def test_small_clock_skew_within_leeway_is_accepted(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    now = int(time.time())
    token = issuer.sign(claims(iat=now + 10, nbf=now + 10))

    assert (await verifier.verify(token)).subject == "plant-app"


async def test_untyped_token_accepted_when_type_check_disabled(
    issuer: DevIssuer, jwks: JwksCache
) -> None:
    lenient = TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, token_types=None)
    token = issuer.sign(claims(), headers={"typ": "JWT"})

    assert (await lenient.verify(token)).client_id == "plant-app"


async def test_application_at_jwt_type_is_accepted(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    token = issuer.sign(claims(), headers={"typ": "application/AT+JWT"})

    assert (await verifier.verify(token)).client_id == "plant-app"


def test_principal_as_caller() -> None:
    principal = Principal(
        client_id="plant-app",
        subject="plant-app",
        scopes=frozenset({"plant.read"}),
        plants=("1000",),
        expires_at=1,
    )

    assert principal.as_caller() == Caller(
        client_id="plant-app", subject="plant-app", supplier_id=None, plants=("1000",)
    )


# --- cache -----------------------------------------------------------------------------------


async def test_cache_returns_same_principal_without_refetch(
    issuer: DevIssuer, verifier: TokenVerifier, transport: CountingTransport
) -> None:
    token = issuer.issue("plant-app").access_token

    first = await verifier.verify(token)
    transport.mode = "down"  # a second verification must not need the keys at all
    second = await verifier.verify(token)

    assert second is first
    assert transport.requests == 1


async def test_known_kid_does_not_refetch(
    issuer: DevIssuer, verifier: TokenVerifier, transport: CountingTransport
) -> None:
    await verifier.verify(issuer.issue("plant-app").access_token)
    await verifier.verify(issuer.issue("plant-app-2000").access_token)
    await verifier.verify(issuer.issue("operations").access_token)

    assert transport.requests == 1


async def test_cached_principal_is_not_used_after_exp(issuer: DevIssuer, jwks: JwksCache) -> None:
    wall = Clock()
    verifier = TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, leeway=0, clock=wall)
    token = issuer.sign(claims(exp=int(wall.now) + 60))
    await verifier.verify(token)

    wall.now += 61
    with pytest.raises(Unauthenticated) as err:
        await verifier.verify(token)

    assert err.value.detail == "token expired"


async def test_cache_is_bounded(issuer: DevIssuer, jwks: JwksCache) -> None:
    verifier = TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, cache_size=2)
    tokens = [issuer.sign(claims(jti=f"jti-{n}")) for n in range(3)]
    principals = [await verifier.verify(token) for token in tokens]

    # The oldest entry was evicted: verifying it again yields a new (equal) object; the newest
    # one is still cached and comes back as the very same object.
    again_oldest = await verifier.verify(tokens[0])
    again_newest = await verifier.verify(tokens[2])

    assert again_oldest == principals[0]
    assert again_oldest is not principals[0]
    assert again_newest is principals[2]


async def test_failed_verification_is_not_cached(
    issuer: DevIssuer, other_issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    forged = other_issuer.sign(claims(), headers={"kid": issuer.kid})

    for _ in range(2):
        with pytest.raises(Unauthenticated) as err:
            await verifier.verify(forged)
        assert err.value.detail == "invalid signature"


# --- negatives -------------------------------------------------------------------------------


async def assert_rejected(verifier: TokenVerifier, token: str, detail: str) -> None:
    with pytest.raises(Unauthenticated) as err:
        await verifier.verify(token)
    assert err.value.detail == detail
    assert err.value.status == 401
    assert 'error="invalid_token"' in err.value.headers["WWW-Authenticate"]


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not-a-jwt",
        "a.b",
        "a.b.c.d.e",  # JWE compact serialization
        "a.b.c",  # segments that are no base64url JSON
        f"{b64url(b'[1, 2]')}.{b64json({'sub': 'x'})}.c2ln",  # header not an object
        f"{b64json({'typ': 'at+jwt'})}.{b64json({'sub': 'x'})}.c2ln",  # no alg at all
        "eyJhbGciOiJSUzI1NiJ9 .e30.c2ln",  # whitespace
        "x" * 10_000,
    ],
)
async def test_malformed_tokens(verifier: TokenVerifier, token: str) -> None:
    await assert_rejected(verifier, token, "malformed token")


async def test_crit_header_is_refused(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    header = {"alg": "RS256", "typ": "at+jwt", "kid": issuer.kid, "crit": ["exp"], "exp": 1}
    token = f"{b64json(header)}.{b64json(claims())}.c2ln"

    await assert_rejected(verifier, token, "malformed token")


async def test_expired(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    now = int(time.time())
    token = issuer.sign(claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600))

    await assert_rejected(verifier, token, "token expired")


async def test_not_yet_valid(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    token = issuer.sign(claims(nbf=int(time.time()) + 86_400))

    await assert_rejected(verifier, token, "token not yet valid")


async def test_issued_in_the_future(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    token = issuer.sign(claims(iat=int(time.time()) + 3600))

    await assert_rejected(verifier, token, "token not yet valid")


async def test_wrong_issuer(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    await assert_rejected(verifier, issuer.sign(claims(iss="https://evil.test")), "wrong issuer")


async def test_missing_issuer(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    await assert_rejected(verifier, issuer.sign(claims(iss=None)), "wrong issuer")


@pytest.mark.parametrize("aud", ["other-api", ["a", "b"], None])
async def test_wrong_audience(issuer: DevIssuer, verifier: TokenVerifier, aud: Any) -> None:
    await assert_rejected(verifier, issuer.sign(claims(aud=aud)), "wrong audience")


@pytest.mark.parametrize("signature", ["", "c2lnbmF0dXJl"])
async def test_alg_none(issuer: DevIssuer, verifier: TokenVerifier, signature: str) -> None:
    header = {"alg": "none", "typ": "at+jwt", "kid": issuer.kid}
    token = f"{b64json(header)}.{b64json(claims())}.{signature}"

    await assert_rejected(verifier, token, "algorithm not allowed")


async def test_hs256_with_the_rsa_public_key_as_secret(
    issuer: DevIssuer, verifier: TokenVerifier, http: httpx.AsyncClient
) -> None:
    # The classic key confusion attack: the attacker knows the public key (from the JWKS).
    published = (await http.get(JWKS_URL)).json()["keys"][0]
    secret = RSAKey.import_key(published).as_pem(private=False)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": issuer.kid}
    signing_input = f"{b64json(header)}.{b64json(claims())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()

    await assert_rejected(verifier, f"{signing_input}.{b64url(mac)}", "algorithm not allowed")


@pytest.mark.parametrize("alg", ["HS256", "RS384", "PS256", "EdDSA", "XYZ", 7])
async def test_algorithms_outside_the_allow_list(
    issuer: DevIssuer, verifier: TokenVerifier, alg: Any
) -> None:
    header = {"alg": alg, "typ": "at+jwt", "kid": issuer.kid}
    token = f"{b64json(header)}.{b64json(claims())}.c2ln"

    await assert_rejected(verifier, token, "algorithm not allowed")


async def test_alg_is_checked_before_any_key_is_fetched(
    issuer: DevIssuer, verifier: TokenVerifier, transport: CountingTransport
) -> None:
    header = {"alg": "HS256", "typ": "at+jwt", "kid": "whatever"}
    await assert_rejected(
        verifier, f"{b64json(header)}.{b64json(claims())}.c2ln", "algorithm not allowed"
    )

    assert transport.requests == 0


async def test_unknown_kid(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    token = issuer.sign(claims(), headers={"kid": "no-such-key"})

    await assert_rejected(verifier, token, "unknown signing key")


async def test_signature_by_another_key_with_the_same_kid(
    issuer: DevIssuer, other_issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    forged = other_issuer.sign(claims(), headers={"kid": issuer.kid})

    await assert_rejected(verifier, forged, "invalid signature")


async def test_tampered_payload(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    header, _, signature = issuer.sign(claims()).split(".")
    tampered = f"{header}.{b64json(claims(scope='qgate.ops'))}.{signature}"

    await assert_rejected(verifier, tampered, "invalid signature")


async def test_empty_signature_with_rs256(issuer: DevIssuer, verifier: TokenVerifier) -> None:
    header, payload, _ = issuer.sign(claims()).split(".")

    await assert_rejected(verifier, f"{header}.{payload}.", "invalid signature")


@pytest.mark.parametrize("claim", ["client_id", "sub", "exp"])
async def test_missing_required_claim(
    issuer: DevIssuer, verifier: TokenVerifier, claim: str
) -> None:
    await assert_rejected(verifier, issuer.sign(claims(**{claim: None})), f"missing claim: {claim}")


@pytest.mark.parametrize(
    "overrides",
    [
        {"scope": ["plant.read"]},  # scope must be a space-separated string
        {"client_id": 42},
        {"client_id": ""},
        {"plants": "1000"},
        {"plants": [1000]},
        {"supplier_id": 7},
        {"exp": "tomorrow"},
        {"nbf": "now"},
        {"sub": 5},
    ],
)
async def test_claims_of_the_wrong_type(
    issuer: DevIssuer, verifier: TokenVerifier, overrides: dict[str, Any]
) -> None:
    await assert_rejected(verifier, issuer.sign(claims(**overrides)), "malformed token")


@pytest.mark.parametrize("typ", ["JWT", None])
async def test_wrong_token_type(issuer: DevIssuer, verifier: TokenVerifier, typ: Any) -> None:
    # RFC 9068 §4: an ID token or other JWT from the same issuer is not an access token.
    await assert_rejected(verifier, issuer.sign(claims(), headers={"typ": typ}), "wrong token type")


def test_symmetric_or_unknown_algorithms_cannot_be_configured(jwks: JwksCache) -> None:
    for algorithms in (("HS256",), ("none",), ("RS256", "EdDSA"), ()):
        with pytest.raises(ValueError, match="unsupported token algorithms"):
            TokenVerifier(jwks, issuer=ISSUER, audience=AUDIENCE, algorithms=algorithms)


# --- JWKS cache --------------------------------------------------------------------------------


async def test_unknown_kid_refetches_at_most_once_per_interval(
    issuer: DevIssuer, verifier: TokenVerifier, transport: CountingTransport, mono: Clock
) -> None:
    await verifier.verify(issuer.issue("plant-app").access_token)
    assert transport.requests == 1
    unknown = issuer.sign(claims(), headers={"kid": "rotated-later"})

    for _ in range(5):  # within the interval of the first fetch: no refetch at all
        await assert_rejected(verifier, unknown, "unknown signing key")
    assert transport.requests == 1

    mono.now += 31
    for _ in range(5):  # one refetch, then the interval applies again
        await assert_rejected(verifier, unknown, "unknown signing key")
    assert transport.requests == 2

    mono.now += 31
    await assert_rejected(verifier, unknown, "unknown signing key")
    assert transport.requests == 3


async def test_key_rotation_is_picked_up_on_unknown_kid(
    issuer: DevIssuer, other_issuer: DevIssuer, mono: Clock
) -> None:
    served = {"jwks": issuer.jwks()}

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=served["jwks"])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        verifier = TokenVerifier(
            JwksCache(client, "http://idp.test/jwks", clock=mono), issuer=ISSUER, audience=AUDIENCE
        )
        await verifier.verify(issuer.issue("plant-app").access_token)

        served["jwks"] = {"keys": issuer.jwks()["keys"] + other_issuer.jwks()["keys"]}
        rotated = other_issuer.issue("operations").access_token
        await assert_rejected(verifier, rotated, "unknown signing key")  # too soon to refetch

        mono.now += 30
        principal = await verifier.verify(rotated)

    assert principal.client_id == "operations"


async def test_concurrent_callers_share_one_fetch(
    issuer: DevIssuer, verifier: TokenVerifier, transport: CountingTransport
) -> None:
    tokens = [issuer.sign(claims(jti=f"concurrent-{n}")) for n in range(20)]

    principals = await asyncio.gather(*(verifier.verify(token) for token in tokens))

    assert {p.client_id for p in principals} == {"plant-app"}
    assert transport.requests == 1


async def test_concurrent_unknown_kids_share_one_refetch(
    issuer: DevIssuer, verifier: TokenVerifier, transport: CountingTransport, mono: Clock
) -> None:
    await verifier.verify(issuer.issue("plant-app").access_token)
    mono.now += 60
    unknown = [issuer.sign(claims(), headers={"kid": f"made-up-{n}"}) for n in range(10)]

    results = await asyncio.gather(
        *(verifier.verify(token) for token in unknown), return_exceptions=True
    )

    assert all(isinstance(r, Unauthenticated) for r in results)
    assert transport.requests == 2


@pytest.mark.parametrize("mode", ["down", "500", "garbage", "no-keys-member"])
async def test_jwks_unavailable(
    issuer: DevIssuer, verifier: TokenVerifier, transport: CountingTransport, mode: str
) -> None:
    transport.mode = mode

    with pytest.raises(DownstreamUnavailable) as err:
        await verifier.verify(issuer.issue("plant-app").access_token)

    assert err.value.detail == "identity provider keys unavailable"
    assert err.value.status == 503


async def test_jwks_failure_is_retried_after_a_short_backoff(
    issuer: DevIssuer, verifier: TokenVerifier, transport: CountingTransport, mono: Clock
) -> None:
    token = issuer.issue("plant-app").access_token
    transport.mode = "down"
    for _ in range(3):
        with pytest.raises(DownstreamUnavailable):
            await verifier.verify(token)
    assert transport.requests == 1  # failures do not hammer the identity provider

    transport.mode = "ok"
    mono.now += 1.5
    principal = await verifier.verify(token)

    assert principal.client_id == "plant-app"
    assert transport.requests == 2


async def test_jwks_timeout_is_enforced(issuer: DevIssuer) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=issuer.jwks())

    async with httpx.AsyncClient(transport=httpx.MockTransport(slow)) as client:
        cache = JwksCache(client, "http://idp.test/jwks", timeout=0.05)
        with pytest.raises(DownstreamUnavailable):
            await cache.key_for(issuer.kid, "RS256")


async def test_es256_and_key_type_matching(mono: Clock) -> None:
    ec_key = ECKey.generate_key("P-256", {"use": "sig"}, auto_kid=True)
    rsa_key = RSAKey.generate_key(2048, auto_kid=True)
    published = {
        "keys": [ec_key.as_dict(private=False), rsa_key.as_dict(private=False), {"kty": "PQ"}]
    }

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=published)

    header = {"alg": "ES256", "typ": "at+jwt", "kid": ec_key.kid}
    es_token = jwt.encode(header, claims(), ec_key, algorithms=["ES256"])
    # An RS256 token naming the EC key's kid: that key cannot verify RS256.
    rs_header = {"alg": "RS256", "typ": "at+jwt", "kid": ec_key.kid}
    confused = jwt.encode(rs_header, claims(), rsa_key, algorithms=["RS256"])

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        verifier = TokenVerifier(
            JwksCache(client, "http://idp.test/jwks", clock=mono), issuer=ISSUER, audience=AUDIENCE
        )
        principal = await verifier.verify(es_token)
        await assert_rejected(verifier, confused, "unknown signing key")

    assert principal.client_id == "plant-app"


async def test_token_without_kid_needs_exactly_one_usable_key(mono: Clock) -> None:
    signer = RSAKey.generate_key(2048, auto_kid=True)
    bystander = RSAKey.generate_key(2048, auto_kid=True)
    token = jwt.encode({"alg": "RS256", "typ": "at+jwt"}, claims(), signer, algorithms=["RS256"])

    def serving(*keys: RSAKey) -> httpx.MockTransport:
        published = {"keys": [key.as_dict(private=False) for key in keys]}
        return httpx.MockTransport(lambda request: httpx.Response(200, json=published))

    async with httpx.AsyncClient(transport=serving(signer)) as client:
        single = TokenVerifier(
            JwksCache(client, "http://idp.test/jwks", clock=mono), issuer=ISSUER, audience=AUDIENCE
        )
        principal = await single.verify(token)
    async with httpx.AsyncClient(transport=serving(signer, bystander)) as client:
        ambiguous = TokenVerifier(
            JwksCache(client, "http://idp.test/jwks", clock=mono), issuer=ISSUER, audience=AUDIENCE
        )
        await assert_rejected(ambiguous, token, "unknown signing key")

    assert principal.client_id == "plant-app"
