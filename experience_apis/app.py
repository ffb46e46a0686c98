"""Composition root of the experience layer: ``create_app(settings, **adapters)``."""

from __future__ import annotations

import httpx
from litestar import Litestar

from experience_apis.clients.process import ProcessClient
from experience_apis.partner import controllers as partner
from experience_apis.plant import controllers as plant
from experience_apis.surfaces import SURFACES
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
    process_transport: httpx.AsyncBaseTransport | None = None,
    idempotency_store: IdempotencyStore | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Litestar:
    """The experience layer; ``process_transport`` reaches the process layer in-process."""
    settings = settings or load_settings()
    layers = settings.layers
    secret = settings.service_secret(layers.experience_client_id, layers.experience_client_secret)
    if secret is None:
        raise SettingsError("QGATE_LAYERS_EXPERIENCE_CLIENT_SECRET is missing")
    process = build_layer_client(
        name="process",
        base_url=layers.process_url,
        transport=process_transport,
        token_url=settings.token_url,
        token_transport=issuer_transport,
        client_id=layers.experience_client_id,
        client_secret=secret,
        timeout=layers.timeout_seconds,
    )
    return build_layer_app(
        layer="experience",
        settings=settings,
        surfaces=SURFACES,
        route_handlers=[*partner.route_handlers, *plant.route_handlers],
        issuer_transport=issuer_transport,
        readiness=[("process-layer", process.ready)],
        closers=[process.aclose],
        state={"process": process, "process_client": ProcessClient(process)},
        idempotency_store=idempotency_store,
        rate_limiter=rate_limiter,
    )
