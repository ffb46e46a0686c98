"""Structured logs: one JSON object per line, each bound to the request's correlation ids.

Every record carries ``correlationId``, ``traceparent``, ``traceId``, ``clientId`` and
``operation`` of the request being handled (from :mod:`shared.correlation`; null outside one),
the layer that wrote it, and any ``extra={"qgate": {...}}`` fields. Secrets never reach a log
line: :func:`redact` removes bearer tokens, client secrets, ``Authorization`` values, passwords
in URLs, and every secret value the settings hold (:func:`protect_secrets`) from messages,
exception texts and the structured fields (a field named like a secret whose value no pattern
recognises is dropped whole) before they are written.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from shared.correlation import (
    current_client_id,
    current_correlation_id,
    current_layer,
    current_operation,
    current_traceparent,
)

__all__ = ["JsonFormatter", "RedactingFilter", "configure_logging", "protect_secrets", "redact"]

_SECRET_KEY: Final = re.compile(
    r"(?i)(secret|password|passwd|token|authorization|api[_-]?key|credential|signature)"
)
_MIN_SECRET_LENGTH: Final = 6
_known_secrets: set[str] = set()

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]+"),
    re.compile(
        r"(?i)((?:secret|password|passwd|token|api[_-]?key)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',]+"
    ),
    # An Authorization value of another scheme (Bearer and Basic are covered above).
    re.compile(
        r"(?i)(authorization[\"']?\s*[=:]\s*[\"']?)(?!bearer\s|basic\s|\[redacted)"
        r"(?:[A-Za-z-]+\s+)?[^\s&\"',]+"
    ),
    re.compile(r"(eyJ)[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    # user:password@ in URLs (redis://:pw@host, https://id:secret@idp)
    re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^\s/@:]*:)[^\s/@]+(?=@)"),
)


def redact(text: str) -> str:
    """Replace anything that looks like a credential, or is a known secret, with ``[redacted]``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    for secret in _known_secrets:
        if secret in text:
            text = text.replace(secret, "[redacted]")
    return text


def _secret_values(value: Any, key: str = "") -> list[str]:
    if isinstance(value, dict):
        return [found for k, item in value.items() for found in _secret_values(item, str(k))]
    if isinstance(value, list):
        return [found for item in value for found in _secret_values(item, key)]
    if isinstance(value, str) and key.endswith("url"):
        password = urlsplit(value).password if "://" in value else None
        return [password] if password else []
    if isinstance(value, str) and _SECRET_KEY.search(key):
        return [value]
    return []


def protect_secrets(settings: msgspec.Struct) -> None:
    """Never log any secret these settings hold: every string setting named like a secret
    (client secrets, passwords, tokens, webhook secrets) and passwords in URLs. Process-wide,
    like the logging configuration; each app calls it with its settings."""
    found = _secret_values(msgspec.to_builtins(settings))
    _known_secrets.update(value for value in found if len(value) >= _MIN_SECRET_LENGTH)


def _redact_value(value: Any, key: str = "") -> Any:
    if isinstance(value, str):
        cleaned = redact(value)
        # A field named like a secret whose value no pattern recognised is dropped whole.
        return "[redacted]" if cleaned == value and _SECRET_KEY.search(key) else cleaned
    if isinstance(value, dict):
        return {k: _redact_value(item, str(k)) for k, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    return value


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON line with the correlation ids of the current request."""

    def __init__(self, layer: str) -> None:
        super().__init__()
        self.layer = layer
        # A field msgspec cannot encode is written as its (redacted) repr, not a logging error.
        self._encoder = msgspec.json.Encoder(enc_hook=lambda obj: redact(repr(obj)))

    def format(self, record: logging.LogRecord) -> str:
        traceparent = current_traceparent()
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "layer": current_layer() or self.layer,
            "message": redact(record.getMessage()),
            "correlationId": current_correlation_id(),
            "traceparent": traceparent,
            "traceId": traceparent[3:35] if traceparent else None,
            "clientId": current_client_id(),
            "operation": current_operation(),
        }
        fields = getattr(record, "qgate", None)
        if isinstance(fields, dict):
            entry.update(
                {k: _redact_value(v, str(k)) for k, v in fields.items() if entry.get(k) is None}
            )
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return self._encoder.encode(entry).decode("utf-8")


class _TextFormatter(logging.Formatter):
    def __init__(self, layer: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s " + f"[{layer}] " + "%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        base = redact(super().format(record))
        return f"{base} layer={current_layer()} correlationId={current_correlation_id()}"


class RedactingFilter(logging.Filter):
    """Redact a record's message and exception before any handler formats it (for handlers
    whose formatter is not qgate's, e.g. a server's own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        if record.exc_info:
            # Formatters reuse exc_text once set: the traceback is written redacted.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


def configure_logging(*, layer: str, level: str = "INFO", fmt: str = "json") -> None:
    """Send qgate's logs (and the servers') to stderr in the chosen format, once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(layer) if fmt == "json" else _TextFormatter(layer))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request at INFO, with URLs; our own middleware logs what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
