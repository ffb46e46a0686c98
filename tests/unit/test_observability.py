"""Metrics: a registry per layer, scrape-time gauges, /metrics and its token, the alerting rules
(checked by promtool), and the connectors' instrumentation and circuit breaker."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, cast

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from shared.cli import main
from shared.composition import create_layer
from shared.errors import BackendRejected, DownstreamTimeout, DownstreamUnavailable, NotFound
from shared.observability import (
    CONSUMER_LAG,
    DEAD_LETTERS,
    EXAMPLE_RULES,
    LayerMetrics,
    alert_rules,
    render_rules,
)
from shared.settings import CircuitSettings, ObservabilitySettings, Settings
from system_apis.connectors._instrumented import (
    CircuitBreaker,
    CircuitOpen,
    CircuitState,
    instrument_erp,
)
from system_apis.connectors.base import ErpConnector
from tests.integration.test_pipeline import lifespan

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    """Every sample of an exposition, keyed by name and labels."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, frozenset(labels.items())))


async def test_each_layer_counts_only_its_own_figures_and_labels_them_with_its_name() -> None:
    system, process = LayerMetrics("system"), LayerMetrics("process")
    system.observe_request("erpWhoAmI", "GET", 200, 0.01)
    system.observe_request("erpWhoAmI", "GET", 200, 0.02)
    process.observe_request("qualityWhoAmI", "GET", 503, 0.5)

    text = (await system.render()).decode()
    labels = {"layer": "system", "operation": "erpWhoAmI", "method": "GET", "status": "200"}
    assert value(text, "qgate_http_requests_total", **labels) == 2
    assert (
        value(
            text,
            "qgate_http_request_duration_seconds_count",
            layer="system",
            operation="erpWhoAmI",
            status="200",
        )
        == 2
    )
    assert "qualityWhoAmI" not in text
    assert "_created" not in text  # creation timestamps are left out
    other = (await process.render()).decode()
    assert value(other, "qgate_http_requests_total", **{**labels, "layer": "process"}) is None
    assert (
        value(
            other,
            "qgate_http_requests_total",
            layer="process",
            operation="qualityWhoAmI",
            method="GET",
            status="503",
        )
        == 1
    )


async def test_gauge_callbacks_are_read_at_each_scrape_and_a_failing_one_drops_its_series() -> None:
    metrics = LayerMetrics("process")
    depth = {"qgate.events": 0}

    async def dead_letters() -> Mapping[tuple[str, ...], float]:
        return {(stream,): n for stream, n in depth.items()}

    async def broken() -> Mapping[tuple[str, ...], float]:
        raise ConnectionError("redis is down")

    metrics.register_gauge(DEAD_LETTERS, dead_letters)
    metrics.register_gauge(CONSUMER_LAG, broken)
    first = (await metrics.render()).decode()
    assert value(first, "qgate_dead_letters", layer="process", stream="qgate.events") == 0
    depth["qgate.events"] = 3
    second = (await metrics.render()).decode()
    assert value(second, "qgate_dead_letters", layer="process", stream="qgate.events") == 3
    assert not [key for key in samples(second) if key[0] == "qgate_consumer_lag"]
    errors = "qgate_metric_callback_errors_total"
    assert value(second, errors, layer="process", metric="qgate_consumer_lag") == 2
    with pytest.raises(ValueError, match="qgate_dead_letters"):
        metrics.register_gauge(DEAD_LETTERS, dead_letters)


async def test_business_counters_and_histograms_other_features_update() -> None:
    metrics = LayerMetrics("process")
    metrics.sync_sla_breaches.labels(workflow="nc-sync", plant="1000").inc()
    metrics.containment_time.labels(plant="1000").observe(1200)
    text = (await metrics.render()).decode()
    breaches = "qgate_sync_sla_breaches_total"
    assert value(text, breaches, layer="process", workflow="nc-sync", plant="1000") == 1
    buckets = "qgate_containment_time_seconds_bucket"
    assert value(text, buckets, layer="process", plant="1000", le="900.0") == 0
    assert value(text, buckets, layer="process", plant="1000", le="1800.0") == 1


