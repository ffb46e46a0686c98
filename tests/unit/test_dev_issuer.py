"""The development token issuer: token endpoint, JWKS, metadata and the tokens it signs."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import quote_plus

import httpx
import pytest
from joserfc.jwk import RSAKey
from litestar import Litestar

from shared.auth import (
    SCOPES,
    ClientConfig,
    DevIssuer,
    JwksCache,
    OAuthError,
    TokenVerifier,
    demo_clients,
    dev_issuer_router,
)
from shared.errors import exception_handlers

ISSUER = "http://qgate.test"
AUDIENCE = "qgate"
TOKEN_URL = "/oauth/token"

ODD_CLIENT = ClientConfig(
    client_id="odd client:1",
    client_secret="s3cr:et+%/ü",
    scopes=["quality.read"],
)


@pytest.fixture(scope="module")
def issuer() -> DevIssuer:
    return DevIssuer(issuer=ISSUER, audience=AUDIENCE, clients=[*demo_clients(), ODD_CLIENT])


@pytest.fixture
async def http(issuer: DevIssuer) -> AsyncIterator[httpx.AsyncClient]:
    app = Litestar(
        route_handlers=[dev_issuer_router(issuer)], exception_handlers=exception_handlers()
    )
    transport = httpx.ASGITransport(app=cast("Any", app))  # Litestar's ASGI types are narrower
    async with httpx.AsyncClient(transport=transport, base_url=ISSUER) as client:
        yield client


@pytest.fixture
def verifier(http: httpx.AsyncClient) -> TokenVerifier:
    return TokenVerifier(
        JwksCache(http, "/.well-known/jwks.json"), issuer=ISSUER, audience=AUDIENCE
    )


def basic(client_id: str, secret: str) -> str:
    raw = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]
    return body


def token_header(token: str) -> dict[str, Any]:
    segment = token.split(".", maxsplit=1)[0]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    )
    return decoded


# --- token endpoint: success -------------------------------------------------------------------


async def test_client_secret_basic(http: httpx.AsyncClient, verifier: TokenVerifier) -> None:
    response = await http.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic("plant-app", "plant-app-secret")},
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    assert set(body["scope"].split(" ")) == {"plant.read", "plant.write"}
    principal = await verifier.verify(body["access_token"])
    assert principal.client_id == "plant-app"
    assert principal.plants == ("1000",)


async def test_client_secret_post(http: httpx.AsyncClient, verifier: TokenVerifier) -> None:
    response = await http.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": "supplier-portal-sup-0002",
            "client_secret": "supplier-portal-sup-0002-secret",
        },
    )

    assert response.status_code == 200
    principal = await verifier.verify(response.json()["access_token"])
    assert principal.client_id == "supplier-portal-sup-0002"
    assert principal.supplier_id == "SUP-0002"
    assert principal.scopes == frozenset({"partner.read", "partner.respond"})


async def test_basic_credentials_are_form_urldecoded(
    http: httpx.AsyncClient, verifier: TokenVerifier
) -> None:
    # RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
    response = await http.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(ODD_CLIENT.client_id, ODD_CLIENT.client_secret)},
    )

    assert response.status_code == 200
    assert (await verifier.verify(response.json()["access_token"])).client_id == "odd client:1"


async def test_subset_scope_is_granted_exactly(
    http: httpx.AsyncClient, verifier: TokenVerifier
) -> None:
    response = await http.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "scope": "erp.read qms.read"},
        headers={"Authorization": basic("process-service", "process-service-secret")},
    )

    assert response.status_code == 200
    assert response.json()["scope"] == "erp.read qms.read"
    principal = await verifier.verify(response.json()["access_token"])
    assert principal.scopes == frozenset({"erp.read", "qms.read"})


async def test_form_client_id_alongside_basic_must_match(http: httpx.AsyncClient) -> None:
    ok = await http.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "client_id": "plant-app"},
        headers={"Authorization": basic("plant-app", "plant-app-secret")},
    )
    mismatch = await http.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "client_id": "operations"},
        headers={"Authorization": basic("plant-app", "plant-app-secret")},
    )

    assert ok.status_code == 200
    assert_oauth_error(mismatch, 400, "invalid_request")


# --- token endpoint: errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [
        ("plant-app", "wrong-secret"),
        ("plant-app", ""),
        ("plant-app", "plant-app-2000-secret"),
        ("no-such-client", "no-such-client-secret"),
    ],
)
async def test_wrong_credentials_basic(
    http: httpx.AsyncClient, client_id: str, secret: str
) -> None:
    response = await http.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": basic(client_id, secret)},
    )

    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"] == 'Basic realm="qgate"'


async def test_wrong_secret_post(http: httpx.AsyncClient) -> None:
    response = await http.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "client_id": "operations", "client_secret": "x"},
    )

    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"] == 'Basic realm="qgate"'


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer abc",
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + base64.b64encode(b"no-colon-here").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
        "Basic " + base64.b64encode(b"plant-app:%ff").decode(),
    ],
)
async def test_malformed_basic_credentials(http: httpx.AsyncClient, authorization: str) -> None:
    response = await http.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials"},
        headers={"Authorization": authorization},
    )

    assert_oauth_error(response, 401, "invalid_client")


async def test_no_client_authentication(http: httpx.AsyncClient) -> None:
    no_auth = await http.post(TOKEN_URL, data={"grant_type": "client_credentials"})
    id_only = await http.post(
        TOKEN_URL, data={"grant_type": "client_credentials", "client_id": "plant-app"}
    )

    assert_oauth_error(no_auth, 401, "invalid_client")
    assert_oauth_error(id_only, 401, "invalid_client")


async def test_two_authentication_methods(http: httpx.AsyncClient) -> None:
    response = await http.post(
        TOKEN_URL,
        data={
            "grant_type": "client_credentials",
            "client_id": "plant-app",
            "client_secret": "plant-app-secret",
        },
        headers={"Authorization": basic("plant-app", "plant-app-secret")},
    )

    assert_oauth_error(response, 400, "invalid_request")


@pytest.mark.parametrize(
    "scope",
    [
        "plant.read qgate.ops",  # one allowed, one not
        "erp.write",
        "no.such.scope",
        "plant.read  plant.write",  # empty scope token
        'plant."read"',
    ],
)
async def test_scope_outside_allowed(http: httpx.AsyncClient, scope: str) -> None:
    response = await http.post(
        TOKEN_URL,
        data={"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": basic("plant-app", "plant-app-secret")},
    )

    assert_oauth_error(response, 400, "invalid_scope")


@pytest.mark.parametrize("grant_type", ["password", "authorization_code", "refresh_token"])
async def test_unsupported_grant(http: httpx.AsyncClient, grant_type: str) -> None:
    response = await http.post(
        TOKEN_URL,
        data={"grant_type": grant_type},
        headers={"Authorization": basic("plant-app", "plant-app-secret")},
    )

    assert_oauth_error(response, 400, "unsupported_grant_type")


FORM = "application/x-www-form-urlencoded"
NOT_FORM = "the request body must be application/x-www-form-urlencoded"
BAD_FORM = "the request body is not a valid form"


@pytest.mark.parametrize(
    ("content", "content_type", "description"),
    [
        (b'{"grant_type": "client_credentials"}', "application/json", NOT_FORM),
        (b"grant_type=client_credentials", "text/plain", NOT_FORM),
        (b"grant_type=client_credentials", None, NOT_FORM),
        (b"\xff\xfe=\xff", FORM, BAD_FORM),  # not UTF-8
        (b"grant_type=%ff%fe", FORM, BAD_FORM),  # percent-encoded non-UTF-8
        (b"justgarbage", FORM, BAD_FORM),
        (b"&".join(b"f%d=1" % n for n in range(100)), FORM, BAD_FORM),  # too many fields
        (
            b"grant_type=client_credentials&grant_type=client_credentials",
            FORM,
            "a request parameter is repeated",
        ),
        (b"", FORM, "grant_type is required"),
    ],
)
async def test_malformed_body(
    http: httpx.AsyncClient, content: bytes, content_type: str | None, description: str
) -> None:
    headers = {"Authorization": basic("plant-app", "plant-app-secret")}
    if content_type is not None:
        headers["Content-Type"] = content_type

    response = await http.post(TOKEN_URL, content=content, headers=headers)

    body = assert_oauth_error(response, 400, "invalid_request")
    assert body["error_description"] == description


async def test_token_endpoint_only_answers_post(http: httpx.AsyncClient) -> None:
    response = await http.get(TOKEN_URL)

    assert response.status_code == 405


# --- issue() and the tokens ---------------------------------------------------------------------


async def test_issued_token_verifies_and_carries_tenancy(
    issuer: DevIssuer, verifier: TokenVerifier
) -> None:
    partner = await verifier.verify(issuer.issue("supplier-portal-sup-0004").access_token)
    plant = await verifier.verify(issuer.issue("plant-app-2000").access_token)
    service = await verifier.verify(issuer.issue("experience-service").access_token)

    assert (partner.supplier_id, partner.plants) == ("SUP-0004", ())
    assert (plant.supplier_id, plant.plants) == (None, ("2000",))
    assert (service.supplier_id, service.plants) == (None, ())
    assert service.scopes == frozenset(
        {"quality.read", "quality.write", "quality.audit.read", "qgate.delegate"}
    )


def test_token_header_and_claims(issuer: DevIssuer) -> None:
    response = issuer.issue("plant-app", "plant.read")
    header = token_header(response.access_token)
    payload_segment = response.access_token.split(".")[1]
    claims = json.loads(
        base64.urlsafe_b64decode(payload_segment + "=" * (-len(payload_segment) % 4))
    )

    assert header == {"alg": "RS256", "typ": "at+jwt", "kid": issuer.kid}
    assert claims["iss"] == ISSUER
    assert claims["aud"] == AUDIENCE
    assert claims["sub"] == claims["client_id"] == "plant-app"
    assert claims["scope"] == "plant.read"
    assert claims["plants"] == ["1000"]
    assert "supplier_id" not in claims
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"]
    assert isinstance(claims["jti"], str)
    assert (
        claims["jti"]
        != json.loads(
            base64.urlsafe_b64decode(issuer.issue("plant-app").access_token.split(".")[1] + "==")
        )["jti"]
    )


def test_issue_without_scope_grants_everything_allowed(issuer: DevIssuer) -> None:
    response = issuer.issue("readonly-auditor")

    assert response.scope.split(" ") == [
        "quality.read",
        "quality.audit.read",
        "erp.read",
        "qms.read",
    ]


def test_issue_errors(issuer: DevIssuer) -> None:
    with pytest.raises(OAuthError) as unknown:
        issuer.issue("nobody")
    with pytest.raises(OAuthError) as scope:
        issuer.issue("plant-app", "qgate.ops")

    assert (unknown.value.status, unknown.value.error) == (401, "invalid_client")
    assert (scope.value.status, scope.value.error) == (400, "invalid_scope")


def test_authenticate_and_issue_directly(issuer: DevIssuer) -> None:
    token = issuer.authenticate_and_issue(
        basic_auth=None,
        form={
            "grant_type": "client_credentials",
            "client_id": "operations",
            "client_secret": "operations-secret",
            "scope": "qgate.ops",
        },
    )
    with pytest.raises(OAuthError) as missing_grant:
        issuer.authenticate_and_issue(basic_auth=basic("operations", "operations-secret"), form={})

    assert token.scope == "qgate.ops"
    assert (missing_grant.value.status, missing_grant.value.error) == (400, "invalid_request")


def test_issuer_rejects_bad_configuration() -> None:
    clients = demo_clients()
    with pytest.raises(ValueError, match="duplicate"):
        DevIssuer(issuer=ISSUER, audience=AUDIENCE, clients=[*clients, clients[0]])
    with pytest.raises(ValueError, match="unknown scopes"):
        DevIssuer(
            issuer=ISSUER,
            audience=AUDIENCE,
            clients=[ClientConfig(client_id="x", client_secret="y", scopes=["root"])],
        )


# --- JWKS and metadata --------------------------------------------------------------------------


async def test_jwks_has_no_private_parts(http: httpx.AsyncClient, issuer: DevIssuer) -> None:
    response = await http.get("/.well-known/jwks.json")

    assert response.status_code == 200
    keys = response.json()["keys"]
    assert len(keys) == 1
    key = keys[0]
    assert set(key) == {"kty", "n", "e", "kid", "use", "alg"}
    assert (key["kty"], key["use"], key["alg"], key["kid"]) == ("RSA", "sig", "RS256", issuer.kid)
    imported = RSAKey.import_key(key)
    assert not imported.is_private
    assert imported.thumbprint() == issuer.kid  # kid is the RFC 7638 thumbprint
    assert response.json() == issuer.jwks()


async def test_metadata(http: httpx.AsyncClient) -> None:
    response = await http.get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    metadata = response.json()
    assert metadata == {
        "issuer": ISSUER,
        "token_endpoint": ISSUER + "/oauth/token",
        "jwks_uri": ISSUER + "/.well-known/jwks.json",
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": sorted(SCOPES),
        "response_types_supported": [],
    }


def test_routes_stay_out_of_the_versioned_contracts(issuer: DevIssuer) -> None:
    app = Litestar(route_handlers=[dev_issuer_router(issuer)])
    handlers = {
        handler.operation_id: handler
        for route in app.routes
        if not route.path.startswith("/schema")  # Litestar's own OpenAPI endpoints
        for handler in getattr(route, "route_handlers", [])
        if handler.http_methods != {"OPTIONS"}  # Litestar's automatic OPTIONS handlers
    }

    assert set(handlers) == {"issueToken", "getJwks", "getAuthorizationServerMetadata"}
    assert all(h.include_in_schema is False and h.security == [] for h in handlers.values())
    assert app.openapi_schema.paths in (None, {})


# --- demo clients and scopes ----------------------------------------------------------------------


def test_demo_clients() -> None:
    clients = {client.client_id: client for client in demo_clients()}

    assert set(clients) == {
        "plant-app",
        "plant-app-2000",
        "supplier-portal-sup-0001",
        "supplier-portal-sup-0002",
        "supplier-portal-sup-0003",
        "supplier-portal-sup-0004",
        "experience-service",
        "process-service",
        "operations",
        "quality-engineer",
        "quality-approver",
        "readonly-auditor",
    }
    assert all(c.client_secret == f"{c.client_id}-secret" for c in clients.values())
    assert all(set(c.scopes) <= set(SCOPES) for c in clients.values())
    assert set(clients["operations"].scopes) == set(SCOPES) - {"qgate.delegate"}
    assert clients["operations"].tier == "operations"
    assert clients["supplier-portal-sup-0001"].supplier_id == "SUP-0001"
    assert clients["plant-app-2000"].plants == ["2000"]
    writers = {c.client_id for c in clients.values() if {"erp.write", "qms.write"} & set(c.scopes)}
    assert writers == {"process-service", "operations"}
    delegators = {c.client_id for c in clients.values() if "qgate.delegate" in c.scopes}
    assert delegators == {"experience-service", "process-service"}


def test_every_scope_is_described() -> None:
    assert {
        "erp.read",
        "erp.write",
        "qms.read",
        "qms.write",
        "quality.read",
        "quality.write",
        "quality.disposition.approve",
        "quality.audit.read",
        "partner.read",
        "partner.respond",
        "plant.read",
        "plant.write",
        "qgate.delegate",
        "qgate.ops",
    } == set(SCOPES)
    assert all(description.strip() for description in SCOPES.values())
