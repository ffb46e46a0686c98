"""What every layer app has in common, built in one place.

Each layer's ``create_app(settings, **adapters)`` hands its route handlers and surfaces to
:func:`build_layer_app`, which adds the platform: the request pipeline
(:class:`~shared.platform.PlatformMiddleware`), problem+json errors, correlation, health probes,
the OAuth2 security scheme, one served contract per surface, and a lifespan that closes what the
app opened. Nothing connects at import time; Redis clients connect on first use.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Final

import httpx
import msgspec
import swagger_ui_bundle  # type: ignore[import-untyped]
from litestar import Litestar, Request, Response, get
from litestar.datastructures import CacheControlHeader, State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme
from litestar.params import ParameterKwarg
from litestar.routes import HTTPRoute
from litestar.types import ControllerRouterHandler

from shared.auth import SCOPES, JwksCache, TokenVerifier
from shared.contracts import Surface, surface_document, to_yaml
from shared.correlation import CorrelationASGI
from shared.errors import NotFound, exception_handlers, problem_response
from shared.http import build_http_client
from shared.idempotency import (
    IdempotencyStore,
    MemoryIdempotencyStore,
    RedisIdempotencyStore,
)
from shared.logs import protect_secrets
from shared.observability import (
    LayerMetrics,
    ObservedASGI,
    bind_metrics,
    bind_tracer,
    layer_tracer,
    metrics_handlers,
)
from shared.platform import Platform, PlatformMiddleware
from shared.ratelimit import RateLimiter
from shared.settings import Settings, StoreKind

__all__ = [
    "ReadinessCheck",
    "build_layer_app",
    "build_platform",
    "build_rate_limiter",
    "docs_path",
    "health_handlers",
]

ReadinessCheck = tuple[str, Callable[[], Awaitable[None]]]
Closer = Callable[[], Awaitable[None]]

_log = logging.getLogger("qgate.app")
_READY_TIMEOUT_SECONDS = 3.0


def build_rate_limiter(settings: Settings) -> RateLimiter | None:
    """The rate limiter the settings describe (None when rate limiting is off)."""
    if not settings.rate_limit.enabled:
        return None
    # The dev issuer's clients carry a tier; they exist only while that issuer runs.
    client_tiers = (
        {client.client_id: client.tier for client in settings.dev_issuer.clients}
        if settings.dev_issuer.enabled
        else {}
    )
    if "service" in settings.rate_limit.tiers:
        # The layers' own clients carry every end client's traffic, already limited at the
        # edge: they must not share one end client's quota.
        for service_client in (
            settings.layers.experience_client_id,
            settings.layers.process_client_id,
        ):
            client_tiers.setdefault(service_client, "service")
    client_tiers.update(settings.rate_limit.client_tiers)
    options: dict[str, Any] = {
        "tiers": settings.rate_limit.tiers,
        "client_tiers": client_tiers,
        "default_tier": settings.rate_limit.default_tier,
        "anonymous_tier": settings.rate_limit.anonymous_tier,
    }
    if settings.store is StoreKind.REDIS:
        return RateLimiter.redis(settings.redis_url, **options)
    return RateLimiter.memory(**options)


def build_platform(
    settings: Settings,
    *,
    issuer_transport: httpx.AsyncBaseTransport | None = None,
    idempotency_store: IdempotencyStore | None = None,
    rate_limiter: RateLimiter | None = None,
    metrics: LayerMetrics | None = None,
) -> tuple[Platform, list[Closer]]:
    """The pipeline's stateful parts for one app, and how to close them."""
    closers: list[Closer] = []
    jwks_http = build_http_client(
        base_url=settings.auth.issuer, transport=issuer_transport, timeout=5.0
    )
    closers.append(jwks_http.aclose)
    verifier = TokenVerifier(
        JwksCache(
            jwks_http,
            settings.jwks_url,
            min_refetch_interval=settings.auth.jwks_min_refetch_seconds,
        ),
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        algorithms=tuple(settings.auth.algorithms),
        leeway=settings.auth.leeway_seconds,
    )
    if idempotency_store is None:
        if settings.store is StoreKind.REDIS:
            idempotency_store = RedisIdempotencyStore.from_url(settings.redis_url)
        else:
            idempotency_store = MemoryIdempotencyStore()
    closers.append(idempotency_store.aclose)
    limiter = rate_limiter if rate_limiter is not None else build_rate_limiter(settings)
    if limiter is not None:
        closers.append(limiter.aclose)
    platform = Platform(
        verifier=verifier,
        idempotency=idempotency_store,
        limiter=limiter,
        rate_limit_fail_open=settings.rate_limit.fail_open,
        idempotency_retention_seconds=settings.idempotency.retention_seconds,
        idempotency_in_flight_seconds=settings.idempotency.in_flight_seconds,
        max_body_bytes=settings.idempotency.max_body_bytes,
        metrics=metrics,
    )
    return platform, closers


