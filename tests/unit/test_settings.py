"""Settings: environment and TOML parsing, precedence, errors that name the setting, and the
production-mode refusal that lists every problem at once."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from shared.auth import ClientConfig
from shared.composition import create_layer
from shared.settings import (
    AuthSettings,
    DevIssuerSettings,
    ErpKind,
    LayerSettings,
    Mode,
    QmsKind,
    RateLimitSettings,
    Settings,
    SettingsError,
    StoreKind,
    load_settings,
    setting_names,
    validate_for_mode,
)

#: A production configuration with nothing to refuse (for the layers that need no secret).
PROD_OK = {
    "QGATE_MODE": "prod",
    "QGATE_STORE": "redis",
    "QGATE_REDIS_URL": "redis://redis.internal:6379/0",
    "QGATE_DEV_ISSUER_ENABLED": "false",
    "QGATE_AUTH_ISSUER": "https://idp.example.com",
}


def prod_settings(**layers: str) -> Settings:
    return Settings(
        mode=Mode.PROD,
        store=StoreKind.REDIS,
        dev_issuer=DevIssuerSettings(enabled=False),
        auth=AuthSettings(issuer="https://idp.example.com"),
        layers=LayerSettings(**layers),  # type: ignore[arg-type]
    )


def write_toml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "qgate.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- environment ---------------------------------------------------------------------------


def test_defaults_without_any_variable() -> None:
    settings = load_settings({})
    assert settings == Settings()
    assert settings.mode is Mode.DEV
    assert settings.jwks_url == "http://127.0.0.1:8000/.well-known/jwks.json"
    assert settings.token_url == "http://127.0.0.1:8000/oauth/token"


def test_nested_names_and_scalars_from_strings() -> None:
    settings = load_settings(
        {
            "QGATE_PORT": "9100",
            "QGATE_HOST": "0.0.0.0",
            "QGATE_AUTH_AUDIENCE": "qgate-test",
            "QGATE_AUTH_LEEWAY_SECONDS": "5",
            "QGATE_AUTH_JWKS_MIN_REFETCH_SECONDS": "2.5",
            "QGATE_DEV_ISSUER_ENABLED": "false",
            "QGATE_DEV_ISSUER_TOKEN_TTL_SECONDS": "60",
            "QGATE_RATE_LIMIT_ENABLED": "0",
            "QGATE_RATE_LIMIT_FAIL_OPEN": "FALSE",
            "QGATE_IDEMPOTENCY_RETENTION_SECONDS": "3600",
            "QGATE_LAYERS_TIMEOUT_SECONDS": "1.5",
            "QGATE_LAYERS_PROCESS_URL": "http://process:8002",
            "QGATE_STORE": "redis",
        }
    )
    assert settings.port == 9100
    assert settings.host == "0.0.0.0"
    assert settings.auth.audience == "qgate-test"
    assert settings.auth.leeway_seconds == 5
    assert settings.auth.jwks_min_refetch_seconds == 2.5
    assert settings.dev_issuer.enabled is False
    assert settings.dev_issuer.token_ttl_seconds == 60
    assert settings.rate_limit.enabled is False
    assert settings.rate_limit.fail_open is False
    assert settings.idempotency.retention_seconds == 3600
    assert settings.layers.timeout_seconds == 1.5
    assert settings.layers.process_url == "http://process:8002"
    assert settings.store is StoreKind.REDIS


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("False", False)])
def test_booleans_from_strings(raw: str, expected: bool) -> None:
    assert load_settings({"QGATE_RATE_LIMIT_ENABLED": raw}).rate_limit.enabled is expected


def test_json_tables_for_tiers_and_clients() -> None:
    tiers = {"standard": "5/minute", "operations": "10 per 2 seconds", "anonymous": "1/second"}
    clients = [
        {
            "client_id": "mes",
            "client_secret": "mes-secret-value",
            "scopes": ["plant.read"],
            "plants": ["3000"],
            "tier": "operations",
        }
    ]
    settings = load_settings(
        {
            "QGATE_RATE_LIMIT_TIERS": json.dumps(tiers),
            "QGATE_RATE_LIMIT_CLIENT_TIERS": json.dumps({"mes": "standard"}),
            "QGATE_DEV_ISSUER_CLIENTS": json.dumps(clients),
        }
    )
    # Configured tiers add to the built-in ones (here all three defaults are redefined).
    assert settings.rate_limit.tiers == {**RateLimitSettings().tiers, **tiers}
    assert settings.rate_limit.client_tiers == {"mes": "standard"}

    assert settings.dev_issuer.clients == [
        ClientConfig(
            client_id="mes",
            client_secret="mes-secret-value",
            scopes=["plant.read"],
            plants=["3000"],
            tier="operations",
        )
    ]


def test_configured_tiers_add_to_the_built_in_ones() -> None:
    settings = load_settings({"QGATE_RATE_LIMIT_TIERS": json.dumps({"standard": "5/minute"})})
    assert settings.rate_limit.tiers["standard"] == "5/minute"
    assert settings.rate_limit.tiers["service"] == RateLimitSettings().tiers["service"]
    assert settings.rate_limit.tiers["anonymous"] == RateLimitSettings().tiers["anonymous"]


def test_comma_list_for_algorithms() -> None:
    settings = load_settings({"QGATE_AUTH_ALGORITHMS": " RS256, PS256 ,,ES384 "})
    assert settings.auth.algorithms == ["RS256", "PS256", "ES384"]


def test_table_that_is_not_json_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="QGATE_RATE_LIMIT_TIERS must be JSON"):
        load_settings({"QGATE_RATE_LIMIT_TIERS": "standard=5/minute"})


# --- TOML file --------------------------------------------------------------------------------


def test_toml_file_with_env_overriding_it(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
port = 7000
log_level = "DEBUG"

[auth]
audience = "from-file"
leeway_seconds = 10

[rate_limit.tiers]
standard = "50/minute"
operations = "500/minute"
anonymous = "5/minute"
service = "5000/minute"
""",
    )
    settings = load_settings(
        {"QGATE_CONFIG_FILE": path, "QGATE_PORT": "7001", "QGATE_AUTH_LEEWAY_SECONDS": "3"}
    )
    assert settings.port == 7001  # env wins
    assert settings.auth.leeway_seconds == 3  # env wins inside a section
    assert settings.auth.audience == "from-file"  # the rest of the section stays
    assert settings.log_level == "DEBUG"
    assert settings.rate_limit.tiers["standard"] == "50/minute"


