"""Composition root of the process layer: ``create_app(settings, **adapters)``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from litestar import Litestar, Router

from process_apis._api import SERVICES, SUBSCRIPTIONS
from process_apis.audit.controllers import handlers as audit_routes
from process_apis.clients.system import SystemClient
from process_apis.console import console_handlers
from process_apis.containment.wiring import build_containment
from process_apis.diagnostics import controllers as diagnostics
from process_apis.dispositions.controllers import handlers as dispositions
from process_apis.dispositions.models import ACTIVE
from process_apis.dispositions.service import DispositionService, RetryPolicy
from process_apis.dispositions.store import (
    DispositionStore,
    MemoryDispositionStore,
    RedisDispositionStore,
)
from process_apis.dispositions.worker import RetryWorker
from process_apis.inspections.controllers import handlers as inspection_routes
from process_apis.inspections.service import InspectionService
from process_apis.metrics import register_bus_gauges
from process_apis.operations.controllers import handlers as operations_routes
from process_apis.records.controllers import handlers as record_routes
from process_apis.suppliers.controllers import handlers as supplier_routes
from process_apis.suppliers.service import SupplierQualityService
from process_apis.surfaces import OPERATIONS, QUALITY, SURFACES
from shared.appfactory import build_layer_app
from shared.audit import AuditTrail, build_audit_trail
from shared.events import EventBus, EventSubscription, OutboxRelay, build_event_bus
from shared.http import build_layer_client
from shared.idempotency import IdempotencyStore
from shared.observability import LayerMetrics, register_pending, traced_handler
from shared.ratelimit import RateLimiter
from shared.settings import Settings, SettingsError, StoreKind, load_settings

__all__ = ["SURFACES", "create_app"]


def _disposition_store(settings: Settings) -> DispositionStore:
    if settings.store is StoreKind.REDIS:
        return RedisDispositionStore.from_url(settings.redis_url)
    return MemoryDispositionStore()


def create_app(
    settings: Settings | None = None,
    *,
    issuer_transport: httpx.AsyncBaseTransport | None = None,
    system_transport: httpx.AsyncBaseTransport | None = None,
    idempotency_store: IdempotencyStore | None = None,
    rate_limiter: RateLimiter | None = None,
    disposition_store: DispositionStore | None = None,
    audit_trail: AuditTrail | None = None,
    event_bus: EventBus | None = None,
    subscriptions: Sequence[EventSubscription] | None = None,
) -> Litestar:
    """The process layer; ``system_transport`` reaches the system layer in-process.

    Dispositions, the audit trail and the event bus live in Redis when ``QGATE_STORE=redis``
    (shared by every replica, kept across restarts), else in this process's memory. The bus
    runs ``subscriptions`` (default :data:`~process_apis._api.SUBSCRIPTIONS`), and relays
    publish what the stores' outboxes hold.
    """
    settings = settings or load_settings()
    layers = settings.layers
    secret = settings.service_secret(layers.process_client_id, layers.process_client_secret)
    if secret is None:
        raise SettingsError("QGATE_LAYERS_PROCESS_CLIENT_SECRET is missing")
    system = build_layer_client(
        name="system",
        base_url=layers.system_url,
        transport=system_transport,
        token_url=settings.token_url,
        token_transport=issuer_transport,
        client_id=layers.process_client_id,
        client_secret=secret,
        timeout=layers.timeout_seconds,
    )
    store = disposition_store or _disposition_store(settings)
    metrics = LayerMetrics("process")
    register_pending(metrics, sorted(ACTIVE), store.count, store.oldest)
    audit = audit_trail or build_audit_trail(settings)
    client = SystemClient(system)
    service = DispositionService(
        system=client, store=store, audit=audit, policy=RetryPolicy.of(settings.process)
    )
    worker = RetryWorker(service, interval=settings.process.worker_interval_seconds)
    starters = [worker.start] if settings.process.worker_enabled else []
    containment = build_containment(settings, system=client, dispositions=service, audit=audit)
    bus = event_bus or build_event_bus(settings)
    register_bus_gauges(metrics, bus)
    events = settings.events
    relays = [
        OutboxRelay(outbox, bus, interval=events.outbox_interval_seconds)
        for outbox in (store.outbox, containment.outbox)
    ]
    state: dict[str, Any] = {
        "system": system,
        "system_client": client,
        "dispositions": service,
        "worker": worker,
        "inspections": InspectionService(
            system=client,
            dispositions=service,
            policy=settings.process,
            holds=containment.holds,
            bus=bus,
        ),
        "suppliers": SupplierQualityService(system=client, policy=settings.process),
        "audit": audit,
        "bus": bus,
        "settings": settings,
        "metrics": metrics,
        **containment.state,
    }
    for subscription in SUBSCRIPTIONS if subscriptions is None else subscriptions:
        # Each event's handling is a CONSUMER span continuing its publisher's trace.
        handler = traced_handler(subscription.handler(state), group=subscription.group)
        bus.subscribe(subscription.stream, subscription.group, handler)
    event_starters = [*(r.start for r in relays), bus.start] if events.consumers_enabled else []
    return build_layer_app(
        layer="process",
        settings=settings,
        surfaces=SURFACES,
        route_handlers=[
            Router(
                path=QUALITY.prefix,
                route_handlers=[
                    *dispositions,
                    *inspection_routes,
                    *supplier_routes,
                    *record_routes,
                    *audit_routes,
                    *containment.quality_routes,
                ],
                dependencies=SERVICES,
            ),
            Router(
                path=OPERATIONS.prefix,
                route_handlers=[*operations_routes, *containment.operations_routes],
                dependencies=SERVICES,
            ),
            *diagnostics.route_handlers,
            *console_handlers(settings, issuer_transport=issuer_transport),
        ],
        issuer_transport=issuer_transport,
        readiness=[
            ("system-layer", system.ready),
            ("disposition-store", store.ping),
            ("audit-trail", audit.ping),
            *containment.readiness,
            ("event-bus", bus.ping),
        ],
        starters=[*event_starters, *starters, *containment.starters],
        # Relays and consumers stop first: they use the stores and services closed after them.
        closers=[
            *(r.stop for r in relays),
            bus.stop,
            *containment.closers,
            worker.stop,
            system.aclose,
            store.aclose,
            audit.aclose,
            bus.aclose,
        ],
        state=state,
        idempotency_store=idempotency_store,
        rate_limiter=rate_limiter,
        metrics=metrics,
    )
