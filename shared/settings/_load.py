"""Reading settings: defaults, then the TOML file, then ``QGATE_*`` variables; msgspec's
validation errors described by the setting's name."""

from __future__ import annotations

import difflib
import enum
import json
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from shared.settings._model import (
    AuthSettings,
    CircuitSettings,
    ContainmentSettings,
    DevIssuerSettings,
    EventSettings,
    IdempotencySettings,
    LayerSettings,
    ObservabilitySettings,
    ProcessSettings,
    RateLimitSettings,
    S4HanaSettings,
    Settings,
    SettingsError,
    TrytonSettings,
)
from shared.settings._validate import validate_for_mode

__all__ = ["CONFIG_FILE_ENV", "ENV_PREFIX", "load_settings", "setting_names"]

ENV_PREFIX: Final = "QGATE_"
CONFIG_FILE_ENV: Final = "QGATE_CONFIG_FILE"

_SECTIONS: Final = (
    "auth",
    "dev_issuer",
    "rate_limit",
    "idempotency",
    "layers",
    "process",
    "events",
    "containment",
    "s4hana",
    "tryton",
    "observability",
    "circuit",
)
_TABLE_FIELDS: Final = {
    ("dev_issuer", "clients"),
    ("rate_limit", "tiers"),
    ("rate_limit", "client_tiers"),
    ("s4hana", "plants"),
}

_LIST_FIELDS: Final = {("auth", "algorithms"), ("tryton", "acknowledge_warnings")}
"""Comma-separated lists."""


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
    if path in _LIST_FIELDS:
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
        "process": ProcessSettings,
        "events": EventSettings,
        "containment": ContainmentSettings,
        "s4hana": S4HanaSettings,
        "tryton": TrytonSettings,
        "observability": ObservabilitySettings,
        "circuit": CircuitSettings,
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
    allowed = _allowed_values(path)
    if allowed is not None and what.startswith("Invalid enum value"):
        what += f" (one of: {', '.join(allowed)})"
    return f"invalid setting {_setting_label(path)}: {what}"


def _allowed_values(dotted: str) -> list[str] | None:
    """The values an enumeration setting takes (None when the setting is no enumeration)."""
    current: Any = Settings
    for part in dotted.split("."):
        if not (isinstance(current, type) and issubclass(current, msgspec.Struct)):
            return None
        types = {field.name: field.type for field in msgspec.structs.fields(current)}
        if part not in types:
            return None
        current = types[part]
    if isinstance(current, type) and issubclass(current, enum.Enum):
        return [str(member.value) for member in current]
    return None
