"""Composition root of the process layer: ``create_app(settings, **adapters)``."""

from __future__ import annotations

import httpx
from litestar import Litestar

from process_apis.diagnostics import controllers as diagnostics
from process_apis.surfaces import SURFACES
from shared.appfactory import build_layer_app
from shared.http import build_layer_client
from shared.idempotency import IdempotencyStore
from shared.ratelimit import RateLimiter
from shared.settings import Settings, SettingsError, load_settings

__all__ = ["SURFACES", "create_app"]


def create_app(
    settings: Settings | None = None,
    *,
    issuer_transport: httpx.AsyncBaseTransport | None = None,
    system_transport: httpx.AsyncBaseTransport | None = None,
    idempotency_store: IdempotencyStore | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Litestar:
    """The process layer; ``system_transport`` reaches the system layer in-process."""
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
    return build_layer_app(
        layer="process",
        settings=settings,
        surfaces=SURFACES,
        route_handlers=diagnostics.route_handlers,
        issuer_transport=issuer_transport,
        readiness=[("system-layer", system.ready)],
        closers=[system.aclose],
        state={"system": system},
        idempotency_store=idempotency_store,
        rate_limiter=rate_limiter,
    )
