"""The all-in-one qgate for experience-layer tests, with tokens for any demo client and user."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final, cast

import httpx

from shared.auth import DevIssuer
from shared.composition import create_all_in_one
from tests.integration._gateway import settings
from tests.integration.test_pipeline import lifespan

PARTNER: Final = "/partner/v1"
PLANT: Final = "/plant/v1"
PROCESS: Final = "/process/v1"

# Tenants of the demo data (shared/auth/clients.py): two plant apps, four supplier portals.
PLANT_CLIENTS: Final = {"1000": "plant-app", "2000": "plant-app-2000"}
SUPPLIER_CLIENTS: Final = {f"SUP-{n:04d}": f"supplier-portal-sup-{n:04d}" for n in range(1, 5)}


@dataclass
class Client:
    http: httpx.AsyncClient
    token: str

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **extra}

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.headers())

    async def ok(self, path: str, **params: Any) -> Any:
        response = await self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()

    async def post(self, path: str, body: Any, *, key: str | None = None) -> httpx.Response:
        key = key or f"test-{uuid.uuid4()}"
        return await self.http.post(
            path, json=body, headers=self.headers(**{"Idempotency-Key": key})
        )

    async def all(self, path: str, limit: int = 7, **params: Any) -> list[dict[str, Any]]:
        """Every item of a list, page by page."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(200):
            query = {**params, "limit": limit} | ({"cursor": cursor} if cursor else {})
            page = await self.ok(path, **query)
            items += page["items"]
            cursor = page.get("nextCursor")
            if not cursor:
                return items
        raise AssertionError(f"{path} did not end")


class Qgate:
    def __init__(self, http: httpx.AsyncClient, issuer: DevIssuer) -> None:
        self.http = http
        self.issuer = issuer

    def client(self, client_id: str, *, subject: str | None = None) -> Client:
        token = self.issuer.issue(client_id, subject=subject).access_token
        return Client(self.http, token)


@contextlib.asynccontextmanager
async def running(**process: Any) -> AsyncIterator[Qgate]:
    """The embedded default (memory stores) with fast retries and no rate limit in the way."""
    config = settings(**process)
    issuer = DevIssuer(
        issuer=config.auth.issuer, audience=config.auth.audience, clients=config.dev_issuer.clients
    )
    app = create_all_in_one(config, issuer=issuer)
    async with lifespan(app):
        transport = httpx.ASGITransport(app=cast("Any", app))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=30.0
        ) as http:
            yield Qgate(http, issuer)
