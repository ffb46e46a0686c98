"""Structured logs: one JSON object per line, bound to the request's correlation id and layer, and
never a secret in a line."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any, Final, cast

import httpx
import pytest

from shared.asgitypes import Message, Receive, Scope, Send
from shared.auth import DevIssuer, demo_clients
from shared.composition import create_all_in_one
from shared.correlation import CorrelationASGI
from shared.logs import JsonFormatter, configure_logging, redact
from shared.settings import Settings
from tests.integration.test_pipeline import lifespan

JWT_RE: Final = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
SETTINGS: Final = Settings()


@contextlib.contextmanager
def json_lines(layer: str = "unit") -> Iterator[io.StringIO]:
    """Attach a JsonFormatter handler to the root logger for the duration of the block."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter(layer))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@contextlib.contextmanager
def configured(layer: str, *, level: str = "DEBUG", fmt: str = "json") -> Iterator[None]:
    """``configure_logging`` as a server runs it, undone afterwards (it replaces root handlers)."""
    root = logging.getLogger()
    quiet = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    saved = (list(root.handlers), root.level, [logger.level for logger in quiet])
    configure_logging(layer=layer, level=level, fmt=fmt)
    try:
        yield
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for logger, old in zip(quiet, saved[2], strict=True):
            logger.setLevel(old)


def parse(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return [json.loads(line) for line in lines]


def qgate_entries(text: str) -> list[dict[str, Any]]:
    """The lines qgate wrote (a library may log at DEBUG too)."""
    return [entry for entry in parse(text) if entry["logger"].startswith("qgate.")]


async def call(app: Any, headers: list[tuple[bytes, bytes]]) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/probe",
        "headers": headers,
        "query_string": b"",
    }
    await app(scope, receive, send)
    return sent


async def logging_app(scope: Scope, receive: Receive, send: Send) -> None:
    logging.getLogger("qgate.test").info("handling %s", scope["path"])
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


# --- correlation id and layer ---------------------------------------------------------------


async def test_lines_carry_correlation_id_and_layer() -> None:
    app = CorrelationASGI(logging_app, layer="process")
    with json_lines("fallback") as stream:
        logging.getLogger("qgate.test").info("outside any request")
        await call(app, [(b"x-correlation-id", b"corr-123")])
    outside, inside, access = qgate_entries(stream.getvalue())

    assert outside["message"] == "outside any request"
    assert outside["layer"] == "fallback"
    assert outside["correlationId"] is None
    assert outside["level"] == "INFO"
    assert outside["logger"] == "qgate.test"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", outside["time"])

    assert inside["message"] == "handling /probe"
    assert inside["layer"] == "process"
    assert inside["correlationId"] == "corr-123"
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", inside["traceparent"])

    # The access line, with its structured fields at the top level.
    assert access["logger"] == "qgate.access"
    assert access["correlationId"] == "corr-123"
    assert access["layer"] == "process"
    assert access["event"] == "request"
    assert access["status"] == 204
    assert access["path"] == "/probe"
    assert isinstance(access["durationMs"], float)


async def test_concurrent_requests_keep_their_own_ids() -> None:
    app = CorrelationASGI(logging_app, layer="system")
    with json_lines() as stream:
        await asyncio.gather(
            *(call(app, [(b"x-correlation-id", f"c-{n}".encode())]) for n in range(10))
        )
    entries = [e for e in qgate_entries(stream.getvalue()) if e["logger"] == "qgate.test"]
    assert sorted(e["correlationId"] for e in entries) == sorted(f"c-{n}" for n in range(10))


# --- secrets --------------------------------------------------------------------------------


ISSUER: Final = DevIssuer(
    issuer=SETTINGS.auth.issuer, audience=SETTINGS.auth.audience, clients=demo_clients()
)
A_JWT: Final = ISSUER.issue("operations").access_token
BASIC: Final = base64.b64encode(b"operations:operations-secret").decode()


@pytest.mark.parametrize(
    ("message", "secrets"),
    [
        (f"Authorization: Bearer {A_JWT}", [A_JWT, A_JWT.split(".")[2]]),
        ("headers={'authorization': 'bearer opaque-token-value'}", ["opaque-token-value"]),
        (f"raw token {A_JWT} in text", [A_JWT, A_JWT.split(".")[1]]),
        (f"Authorization: Basic {BASIC}", [BASIC]),
        ("grant_type=client_credentials&client_secret=s3cr3t-value", ["s3cr3t-value"]),
        ('{"client_id": "x", "client_secret": "s3cr3t-json"}', ["s3cr3t-json"]),
        ("QGATE_LAYERS_PROCESS_CLIENT_SECRET=from-the-vault", ["from-the-vault"]),
        ("answer access_token=opaque123&expires_in=300", ["opaque123"]),
        ("redis unavailable at redis://:hunter2@redis.internal:6379/0", ["hunter2"]),
    ],
    ids=[
        "bearer-jwt",
        "bearer-opaque",
        "bare-jwt",
        "basic",
        "client-secret-form",
        "client-secret-json",
        "secret-variable",
        "access-token",
        "url-password",
    ],
)
def test_secret_in_a_message_never_reaches_the_line(message: str, secrets: list[str]) -> None:
    with json_lines() as stream:
        logging.getLogger("qgate.test").warning("%s", message)
        logging.getLogger("qgate.test").warning(message)  # preformatted, too
    output = stream.getvalue()
    for secret in secrets:
        assert secret not in output, (secret, output)
    assert "[redacted]" in output
    assert len(qgate_entries(output)) == 2


