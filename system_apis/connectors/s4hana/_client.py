"""HTTP to S/4HANA: authentication, CSRF tokens, ETags, paging, and SAP's errors translated.

- Basic (communication user) or OAuth 2.0 client credentials (token cached; a 401 drops it and
  the call is sent once more with a fresh one);
- ``X-CSRF-Token: Fetch`` on a GET before the first write, the token (and the session cookies)
  reused, fetched again once when SAP answers 403 ``X-CSRF-Token: Required``;
- writes carry ``If-Match`` with the entity's ``ETag``; 412 is a stale version, 428 (no ETag
  sent) is answered by reading the ETag once and sending it;
- SAP's ``{"error": {"code", "message": {"value"}}}`` becomes the connector error tree:
  404 NotFound, 412 PreconditionFailed, other 4xx BackendRejected (SAP's message as detail),
  401/403 DownstreamRejected, 429/5xx DownstreamUnavailable, timeouts DownstreamTimeout.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx

from shared.errors import (
    BackendRejected,
    CapabilityUnsupported,
    DownstreamRejected,
    DownstreamTimeout,
    DownstreamUnavailable,
    NotFound,
    PreconditionFailed,
    QgateError,
)
from shared.http import ServiceTokenSource, build_http_client
from shared.settings import S4HanaAuth, S4HanaSettings
from system_apis.connectors.s4hana._odata import Entity, unwrap_collection, unwrap_entity

__all__ = ["ODATA_ROOT", "S4HanaClient", "sap_message"]

ODATA_ROOT = "/sap/opu/odata/sap/"
_UNSAFE = frozenset({"POST", "PATCH", "PUT", "MERGE", "DELETE"})


def sap_message(response: httpx.Response) -> tuple[str, str]:
    """SAP's error code and message text (or the start of a non-JSON body)."""
    try:
        error = response.json()["error"]
        return str(error.get("code", "")), str(error["message"]["value"])
    except (ValueError, KeyError, TypeError):
        return "", response.text[:200] or response.reason_phrase