def test_missing_or_broken_toml_file(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.toml")
    with pytest.raises(SettingsError, match=r"QGATE_CONFIG_FILE: .*absent\.toml does not exist"):
        load_settings({"QGATE_CONFIG_FILE": missing})
    broken = write_toml(tmp_path, "port = = 1\n")
    with pytest.raises(SettingsError, match=r"QGATE_CONFIG_FILE: .* is not valid TOML"):
        load_settings({"QGATE_CONFIG_FILE": broken})


# --- unknown keys -----------------------------------------------------------------------------


def test_unknown_key_in_toml_section_is_rejected(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[auth]\naudiance = "qgate"\n')
    with pytest.raises(SettingsError) as info:
        load_settings({"QGATE_CONFIG_FILE": path})
    assert "unknown setting 'auth.audiance'" in str(info.value)
    assert "did you mean auth.audience?" in str(info.value)


def test_unknown_top_level_key_in_toml_is_rejected(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "prot = 8080\n")
    with pytest.raises(SettingsError, match="unknown setting 'prot'"):
        load_settings({"QGATE_CONFIG_FILE": path})


def test_unknown_environment_variable_is_rejected() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"QGATE_AUTH_AUDIENC": "qgate", "PATH": "/usr/bin"})
    message = str(info.value)
    assert "unknown settings in the environment: QGATE_AUTH_AUDIENC" in message
    assert "did you mean QGATE_AUTH_AUDIENCE?" in message


def test_unknown_client_field_is_rejected() -> None:
    # A misspelt tenancy claim must not silently give a client access to every supplier.
    clients = [{"client_id": "p", "client_secret": "s", "scopes": [], "supplierid": "SUP-1"}]
    with pytest.raises(SettingsError, match=r"dev_issuer\.clients\[0\]\.supplierid"):
        load_settings({"QGATE_DEV_ISSUER_CLIENTS": json.dumps(clients)})