class _Health(msgspec.Struct, frozen=True):
    status: str
    layer: str
    checks: dict[str, str]


def health_handlers(layer: str, checks: Sequence[ReadinessCheck]) -> list[Any]:
    """``/health/live`` and ``/health/ready`` (running ``checks``), unauthenticated, unlimited."""

    @get(
        "/health/live",
        operation_id=f"{layer}Live",
        include_in_schema=False,
        security=[],
        opt={"rate_limit_exempt": True},
        sync_to_thread=False,
    )
    def live() -> _Health:
        return _Health(status="live", layer=layer, checks={})

    @get(
        "/health/ready",
        operation_id=f"{layer}Ready",
        include_in_schema=False,
        security=[],
        opt={"rate_limit_exempt": True},
    )
    async def ready(request: Request[Any, Any, Any]) -> Response[Any]:
        results: dict[str, str] = {}

        async def run(name: str, check: Callable[[], Awaitable[None]]) -> None:
            try:
                async with asyncio.timeout(_READY_TIMEOUT_SECONDS):
                    await check()
                results[name] = "ok"
            except Exception as exc:
                _log.warning("readiness check %s failed: %s", name, type(exc).__name__)
                results[name] = "failed"

        await asyncio.gather(*(run(name, check) for name, check in checks))
        failed = sorted(name for name, outcome in results.items() if outcome != "ok")
        if failed:
            return problem_response(
                request,
                status=503,
                slug="not-ready",
                title="Not ready",
                detail=f"{layer} is not ready: {', '.join(failed)} failed",
            )
        return Response(_Health(status="ready", layer=layer, checks=results))

    return [live, ready]


def _contract_handlers(surface: Surface) -> list[Any]:
    """The surface's contract as JSON and YAML, rendered once per app (the code cannot change)."""
    rendered: dict[str, bytes] = {}

    def render(app: Litestar, kind: str) -> bytes:
        if kind not in rendered:
            document = surface_document(app, surface)
            rendered["json"] = msgspec.json.encode(document)
            rendered["yaml"] = to_yaml(document).encode("utf-8")
        return rendered[kind]

    @get(
        f"{surface.prefix}/openapi.json",
        operation_id=f"{surface.name}ContractJson",
        include_in_schema=False,
        security=[],
        sync_to_thread=False,
    )
    def contract_json(request: Request[Any, Any, Any]) -> Response[bytes]:
        return Response(render(request.app, "json"), media_type="application/json")

    @get(
        f"{surface.prefix}/openapi.yaml",
        operation_id=f"{surface.name}ContractYaml",
        include_in_schema=False,
        security=[],
        sync_to_thread=False,
    )
    def contract_yaml(request: Request[Any, Any, Any]) -> Response[bytes]:
        return Response(render(request.app, "yaml"), media_type="application/yaml")

    return [contract_json, contract_yaml]


_DOCS_ASSETS: Final = (
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "swagger-ui.css",
    "favicon-32x32.png",
)
"""Files of swagger-ui (the ``swagger-ui-bundle`` package) the docs page loads."""


