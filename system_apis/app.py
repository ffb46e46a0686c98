"""Composition root of the system layer: ``create_app(settings, **adapters)``."""

from __future__ import annotations

import httpx
from litestar import Litestar

from shared.appfactory import build_layer_app
from shared.idempotency import IdempotencyStore
from shared.ratelimit import RateLimiter
from shared.settings import Settings, load_settings
from system_apis.erp import controllers as erp
from system_apis.qms import controllers as qms
from system_apis.surfaces import SURFACES

__all__ = ["SURFACES", "create_app"]


def create_app(
    settings: Settings | None = None,
    *,
    issuer_transport: httpx.AsyncBaseTransport | None = None,
    idempotency_store: IdempotencyStore | None = None,
    rate_limiter: RateLimiter | None = None,
) -> Litestar:
    """The system layer; ``issuer_transport`` reaches the token issuer in-process."""
    settings = settings or load_settings()
    return build_layer_app(
        layer="system",
        settings=settings,
        surfaces=SURFACES,
        route_handlers=[*erp.route_handlers, *qms.route_handlers],
        issuer_transport=issuer_transport,
        idempotency_store=idempotency_store,
        rate_limiter=rate_limiter,
    )
