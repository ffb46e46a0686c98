"""The request pipeline every qgate layer runs before a handler: authenticate, rate-limit, enforce
the declared scopes, accept on-behalf-of context, and make unsafe operations idempotent.

It is one ASGI middleware (one pass, at most one store round trip per concern) rather than a
stack of five, because each layer of indirection costs on every request (see
``../shared/docs/STACK.md``). Its steps, in order:

1. **Authentication** (handlers that declare a security requirement): ``Authorization: Bearer``
   verified by :class:`~shared.auth.TokenVerifier`. A failure is remembered, not raised yet, so
   that step 2 can count it against the caller's address.
2. **Rate limit**: by client id when authenticated, by remote address otherwise
   (:class:`~shared.ratelimit.RateLimiter`); ``RateLimit-Policy`` / ``RateLimit`` headers on every
   response, 429 with ``Retry-After`` past the limit. Health probes are exempt.
3. **The scope guard**: the one place scopes are enforced. It reads the security requirement the
   handler declares (``handler.resolve_security()``, the same object the contract is generated
   from), so the contract and the check cannot disagree. Missing scope: 403 ``insufficient_scope``.
4. **On-behalf-of**: a ``Qgate-On-Behalf-Of`` header is accepted only from a client holding
   ``qgate.delegate``; the chain lands on ``Principal.on_behalf_of``.
5. **Idempotency** (handlers with ``opt={"idempotent": True}``): ``Idempotency-Key`` required
   (400), claimed atomically per client (409 while in flight, 422 with another payload), the
   response stored when it is a success (< 400) and replayed with ``Idempotent-Replayed: true``;
   an error response releases the key so the client can correct and retry with the same key.

Errors are rendered here as problem+json so they carry the rate-limit headers too.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable
from typing import Any, Final

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPRequestEvent, Message, Receive, ReceiveMessage, Scope, Send

from shared.auth import Principal, TokenVerifier
from shared.delegation import DELEGATE_SCOPE, ON_BEHALF_OF_HEADER, decode_chain
from shared.errors import (
    BadRequest,
    ContentTooLarge,
    DownstreamUnavailable,
    Forbidden,
    IdempotencyKeyInFlight,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    InsufficientScope,
    QgateError,
    RateLimited,
    Unauthenticated,
    render_error,
)
from shared.idempotency import ClaimOutcome, IdempotencyStore, StoredResponse
from shared.ratelimit import RateLimiter, RateLimitUnavailable

__all__ = [
    "IDEMPOTENCY_HEADER",
    "REPLAYED_HEADER",
    "Platform",
    "PlatformMiddleware",
    "declared_scopes",
    "enforce_declared_scopes",
]

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
_KEY_RE: Final = re.compile(r"^[\x21-\x7e]{1,255}$")
_log = logging.getLogger("qgate.platform")


class Platform(msgspec.Struct, kw_only=True):
    """The stateful pieces the pipeline uses, built by the app factory for one layer."""

    verifier: TokenVerifier
    idempotency: IdempotencyStore
    limiter: RateLimiter | None
    rate_limit_fail_open: bool = True
    idempotency_retention_seconds: int = 86_400
    idempotency_in_flight_seconds: int = 60
    max_body_bytes: int = 1_048_576


def declared_scopes(handler: HTTPRouteHandler) -> tuple[bool, frozenset[str]]:
    """(secured, scopes) from the handler's single security requirement."""
    requirements = handler.resolve_security()
    if not requirements:
        return False, frozenset()
    scopes: set[str] = set()
    for values in requirements[0].values():
        scopes.update(values)
    return True, frozenset(scopes)


def enforce_declared_scopes(handler: HTTPRouteHandler, principal: Principal) -> None:
    """The scope guard: every scope the handler declares must be granted to the token."""
    _, required = declared_scopes(handler)
    missing = sorted(required - principal.scopes)
    if missing:
        raise InsufficientScope(missing)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _bearer(scope: Scope) -> str:
    value = _header(scope, b"authorization")
    if value is None:
        raise Unauthenticated("a bearer access token is required", token_present=False)
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
    return token.strip()


def _canonical_body(body: bytes) -> bytes:
    """JSON bodies compare by meaning (key order, spacing), anything else byte for byte."""
    if not body:
        return b""
    try:
        return msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        # Not JSON (or not decodable): fingerprint the bytes; the handler answers 400 for it.
        return body


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    method = str(scope.get("method", ""))
    for part in (method, scope["path"], scope.get("query_string", b"").decode("latin-1")):
        digest.update(part.encode("utf-8"))
        digest.update(b"\n")
    digest.update(_canonical_body(body))
    return digest.hexdigest()


def _idempotency_key(scope: Scope) -> str:
    raw = _header(scope, b"idempotency-key")
    if raw is None:
        raise IdempotencyKeyMissing(
            "This operation requires an Idempotency-Key header: a unique string of 1 to 255 "
            "visible ASCII characters, the same on every retry of this request."
        )
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]  # the draft's sf-string form
    if not _KEY_RE.match(value):
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces)",
        )
    return value


