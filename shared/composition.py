"""Deployment shapes: the all-in-one ASGI composition and the single-layer apps for ``qgate serve``.

Layers are addressed by import string (``system_apis.app:create_app``), exactly as an ASGI
server or a deployment manifest would, so ``shared`` imports no layer (import-linter checks it).

All-in-one: the dev issuer and the three layers in one process, each layer calling the one
below through ``httpx.ASGITransport`` (no sockets, same HTTP semantics), dispatched by path
prefix, with their lifespans fanned out.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

import httpx
from litestar import Litestar

from shared.appfactory import ReadinessCheck, build_rate_limiter, health_handlers
from shared.asgitypes import ASGIApp, Receive, Scope, Send
from shared.auth import DevIssuer, dev_issuer_router
from shared.correlation import CorrelationASGI
from shared.errors import exception_handlers
from shared.platform import Platform, PlatformMiddleware
from shared.settings import Mode, Settings, SettingsError, validate_for_mode

__all__ = [
    "LAYER_FACTORIES",
    "PrefixDispatcher",
    "TransportWrapper",
    "build_issuer_app",
    "create_all_in_one",
    "create_layer",
    "load_factory",
]

LAYER_FACTORIES: Final = {
    "system": "system_apis.app:create_app",
    "process": "process_apis.app:create_app",
    "experience": "experience_apis.app:create_app",
}
SURFACES: Final = {
    "system": "system_apis.surfaces:SURFACES",
    "process": "process_apis.surfaces:SURFACES",
    "experience": "experience_apis.surfaces:SURFACES",
}

_log = logging.getLogger("qgate.composition")


def load_factory(target: str) -> Any:
    """Resolve ``package.module:attribute``."""
    module_name, _, attribute = target.partition(":")
    return getattr(importlib.import_module(module_name), attribute)


def build_issuer_app(
    settings: Settings, *, issuer: DevIssuer | None = None
) -> tuple[Litestar, DevIssuer]:
    """The development token issuer as its own app (dev mode only).

    ``issuer`` serves a given DevIssuer (tests sign their own tokens with it); by default one is
    built from the settings.
    """
    if settings.mode is not Mode.DEV or not settings.dev_issuer.enabled:
        raise SettingsError("the development token issuer runs only in dev mode")
    if issuer is None:
        issuer = DevIssuer(
            issuer=settings.auth.issuer,
            audience=settings.auth.audience,
            clients=settings.dev_issuer.clients,
            token_ttl=settings.dev_issuer.token_ttl_seconds,
        )

    # The token endpoint is limited by address (its callers are not authenticated yet): a
    # client secret cannot be guessed at line rate. Keys and metadata are exempt.
    limiter = build_rate_limiter(settings)
    platform = Platform(
        verifier=None,
        idempotency=None,
        limiter=limiter,
        rate_limit_fail_open=settings.rate_limit.fail_open,
    )
    checks: list[ReadinessCheck] = [] if limiter is None else [("rate-limit-store", limiter.ping)]
    app = Litestar(
        route_handlers=[dev_issuer_router(issuer), *health_handlers("issuer", checks)],
        middleware=[PlatformMiddleware(platform)],
        on_shutdown=[limiter.aclose] if limiter is not None else [],
        exception_handlers=exception_handlers(),
        openapi_config=None,
        debug=False,
        logging_config=None,
    )
    app.asgi_handler = CorrelationASGI(app.asgi_handler, layer="issuer")  # type: ignore[arg-type,assignment]
    return app, issuer


def create_layer(name: str, settings: Settings, **adapters: Any) -> Litestar:
    """One layer's app, by name, through its import string.

    The settings are checked for that layer first (:func:`validate_for_mode`), so a refused
    configuration names every problem at once, the missing service client secret included.
    """
    validate_for_mode(settings, layer=name)
    factory: Callable[..., Litestar] = load_factory(LAYER_FACTORIES[name])
    return factory(settings, **adapters)


class PrefixDispatcher:
    """Route by path prefix to several ASGI apps; fan the lifespan out to every distinct app.

    Paths are not rewritten: every layer serves its full paths (``/system/erp/v1/…``), so
    all-in-one and split deployments answer at the same URLs.
    """

    def __init__(
        self,
        routes: Sequence[tuple[str, Any]],
        *,
        default: Any,
        freeze_gc: bool = False,
    ) -> None:
        self.routes = sorted(routes, key=lambda item: len(item[0]), reverse=True)
        self.default = default
        self.freeze_gc = freeze_gc
        apps: list[Any] = []
        for _, app in [*routes, ("", default)]:
            if all(app is not seen for seen in apps):
                apps.append(app)
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        path: str = scope.get("path", "")
        for prefix, app in self.routes:
            if path.startswith(prefix):
                await app(scope, receive, send)
                return
        await self.default(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        message = await receive()
        assert message["type"] == "lifespan.startup"
        async with contextlib.AsyncExitStack() as stack:
            try:
                for app in self.apps:
                    if isinstance(app, Litestar):
                        await stack.enter_async_context(app.lifespan())
            except Exception as exc:
                _log.exception("start-up failed")
                await send({"type": "lifespan.startup.failed", "message": str(exc)})
                return
            if self.freeze_gc:
                # Long-lived start-up objects out of the collector's way: GC pauses dominated
                # the latency tail in the measurements (see benchmarks/README.md).
                gc.collect()
                gc.freeze()
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
        await send({"type": "lifespan.shutdown.complete"})


def _in_process(app: Litestar) -> httpx.ASGITransport:
    """A transport that calls ``app`` in this process (no lifespan: the dispatcher runs it)."""
    return httpx.ASGITransport(app=cast("ASGIApp", app))


TransportWrapper = Callable[[str, httpx.AsyncBaseTransport], httpx.AsyncBaseTransport]
"""``(target, transport) -> transport``: wraps the in-process transport to ``issuer``,
``system`` or ``process`` (tests use it to make a hop slow or fail)."""


def create_all_in_one(
    settings: Settings,
    *,
    freeze_gc: bool = False,
    issuer: DevIssuer | None = None,
    wrap_transport: TransportWrapper | None = None,
) -> PrefixDispatcher:
    """The embedded default: issuer and the three layers in one process.

    ``issuer`` and ``wrap_transport`` are seams for tests: the DevIssuer to serve (so a test can
    sign tokens with the app's key) and a wrapper around each in-process hop.
    """
    validate_for_mode(settings, layer="all")

    def hop(target: str, app: Litestar) -> httpx.AsyncBaseTransport:
        transport = _in_process(app)
        return transport if wrap_transport is None else wrap_transport(target, transport)

    issuer_app, _ = build_issuer_app(settings, issuer=issuer)
    to_issuer = hop("issuer", issuer_app)
    system = create_layer("system", settings, issuer_transport=to_issuer)
    process = create_layer(
        "process", settings, issuer_transport=to_issuer, system_transport=hop("system", system)
    )
    experience = create_layer(
        "experience",
        settings,
        issuer_transport=to_issuer,
        process_transport=hop("process", process),
    )
    return PrefixDispatcher(
        [
            ("/system/", system),
            ("/process/", process),
            ("/partner/", experience),
            ("/plant/", experience),
            ("/oauth/", issuer_app),
            ("/.well-known/", issuer_app),
            ("/health/", experience),
        ],
        default=experience,
        freeze_gc=freeze_gc,
    )
