"""An in-process qgate for process-layer tests: issuer, system layer and process replicas.

The system layer (with the reference ERP and QMS) lives for the whole test; process replicas
can be started, stopped and restarted around it, each with its own stores (memory) or sharing a
Redis (``store=redis``), exactly as separate processes would. Every call from a process replica
to the system layer goes through :class:`SystemFaults`, which can make the ERP or QMS
unavailable, hold an answer back after the system did the work (a crash mid-call), and counts
the changes the system layer really made (answers not replayed from its idempotency store).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Final, cast

import httpx

from shared.auth import DevIssuer
from shared.composition import PrefixDispatcher, build_issuer_app, create_layer
from shared.settings import (
    ContainmentSettings,
    LayerSettings,
    ProcessSettings,
    RateLimitSettings,
    Settings,
    StoreKind,
)
from tests.integration.test_pipeline import lifespan

PROCESS: Final = "/process/v1"
ERP: Final = "/system/erp/v1"
QMS: Final = "/system/qms/v1"
PROBLEM_JSON: Final = "application/problem+json"


def settings(
    *,
    store: StoreKind = StoreKind.MEMORY,
    redis_url: str | None = None,
    containment: dict[str, Any] | None = None,
    **process: Any,
) -> Settings:
    """Fast retries, a short lease and no rate limit in the way."""
    policy = {
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 0.2,
        "worker_interval_seconds": 0.05,
        "lease_seconds": 2.0,
        **process,
    }
    tiers = dict.fromkeys(RateLimitSettings().tiers, "1000000/minute")
    extra: dict[str, Any] = {} if redis_url is None else {"redis_url": redis_url}
    return Settings(
        store=store,
        rate_limit=RateLimitSettings(tiers=tiers),
        process=ProcessSettings(**policy),
        containment=ContainmentSettings(
            **{
                "retry_base_seconds": 0.05,
                "retry_max_seconds": 0.2,
                "worker_interval_seconds": 0.05,
                "lease_seconds": 2.0,
                "sync_interval_seconds": 0.1,
                "webhook_retry_base_seconds": 0.05,
                "webhook_retry_max_seconds": 0.2,
                **(containment or {}),
            }
        ),
        layers=LayerSettings(timeout_seconds=5.0),
        **extra,
    )


def _problem(status: int, slug: str, detail: str) -> httpx.Response:
    return httpx.Response(
        status,
        headers={"content-type": PROBLEM_JSON},
        json={
            "type": f"https://qgate.dev/problems/{slug}",
            "title": slug,
            "status": status,
            "detail": detail,
        },
    )


@dataclass
class SystemFaults(httpx.AsyncBaseTransport):
    """The process layer's way to the system layer, with faults on demand."""

    inner: httpx.AsyncBaseTransport
    erp_down: bool = False
    qms_down: bool = False
    hold_erp_changes: asyncio.Event | None = None
    """When set: an ERP disposition change is made, then its answer waits for this event."""
    changes: Counter[str] = field(default_factory=Counter)
    """``erp`` / ``qms``: disposition changes and usage decisions the system layer made."""
    erp_changed: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the system layer made an ERP disposition change."""
    unsupported: set[str] = field(default_factory=set)
    """Path endings the connected system cannot serve: answered 501 (e.g. a Tryton ERP's
    ``/purchasing-block``, a Tryton QMS's ``/capas``)."""
    rejected: set[str] = field(default_factory=set)
    """Path endings whose writes the connected system refuses for good: 409 backend-rejected."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if (self.erp_down and path.startswith(ERP)) or (self.qms_down and path.startswith(QMS)):
            return httpx.Response(
                503,
                headers={"content-type": PROBLEM_JSON},
                json={"type": "about:blank", "title": "Unavailable", "status": 503},
            )
        if any(path.endswith(ending) for ending in self.unsupported):
            return _problem(501, "capability-unsupported", "The system cannot do this.")
        if request.method in ("POST", "PUT", "PATCH") and any(
            path.endswith(ending) for ending in self.rejected
        ):
            return _problem(409, "backend-rejected", "Refused by the system of record.")
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and response.status_code < 300:
            await response.aread()
            if response.headers.get("idempotent-replayed") != "true":
                if path.endswith("/disposition-changes"):
                    self.changes["erp"] += 1
                    self.erp_changed.set()
                elif path.endswith("/usage-decision"):
                    self.changes["qms"] += 1
                elif path.endswith("/nonconformances"):
                    self.changes["nc"] += 1
        if path.endswith("/disposition-changes") and self.hold_erp_changes is not None:
            await self.hold_erp_changes.wait()
        return response


@dataclass
class Caller:
    http: httpx.AsyncClient
    token: str

    def headers(self, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    async def post(self, path: str, body: Any, *, key: str | None = None) -> httpx.Response:
        return await self.http.post(path, json=body, headers=self.headers(key or new_key()))

    async def get(self, path: str, **params: Any) -> httpx.Response:
        return await self.http.get(path, params=params, headers=self.headers())

    async def ok(self, path: str, **params: Any) -> Any:
        response = await self.get(path, **params)
        assert response.status_code == 200, response.text
        return response.json()


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


class Gateway:
    """Issuer + system layer for the test's lifetime; process replicas on demand."""

    def __init__(self, config: Settings) -> None:
        self.settings = config
        self.issuer = DevIssuer(
            issuer=config.auth.issuer,
            audience=config.auth.audience,
            clients=config.dev_issuer.clients,
        )
        self.issuer_app, _ = build_issuer_app(config, issuer=self.issuer)
        self._to_issuer = httpx.ASGITransport(app=cast("Any", self.issuer_app))
        self.system = create_layer("system", config, issuer_transport=self._to_issuer)
        self.faults = SystemFaults(httpx.ASGITransport(app=cast("Any", self.system)))
        self.replicas: list[Any] = []
        self._stack = contextlib.AsyncExitStack()
        self._replica_stacks: dict[int, contextlib.AsyncExitStack] = {}

    async def __aenter__(self) -> Gateway:
        await self._stack.enter_async_context(lifespan(self.issuer_app))
        await self._stack.enter_async_context(lifespan(self.system))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for index in list(self._replica_stacks):
            await self.stop(index)
        await self._stack.aclose()

    async def start(self) -> int:
        """A new process replica (its stores: memory, or the shared Redis); its index."""
        process = create_layer(
            "process", self.settings, issuer_transport=self._to_issuer, system_transport=self.faults
        )
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(lifespan(process))
        self.replicas.append(process)
        index = len(self.replicas) - 1
        self._replica_stacks[index] = stack
        return index

    async def stop(self, index: int) -> None:
        """Stop a replica as a shutdown would: its worker is cancelled mid-call if busy."""
        stack = self._replica_stacks.pop(index)
        await stack.aclose()

    def app(self, index: int = 0) -> PrefixDispatcher:
        return PrefixDispatcher(
            [
                ("/system/", self.system),
                ("/process/", self.replicas[index]),
                ("/oauth/", self.issuer_app),
            ],
            default=self.replicas[index],
        )

    @contextlib.asynccontextmanager
    async def caller(self, client_id: str, index: int = 0) -> AsyncIterator[Caller]:
        transport = httpx.ASGITransport(app=cast("Any", self.app(index)))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=30.0
        ) as http:
            answer = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client_id, f"{client_id}-secret"),
            )
            assert answer.status_code == 200, answer.text
            yield Caller(http, answer.json()["access_token"])


async def wait_for_status(
    caller: Caller, disposition_id: str, statuses: set[str], within: float = 15.0
) -> dict[str, Any]:
    """Poll the disposition until it reaches one of ``statuses``."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        body: dict[str, Any] = await caller.ok(f"{PROCESS}/lot-dispositions/{disposition_id}")
        if body["status"] in statuses:
            return body
        assert asyncio.get_running_loop().time() < deadline, f"stuck at {body}"
        await asyncio.sleep(0.05)


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + slug), body
    return body