def layer_settings(**observability: Any) -> Settings:
    return Settings(observability=ObservabilitySettings(**observability))


async def scrape(settings: Settings, path: str, **headers: str) -> httpx.Response:
    app = create_layer("system", settings)
    transport = httpx.ASGITransport(app=cast("Any", app))
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        return await http.get(path, headers=headers)


async def test_metrics_are_served_without_a_token_at_both_paths() -> None:
    for path in ("/metrics", "/system/metrics"):
        answer = await scrape(layer_settings(), path)
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        circuit = "qgate_connector_circuit_state"
        assert value(answer.text, circuit, layer="system", backend="reference-erp") == 0
        assert "RateLimit" not in answer.headers  # scrapes are not rate limited


async def test_a_metrics_token_restricts_scrapes_and_metrics_can_be_switched_off() -> None:
    secured = layer_settings(metrics_token="scrape-token-123")
    refused = await scrape(secured, "/metrics")
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    wrong = await scrape(secured, "/metrics", Authorization="Bearer scrape-token-12")
    assert wrong.status_code == 401
    allowed = await scrape(secured, "/metrics", Authorization="Bearer scrape-token-123")
    assert allowed.status_code == 200
    off = await scrape(layer_settings(metrics_enabled=False), "/metrics")
    assert off.status_code == 404


def test_the_committed_example_rules_are_the_defaults() -> None:
    assert EXAMPLE_RULES.read_text(encoding="utf-8") == render_rules(ObservabilitySettings())


def test_every_rule_is_complete_and_uses_only_metrics_qgate_exports() -> None:
    rules = alert_rules(ObservabilitySettings())
    parsed = yaml.safe_load(render_rules(ObservabilitySettings()))
    assert parsed == rules
    names = {
        "qgate_http_requests_total",
        "qgate_rate_limit_rejections_total",
        "qgate_sync_sla_breaches_total",
        "qgate_metric_callback_errors_total",
        "qgate_containment_time_seconds_bucket",
        "qgate_connector_circuit_state",
        "qgate_dispositions_pending_oldest_age_seconds",
        "qgate_dead_letters",
        "qgate_consumer_lag",
    }
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len({rule["alert"] for rule in alerts}) == len(alerts) == 9
    for rule in alerts:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        assert rule["annotations"]["description"]
        used = set(re.findall(r"qgate_[a-z_]+", rule["expr"]))
        assert used, rule
        assert used <= names, used - names


def test_thresholds_come_from_the_settings() -> None:
    tuned = ObservabilitySettings(
        pending_erp_alert_seconds=120,
        consumer_lag_alert=50,
        containment_alert_seconds=1800.5,
        error_percent_alert=2.5,
        rate_limit_alert_per_second=0.2,
    )
    exprs = {
        rule["alert"]: rule["expr"]
        for group in alert_rules(tuned)["groups"]
        for rule in group["rules"]
    }
    assert exprs["QgateDispositionAwaitingConfirmation"].endswith("> 120")
    assert exprs["QgateConsumerLag"].endswith("> 50")
    assert exprs["QgateContainmentSlow"].endswith("> 1800.5")
    assert exprs["QgateHighErrorRatio"].endswith("> 0.025")
    assert exprs["QgateRateLimitRejections"].endswith("> 0.2")


def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: apt-get install prometheus (.ci/run installs it)"
    return found