# --- bad values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"QGATE_PORT": "eighty"}, "QGATE_PORT"),
        ({"QGATE_PORT": "70000"}, "QGATE_PORT"),
        ({"QGATE_MODE": "staging"}, "QGATE_MODE"),
        ({"QGATE_STORE": "postgres"}, "QGATE_STORE"),
        ({"QGATE_DEV_ISSUER_ENABLED": "maybe"}, "QGATE_DEV_ISSUER_ENABLED"),
        ({"QGATE_DEV_ISSUER_TOKEN_TTL_SECONDS": "0"}, "QGATE_DEV_ISSUER_TOKEN_TTL_SECONDS"),
        ({"QGATE_AUTH_LEEWAY_SECONDS": "-1"}, "QGATE_AUTH_LEEWAY_SECONDS"),
        ({"QGATE_LAYERS_TIMEOUT_SECONDS": "0"}, "QGATE_LAYERS_TIMEOUT_SECONDS"),
        ({"QGATE_IDEMPOTENCY_IN_FLIGHT_SECONDS": "soon"}, "QGATE_IDEMPOTENCY_IN_FLIGHT_SECONDS"),
        ({"QGATE_RATE_LIMIT_TIERS": '{"standard": 5}'}, "QGATE_RATE_LIMIT_TIERS"),
        ({"QGATE_DEV_ISSUER_CLIENTS": '[{"client_id": "x"}]'}, "QGATE_DEV_ISSUER_CLIENTS"),
        ({"QGATE_LOG_FORMAT": "xml"}, "QGATE_LOG_FORMAT"),
        ({"QGATE_LOG_LEVEL": "LOUD"}, "QGATE_LOG_LEVEL"),
        ({"QGATE_AUTH_ALGORITHMS": "HS256"}, "QGATE_AUTH_ALGORITHMS"),
    ],
)
def test_bad_value_names_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        load_settings(env)


def test_bad_rate_limit_tiers_are_settings_errors() -> None:
    tiers = {"standard": "lots", "operations": "0/minute", "anonymous": "5/minute"}
    with pytest.raises(SettingsError) as info:
        load_settings(
            {
                "QGATE_RATE_LIMIT_TIERS": json.dumps(tiers),
                "QGATE_RATE_LIMIT_DEFAULT_TIER": "gold",
            }
        )
    message = str(info.value)
    assert "tier 'standard' has 'lots'" in message
    assert "tier 'operations' has '0/minute'" in message
    assert "QGATE_RATE_LIMIT_DEFAULT_TIER: rate-limit tier 'gold' is not defined" in message


def test_every_tier_a_client_uses_must_be_defined() -> None:
    # A client in an undefined tier is refused at start-up rather than failing inside the app
    # factory. (Configured tiers add to the built-in ones, so only a new name can be missing.)
    tiers = {"standard": "5/minute", "anonymous": "5/minute"}
    clients = [{"client_id": "mes", "client_secret": "s", "scopes": [], "tier": "gold"}]
    with pytest.raises(SettingsError, match=r"\['mes'\]\.tier: rate-limit tier 'gold'"):
        load_settings(
            {
                "QGATE_RATE_LIMIT_TIERS": json.dumps(tiers),
                "QGATE_DEV_ISSUER_CLIENTS": json.dumps(clients),
            }
        )
    # Without the dev issuer its clients do not matter.
    settings = load_settings(
        {
            **PROD_OK,
            "QGATE_RATE_LIMIT_TIERS": json.dumps(tiers),
            "QGATE_DEV_ISSUER_CLIENTS": json.dumps(clients),
        },
        layer="system",
    )
    assert settings.rate_limit.tiers["standard"] == "5/minute"


def test_limits_notation_with_words_is_accepted() -> None:
    tiers = {
        "standard": "10 per 2 seconds",
        "operations": "1/second",
        "anonymous": "3/minute",
        "service": "100 per 1 second",
    }
    settings = load_settings({"QGATE_RATE_LIMIT_TIERS": json.dumps(tiers)})
    assert settings.rate_limit.tiers["standard"] == "10 per 2 seconds"


# --- production mode --------------------------------------------------------------------------