class PlatformMiddleware(ASGIMiddleware):
    """See the module docstring; one instance per app, holding no per-request state."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler: HTTPRouteHandler = scope["route_handler"]  # type: ignore[assignment]
        extra_headers: list[tuple[bytes, bytes]] = []

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start" and extra_headers:
                message["headers"] = [*message.get("headers", ()), *extra_headers]
            await send(message)

        try:
            await self._pipeline(
                scope, receive, send_with_headers, next_app, handler, extra_headers
            )
        except QgateError as exc:
            request: Request[Any, Any, Any] = Request(scope, receive)
            response = render_error(request, exc).to_asgi_response(app=None, request=request)
            await response(scope, receive, send_with_headers)

    async def _pipeline(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        next_app: ASGIApp,
        handler: HTTPRouteHandler,
        extra_headers: list[tuple[bytes, bytes]],
    ) -> None:
        secured, _ = declared_scopes(handler)
        opt = handler.opt
        principal: Principal | None = None
        auth_error: Unauthenticated | None = None
        if secured:
            try:
                principal = await self.platform.verifier.verify(_bearer(scope))
            except Unauthenticated as exc:
                auth_error = exc

        if self.platform.limiter is not None and not opt.get("rate_limit_exempt"):
            await self._rate_limit(scope, principal, extra_headers)
        if auth_error is not None:
            raise auth_error
        if principal is not None:
            enforce_declared_scopes(handler, principal)
            principal = self._delegation(scope, principal)
            scope["user"] = principal
            scope["auth"] = principal.scopes
        if opt.get("idempotent"):
            if principal is None:  # pragma: no cover - idempotent operations are always secured
                raise Forbidden("idempotent operations require an authenticated client")
            await self._idempotent(scope, receive, send, next_app, principal)
        else:
            await next_app(scope, receive, send)

    async def _rate_limit(
        self,
        scope: Scope,
        principal: Principal | None,
        extra_headers: list[tuple[bytes, bytes]],
    ) -> None:
        limiter = self.platform.limiter
        assert limiter is not None
        client = scope.get("client")
        remote = client[0] if client else "unknown"
        try:
            decision = await limiter.hit(
                client_id=principal.client_id if principal else None, remote_addr=remote
            )
        except RateLimitUnavailable as exc:
            if self.platform.rate_limit_fail_open:
                _log.warning("rate-limit store unavailable; letting the request through")
                return
            raise DownstreamUnavailable("rate-limit store unavailable") from exc
        headers = decision.headers()
        if not decision.allowed:
            who = f"client {principal.client_id}" if principal else "this address"
            raise RateLimited(
                f"Rate limit of {decision.limit} requests per {decision.window_seconds} s "
                f"exceeded for {who}; retry after {decision.reset_seconds} s.",
                headers=headers,
            )
        extra_headers.extend(
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in headers.items()
        )

    @staticmethod
    def _delegation(scope: Scope, principal: Principal) -> Principal:
        value = _header(scope, ON_BEHALF_OF_HEADER.lower().encode("latin-1"))
        if value is None:
            return principal
        if DELEGATE_SCOPE not in principal.scopes:
            raise Forbidden(
                f"{ON_BEHALF_OF_HEADER} is accepted only from clients holding {DELEGATE_SCOPE}"
            )
        return msgspec.structs.replace(principal, on_behalf_of=decode_chain(value))

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.platform.max_body_bytes:
                raise ContentTooLarge(f"request body exceeds {self.platform.max_body_bytes} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _idempotent(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        next_app: ASGIApp,
        principal: Principal,
    ) -> None:
        key = _idempotency_key(scope)
        body = await self._read_body(receive)
        store = self.platform.idempotency
        store_key = f"{principal.client_id}:{key}"
        try:
            claim = await store.claim(
                store_key,
                _fingerprint(scope, body),
                in_flight_ttl=float(self.platform.idempotency_in_flight_seconds),
            )
        except Exception as exc:
            # Without the store nothing guarantees "at most once": refuse rather than risk it.
            _log.error("idempotency store unavailable: %s", type(exc).__name__)
            raise DownstreamUnavailable(
                "The idempotency store is unavailable; retry with the same key later."
            ) from exc
        if claim.outcome is ClaimOutcome.IN_FLIGHT:
            raise IdempotencyKeyInFlight(
                "The first request with this Idempotency-Key has not finished; retry later."
            )
        if claim.outcome is ClaimOutcome.MISMATCH:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used with a different request; "
                "use a new key for a new request."
            )
        if claim.outcome is ClaimOutcome.REPLAY:
            assert claim.response is not None
            await _replay(claim.response, send)
            return
        assert claim.token is not None
        await self._run_once(scope, body, receive, send, next_app, store_key, claim.token)

    async def _run_once(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        next_app: ASGIApp,
        store_key: str,
        token: str,
    ) -> None:
        store = self.platform.idempotency
        consumed = False

        async def replay_receive() -> ReceiveMessage:
            nonlocal consumed
            if not consumed:
                consumed = True
                return HTTPRequestEvent(type="http.request", body=body, more_body=False)
            return await receive()

        status = 500
        headers: list[tuple[str, str]] = []
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k.decode("latin-1"), v.decode("latin-1")) for k, v in message["headers"]
                ]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await next_app(scope, replay_receive, capture)
        except BaseException:
            await _settle(store.release(store_key, token), "release")
            raise
        if status < 400:
            stored = StoredResponse(status=status, headers=headers, body=b"".join(chunks))
            retention = float(self.platform.idempotency_retention_seconds)
            if not await _settle(
                store.complete(store_key, token, stored, retention=retention), "complete"
            ):
                _log.warning("the response of an idempotent request was not stored")
        else:
            await _settle(store.release(store_key, token), "release")


async def _settle(outcome: Awaitable[bool], what: str) -> bool:
    """Finish an idempotency record after the response went out: a store failure is logged
    (the caller already has its answer); the in-flight claim then expires on its own."""
    try:
        return await outcome
    except Exception as exc:
        _log.error("idempotency store failed to %s a key: %s", what, type(exc).__name__)
        return False


async def _replay(stored: StoredResponse, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
    headers.append((REPLAYED_HEADER.lower().encode("latin-1"), b"true"))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body, "more_body": False})
