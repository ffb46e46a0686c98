"""The one factory for inter-layer HTTP clients.

A layer calls the layer below through :class:`LayerClient`: an ``httpx.AsyncClient`` whose
transport is ``httpx.ASGITransport`` when all-in-one (no sockets) and real HTTP when split, with
the same semantics either way:

- a service token for the calling layer (client credentials, cached until shortly before
  expiry, refetched once when the layer below answers 401);
- the original caller as on-behalf-of context (:mod:`shared.delegation`);
- ``X-Correlation-ID`` and ``traceparent`` of the current request (with tracing on, each call
  is a CLIENT span and ``traceparent`` names it);
- a timeout on every call, enforced with ``asyncio.timeout`` too, because ASGITransport ignores
  httpx timeouts;
- transport failures translated at the boundary: :class:`~shared.errors.DownstreamUnavailable`
  (connection refused, 5xx) and :class:`~shared.errors.DownstreamTimeout`, both retryable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import httpx
import msgspec

from shared.auth import Caller
from shared.correlation import outgoing_headers
from shared.delegation import ON_BEHALF_OF_HEADER, encode_chain
from shared.errors import DownstreamTimeout, DownstreamUnavailable
from shared.observability import client_span, trace_headers

__all__ = ["LayerClient", "ServiceTokenSource", "build_http_client", "build_layer_client"]

_log = logging.getLogger("qgate.http")
_REFRESH_MARGIN_SECONDS = 30.0


def build_http_client(
    *,
    base_url: str,
    transport: httpx.AsyncBaseTransport | None = None,
    timeout: float = 10.0,
) -> httpx.AsyncClient:
    """Every ``httpx.AsyncClient`` qgate opens is made here: timeouts always set."""
    return httpx.AsyncClient(
        base_url=base_url,
        transport=transport,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False,
    )


class _TokenAnswer(msgspec.Struct):
    access_token: str
    expires_in: int = 300
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a secret


class ServiceTokenSource:
    """OAuth 2.0 client-credentials tokens for one service client, cached until near expiry.

    Concurrent callers share one fetch. Authlib's httpx client would do this, but importing it
    emits a deprecation warning on every run (see README, "Dependencies").
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """:param clock: monotonic seconds (tests move time with it)."""
        self._client = client
        self._clock = clock
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def client_id(self) -> str:
        return self._client_id

    def invalidate(self, token: str | None = None) -> None:
        """Forget the cached token; with ``token``, only if it is still the cached one (so that
        concurrent requests refused with the same stale token cause one refetch, not one each).
        """
        if token is None or token == self._token:
            self._token = None
            self._expires_at = 0.0

    async def token(self) -> str:
        """A valid access token; fetched from the token endpoint only when needed."""
        if self._token is not None and self._clock() < self._expires_at:
            return self._token
        async with self._lock:
            if self._token is not None and self._clock() < self._expires_at:
                return self._token
            form = {"grant_type": "client_credentials"}
            if self._scope:
                form["scope"] = self._scope
            try:
                async with asyncio.timeout(self._timeout):
                    response = await self._client.post(
                        self._token_url,
                        data=form,
                        auth=httpx.BasicAuth(self._client_id, self._client_secret),
                        headers=outgoing_headers(),
                    )
            except (httpx.TransportError, TimeoutError) as exc:
                raise DownstreamUnavailable("token endpoint unreachable") from exc
            if response.status_code != 200:
                _log.error(
                    "token endpoint refused client %s with %s",
                    self._client_id,
                    response.status_code,
                )
                raise DownstreamUnavailable("token endpoint refused the service client")
            try:
                answer = msgspec.json.decode(response.content, type=_TokenAnswer)
            except (msgspec.ValidationError, msgspec.DecodeError) as exc:
                raise DownstreamUnavailable("token endpoint answered garbage") from exc
            self._token = answer.access_token
            self._expires_at = self._clock() + max(
                answer.expires_in - _REFRESH_MARGIN_SECONDS, answer.expires_in / 2
            )
            return self._token