def test_prod_refuses_insecure_defaults_listing_every_problem() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({"QGATE_MODE": "prod"})
    message = str(info.value)
    assert message.startswith("qgate refuses to start in prod mode:")
    assert "QGATE_DEV_ISSUER_ENABLED=false" in message
    assert "QGATE_STORE=redis" in message
    assert "QGATE_AUTH_ISSUER must be an https:// URL" in message
    assert message.count("\n  - ") == 3


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"QGATE_DEV_ISSUER_ENABLED": "true"}, "development token issuer is enabled"),
        ({"QGATE_STORE": "memory"}, "in-memory stores"),
        ({"QGATE_AUTH_ISSUER": "http://idp.example.com"}, "must be an https:// URL"),
        ({"QGATE_ERP": "s4hana-sim"}, "QGATE_ERP=s4hana-sim is the development simulator"),
        ({"QGATE_QMS": "s4hana-sim"}, "QGATE_QMS=s4hana-sim is the development simulator"),
        ({"QGATE_ERP": "s4hana"}, "QGATE_S4HANA_PASSWORD is the default"),
        ({"QGATE_QMS": "s4hana"}, "QGATE_S4HANA_PASSWORD is the default"),
        (
            {"QGATE_ERP": "s4hana", "QGATE_S4HANA_AUTH": "oauth2"},
            "needs QGATE_S4HANA_TOKEN_URL",
        ),
        (
            {
                "QGATE_ERP": "s4hana",
                "QGATE_S4HANA_PASSWORD": "x",
                "QGATE_S4HANA_BASE_URL": "http://s4",
            },
            "QGATE_S4HANA_BASE_URL must be an https:// URL",
        ),
        ({"QGATE_ERP": "tryton"}, "QGATE_TRYTON_PASSWORD is the demo database's password"),
        ({"QGATE_QMS": "tryton"}, "QGATE_TRYTON_PASSWORD is the demo database's password"),
    ],
)
def test_prod_refuses_each_insecure_setting(override: dict[str, str], expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings({**PROD_OK, **override})
    assert expected in str(info.value)
    assert str(info.value).count("\n  - ") == 1


def test_prod_accepts_a_secure_configuration() -> None:
    settings = load_settings(PROD_OK, layer="system")
    assert settings.mode is Mode.PROD
    assert settings.store is StoreKind.REDIS


def test_prod_accepts_s4hana_with_its_own_password() -> None:
    settings = load_settings(
        {**PROD_OK, "QGATE_ERP": "s4hana", "QGATE_S4HANA_PASSWORD": "set-by-ops"}, layer="system"
    )
    assert settings.erp is ErpKind.S4HANA


def test_prod_accepts_tryton_with_its_own_password() -> None:
    settings = load_settings(
        {**PROD_OK, "QGATE_ERP": "tryton", "QGATE_QMS": "tryton", "QGATE_TRYTON_PASSWORD": "ops"},
        layer="system",
    )
    assert (settings.erp, settings.qms) == (ErpKind.TRYTON, QmsKind.TRYTON)
    assert settings.tryton.password == "ops"


@pytest.mark.parametrize(
    ("layer", "variable"),
    [
        ("process", "QGATE_LAYERS_PROCESS_CLIENT_SECRET"),
        ("experience", "QGATE_LAYERS_EXPERIENCE_CLIENT_SECRET"),
    ],
)
def test_prod_layer_without_service_secret_lists_it_with_the_rest(
    layer: str, variable: str
) -> None:
    # Everything wrong at once: dev issuer, memory store, http issuer and the missing secret.
    with pytest.raises(SettingsError) as info:
        load_settings({"QGATE_MODE": "prod"}, layer=layer)
    message = str(info.value)
    assert f"{variable} is missing" in message
    assert "development token issuer is enabled" in message
    assert "in-memory stores" in message
    assert "https://" in message
    assert message.count("\n  - ") == 4

    # The app factory refuses the same way: the whole list, not only the first problem.
    with pytest.raises(SettingsError) as built:
        create_layer(layer, Settings(mode=Mode.PROD))
    assert f"{variable} is missing" in str(built.value)
    assert "in-memory stores" in str(built.value)

    # Only the secret missing: the layer names exactly that.
    with pytest.raises(SettingsError) as only:
        create_layer(layer, prod_settings())
    assert f"{variable} is missing" in str(only.value)
    assert str(only.value).count("\n  - ") == 1


def test_prod_layer_with_its_secret_starts() -> None:
    settings = prod_settings(
        process_client_secret="process-from-vault",
        experience_client_secret="experience-from-vault",
    )
    validate_for_mode(settings, layer="all")
    app = create_layer("system", settings)
    assert app.state["settings"] is settings


def test_dev_layer_takes_its_secret_from_the_dev_issuer() -> None:
    settings = Settings()
    assert settings.service_secret("process-service", None) == "process-service-secret"
    validate_for_mode(settings, layer="all")
    no_issuer = Settings(dev_issuer=DevIssuerSettings(enabled=False))
    with pytest.raises(SettingsError, match="QGATE_LAYERS_EXPERIENCE_CLIENT_SECRET is missing"):
        validate_for_mode(no_issuer, layer="experience")


def test_client_tiers_must_name_defined_tiers() -> None:
    tiers = dict.fromkeys(RateLimitSettings().tiers, "1/minute")
    settings = Settings(
        rate_limit=RateLimitSettings(tiers=tiers, client_tiers={"plant-app": "undefined-tier"})
    )
    with pytest.raises(SettingsError) as info:
        validate_for_mode(settings)
    assert "QGATE_RATE_LIMIT_CLIENT_TIERS['plant-app']: rate-limit tier 'undefined-tier'" in str(
        info.value
    )
    assert str(info.value).count("\n  - ") == 1
    validate_for_mode(Settings(rate_limit=RateLimitSettings(tiers=tiers)))


# --- setting_names ----------------------------------------------------------------------------


def test_setting_names_cover_every_field() -> None:
    names = dict(setting_names())
    expected: set[str] = set()
    for field in Settings.__struct_fields__:
        default = getattr(Settings(), field)
        if isinstance(default, msgspec.Struct):
            expected.update(f"{field}.{sub}" for sub in type(default).__struct_fields__)
        else:
            expected.add(field)
    assert set(names.values()) == expected
    assert len(names) == len(expected)  # one variable per setting, no clashes
    for env_name, dotted in names.items():
        assert env_name == "QGATE_" + dotted.replace(".", "_").upper()
    assert names["QGATE_RATE_LIMIT_CLIENT_TIERS"] == "rate_limit.client_tiers"
    assert names["QGATE_DEV_ISSUER_ENABLED"] == "dev_issuer.enabled"


def test_every_setting_name_is_read_from_the_environment() -> None:
    # Each variable is accepted (no "unknown setting") and lands on its field.
    samples = {
        "mode": "dev",
        "store": "redis",
        "log_format": "text",
        "log_level": "warning",
        "erp": "s4hana-sim",
        "qms": "tryton",
        "tryton.company": "2",
        "tryton.acknowledge_warnings": "*.check_move_quantity,*.done",
        "s4hana.auth": "oauth2",
        "s4hana.plants": json.dumps({"3000": {"country": "FR", "storage_location": "0003"}}),
        "auth.algorithms": "RS256",
        "process.result_policy": "apply",
        "rate_limit.tiers": json.dumps(
            {
                "standard": "1/minute",
                "operations": "1/minute",
                "anonymous": "1/minute",
                "service": "1/second",
            }
        ),
        "rate_limit.client_tiers": json.dumps({"plant-app": "operations"}),
        "rate_limit.default_tier": "operations",
        "rate_limit.anonymous_tier": "operations",
        "dev_issuer.clients": json.dumps(
            [{"client_id": "c", "client_secret": "s", "scopes": ["erp.read"]}]
        ),
    }
    defaults = msgspec.to_builtins(Settings())
    for env_name, dotted in setting_names():
        section, _, sub = dotted.partition(".")
        default = defaults[section][sub] if sub else defaults[section]
        if dotted in samples:
            raw = samples[dotted]
        elif isinstance(default, bool):
            raw = "false" if default else "true"
        elif isinstance(default, int | float):
            raw = str(default + 1)
        else:
            raw = f"https://changed.example/{dotted}"
        settings = load_settings({env_name: raw})
        value = msgspec.to_builtins(settings)
        got = value[section][sub] if sub else value[section]
        # prod needs more than one variable.
        assert got != default or dotted == "mode", dotted


def test_the_erp_and_qms_connectors_are_chosen_by_name() -> None:
    settings = load_settings({"QGATE_ERP": "reference", "QGATE_QMS": "reference"})
    assert settings.erp is ErpKind.REFERENCE
    assert settings.qms is QmsKind.REFERENCE
    with pytest.raises(SettingsError, match="QGATE_ERP") as raised:
        load_settings({"QGATE_ERP": "sap-r3"})
    assert "reference" in str(raised.value)
