"""The containment saga, procurement holds and webhooks, built for the process layer's app.

``create_app`` calls :func:`build_containment` once and spreads what it answers into the app:
the services (``app.state``), their readiness checks, the worker to start and what to close,
the routes of the quality surface and of the operations surface, and the outbox to relay.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import httpx

from process_apis.clients.system import SystemClient
from process_apis.containment.controllers import handlers as containment_routes
from process_apis.containment.service import ContainmentService
from process_apis.containment.store import (
    ContainmentStore,
    MemoryContainmentStore,
    RedisContainmentStore,
)
from process_apis.containment.worker import ContainmentWorker
from process_apis.dispositions.service import DispositionService
from process_apis.holds.controllers import handlers as hold_routes
from process_apis.holds.service import HoldService
from process_apis.holds.store import HoldStore, MemoryHoldStore, RedisHoldStore
from process_apis.operations.webhooks import handlers as webhook_routes
from process_apis.webhooks.service import WebhookService
from process_apis.webhooks.store import MemoryWebhookStore, RedisWebhookStore, WebhookStore
from shared.audit import AuditTrail
from shared.events import Outbox
from shared.settings import Settings, StoreKind

__all__ = ["ContainmentParts", "build_containment"]


class ContainmentParts(NamedTuple):
    containments: ContainmentService
    holds: HoldService
    webhooks: WebhookService
    worker: ContainmentWorker
    outbox: Outbox
    """The containment store's outbox: relay it to the bus (``containment`` stream)."""
    quality_routes: list[Any]
    operations_routes: list[Any]
    readiness: list[tuple[str, Callable[[], Awaitable[None]]]]
    starters: list[Callable[[], Awaitable[None]]]
    closers: list[Callable[[], Awaitable[None]]]

    @property
    def state(self) -> dict[str, Any]:
        return {"containments": self.containments, "holds": self.holds, "webhooks": self.webhooks}


def build_containment(
    settings: Settings,
    *,
    system: SystemClient,
    dispositions: DispositionService,
    audit: AuditTrail,
    containment_store: ContainmentStore | None = None,
    hold_store: HoldStore | None = None,
    webhook_store: WebhookStore | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
) -> ContainmentParts:
    """Stores in Redis when ``QGATE_STORE=redis`` (shared by every replica), else in memory."""
    redis = settings.store is StoreKind.REDIS
    cases = containment_store or (
        RedisContainmentStore.from_url(settings.redis_url) if redis else MemoryContainmentStore()
    )
    held = hold_store or (
        RedisHoldStore.from_url(settings.redis_url) if redis else MemoryHoldStore()
    )
    hooks = webhook_store or (
        RedisWebhookStore.from_url(settings.redis_url) if redis else MemoryWebhookStore()
    )
    policy = settings.containment
    holds = HoldService(system=system, store=held, audit=audit, policy=policy)
    containments = ContainmentService(
        system=system,
        dispositions=dispositions,
        holds=holds,
        store=cases,
        audit=audit,
        policy=policy,
        client_id=settings.layers.process_client_id,
    )
    webhooks = WebhookService(
        store=hooks, audit=audit, policy=policy, mode=settings.mode, transport=webhook_transport
    )
    worker = ContainmentWorker(
        containments,
        webhooks,
        interval=policy.worker_interval_seconds,
        sync_interval=policy.sync_interval_seconds,
    )
    return ContainmentParts(
        containments=containments,
        holds=holds,
        webhooks=webhooks,
        worker=worker,
        outbox=cases.outbox,
        quality_routes=[*containment_routes, *hold_routes],
        operations_routes=list(webhook_routes),
        readiness=[
            ("containment-store", cases.ping),
            ("hold-store", held.ping),
            ("webhook-store", hooks.ping),
        ],
        starters=[worker.start] if policy.worker_enabled else [],
        closers=[worker.stop, webhooks.aclose, cases.aclose, held.aclose, hooks.aclose],
    )