class LayerClient:
    """Calls to one layer below, authenticated as this layer, on behalf of the caller."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        tokens: ServiceTokenSource,
        *,
        name: str,
        timeout: float = 10.0,
        closers: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self._client = client
        self._tokens = tokens
        self.name = name
        self._timeout = timeout
        self._closers = list(closers)

    async def aclose(self) -> None:
        await self._client.aclose()
        for close in self._closers:
            await close()

    async def ready(self) -> None:
        """Raise unless the layer below answers its readiness probe with 200."""
        async with asyncio.timeout(self._timeout):
            response = await self._client.get("/health/ready", headers=outgoing_headers())
        if response.status_code != 200:
            raise DownstreamUnavailable(f"{self.name} is not ready ({response.status_code})")

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        on_behalf_of: Sequence[Caller] = (),
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request; 5xx and transport failures raise, other answers are returned."""
        for attempt in (1, 2):
            token = await self._tokens.token()
            try:
                response = await self._send(method, url, token, json, on_behalf_of, headers)
            except TimeoutError as exc:
                raise DownstreamTimeout(f"{self.name} did not answer in time") from exc
            except httpx.TimeoutException as exc:
                raise DownstreamTimeout(f"{self.name} did not answer in time") from exc
            except httpx.TransportError as exc:
                raise DownstreamUnavailable(f"{self.name} unreachable") from exc
            if response.status_code == 401 and attempt == 1:
                # The token may have been signed by a rotated key or expired early: fetch anew once.
                self._tokens.invalidate(token)
                continue
            # 501: the system below cannot do this at all, which is not worth a retry (the
            # caller maps it to CapabilityUnsupported); every other 5xx may pass.
            if response.status_code >= 500 and response.status_code != 501:
                _log.warning(
                    "%s answered %s for %s %s", self.name, response.status_code, method, url
                )
                raise DownstreamUnavailable(f"{self.name} answered {response.status_code}")
            return response
        return response

    async def _send(
        self,
        method: str,
        url: str,
        token: str,
        json: Any,
        on_behalf_of: Sequence[Caller],
        headers: Mapping[str, str] | None,
    ) -> httpx.Response:
        attributes = {"http.request.method": method, "url.path": url, "qgate.peer": self.name}
        with client_span(f"{method} {self.name}", attributes) as span:
            sent = {
                **outgoing_headers(),
                **trace_headers(),
                "Authorization": f"Bearer {token}",
                **(headers or {}),
            }
            if json is not None:
                sent["Content-Type"] = "application/json"
            if on_behalf_of:
                sent[ON_BEHALF_OF_HEADER] = encode_chain(on_behalf_of)
            async with asyncio.timeout(self._timeout):
                response = await self._client.request(
                    method, url, headers=sent, content=_encode(json)
                )
            if span is not None:
                span.set_attribute("http.response.status_code", response.status_code)
            return response


def _encode(body: Any) -> bytes | None:
    if body is None:
        return None
    return msgspec.json.encode(body)


def build_layer_client(
    *,
    name: str,
    base_url: str,
    transport: httpx.AsyncBaseTransport | None,
    token_url: str,
    token_transport: httpx.AsyncBaseTransport | None,
    client_id: str,
    client_secret: str,
    timeout: float,
) -> LayerClient:
    """A client for the layer below: in-process when ``transport`` is given, else over HTTP."""
    http = build_http_client(base_url=base_url, transport=transport, timeout=timeout)
    token_http = build_http_client(base_url=token_url, transport=token_transport, timeout=timeout)
    tokens = ServiceTokenSource(
        token_http,
        token_url=token_url,
        client_id=client_id,
        client_secret=client_secret,
        timeout=timeout,
    )
    return LayerClient(http, tokens, name=name, timeout=timeout, closers=[token_http.aclose])
