"""The settings Structs: one per section, and :class:`Settings` holding them all."""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

from shared.auth.clients import ClientConfig, demo_clients

__all__ = [
    "S4HANA_DEFAULT_PASSWORD",
    "TRYTON_DEFAULT_PASSWORD",
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
]

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


class ErpKind(enum.StrEnum):
    """Which ERP connector the system layer uses (``QGATE_ERP``)."""

    REFERENCE = "reference"
    S4HANA = "s4hana"
    """SAP S/4HANA over its OData v2 APIs (``QGATE_S4HANA_*``)."""
    S4HANA_SIM = "s4hana-sim"
    """The bundled S/4HANA simulator, in-process, seeded with the demo data (development)."""
    TRYTON = "tryton"
    """A Tryton server over JSON-RPC (``QGATE_TRYTON_*``)."""


class QmsKind(enum.StrEnum):
    """Which QMS connector the system layer uses (``QGATE_QMS``)."""

    REFERENCE = "reference"
    S4HANA = "s4hana"
    """SAP QM in S/4HANA: inspection lots, results and usage decisions over
    API_INSPECTIONLOT_SRV (``QGATE_S4HANA_*``; the same system as an S/4HANA ERP)."""
    S4HANA_SIM = "s4hana-sim"
    """The bundled S/4HANA simulator's QM (shared with ``QGATE_ERP=s4hana-sim``)."""
    TRYTON = "tryton"
    """Tryton's quality module (``QGATE_TRYTON_*``; the same server as a Tryton ERP)."""


class ResultPolicy(enum.StrEnum):
    """What recording an inspection's results does with the disposition it suggests."""

    PROPOSE = "propose"
    """Answer the proposed disposition; a person requests it."""
    APPLY = "apply"
    """Request the proposed disposition on behalf of the caller who recorded the results."""


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


_Seconds = Annotated[float, msgspec.Meta(gt=0, le=86_400)]


class ProcessSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The process layer's policies: retries of pending dispositions, results, supplier status."""

    retry_base_seconds: _Seconds = 2.0
    """Delay before the first retry of a disposition a system could not take; doubles per
    attempt (with jitter) up to ``retry_max_seconds``."""
    retry_max_seconds: _Seconds = 300.0
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    """Attempts before a disposition is FAILED (visible, and retryable by operations)."""
    worker_interval_seconds: _Seconds = 1.0
    """How often the worker looks for dispositions that are due."""
    worker_enabled: bool = True
    """Run the retry worker in this process (every replica may; a lease keeps them apart)."""
    lease_seconds: _Seconds = 30.0
    """How long one replica owns a disposition while applying it; keep it above the worst
    latency of the calls to the system layer."""
    result_policy: ResultPolicy = ResultPolicy.PROPOSE
    """Recording inspection results: ``propose`` the disposition, or ``apply`` it."""
    quality_window_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] = 365
    """The window of inspections the supplier rejection rate (ppm) is computed over."""
    conditional_ppm: Annotated[float, msgspec.Meta(ge=0)] = 1_000.0
    """Rejection rate above which a supplier is CONDITIONAL."""
    probation_ppm: Annotated[float, msgspec.Meta(ge=0)] = 10_000.0
    """Rejection rate above which a supplier is on PROBATION."""


class ContainmentSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The supplier containment saga, procurement holds and webhook deliveries."""

    enabled: bool = True
    """Start a containment case for every failed incoming inspection (the bus consumer)."""
    retry_base_seconds: _Seconds = 2.0
    """Delay before a failed step is tried again; doubles per attempt (with jitter)."""
    retry_max_seconds: _Seconds = 300.0
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 50
    """Attempts of one step before it waits for an operator (MANUAL)."""
    worker_interval_seconds: _Seconds = 1.0
    """How often the worker looks for steps and webhook deliveries that are due."""
    worker_enabled: bool = True
    """Run the containment and webhook worker in this process (a lease keeps replicas apart)."""
    lease_seconds: _Seconds = 30.0
    """How long one replica owns a case (or a delivery) while working on it."""
    sync_interval_seconds: _Seconds = 60.0
    """How often contained cases' nonconformance and CAPA are read from the QMS."""
    erp_supplier_block: bool = False
    """Also block the supplier's purchase orders and goods receipts in the ERP (supplier-wide,
    where the connector can); the item's hold is kept in qgate either way."""
    lift_requires_approval: bool = True
    """Lifting a hold once the CAPA is verified needs a second person's approval."""
    webhook_timeout_seconds: _Seconds = 10.0
    webhook_max_attempts: Annotated[int, msgspec.Meta(ge=1, le=1_000)] = 12
    """Attempts of one webhook delivery before it is FAILED (visible in the delivery log)."""
    webhook_retry_base_seconds: _Seconds = 5.0
    webhook_retry_max_seconds: _Seconds = 3_600.0


