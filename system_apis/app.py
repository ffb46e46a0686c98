"""Composition root of the system layer: ``create_app(settings, **adapters)``."""

from __future__ import annotations

import httpx
from litestar import Litestar

from shared.appfactory import build_layer_app
from shared.idempotency import IdempotencyStore
from shared.observability import LayerMetrics
from shared.ratelimit import RateLimiter
from shared.settings import Settings, load_settings
from system_apis.connectors import build_connectors
from system_apis.connectors._instrumented import instrument_erp, instrument_qms
from system_apis.connectors.base import ErpConnector, QmsConnector
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
    erp_connector: ErpConnector | None = None,
    qms_connector: QmsConnector | None = None,
) -> Litestar:
    """The system layer over an ERP and a QMS connector (default: the ones the settings name).

    ``issuer_transport`` reaches the token issuer in-process. The app closes the connectors it
    is given when it shuts down.
    """
    settings = settings or load_settings()
    # Every connector call is measured, traced and behind a circuit breaker per backend.
    metrics = LayerMetrics("system")
    erp_built, qms_built = build_connectors(settings, erp=erp_connector, qms=qms_connector)
    erp_connector = instrument_erp(erp_built, metrics, settings.circuit)
    qms_connector = instrument_qms(qms_built, metrics, settings.circuit)
    return build_layer_app(
        layer="system",
        settings=settings,
        surfaces=SURFACES,
        route_handlers=[*erp.route_handlers, *qms.route_handlers],
        issuer_transport=issuer_transport,
        idempotency_store=idempotency_store,
        rate_limiter=rate_limiter,
        readiness=[("erp", erp_connector.ping), ("qms", qms_connector.ping)],
        closers=[erp_connector.aclose, qms_connector.aclose],
        state={"erp": erp_connector, "qms": qms_connector},
        metrics=metrics,
    )
