"""The checks a configuration must pass for its mode and deployment shape."""

from __future__ import annotations

import logging
import re
from typing import Final

import limits

from shared.auth.verifier import SUPPORTED_ALGORITHMS
from shared.settings._model import (
    S4HANA_DEFAULT_PASSWORD,
    TRYTON_DEFAULT_PASSWORD,
    ErpKind,
    Mode,
    QmsKind,
    S4HanaAuth,
    Settings,
    SettingsError,
    StoreKind,
)

__all__ = ["validate_for_mode"]


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


def _s4hana_problems(settings: Settings) -> list[str]:
    """Production refusals of the S/4HANA connector's settings."""
    problems = [
        f"QGATE_{name}=s4hana-sim is the development simulator: use s4hana in production"
        for name, simulated in (
            ("ERP", settings.erp is ErpKind.S4HANA_SIM),
            ("QMS", settings.qms is QmsKind.S4HANA_SIM),
        )
        if simulated
    ]
    if problems or (settings.erp is not ErpKind.S4HANA and settings.qms is not QmsKind.S4HANA):
        return problems
    s4 = settings.s4hana
    if s4.auth is S4HanaAuth.BASIC and s4.password == S4HANA_DEFAULT_PASSWORD:
        problems.append(
            "QGATE_S4HANA_PASSWORD is the default development password: set the communication "
            "user's password (or QGATE_S4HANA_AUTH=oauth2)"
        )
    if s4.auth is S4HanaAuth.OAUTH2 and not (s4.token_url and s4.client_id and s4.client_secret):
        problems.append(
            "QGATE_S4HANA_AUTH=oauth2 needs QGATE_S4HANA_TOKEN_URL, QGATE_S4HANA_CLIENT_ID and "
            "QGATE_S4HANA_CLIENT_SECRET"
        )
    if not s4.base_url.startswith("https://"):
        problems.append("QGATE_S4HANA_BASE_URL must be an https:// URL in production")
    return problems


def _tryton_problems(settings: Settings) -> list[str]:
    """Production refusal of the Tryton connectors' demo password."""
    uses = settings.erp is ErpKind.TRYTON or settings.qms is QmsKind.TRYTON
    if uses and settings.tryton.password == TRYTON_DEFAULT_PASSWORD:
        return [
            "QGATE_TRYTON_PASSWORD is the demo database's password: set the Tryton user's password"
        ]
    return []


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
        problems.extend(_s4hana_problems(settings))
        problems.extend(_tryton_problems(settings))
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