class S4HanaAuth(enum.StrEnum):
    """How qgate authenticates to S/4HANA (a communication user, or OAuth 2.0)."""

    BASIC = "basic"
    OAUTH2 = "oauth2"


S4HANA_DEFAULT_PASSWORD = "qgate-s4hana-dev"  # noqa: S105 - the simulator's development password


def _movement_types() -> dict[str, str]:
    # SAP's standard transfer postings; RESTRICTED and RETURNS moves have no standard movement
    # type and take the customer's own (9xx/Zxx) ones.
    return {
        "QUALITY_INSPECTION>AVAILABLE": "321",
        "AVAILABLE>QUALITY_INSPECTION": "322",
        "BLOCKED>AVAILABLE": "343",
        "AVAILABLE>BLOCKED": "344",
        "BLOCKED>QUALITY_INSPECTION": "349",
        "QUALITY_INSPECTION>BLOCKED": "350",
        "AVAILABLE>AVAILABLE": "311",
        "QUALITY_INSPECTION>QUALITY_INSPECTION": "323",
        "BLOCKED>BLOCKED": "325",
        "AVAILABLE>RESTRICTED": "Z21",
        "RESTRICTED>AVAILABLE": "Z22",
        "RESTRICTED>BLOCKED": "Z23",
        "BLOCKED>RESTRICTED": "Z24",
        "QUALITY_INSPECTION>RESTRICTED": "Z25",
        "AVAILABLE>RETURNS": "Z31",
        "BLOCKED>RETURNS": "Z32",
        "RESTRICTED>RETURNS": "Z33",
        "QUALITY_INSPECTION>RETURNS": "Z34",
        "RETURNS>BLOCKED": "Z35",
        "RETURNS>QUALITY_INSPECTION": "Z36",
        "RETURNS>AVAILABLE": "Z37",
        "RETURNS>RESTRICTED": "Z38",
        "AVAILABLE>SCRAP": "551",
        "QUALITY_INSPECTION>SCRAP": "553",
        "BLOCKED>SCRAP": "555",
        "RESTRICTED>SCRAP": "Z51",
        "RETURNS>SCRAP": "Z52",
        "RECEIPT": "101",
        "ISSUE": "201",
    }