def test_secret_in_an_exception_or_structured_field_never_reaches_the_line() -> None:
    with json_lines() as stream:
        try:
            raise RuntimeError(f"call failed with Authorization: Bearer {A_JWT}")
        except RuntimeError:
            logging.getLogger("qgate.test").exception("downstream failed")
        logging.getLogger("qgate.test").info(
            "request headers",
            extra={
                "qgate": {
                    "headers": {"authorization": f"Bearer {A_JWT}"},
                    "form": ["client_secret=operations-secret"],
                    "object": object(),
                }
            },
        )
    output = stream.getvalue()
    failure, fields = qgate_entries(output)
    assert "RuntimeError" in failure["exception"]
    assert fields["headers"] == {"authorization": "Bearer [redacted]"}
    assert fields["form"] == ["client_secret=[redacted]"]
    assert fields["object"].startswith("<object object")
    assert A_JWT.split(".")[2] not in output
    assert "operations-secret" not in output


def test_redact_leaves_ordinary_text_alone() -> None:
    text = "GET /plant/v1/whoami 200 in 3 ms from http://127.0.0.1:8000 (token_type=Bearer)"
    assert redact(text) == text


def test_text_format_redacts_too(capsys: pytest.CaptureFixture[str]) -> None:
    with configured("system", level="INFO", fmt="text"):
        logging.getLogger("qgate.test").info("sending Authorization: Bearer %s", A_JWT)
        logging.getLogger("qgate.test").debug("below the level")
    err = capsys.readouterr().err
    assert "[system]" in err
    assert "layer=None correlationId=None" in err
    assert "Bearer [redacted]" in err
    assert A_JWT not in err
    assert "below the level" not in err


# --- a whole request through the app --------------------------------------------------------


class LeakyTransport(httpx.AsyncBaseTransport):
    """The system layer "fails" with an exception whose text carries the request's headers."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = dict(request.headers)  # unlike httpx.Headers' repr, shows Authorization
        raise RuntimeError(f"could not send {request.method} {request.url} with {headers}")


async def test_requests_through_the_app_log_no_token(capsys: pytest.CaptureFixture[str]) -> None:
    def leaky_system(name: str, transport: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        return LeakyTransport() if name == "system" else transport

    app = create_all_in_one(SETTINGS, issuer=ISSUER, wrap_transport=leaky_system)
    transport = httpx.ASGITransport(app=cast("Any", app))
    with configured("all-in-one", level="DEBUG"):
        async with (
            lifespan(app),
            httpx.AsyncClient(transport=transport, base_url=SETTINGS.auth.issuer) as http,
        ):
            token_answer = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": f"Basic {BASIC}"},
            )
            token = token_answer.json()["access_token"]
            auth = {"Authorization": f"Bearer {token}", "X-Correlation-ID": "logs-1"}
            ok = await http.get("/system/erp/v1/whoami", headers=auth)
            failed = await http.get("/process/v1/whoami", headers=auth)  # logs the exception
            relayed = await http.get("/plant/v1/whoami", headers=auth)
            refused = await http.get(
                "/system/erp/v1/whoami", headers={"Authorization": f"Bearer {token}x"}
            )
    assert (ok.status_code, failed.status_code, relayed.status_code) == (200, 500, 503)
    assert refused.status_code == 401

    output = capsys.readouterr().err
    entries = parse(output)
    # Every line is JSON with a layer; those written while handling a request carry its id.
    assert all(entry["layer"] for entry in entries)
    access = [e for e in entries if e.get("event") == "request"]
    assert {e["layer"] for e in access} >= {"issuer", "system", "process", "experience"}
    assert all(e["correlationId"] for e in access)
    assert any(e["correlationId"] == "logs-1" and e["status"] == 500 for e in access)
    errors = [e for e in entries if e["level"] == "ERROR"]
    assert errors
    assert any("exception" in e and e["correlationId"] == "logs-1" for e in errors)
    assert any("[redacted]" in e.get("exception", "") for e in errors)

    # No token, no part of a signature, no client secret, no Basic credentials.
    assert token not in output
    assert token.split(".")[2] not in output
    assert JWT_RE.search(output) is None, JWT_RE.search(output)
    assert BASIC not in output
    for client in ("operations", "process-service", "experience-service"):
        assert f"{client}-secret" not in output
