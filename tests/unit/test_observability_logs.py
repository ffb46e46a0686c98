"""Every JSON log line names the request's correlation id, trace id, client and operation, and no
token, client secret, password, scrape token or webhook secret is ever written."""

from __future__ import annotations

import io
import logging
import re
from typing import Any, Final, cast

import httpx
import pytest

from shared.composition import create_all_in_one
from shared.logs import RedactingFilter, protect_secrets, redact
from shared.settings import ObservabilitySettings, Settings
from tests.integration.test_pipeline import lifespan
from tests.unit.test_logs import configured, parse

SCRAPE_TOKEN: Final = "scrape-token-Hx81qk"
WRONG_SECRET: Final = "wrong-secret-Zq81vv"
WEBHOOK_SECRET: Final = "whsec_5d1f0c9a7b"
LOT: Final = "LOT-1000-0022"


async def test_request_logs_carry_ids_and_never_a_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = Settings(observability=ObservabilitySettings(metrics_token=SCRAPE_TOKEN))
    app = create_all_in_one(settings)
    transport = httpx.ASGITransport(app=cast("Any", app))
    log = logging.getLogger("qgate.test")
    with configured("all-in-one", level="DEBUG"):
        async with (
            lifespan(app),
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
        ):
            granted = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("plant-app", "plant-app-secret"),
            )
            token = granted.json()["access_token"]
            refused = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("plant-app", WRONG_SECRET),
            )
            auth = {"Authorization": f"Bearer {token}", "X-Correlation-ID": "obs-logs-1"}
            whoami = await http.get("/plant/v1/whoami", headers=auth)
            requested = await http.post(
                f"/plant/v1/lots/{LOT}/disposition-requests",
                json={"decision": "BLOCK", "reason": "Crack"},
                headers={**auth, "Idempotency-Key": "obs-logs-dsp"},
            )
            guessed = await http.get("/metrics", headers={"Authorization": "Bearer guess-77x"})
            scraped = await http.get(
                "/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"}
            )
            # What a careless handler might write: a secret in a message, a structured field.
            log.warning("signing the delivery with webhook_secret=%s", WEBHOOK_SECRET)
            log.info("delivery", extra={"qgate": {"webhookSecret": WEBHOOK_SECRET}})
    statuses = [r.status_code for r in (granted, refused, whoami, requested, guessed, scraped)]
    assert statuses == [200, 401, 200, 201, 401, 200]

    output = capsys.readouterr().err
    for secret in (
        token,
        token.split(".")[2],
        "plant-app-secret",
        "experience-service-secret",
        "process-service-secret",
        WRONG_SECRET,
        SCRAPE_TOKEN,
        "guess-77x",
        WEBHOOK_SECRET,
    ):
        assert secret not in output, secret
    assert re.search(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.", output) is None

    entries = parse(output)
    for entry in entries:
        assert {"correlationId", "traceId", "clientId", "operation"} <= set(entry), entry
    trace_id = whoami.headers["traceparent"].split("-")[1]
    chain = [e for e in entries if e["correlationId"] == "obs-logs-1" and e.get("path")]
    # One line per layer the whoami went through, each naming who called it and the operation.
    whoami_lines = {
        (e["layer"], e["clientId"], e["operation"])
        for e in chain
        if e["traceId"] == trace_id and e.get("event") == "request" and e["layer"] != "issuer"
    }
    assert whoami_lines == {
        ("experience", "plant-app", "plantWhoAmI"),
        ("process", "experience-service", "qualityWhoAmI"),
        ("system", "process-service", "erpWhoAmI"),
    }
    (dispositions,) = [
        e for e in chain if e["layer"] == "process" and e["operation"] == "requestLotDisposition"
    ]
    assert dispositions["clientId"] == "experience-service"
    assert dispositions["traceId"] == requested.headers["traceparent"].split("-")[1]
    careless = [e for e in entries if e["logger"] == "qgate.test"]
    assert careless[0]["message"] == ("signing the delivery with webhook_secret=[redacted]")
    assert careless[1]["webhookSecret"] == "[redacted]"
    # Outside a request the fields are there, empty.
    assert careless[0]["clientId"] is None
    assert careless[0]["operation"] is None


def test_known_secrets_are_redacted_wherever_they_appear() -> None:
    protect_secrets(Settings(observability=ObservabilitySettings(metrics_token="t0k-sCrApe-99")))
    assert redact("scraping with t0k-sCrApe-99 now") == "scraping with [redacted] now"
    assert redact("authorization: Token abc123def") == "authorization: [redacted]"
    assert redact('{"client_secret": "s3cr3t!"}') == '{"client_secret": "[redacted]"}'
    assert redact("redis://:p4ssw0rd@redis:6379/0") == "redis://:[redacted]@redis:6379/0"


def test_the_redacting_filter_protects_any_handler() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("qgate.test.filter")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("Authorization: Bearer %s", "abc.def.ghi")
        try:
            raise RuntimeError("password=hunter2hunter2")
        except RuntimeError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    written = stream.getvalue()
    assert "abc.def.ghi" not in written
    assert "hunter2hunter2" not in written
    assert "Authorization: Bearer [redacted]" in written
    assert "password=[redacted]" in written