def test_promtool_accepts_the_example_and_tuned_rules(tmp_path: Path) -> None:
    tuned = tmp_path / "tuned.yml"
    tuned.write_text(
        render_rules(ObservabilitySettings(pending_erp_alert_seconds=60.5, error_percent_alert=1))
    )
    for path in (EXAMPLE_RULES, tuned):
        result = subprocess.run(
            [promtool(), "check", "rules", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS: 9 rules found" in result.stdout


def test_promtool_would_catch_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        render_rules(ObservabilitySettings()).replace("max by (status) (", "max by (")
    )
    result = subprocess.run(
        [promtool(), "check", "rules", str(broken)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0


def test_qgate_metrics_rules_prints_or_writes_the_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("QGATE_OBSERVABILITY_PENDING_ERP_ALERT_SECONDS", "300")
    assert main(["metrics", "rules"]) == 0
    printed = capsys.readouterr().out
    assert printed == render_rules(ObservabilitySettings(pending_erp_alert_seconds=300))
    target = tmp_path / "rules.yml"
    assert main(["metrics", "rules", "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == printed


def state(breaker: CircuitBreaker) -> CircuitState:
    return breaker.state  # read through a call: mypy would narrow the property between asserts


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_circuit_opens_after_consecutive_failures_and_half_opens_after_a_cool_down() -> None:
    clock = Clock()
    opened: list[str] = []
    breaker = CircuitBreaker(
        "erp", failure_threshold=3, open_seconds=30, clock=clock, on_open=lambda: opened.append("!")
    )
    for _ in range(2):
        breaker.before()
        breaker.failed()
    breaker.before()
    breaker.succeeded()  # a success in between starts the count again
    for _ in range(3):
        breaker.before()
        breaker.failed()
    assert state(breaker) is CircuitState.OPEN
    assert opened == ["!"]
    with pytest.raises(CircuitOpen, match="erp failed 3 times"):
        breaker.before()
    clock.now += 30
    assert state(breaker) is CircuitState.HALF_OPEN
    breaker.before()  # the one trial call
    with pytest.raises(CircuitOpen):
        breaker.before()  # others wait for its outcome
    breaker.failed()
    assert state(breaker) is CircuitState.OPEN
    assert opened == ["!", "!"]
    clock.now += 30
    breaker.before()
    breaker.succeeded()
    assert state(breaker) is CircuitState.CLOSED


class FlakyErp:
    """Enough of an ERP connector to drive the instrumentation: answers as told."""

    system: Final = "flaky-erp"
    capabilities: Final = frozenset[Any]()

    def __init__(self) -> None:
        self.answers: list[Exception | None] = []
        self.calls = 0
        self.closed = False

    async def get_lot(self, lot_id: str) -> str:
        self.calls += 1
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        return f"lot {lot_id}"

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        self.closed = True


async def test_connector_calls_are_counted_by_outcome_and_guarded_by_the_circuit() -> None:
    metrics = LayerMetrics("system")
    inner = FlakyErp()
    erp = instrument_erp(
        cast("ErpConnector", inner),
        metrics,
        CircuitSettings(failure_threshold=2, open_seconds=3600),
    )
    assert erp.system == "flaky-erp"
    assert await erp.get_lot("L1") == "lot L1"  # type: ignore[comparison-overlap]
    inner.answers = [NotFound("no lot"), BackendRejected("refused")]
    for _ in range(2):
        with pytest.raises((NotFound, BackendRejected)):
            await erp.get_lot("L2")
    # A refusal is the backend answering: only unavailability opens the circuit.
    inner.answers = [DownstreamUnavailable("down"), DownstreamTimeout("slow")]
    with pytest.raises(DownstreamUnavailable):
        await erp.get_lot("L3")
    with pytest.raises(DownstreamTimeout):
        await erp.get_lot("L3")
    with pytest.raises(CircuitOpen) as refused:
        await erp.get_lot("L3")
    assert refused.value.retryable
    assert refused.value.status == 503
    assert inner.calls == 5  # the refused call never reached the backend
    await erp.aclose()
    assert inner.closed

    text = (await metrics.render()).decode()
    calls = "qgate_connector_calls_total"
    expected = {
        "ok": 1,
        "not-found": 1,
        "backend-rejected": 1,
        "downstream-unavailable": 1,
        "downstream-timeout": 1,
        "circuit-open": 1,
    }
    for outcome, count in expected.items():
        labels = {"layer": "system", "backend": "flaky-erp", "operation": "get_lot"}
        assert value(text, calls, **labels, outcome=outcome) == count, outcome
    assert value(text, "qgate_connector_circuit_state", layer="system", backend="flaky-erp") == 2
    opened = "qgate_connector_circuit_opened_total"
    assert value(text, opened, layer="system", backend="flaky-erp") == 1
    durations = "qgate_connector_call_duration_seconds_count"
    labels = {"layer": "system", "backend": "flaky-erp", "operation": "get_lot", "outcome": "ok"}
    assert value(text, durations, **labels) == 1
