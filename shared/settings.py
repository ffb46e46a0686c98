"""Typed settings, read once at the edge from ``QGATE_*`` environment variables and an optional
TOML file, then passed in. Tests build :class:`Settings` directly.

Precedence: defaults < TOML file (``QGATE_CONFIG_FILE``) < environment. A setting in a section
is named ``QGATE_<SECTION>_<FIELD>``: ``auth.audience`` is ``QGATE_AUTH_AUDIENCE``. Lists are
comma-separated; tables (clients, tiers) are set in the TOML file or as JSON in the variable.

Production mode (``QGATE_MODE=prod``) refuses to start on insecure defaults: see
:func:`validate_for_mode`.
"""

from __future__ import annotations

import enum
import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from shared.auth.clients import ClientConfig, demo_clients

__all__ = [
    "AuthSettings",
    "DevIssuerSettings",
    "IdempotencySettings",
    "LayerSettings",
    "Mode",
    "RateLimitSettings",
    "Settings",
    "SettingsError",
    "StoreKind",
    "load_settings",
    "setting_names",
    "validate_for_mode",
]

ENV_PREFIX: Final = "QGATE_"


class SettingsError(ValueError):
    """The configuration is unusable; the message says which setting and why."""


class Mode(enum.StrEnum):
    DEV = "dev"
    PROD = "prod"


class StoreKind(enum.StrEnum):
    MEMORY = "memory"
    REDIS = "redis"


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    pass


class AuthSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How access tokens are verified (RFC 9068 JWTs signed by the issuer's JWKS keys)."""

    issuer: str = "http://localhost:8000"
    """Expected ``iss``; also where ``/oauth/token`` and the JWKS live unless set below."""
    audience: str = "qgate"
    """Expected ``aud``."""
    jwks_url: str | None = None
    """JWKS location; default ``{issuer}/.well-known/jwks.json`` (in-process when all-in-one)."""
    token_url: str | None = None
    """Token endpoint for the layers' own service tokens; default ``{issuer}/oauth/token``."""
    algorithms: list[str] = msgspec.field(default_factory=lambda: ["RS256", "ES256"])
    """Accepted JWS algorithms (allow-list)."""
    leeway_seconds: int = 30
    """Clock skew tolerated on ``exp``/``nbf``."""
    jwks_min_refetch_seconds: float = 30.0
    """At most one JWKS refetch per this interval when an unknown ``kid`` appears."""


class DevIssuerSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The development token issuer (dev mode only)."""

    enabled: bool = True
    token_ttl_seconds: int = 300
    clients: list[ClientConfig] = msgspec.field(default_factory=demo_clients)
    """OAuth clients with secrets, scopes and claims; the demo clients by default."""


class RateLimitSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Moving-window rate limits per client (per remote address before authentication)."""

    enabled: bool = True
    tiers: dict[str, str] = msgspec.field(
        default_factory=lambda: {
            "standard": "600/minute",
            "operations": "3000/minute",
            "anonymous": "120/minute",
        }
    )
    """Tier name -> limit in ``limits`` notation (``600/minute``)."""
    default_tier: str = "standard"
    anonymous_tier: str = "anonymous"
    client_tiers: dict[str, str] = msgspec.field(default_factory=dict)
    """Client id -> tier; otherwise the client's configured tier, else ``default_tier``."""
    fail_open: bool = True
    """When the rate-limit store is unreachable: let requests through (and log) or answer 503."""


class IdempotencySettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    retention_seconds: int = 86_400
    """How long a completed response is replayed for the same key (published in contracts)."""
    in_flight_seconds: int = 60
    """How long a key stays claimed by a running request; keep above the worst latency."""
    max_body_bytes: int = 1_048_576


class LayerSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where the layer below lives and which client this layer uses to call it."""

    process_url: str = "http://127.0.0.1:8002"
    """Process layer base URL, used by the experience layer when split (unused all-in-one)."""
    system_url: str = "http://127.0.0.1:8001"
    """System layer base URL, used by the process layer when split (unused all-in-one)."""
    experience_client_id: str = "experience-service"
    experience_client_secret: str | None = None
    process_client_id: str = "process-service"
    process_client_secret: str | None = None
    timeout_seconds: float = 10.0
    """Timeout of every inter-layer call (also enforced in-process with asyncio.timeout)."""


class Settings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mode: Mode = Mode.DEV
    host: str = "127.0.0.1"
    port: int = 8000
    store: StoreKind = StoreKind.MEMORY
    """Where idempotency keys and rate-limit windows live: memory (one process) or redis."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    log_level: str = "INFO"
    log_format: str = "json"
    """``json`` (one object per line) or ``text``."""
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    dev_issuer: DevIssuerSettings = msgspec.field(default_factory=DevIssuerSettings)
    rate_limit: RateLimitSettings = msgspec.field(default_factory=RateLimitSettings)
    idempotency: IdempotencySettings = msgspec.field(default_factory=IdempotencySettings)
    layers: LayerSettings = msgspec.field(default_factory=LayerSettings)

    @property
    def jwks_url(self) -> str:
        return self.auth.jwks_url or self.auth.issuer.rstrip("/") + "/.well-known/jwks.json"

    @property
    def token_url(self) -> str:
        return self.auth.token_url or self.auth.issuer.rstrip("/") + "/oauth/token"

    def service_secret(self, client_id: str, configured: str | None) -> str | None:
        """A layer's client secret: configured, or (dev mode) the dev issuer's for that client."""
        if configured:
            return configured
        if self.mode is Mode.DEV and self.dev_issuer.enabled:
            for client in self.dev_issuer.clients:
                if client.client_id == client_id:
                    return client.client_secret
        return None


_SECTIONS: Final = ("auth", "dev_issuer", "rate_limit", "idempotency", "layers")
_TABLE_FIELDS: Final = {
    ("dev_issuer", "clients"),
    ("rate_limit", "tiers"),
    ("rate_limit", "client_tiers"),
}


def _struct_fields(cls: type[msgspec.Struct]) -> tuple[str, ...]:
    return cls.__struct_fields__


def setting_names() -> list[tuple[str, str]]:
    """Every environment variable with its dotted path, for docs and error messages."""
    names: list[tuple[str, str]] = []
    for field in _struct_fields(Settings):
        if field in _SECTIONS:
            for sub in _struct_fields(_section_cls(field)):
                names.append((f"{ENV_PREFIX}{field.upper()}_{sub.upper()}", f"{field}.{sub}"))
        else:
            names.append((f"{ENV_PREFIX}{field.upper()}", field))
    return names


def _env_value(path: tuple[str, ...], raw: str) -> Any:
    if path in _TABLE_FIELDS:
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            name = ENV_PREFIX + "_".join(p.upper() for p in path)
            raise SettingsError(f"{name} must be JSON ({exc.msg})") from exc
    if path == ("auth", "algorithms"):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for field in _struct_fields(Settings):
        if field in _SECTIONS:
            continue
        name = f"{ENV_PREFIX}{field.upper()}"
        if name in env:
            data[field] = env[name]
    for section in _SECTIONS:
        section_cls = _section_cls(section)
        for sub in _struct_fields(section_cls):
            name = f"{ENV_PREFIX}{section.upper()}_{sub.upper()}"
            if name in env:
                data.setdefault(section, {})[sub] = _env_value((section, sub), env[name])
    return data


def _section_cls(section: str) -> type[msgspec.Struct]:
    classes: dict[str, type[msgspec.Struct]] = {
        "auth": AuthSettings,
        "dev_issuer": DevIssuerSettings,
        "rate_limit": RateLimitSettings,
        "idempotency": IdempotencySettings,
        "layers": LayerSettings,
    }
    return classes[section]


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment (and ``QGATE_CONFIG_FILE``); raise SettingsError."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    config_file = env.get("QGATE_CONFIG_FILE")
    if config_file:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SettingsError(f"QGATE_CONFIG_FILE: {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"QGATE_CONFIG_FILE: {path} is not valid TOML ({exc})") from exc
    data = _merge(data, _from_env(env))
    try:
        settings = msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid setting: {exc}") from exc
    validate_for_mode(settings)
    return settings


def validate_for_mode(settings: Settings) -> None:
    """Refuse a configuration that is unsafe for its mode, naming every problem at once."""
    problems: list[str] = []
    if settings.log_format not in ("json", "text"):
        problems.append("QGATE_LOG_FORMAT must be json or text")
    for name, limit in settings.rate_limit.tiers.items():
        if "/" not in limit:
            problems.append(f"rate_limit.tiers.{name}: {limit!r} is not like '600/minute'")
    for tier in (settings.rate_limit.default_tier, settings.rate_limit.anonymous_tier):
        if tier not in settings.rate_limit.tiers:
            problems.append(f"rate-limit tier {tier!r} is not defined in rate_limit.tiers")
    if settings.mode is Mode.PROD:
        if settings.dev_issuer.enabled:
            problems.append(
                "the development token issuer is enabled: set QGATE_DEV_ISSUER_ENABLED=false "
                "and point QGATE_AUTH_ISSUER / QGATE_AUTH_JWKS_URL at your identity provider"
            )
        if settings.store is StoreKind.MEMORY:
            problems.append(
                "in-memory stores lose idempotency keys and rate limits on restart and are not "
                "shared by replicas: set QGATE_STORE=redis and QGATE_REDIS_URL"
            )
        if not settings.auth.issuer.startswith("https://"):
            problems.append("QGATE_AUTH_ISSUER must be an https:// URL in production")
    if problems:
        raise SettingsError(
            f"qgate refuses to start in {settings.mode.value} mode:\n  - " + "\n  - ".join(problems)
        )