class S4HanaPlant(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How one plant's SAP customizing says qgate's canonical terms (all customer-specific)."""

    country: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] = "ZZ"
    """The plant's country (API_PLANT_SRV does not publish it)."""
    storage_location: str = "0001"
    """Where receipts are posted and stock is kept."""
    rejected_storage_location: str = "0009"
    """Where REJECTED stock is moved (blocked stock in a separate storage location)."""
    purchasing_organization: str = "1010"
    stock_types: dict[str, str] = msgspec.field(
        default_factory=lambda: {
            "AVAILABLE": "01",
            "QUALITY_INSPECTION": "02",
            "RETURNS": "03",
            "BLOCKED": "07",
            "RESTRICTED": "08",
        }
    )
    """Canonical stock category -> SAP inventory stock type (``InventoryStockType``)."""
    movement_types: dict[str, str] = msgspec.field(default_factory=_movement_types)
    """``FROM>TO`` category (or ``FROM>SCRAP``, ``RECEIPT``, ``ISSUE``) -> movement type."""
    reason_codes: dict[str, str] = msgspec.field(
        default_factory=lambda: {
            "QUARANTINE": "0001",
            "RELEASED": "0002",
            "RESTRICTED": "0003",
            "BLOCKED": "0004",
            "REJECTED": "0005",
            "SCRAPPED": "0006",
            "RETURNED_TO_SUPPLIER": "0007",
        }
    )
    """Lot disposition -> reason for movement (``GoodsMovementReasonCode``) of its postings."""
    ud_catalog: str = "3"
    ud_selected_set: str = "01"
    ud_code_group: str = "01"
    ud_codes: dict[str, str] = msgspec.field(
        default_factory=lambda: {
            "RELEASED": "A1",
            "RESTRICTED": "A2",
            "BLOCKED": "R1",
            "REJECTED": "R2",
            "QUARANTINE": "R3",
            "SCRAPPED": "R4",
            "RETURNED_TO_SUPPLIER": "R5",
        }
    )
    """Lot disposition -> usage decision code (its valuation: A accept, R reject)."""
    ud_stock_types: dict[str, str] = msgspec.field(
        default_factory=lambda: {
            "AVAILABLE": "01",
            "BLOCKED": "07",
            "RESTRICTED": "08",
            "RETURNS": "03",
        }
    )
    """Canonical stock category -> usage decision stock posting (``UsageDecisionStockType``)."""
    critical_weightings: list[str] = msgspec.field(default_factory=lambda: ["01"])
    """Characteristic weightings (``InspSpecImportanceCode``) that make a characteristic
    critical: rejecting one fails the inspection, any other gives a conditional pass."""


def _demo_plants() -> dict[str, S4HanaPlant]:
    return {"1000": S4HanaPlant(country="DE"), "2000": S4HanaPlant(country="US")}


class S4HanaSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The SAP S/4HANA connector (``QGATE_ERP=s4hana``) and its simulator (``s4hana-sim``)."""

    base_url: str = "https://s4hana.example.com"
    """Where the OData services live (``/sap/opu/odata/sap/<SERVICE>`` is appended)."""
    auth: S4HanaAuth = S4HanaAuth.BASIC
    user: str = "QGATE_COMM"
    """The communication user (basic auth)."""
    password: str = S4HANA_DEFAULT_PASSWORD
    """The communication user's password (refused in production while it is the default)."""
    token_url: str | None = None
    """OAuth 2.0 token endpoint (client credentials)."""
    client_id: str | None = None
    client_secret: str | None = None
    sap_client: str | None = None
    """``sap-client`` query parameter (on-premise systems with several clients)."""
    language: str = "EN"
    """The language SAP writes its messages in (``Accept-Language``; shown in 409 details)."""
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=600)] = 30.0
    page_size: Annotated[int, msgspec.Meta(ge=1, le=5000)] = 500
    """``$top`` of each OData request; the connector follows ``__next`` for the rest."""
    plants: dict[str, S4HanaPlant] = msgspec.field(default_factory=_demo_plants)
    """Plant -> its mapping tables (JSON); a plant not listed uses the defaults."""


TRYTON_DEFAULT_PASSWORD = "qgate-tryton-dev"  # noqa: S105 - the demo database's admin password


class TrytonSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The Tryton connectors (``QGATE_ERP=tryton`` / ``QGATE_QMS=tryton``), over JSON-RPC."""

    url: str = "http://127.0.0.1:8080"
    """Where ``trytond`` listens (``/<database>/rpc/`` is appended)."""
    database: str = "qgate"
    login: str = "admin"
    password: str = TRYTON_DEFAULT_PASSWORD
    """The Tryton user's password (refused in production while it is the demo's)."""
    company: Annotated[int, msgspec.Meta(ge=1)] | None = None
    """The company (``company.company`` id) to work in; default: the user's current company."""
    acknowledge_warnings: list[str] = msgspec.field(
        default_factory=lambda: ["*.check_move_quantity"]
    )
    """Tryton warnings qgate may acknowledge for the user (glob patterns of warning names);
    any other warning refuses the change (409). The default lets a receipt over the ordered
    quantity through (qgate itself refuses more than 10 % over)."""
    timeout_seconds: Annotated[float, msgspec.Meta(gt=0, le=600)] = 30.0


class EventSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The event bus (Redis Streams with ``QGATE_STORE=redis``, else in memory): delivery,
    retries, dead letters, deduplication, and the outbox relay."""

    max_deliveries: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 5
    """Deliveries of an event to a consumer group before it goes to the dead-letter stream."""
    retry_base_seconds: _Seconds = 1.0
    """Delay before an event a handler failed on is delivered again; doubles per delivery
    (with jitter) up to ``retry_max_seconds``."""
    retry_max_seconds: _Seconds = 60.0
    claim_idle_seconds: _Seconds = 300.0
    """An event delivered this long ago and not acknowledged (its consumer died) is claimed by
    another consumer of the group; keep it above the slowest handler and ``retry_max_seconds``."""
    block_ms: Annotated[int, msgspec.Meta(ge=1, le=60_000)] = 1000
    """How long a consumer waits for new events per read (also the stop latency)."""
    batch_size: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 16
    """Events a consumer reads at a time."""
    stream_maxlen: Annotated[int, msgspec.Meta(ge=100)] = 100_000
    """Approximate length a stream (and its dead-letter stream) is trimmed to."""
    dedup_ttl_seconds: Annotated[int, msgspec.Meta(ge=60)] = 604_800
    """How long a group remembers the ids of events it processed (duplicates are skipped)."""
    consumer_name: str | None = None
    """This replica's consumer name in every group; default ``<host>-<pid>-<random>``."""
    consumers_enabled: bool = True
    """Run this replica's event consumers (and outbox relay)."""
    outbox_interval_seconds: _Seconds = 0.2
    """How often the outbox relay moves events written with a state change to the bus."""


class ObservabilitySettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Metrics at ``/metrics`` and the thresholds of the shipped alert rules.

    Tracing is configured by the standard ``OTEL_*`` variables, not here (see README).
    """

    metrics_enabled: bool = True
    """Serve ``/metrics`` (and ``/<layer>/metrics``); the figures are collected either way."""
    metrics_token: str | None = None
    """When set, ``/metrics`` answers only ``Authorization: Bearer <this token>`` (Prometheus'
    ``authorization`` scrape option); unset, it is open like the health probes."""
    pending_erp_alert_seconds: Annotated[float, msgspec.Meta(gt=0)] = 900.0
    """Policy: a disposition (a blocked lot) awaiting ERP confirmation longer alerts."""
    consumer_lag_alert: Annotated[int, msgspec.Meta(ge=1)] = 1_000
    """Events not yet delivered to a consumer group above which an alert fires."""
    containment_alert_seconds: Annotated[float, msgspec.Meta(gt=0)] = 14_400.0
    """The 95th percentile of containment time above which an alert fires."""
    error_percent_alert: Annotated[float, msgspec.Meta(gt=0, le=100)] = 5.0
    """Percentage of 5xx answers of a layer (over 5 minutes) above which an alert fires."""
    rate_limit_alert_per_second: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    """429 answers per second for one client (over 5 minutes) above which an alert fires."""


class CircuitSettings(_Section, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The circuit breaker the system layer keeps per backend (ERP, QMS)."""

    enabled: bool = True
    failure_threshold: Annotated[int, msgspec.Meta(ge=1, le=1_000)] = 5
    """Consecutive retryable failures (unavailable, timeout) that open the circuit."""
    open_seconds: Annotated[float, msgspec.Meta(gt=0, le=3_600)] = 30.0
    """How long an open circuit answers 503 at once before one trial call (half-open)."""


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
    erp: ErpKind = ErpKind.REFERENCE
    """The ERP behind the system layer: ``reference`` (bundled, seeded with demo data),
    ``s4hana`` (SAP S/4HANA), ``s4hana-sim`` (the bundled S/4HANA simulator) or ``tryton``."""
    qms: QmsKind = QmsKind.REFERENCE
    """The QMS behind the system layer: ``reference`` (bundled, seeded with demo data),
    ``s4hana`` (SAP QM), ``s4hana-sim`` (the simulator's QM) or ``tryton`` (Tryton's quality
    module)."""
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    dev_issuer: DevIssuerSettings = msgspec.field(default_factory=DevIssuerSettings)
    rate_limit: RateLimitSettings = msgspec.field(default_factory=RateLimitSettings)
    idempotency: IdempotencySettings = msgspec.field(default_factory=IdempotencySettings)
    layers: LayerSettings = msgspec.field(default_factory=LayerSettings)
    process: ProcessSettings = msgspec.field(default_factory=ProcessSettings)
    events: EventSettings = msgspec.field(default_factory=EventSettings)
    containment: ContainmentSettings = msgspec.field(default_factory=ContainmentSettings)
    s4hana: S4HanaSettings = msgspec.field(default_factory=S4HanaSettings)
    tryton: TrytonSettings = msgspec.field(default_factory=TrytonSettings)
    observability: ObservabilitySettings = msgspec.field(default_factory=ObservabilitySettings)
    circuit: CircuitSettings = msgspec.field(default_factory=CircuitSettings)

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
