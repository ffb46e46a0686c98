"""The issuer itself: clients, grants and signing (:class:`DevIssuer`), and its errors."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import unquote_plus

import msgspec
from joserfc import jwt
from joserfc.jwk import RSAKey
from joserfc.jws import JWSRegistry

from shared.auth.clients import ClientConfig
from shared.auth.scopes import SCOPES

__all__ = ["DevIssuer", "OAuthError", "TokenResponse"]

_ALG: Final = "RS256"
_JWT_TYP: Final = "at+jwt"
_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# RFC 6749 Appendix A.4: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN_CHARS: Final = frozenset(chr(c) for c in range(0x21, 0x7F) if c not in (0x22, 0x5C))


class TokenResponse(msgspec.Struct, frozen=True, kw_only=True):
    """RFC 6749 §5.1 successful token response."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - RFC 6750 token type, not a secret
    expires_in: int
    scope: str


class OAuthError(Exception):
    """An RFC 6749 §5.2 error: ``status`` 400 or 401, ``error`` code and ``description``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.status = status
        self.error = error
        self.description = description

    @property
    def headers(self) -> dict[str, str]:
        """Response headers: a Basic challenge on 401 (RFC 6749 §5.2), never cached."""
        headers = dict(_NO_STORE)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="qgate"'
        return headers

    def body(self) -> bytes:
        return msgspec.json.encode({"error": self.error, "error_description": self.description})


def _invalid_client() -> OAuthError:
    return OAuthError(401, "invalid_client", "client authentication failed")


class DevIssuer:
    """Issues RFC 9068 access tokens for the configured clients, signed with a fresh RS256 key."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        clients: Sequence[ClientConfig],
        token_ttl: int = 300,
    ) -> None:
        if token_ttl <= 0:
            raise ValueError("token_ttl must be positive")
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.token_ttl = token_ttl
        self._clients = {client.client_id: client for client in clients}
        if len(self._clients) != len(clients):
            raise ValueError("duplicate client_id in the dev issuer's clients")
        unknown = {s for c in clients for s in c.scopes if s not in SCOPES}
        if unknown:
            raise ValueError(f"unknown scopes in client configuration: {sorted(unknown)}")
        # kid = RFC 7638 thumbprint (auto_kid).
        self._key = RSAKey.generate_key(2048, {"use": "sig", "alg": _ALG}, auto_kid=True)
        self._registry = JWSRegistry(algorithms=[_ALG], strict_check_header=False)

    @property
    def kid(self) -> str:
        """The key id tokens are signed under."""
        kid = self._key.kid
        assert kid is not None  # auto_kid
        return kid

    def jwks(self) -> dict[str, Any]:
        """The public JWK set (no private key parameters)."""
        return {"keys": [dict(self._key.as_dict(private=False))]}

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 authorization server metadata."""
        return {
            "issuer": self.issuer,
            "token_endpoint": self.issuer + "/oauth/token",
            "jwks_uri": self.issuer + "/.well-known/jwks.json",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": sorted(SCOPES),
            "response_types_supported": [],
        }

    def sign(self, claims: dict[str, Any], *, headers: dict[str, Any] | None = None) -> str:
        """Sign ``claims`` as a compact JWS with this issuer's key, exactly as given.

        ``headers`` are merged over ``{"alg": "RS256", "typ": "at+jwt", "kid": <kid>}`` (tests
        use it to force another ``kid`` or ``typ``; a ``None`` value drops that header). The
        algorithm is always RS256.
        """
        header: dict[str, Any] = {"alg": _ALG, "typ": _JWT_TYP, "kid": self.kid}
        header.update(headers or {})
        header = {name: value for name, value in header.items() if value is not None}
        if header["alg"] != _ALG:
            raise ValueError("DevIssuer.sign signs with RS256 only")
        return jwt.encode(
            header, dict(claims), self._key, registry=self._registry, default_type=None
        )

    def issue(
        self, client_id: str, scope: str | None = None, *, subject: str | None = None
    ) -> TokenResponse:
        """A token for ``client_id`` without checking its secret (CLI and tests).

        ``subject``: the person using the app (one of the client's ``users``), as the identity
        provider's user login would name them in ``sub``; default the client itself.

        :raises OAuthError: ``invalid_client`` for an unknown client, ``invalid_scope`` for a
            scope the client may not have, ``invalid_request`` for a subject it may not name.
        """
        client = self._clients.get(client_id)
        if client is None:
            raise _invalid_client()
        if subject is not None and subject not in (client.users or ()):
            raise OAuthError(400, "invalid_request", "subject is not a user of this client")
        granted = self._grant(client, scope)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject or client.client_id,
            "client_id": client.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.token_ttl,
            "jti": secrets.token_urlsafe(16),
            "scope": " ".join(granted),
        }
        if client.supplier_id is not None:
            claims["supplier_id"] = client.supplier_id
        if client.plants is not None:
            claims["plants"] = list(client.plants)
        return TokenResponse(
            access_token=self.sign(claims),
            expires_in=self.token_ttl,
            scope=claims["scope"],
        )

    def authenticate_and_issue(
        self, *, basic_auth: str | None, form: Mapping[str, str]
    ) -> TokenResponse:
        """The token endpoint's logic: check the grant, authenticate the client, issue.

        :param basic_auth: the ``Authorization`` header, if any.
        :param form: the decoded form fields.
        :raises OAuthError: for every RFC 6749 §5.2 error.
        """
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError(400, "invalid_request", "grant_type is required")
        if grant_type != "client_credentials":
            raise OAuthError(400, "unsupported_grant_type", "only client_credentials is supported")
        client = self._authenticate(basic_auth, form)
        if not client.scopes:
            raise OAuthError(400, "unauthorized_client", "the client may not obtain tokens")
        return self.issue(client.client_id, form.get("scope"), subject=form.get("subject"))

    def _authenticate(self, basic_auth: str | None, form: Mapping[str, str]) -> ClientConfig:
        form_id = form.get("client_id")
        form_secret = form.get("client_secret")
        if basic_auth is not None:
            if form_secret is not None:
                raise OAuthError(
                    400, "invalid_request", "use exactly one client authentication method"
                )
            client_id, secret = _parse_basic(basic_auth)
            if form_id is not None and form_id != client_id:
                raise OAuthError(400, "invalid_request", "client_id does not match credentials")
        elif form_id is not None and form_secret is not None:
            client_id, secret = form_id, form_secret
        else:
            raise _invalid_client()

        client = self._clients.get(client_id)
        # Compare against something even for an unknown client, so timing does not tell.
        expected = client.client_secret if client is not None else secrets.token_urlsafe(24)
        ok = hmac.compare_digest(secret.encode(), expected.encode())
        if client is None or not ok:
            raise _invalid_client()
        return client

    @staticmethod
    def _grant(client: ClientConfig, scope: str | None) -> list[str]:
        if scope is None or not scope.strip(" "):
            return list(client.scopes)
        requested = scope.split(" ")
        if any(not s or not set(s) <= _SCOPE_TOKEN_CHARS for s in requested):
            raise OAuthError(400, "invalid_scope", "scope is malformed")
        not_allowed = [s for s in requested if s not in client.scopes]
        if not_allowed:
            raise OAuthError(400, "invalid_scope", "requested scope is not allowed")
        return list(dict.fromkeys(requested))


def _parse_basic(header: str) -> tuple[str, str]:
    """RFC 7617 credentials whose parts are form-urlencoded (RFC 6749 §2.3.1)."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise _invalid_client()
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid_client() from exc
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon or not raw_id:
        raise _invalid_client()
    try:
        return unquote_plus(raw_id, errors="strict"), unquote_plus(raw_secret, errors="strict")
    except UnicodeDecodeError as exc:
        raise _invalid_client() from exc