class _LocalSwagger(SwaggerRenderPlugin):
    """Swagger UI from the layer's own files. Those (swagger-ui 4.15, the version packaged for
    offline use) read OpenAPI 3.0 only: the page presents the document as 3.0.3, for display;
    the served documents and contracts stay OpenAPI 3.1."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, {**openapi_schema, "openapi": "3.0.3"})


def docs_path(layer: str) -> str:
    """Where the layer serves its docs UI (its OpenAPI document, for reading in a browser)."""
    return f"/{layer}/_openapi"


def _docs_assets(layer: str, components: Components) -> tuple[OpenAPIConfig, list[Any]]:
    """The docs UI's render plugins and the route serving swagger-ui's files from the package.

    Nothing is loaded from a CDN (Litestar's default), so the docs work in a plant without
    internet access: the page, its script, styles and icon all come from the layer itself.
    """
    base = f"{docs_path(layer)}/assets"
    folder = Path(swagger_ui_bundle.swagger_ui_path)
    contents = {name: (folder / name).read_bytes() for name in _DOCS_ASSETS}

    @get(
        f"{base}/{{name:str}}",
        operation_id=f"{layer}DocsAsset",
        include_in_schema=False,
        security=[],
        opt={"rate_limit_exempt": True},
        cache_control=CacheControlHeader(max_age=86_400, public=True),
        sync_to_thread=False,
    )
    def asset(name: Annotated[str, ParameterKwarg(max_length=64)]) -> Response[bytes]:
        body = contents.get(name)
        if body is None:
            raise NotFound(f"{base}/{name} is not one of the docs UI's files.")
        media = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(body, media_type=media)

    swagger = _LocalSwagger(
        js_url=f"{base}/swagger-ui-bundle.js",
        css_url=f"{base}/swagger-ui.css",
        standalone_preset_js_url=f"{base}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{base}/favicon-32x32.png'>",
        path=["/", "/swagger"],
    )
    config = OpenAPIConfig(
        title=f"qgate {layer} layer",
        version="1.0.0",
        path=docs_path(layer),
        components=components,
        render_plugins=[swagger, JsonRenderPlugin(), YamlRenderPlugin()],
    )
    return config, [asset]


def _fix_options_allow(app: Litestar) -> None:
    """Make the automatic ``OPTIONS`` answer list every method of its path.

    Litestar 2.25 rebuilds a route each time another handler joins its path, and the automatic
    OPTIONS handler keeps the first route in its closure, so ``GET`` + ``POST`` on one path
    answers ``Allow: GET, OPTIONS``. Point that first route at the final route's methods.
    """
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        entry = route.route_handler_map.get("OPTIONS")
        if entry is None:
            continue
        for cell in entry[0].fn.__closure__ or ():
            stale = cell.cell_contents
            if isinstance(stale, HTTPRoute) and stale is not route:
                stale.methods = route.methods


def build_layer_app(
    *,
    layer: str,
    settings: Settings,
    surfaces: Sequence[Surface],
    route_handlers: Sequence[ControllerRouterHandler],
    issuer_transport: httpx.AsyncBaseTransport | None = None,
    readiness: Sequence[ReadinessCheck] = (),
    closers: Sequence[Closer] = (),
    starters: Sequence[Closer] = (),
    state: Mapping[str, Any] | None = None,
    idempotency_store: IdempotencyStore | None = None,
    rate_limiter: RateLimiter | None = None,
    metrics: LayerMetrics | None = None,
) -> Litestar:
    """One layer's Litestar app with the whole platform around its handlers.

    ``starters`` run at start-up (background workers); ``closers`` at shutdown, in order, before
    the platform's own resources close. ``metrics`` is the layer's :class:`LayerMetrics` when
    the caller registers business figures on it first (else a new one); it is served at
    ``/metrics`` and kept as ``app.state["metrics"]``.
    """
    protect_secrets(settings)
    metrics = metrics or LayerMetrics(layer)
    tracer = layer_tracer(layer)
    platform, platform_closers = build_platform(
        settings,
        issuer_transport=issuer_transport,
        idempotency_store=idempotency_store,
        rate_limiter=rate_limiter,
        metrics=metrics,
    )
    store = platform.idempotency
    assert store is not None  # build_platform always builds one for a layer
    checks: list[ReadinessCheck] = [("idempotency-store", store.ping)]
    if platform.limiter is not None:
        checks.append(("rate-limit-store", platform.limiter.ping))
    checks.extend(readiness)
    handlers: list[Any] = [
        *route_handlers,
        *health_handlers(layer, checks),
        *metrics_handlers(layer, metrics, settings.observability),
    ]
    for surface in surfaces:
        handlers.extend(_contract_handlers(surface))
    docs, docs_handlers = _docs_assets(
        layer, Components(security_schemes={"oauth2": oauth2_scheme(settings)})
    )
    handlers.extend(docs_handlers)

    all_closers = [*closers, *platform_closers]

    async def bind_observability() -> None:
        # Background tasks the starters create copy this context: a worker's calls are traced
        # and counted as this layer's.
        bind_tracer(tracer)
        bind_metrics(metrics)

    async def close_all() -> None:
        for close in all_closers:
            try:
                await close()
            except Exception:
                _log.exception("closing a %s resource failed", layer)

    app = Litestar(
        route_handlers=handlers,
        middleware=[PlatformMiddleware(platform)],
        exception_handlers=exception_handlers(),
        openapi_config=docs,
        state=State(
            {"settings": settings, "platform": platform, "metrics": metrics, **(state or {})}
        ),
        on_startup=[bind_observability, *starters],
        on_shutdown=[close_all],
        debug=False,
        logging_config=None,
    )
    _fix_options_allow(app)
    app.asgi_handler = ObservedASGI(  # type: ignore[assignment]
        CorrelationASGI(app.asgi_handler, layer=layer),  # type: ignore[arg-type]
        layer=layer,
        metrics=metrics,
        tracer=tracer,
    )
    return app


def oauth2_scheme(settings: Settings, scopes: Sequence[str] | None = None) -> SecurityScheme:
    """The OAuth 2.0 client-credentials scheme every contract declares."""
    names = sorted(scopes) if scopes is not None else sorted(SCOPES)
    return SecurityScheme(
        type="oauth2",
        description="OAuth 2.0 client credentials; JWT access tokens (RFC 9068).",
        flows=OAuthFlows(
            client_credentials=OAuthFlow(
                token_url=settings.token_url,
                scopes={name: SCOPES[name] for name in names},
            )
        ),
    )
