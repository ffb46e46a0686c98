"""Typed settings, read once at the edge from ``QGATE_*`` environment variables and an optional
TOML file, then passed in. Tests build :class:`Settings` directly.

Precedence: defaults < TOML file (``QGATE_CONFIG_FILE``) < environment. A setting in a section
is named ``QGATE_<SECTION>_<FIELD>``: ``auth.audience`` is ``QGATE_AUTH_AUDIENCE``. Lists are
comma-separated; tables (clients, tiers) are set in the TOML file or as JSON in the variable.

Production mode (``QGATE_MODE=prod``) refuses to start on insecure defaults: see
:func:`validate_for_mode`.
"""

from __future__ import annotations

from shared.settings._load import CONFIG_FILE_ENV as CONFIG_FILE_ENV
from shared.settings._load import ENV_PREFIX as ENV_PREFIX
from shared.settings._load import load_settings, setting_names
from shared.settings._model import (
    AuthSettings,
    CircuitSettings,
    ContainmentSettings,
    DevIssuerSettings,
    ErpKind,
    EventSettings,
    IdempotencySettings,
    LayerSettings,
    Mode,
    ObservabilitySettings,
    ProcessSettings,
    QmsKind,
    RateLimitSettings,
    ResultPolicy,
    S4HanaAuth,
    S4HanaPlant,
    S4HanaSettings,
    Settings,
    SettingsError,
    StoreKind,
    TrytonSettings,
)
from shared.settings._validate import validate_for_mode

__all__ = [
    "AuthSettings",
    "CircuitSettings",
    "ContainmentSettings",
    "DevIssuerSettings",
    "ErpKind",
    "EventSettings",
    "IdempotencySettings",
    "LayerSettings",
    "Mode",
    "ObservabilitySettings",
    "ProcessSettings",
    "QmsKind",
    "RateLimitSettings",
    "ResultPolicy",
    "S4HanaAuth",
    "S4HanaPlant",
    "S4HanaSettings",
    "Settings",
    "SettingsError",
    "StoreKind",
    "TrytonSettings",
    "load_settings",
    "setting_names",
    "validate_for_mode",
]
