"""Typed settings, read once at the edge from ``QGATE_*`` environment variables and an optional
TOML file, then passed in. Tests build :class:`Settings` directly.

Precedence: defaults < TOML file (``QGATE_CONFIG_FILE``) < environment. A setting in a section
is named ``QGATE_<SECTION>_<FIELD>``: ``auth.audience`` is ``QGATE_AUTH_AUDIENCE``. Lists are
comma-separated; tables (clients, tiers) are set in the TOML file or as JSON in the variable.

Production mode (``QGATE_MODE=prod``) refuses to start on insecure defaults: see
:func:`validate_for_mode`.
"""

from __future__ import annotations

import difflib
import enum
import json
import logging
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Final

import limits
import msgspec

from shared.auth.clients import ClientConfig, demo_clients
from shared.auth.verifier import SUPPORTED_ALGORITHMS

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
CONFIG_FILE_ENV: Final = "QGATE_CONFIG_FILE"

_Positive = Annotated[int, msgspec.Meta(ge=1)]
_NonNegative = Annotated[int, msgspec.Meta(ge=0)]


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

    issuer: str = "http://127.0.0.1:8000"
    """Expected ``iss``; also where ``/oauth/token`` and the JWKS live unless set below."""
    audience: str = "qgate"
    """Expected ``aud``."""
    jwks_url: str | None = None
    """JWKS location; default ``{issuer}/.well-known/jwks.json`` (in-process when all-in-one)."""
    token_url: str | None = None
    """Token endpoint for the layers' own service tokens; default ``{issuer}/oauth/token``."""
    algorithms: list[str] = msgspec.field(default_factory=lambda: ["RS256", "ES256"])
    """Accepted JWS algorithms (allow-list)."""
    leeway_seconds: _NonNegative = 30
    """Clock skew tolerated on ``exp``/``nbf``."""
    jwks_min_refetch_seconds: Annotated[float, msgspec.Meta(ge=0)] = 30.0
    """At most one JWKS refetch per this interval when an unknown ``kid`` appears."""


class DevIssuerSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The development token issuer (dev mode only)."""

    enabled: bool = True
    token_ttl_seconds: _Positive = 300
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
            # The layers' own clients carry every end client's traffic, already limited at the
            # edge: their tier must not cap the whole gateway at one client's quota.
            "service": "60000/minute",
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
    retention_seconds: _Positive = 86_400
    """How long a completed response is replayed for the same key (published in contracts)."""
    in_flight_seconds: _Positive = 60
    """How long a key stays claimed by a running request; keep above the worst latency."""
    max_body_bytes: _Positive = 1_048_576


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
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0)] = 10.0
    """Timeout of every inter-layer call (also enforced in-process with asyncio.timeout)."""


class Settings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mode: Mode = Mode.DEV
    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65_535)] = 8000
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
    known = {name for name, _ in setting_names()} | {CONFIG_FILE_ENV}
    unknown = sorted(name for name in env if name.startswith(ENV_PREFIX) and name not in known)
    if unknown:
        raise SettingsError(
            "unknown settings in the environment: "
            + "; ".join(_unknown_hint(name, known) for name in unknown)
        )
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


def _unknown_hint(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.8)
    return f"{name} (did you mean {close[0]}?)" if close else name


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


def load_settings(env: Mapping[str, str] | None = None, *, layer: str | None = None) -> Settings:
    """Build settings from the environment (and ``QGATE_CONFIG_FILE``); raise SettingsError.

    ``layer`` (``system``, ``process``, ``experience`` or ``all``) adds the checks of that
    deployment shape to :func:`validate_for_mode` (the service client secrets it needs).
    """
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    config_file = env.get(CONFIG_FILE_ENV)
    if config_file:
        path = Path(config_file)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise SettingsError(f"{CONFIG_FILE_ENV}: {path} does not exist") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{CONFIG_FILE_ENV}: {path} is not valid TOML ({exc})") from exc
    data = _merge(data, _from_env(env))
    tiers = data.get("rate_limit", {}).get("tiers")
    if isinstance(tiers, Mapping):
        # Configured tiers add to (or redefine) the built-in ones, so configuring one tier
        # does not silently drop the others that clients refer to.
        data["rate_limit"]["tiers"] = {**RateLimitSettings().tiers, **tiers}
    _check_client_fields(data)
    try:
        settings = msgspec.convert(data, Settings, strict=False)
    except msgspec.ValidationError as exc:
        raise SettingsError(_describe_validation_error(str(exc))) from exc
    validate_for_mode(settings, layer=layer)
    return settings


_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`$")


def _setting_label(dotted: str) -> str:
    """``auth.audience`` -> ``QGATE_AUTH_AUDIENCE (auth.audience)``; ``port`` -> ``QGATE_PORT``."""
    parts = re.split(r"[\[.]", dotted)
    head = parts[:2] if parts[0] in _SECTIONS else parts[:1]
    env_name = ENV_PREFIX + "_".join(part.upper() for part in head)
    return env_name if dotted == head[0] else f"{env_name} ({dotted})"


def _describe_validation_error(message: str) -> str:
    """Turn msgspec's ``Expected int - at `$.auth.leeway_seconds``` into a setting's name."""
    match = _AT.match(message)
    assert match is not None  # the pattern matches any string
    what, path = match["what"], (match["path"] or "").lstrip(".")
    unknown = _UNKNOWN_FIELD.match(what)
    if unknown is not None:
        dotted = f"{path}.{unknown['field']}" if path else unknown["field"]
        known = [dotted_name for _, dotted_name in setting_names()]
        close = difflib.get_close_matches(dotted, known, n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]}?)" if close else ""
        return f"unknown setting {dotted!r}{hint}"
    if not path:
        return f"invalid settings: {what}"
    return f"invalid setting {_setting_label(path)}: {what}"


def _check_client_fields(data: Mapping[str, Any]) -> None:
    """ClientConfig ignores unknown keys; a misspelt ``supplier_id`` must not go unnoticed."""
    section = data.get("dev_issuer")
    clients = section.get("clients") if isinstance(section, Mapping) else None
    if not isinstance(clients, list):
        return
    allowed = set(_struct_fields(ClientConfig))
    for index, client in enumerate(clients):
        if isinstance(client, Mapping):
            unknown = sorted(set(client) - allowed)
            if unknown:
                raise SettingsError(
                    f"unknown setting in dev_issuer.clients[{index}]: {', '.join(unknown)} "
                    f"(a client has: {', '.join(sorted(allowed))})"
                )


#: Deployment shape -> the service clients (id field, secret field) its layers call down with.
_SERVICE_CLIENTS: Final = {
    "process": (("process_client_id", "process_client_secret"),),
    "experience": (("experience_client_id", "experience_client_secret"),),
    "all": (
        ("experience_client_id", "experience_client_secret"),
        ("process_client_id", "process_client_secret"),
    ),
}
_TIER_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def _tier_problems(settings: Settings) -> list[str]:
    problems: list[str] = []
    rate_limit = settings.rate_limit
    for name, limit in rate_limit.tiers.items():
        if not _TIER_NAME.fullmatch(name):
            problems.append(
                f"QGATE_RATE_LIMIT_TIERS: tier name {name!r} must be 1-64 of A-Z a-z 0-9 _ . -"
            )
        try:
            items = limits.parse_many(limit)
        except ValueError:
            items = []
        if len(items) != 1 or items[0].amount < 1:
            problems.append(
                f"QGATE_RATE_LIMIT_TIERS: tier {name!r} has {limit!r}, not one limit like "
                "'600/minute' or '10 per 2 seconds'"
            )
    references = [
        ("QGATE_RATE_LIMIT_DEFAULT_TIER", rate_limit.default_tier),
        ("QGATE_RATE_LIMIT_ANONYMOUS_TIER", rate_limit.anonymous_tier),
    ]
    references += [
        (f"QGATE_RATE_LIMIT_CLIENT_TIERS[{client!r}]", tier)
        for client, tier in rate_limit.client_tiers.items()
    ]
    if settings.dev_issuer.enabled:
        references += [
            (f"QGATE_DEV_ISSUER_CLIENTS[{client.client_id!r}].tier", client.tier)
            for client in settings.dev_issuer.clients
            if client.client_id not in rate_limit.client_tiers
        ]
    for where, tier in references:
        if tier not in rate_limit.tiers:
            problems.append(
                f"{where}: rate-limit tier {tier!r} is not defined in QGATE_RATE_LIMIT_TIERS "
                f"(have: {', '.join(sorted(rate_limit.tiers))})"
            )
    return problems


def validate_for_mode(settings: Settings, *, layer: str | None = None) -> None:
    """Refuse a configuration that is unsafe for its mode, naming every problem at once.

    With ``layer`` (``process``, ``experience`` or ``all``), also the service client secrets
    that layer needs to call the one below.
    """
    problems: list[str] = []
    if settings.log_format not in ("json", "text"):
        problems.append("QGATE_LOG_FORMAT must be json or text")
    if not isinstance(logging.getLevelNamesMapping().get(settings.log_level.upper()), int):
        problems.append("QGATE_LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    unsupported = [alg for alg in settings.auth.algorithms if alg not in SUPPORTED_ALGORITHMS]
    if unsupported or not settings.auth.algorithms:
        problems.append(
            f"QGATE_AUTH_ALGORITHMS: {', '.join(unsupported) or 'none given'} not supported "
            f"(choose from {', '.join(sorted(SUPPORTED_ALGORITHMS))})"
        )
    problems.extend(_tier_problems(settings))
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
    for id_field, secret_field in _SERVICE_CLIENTS.get(layer or "", ()):
        client_id = getattr(settings.layers, id_field)
        if settings.service_secret(client_id, getattr(settings.layers, secret_field)) is None:
            problems.append(
                f"QGATE_LAYERS_{secret_field.upper()} is missing: the secret of the service "
                f"client {client_id!r} this layer calls the layer below with"
            )
    if problems:
        raise SettingsError(
            f"qgate refuses to start in {settings.mode.value} mode:\n  - " + "\n  - ".join(problems)
        )
