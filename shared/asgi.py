"""ASGI factories for servers and deployment manifests (``uvicorn --factory shared.asgi:system``).

Each reads settings from the environment once, configures structured logging, and builds one
deployment shape: ``all_in_one`` (the embedded default), ``system``, ``process``, ``experience``
or ``issuer`` (the development token issuer, for split deployments in dev mode).
"""

from __future__ import annotations

from typing import cast

from shared.asgitypes import ASGIApp
from shared.composition import build_issuer_app, create_all_in_one, create_layer
from shared.logs import configure_logging
from shared.settings import load_settings

__all__ = ["all_in_one", "experience", "issuer", "process", "system"]


def _layer(name: str) -> ASGIApp:
    settings = load_settings(layer=name)
    configure_logging(layer=name, level=settings.log_level, fmt=settings.log_format)
    return cast("ASGIApp", create_layer(name, settings))


def all_in_one() -> ASGIApp:
    settings = load_settings(layer="all")
    configure_logging(layer="all-in-one", level=settings.log_level, fmt=settings.log_format)
    return create_all_in_one(settings, freeze_gc=True)


def system() -> ASGIApp:
    return _layer("system")


def process() -> ASGIApp:
    return _layer("process")


def experience() -> ASGIApp:
    return _layer("experience")


def issuer() -> ASGIApp:
    settings = load_settings()
    configure_logging(layer="issuer", level=settings.log_level, fmt=settings.log_format)
    app, _ = build_issuer_app(settings)
    return cast("ASGIApp", app)
