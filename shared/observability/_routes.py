"""``/metrics``: the layer's figures in the Prometheus text format."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get

from shared.errors import Unauthenticated
from shared.observability._metrics import LayerMetrics
from shared.settings import ObservabilitySettings

__all__ = ["metrics_handlers"]

# The text format every Prometheus reads; Litestar appends the charset.
_CONTENT_TYPE = "text/plain; version=0.0.4"


def metrics_handlers(
    layer: str, metrics: LayerMetrics, settings: ObservabilitySettings
) -> list[Any]:
    """``GET /metrics`` and ``GET /<layer>/metrics`` (the same figures; the second reaches each
    layer of the all-in-one process, where ``/metrics`` is the experience layer's).

    Outside the versioned contracts, like the health probes, and not rate limited. Open unless
    ``metrics_token`` is set, then only ``Authorization: Bearer <token>`` (401 otherwise);
    absent when ``metrics_enabled`` is false.
    """
    if not settings.metrics_enabled:
        return []
    expected = None if settings.metrics_token is None else f"Bearer {settings.metrics_token}"

    @get(
        ["/metrics", f"/{layer}/metrics"],
        operation_id=f"{layer}Metrics",
        include_in_schema=False,
        security=[],
        opt={"rate_limit_exempt": True},
    )
    async def scrape(request: Request[Any, Any, Any]) -> Response[bytes]:
        if expected is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
                raise Unauthenticated(
                    "/metrics requires the scrape token (Authorization: Bearer <token>)",
                    token_present=bool(given),
                )
        return Response(await metrics.render(), media_type=_CONTENT_TYPE)

    return [scrape]
