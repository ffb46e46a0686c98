"""The pipeline itself: :class:`PlatformMiddleware`, and the :class:`Platform` pieces it uses."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, HTTPRequestEvent, Message, Receive, ReceiveMessage, Scope, Send

from shared.auth import Principal, TokenVerifier
from shared.correlation import bind_caller, bind_operation, request_header
from shared.delegation import DELEGATE_SCOPE, ON_BEHALF_OF_HEADER, decode_chain
from shared.deprecation import deprecation_headers
from shared.errors import (
    ContentTooLarge,
    DownstreamUnavailable,
    FieldError,
    Forbidden,
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    QgateError,
    RateLimited,
    Unauthenticated,
    ValidationFailed,
    check_json_body,
    json_body_type,
    render_error,
)
from shared.idempotency import ClaimOutcome, IdempotencyStore, StoredResponse
from shared.observability import LayerMetrics, operation_of
from shared.platform._auth import _bearer, declared_scopes, enforce_declared_scopes
from shared.platform._idempotency import _fingerprint, _idempotency_key, _replay, _settle
from shared.ratelimit import RateLimiter, RateLimitUnavailable

__all__ = ["Platform", "PlatformMiddleware"]

_log = logging.getLogger("qgate.platform")


class Platform(msgspec.Struct, kw_only=True):
    """The stateful pieces the pipeline uses, built by the app factory for one layer."""

    verifier: TokenVerifier | None
    """None for an app with no secured operation (the dev issuer)."""
    idempotency: IdempotencyStore | None
    """None for an app with no idempotent operation (the dev issuer)."""
    limiter: RateLimiter | None
    rate_limit_fail_open: bool = True
    idempotency_retention_seconds: int = 86_400
    idempotency_in_flight_seconds: int = 60
    max_body_bytes: int = 1_048_576
    metrics: LayerMetrics | None = None
    """Where idempotent replays and rate-limit rejections are counted (None: not counted)."""


class PlatformMiddleware(ASGIMiddleware):
    """See the package docstring; one instance per app, holding no per-request state."""

    scopes = (ScopeType.HTTP,)

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def _verifier(self) -> TokenVerifier:
        if self.platform.verifier is None:
            raise QgateError("a secured operation in an app built without a token verifier")
        return self.platform.verifier

    def _store(self) -> IdempotencyStore:
        if self.platform.idempotency is None:
            raise QgateError("an idempotent operation in an app built without a store")
        return self.platform.idempotency

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        handler: HTTPRouteHandler = scope["route_handler"]  # type: ignore[assignment]
        bind_operation(operation_of(handler))
        # A deprecated operation announces it on every response, errors and replays included.
        extra_headers: list[tuple[bytes, bytes]] = deprecation_headers(handler.opt)

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
                principal = await self._verifier().verify(_bearer(scope))
                bind_caller(principal.client_id)
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
        _reject_repeated_query(scope)
        body_type = json_body_type(handler)
        body: bytes | None = None
        if body_type is not None or opt.get("idempotent"):
            body = await self._read_body(receive)
            if body_type is not None:
                check_json_body(body, body_type)
        if opt.get("idempotent"):
            if principal is None:  # pragma: no cover - idempotent operations are always secured
                raise Forbidden("idempotent operations require an authenticated client")
            assert body is not None
            await self._idempotent(scope, body, receive, send, next_app, principal)
        elif body is not None:
            await next_app(scope, _replaying(body, receive), send)
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
            if self.platform.metrics is not None:
                refused = principal.client_id if principal else "anonymous"
                self.platform.metrics.rate_limit_rejections.labels(client=refused).inc()
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
        value = request_header(scope, ON_BEHALF_OF_HEADER.lower().encode("latin-1"))
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
        body: bytes,
        receive: Receive,
        send: Send,
        next_app: ASGIApp,
        principal: Principal,
    ) -> None:
        key = _idempotency_key(scope)
        store = self._store()
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
            if self.platform.metrics is not None:
                operation = operation_of(scope.get("route_handler"))
                self.platform.metrics.idempotent_replays.labels(operation=operation).inc()
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
        store = self._store()
        replay_receive = _replaying(body, receive)

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


def _reject_repeated_query(scope: Scope) -> None:
    """No qgate query parameter takes several values: a repeated one is an error, not "last
    wins" (Litestar would silently keep one of them)."""
    raw = scope.get("query_string", b"")
    if not raw:
        return
    names = [name for name, _ in parse_qsl(raw.decode("latin-1"), keep_blank_values=True)]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValidationFailed(
            "The request does not match the operation's contract; see errors.",
            errors=[
                FieldError(location=f"query.{name}", message="Given more than once; send it once.")
                for name in repeated
            ],
        )


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the body the pipeline already read, then the rest."""
    consumed = False

    async def replay() -> ReceiveMessage:
        nonlocal consumed
        if not consumed:
            consumed = True
            return HTTPRequestEvent(type="http.request", body=body, more_body=False)
        return await receive()

    return replay