class S4HanaClient:
    """One session with one S/4HANA system (one CSRF token, its cookies, one OAuth token)."""

    def __init__(
        self, settings: S4HanaSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        self._http = build_http_client(
            base_url=settings.base_url.rstrip("/"),
            transport=transport,
            timeout=settings.timeout_seconds,
        )
        self._csrf: str | None = None
        self._csrf_lock = asyncio.Lock()
        self._tokens: ServiceTokenSource | None = None
        if settings.auth is S4HanaAuth.OAUTH2:
            self._tokens = ServiceTokenSource(
                self._http,
                token_url=settings.token_url or "",
                client_id=settings.client_id or "",
                client_secret=settings.client_secret or "",
                timeout=settings.timeout_seconds,
            )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _auth(self) -> dict[str, str]:
        if self._tokens is None:
            pair = f"{self._settings.user}:{self._settings.password}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {"Authorization": f"Bearer {await self._tokens.token()}"}

    async def _send(
        self,
        method: str,
        url: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        all_params = dict(params or {})
        if self._settings.sap_client and "sap-client=" not in url:
            all_params["sap-client"] = self._settings.sap_client
        for attempt in (1, 2):
            auth = await self._auth()
            all_headers = {
                "Accept": "application/json",
                "Accept-Language": self._settings.language.lower(),
                **(headers or {}),
                **auth,
            }
            try:
                async with asyncio.timeout(self._settings.timeout_seconds):
                    response = await self._http.request(
                        method, url, params=all_params or None, json=json, headers=all_headers
                    )
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise DownstreamTimeout("S/4HANA did not answer in time") from exc
            except httpx.TransportError as exc:
                raise DownstreamUnavailable("S/4HANA cannot be reached") from exc
            if response.status_code != 401 or self._tokens is None or attempt == 2:
                return response
            # An access token SAP no longer accepts (revoked, or expired before its expires_in):
            # drop it, unless a concurrent call already did, and try once with a fresh one.
            self._tokens.invalidate(auth["Authorization"].removeprefix("Bearer "))
        return response

    async def _fetch_csrf(self, service: str) -> str:
        response = await self._send(
            "GET", f"{ODATA_ROOT}{service}/", headers={"X-CSRF-Token": "Fetch"}
        )
        token = str(response.headers.get("x-csrf-token") or "")
        if response.status_code >= 400 or not token:
            raise self._error(response, "fetching a CSRF token")
        return token

    async def _csrf_token(self, service: str, *, renew: bool = False) -> str:
        async with self._csrf_lock:
            if self._csrf is None or renew:
                self._csrf = await self._fetch_csrf(service)
            return self._csrf

    async def request(
        self,
        method: str,
        service: str,
        resource: str,
        *,
        params: dict[str, str] | None = None,
        json: Any = None,
        if_match: str | None = None,
        what: str = "",
    ) -> httpx.Response:
        """One call; raises the connector error for an error answer (``what`` names the call)."""
        url = f"{ODATA_ROOT}{service}/{resource}"
        headers: dict[str, str] = {}
        if if_match is not None:
            headers["If-Match"] = if_match
        if method in _UNSAFE:
            used = await self._csrf_token(service)
            headers["X-CSRF-Token"] = used
            response = await self._send(method, url, params=params, json=json, headers=headers)
            if _csrf_refused(response):
                # The session (and its token) expired: one fresh token, one retry.
                renewed = await self._csrf_token(service, renew=self._csrf == used)
                headers["X-CSRF-Token"] = renewed
                response = await self._send(method, url, params=params, json=json, headers=headers)
                if _csrf_refused(response):
                    # Never a loop: a fresh token refused too is a configuration problem (a
                    # proxy dropping the session cookie, a user without the right role).
                    raise DownstreamRejected("S/4HANA refused a freshly fetched CSRF token (403)")
        else:
            response = await self._send(method, url, params=params, headers=headers)
        if response.status_code >= 400:
            raise self._error(response, what or f"{method} {service}/{resource}")
        return response

    async def entity(
        self, service: str, resource: str, *, params: dict[str, str] | None = None, what: str = ""
    ) -> tuple[Entity, str | None]:
        """One entity and its ETag."""
        response = await self.request("GET", service, resource, params=params, what=what)
        return self._entity(response), response.headers.get("etag")

    async def collection(
        self, service: str, entity_set: str, *, params: dict[str, str] | None = None
    ) -> AsyncIterator[Entity]:
        """Every entity of a collection: ``$top`` pages, then ``__next`` until there is none."""
        query = {
            "$top": str(self._settings.page_size),
            "$inlinecount": "allpages",
            **(params or {}),
        }
        response = await self.request("GET", service, entity_set, params=query)
        while True:
            try:
                rows, _, following = unwrap_collection(response.json())
            except ValueError as exc:
                raise DownstreamRejected("S/4HANA answered a list with no OData v2 body") from exc
            for row in rows:
                yield row
            if following is None:
                return
            response = await self._send("GET", following)
            if response.status_code >= 400:
                raise self._error(response, f"paging {entity_set}")

    async def create(self, service: str, entity_set: str, body: Entity, *, what: str) -> Entity:
        response = await self.request("POST", service, entity_set, json=body, what=what)
        return self._entity(response)

    async def update(
        self, service: str, resource: str, body: Entity, *, etag: str | None, what: str
    ) -> None:
        """PATCH with ``If-Match``; a 428 (no ETag known) reads the ETag and sends it once."""
        try:
            await self.request("PATCH", service, resource, json=body, if_match=etag, what=what)
        except _PreconditionRequired:
            _, current = await self.entity(service, resource, what=what)
            await self.request("PATCH", service, resource, json=body, if_match=current, what=what)

    @staticmethod
    def _entity(response: httpx.Response) -> Entity:
        try:
            return unwrap_entity(response.json())
        except ValueError as exc:
            raise DownstreamRejected("S/4HANA answered with no OData v2 entity") from exc

    @staticmethod
    def _error(response: httpx.Response, what: str) -> QgateError:
        status = response.status_code
        code, message = sap_message(response)
        detail = f"S/4HANA refused {what}: {message}" + (f" ({code})" if code else "")
        if status == 404:
            return NotFound(detail)
        if status == 412:
            return PreconditionFailed(detail)
        if status == 428:
            return _PreconditionRequired(detail)
        if status in (401, 403):
            return DownstreamRejected(f"S/4HANA refused qgate's credentials ({status})")
        if status == 501:
            return CapabilityUnsupported(f"S/4HANA does not support {what}")
        if status == 504:
            return DownstreamTimeout("S/4HANA's gateway timed out")
        if status == 429 or status >= 500:
            return DownstreamUnavailable(f"S/4HANA is unavailable ({status})")
        return BackendRejected(detail)


def _csrf_refused(response: httpx.Response) -> bool:
    return (
        response.status_code == 403
        and str(response.headers.get("x-csrf-token", "")).lower() == "required"
    )


class _PreconditionRequired(PreconditionFailed):
    """428: SAP wanted an ETag the call did not have (the client reads it and retries once)."""
