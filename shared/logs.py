"""Structured logs: one JSON object per line, each bound to the request's correlation ids.

Every record carries ``correlationId`` and ``traceparent`` of the request being handled (from
:mod:`shared.correlation`), the layer that wrote it, and any ``extra={"qgate": {...}}`` fields.
Secrets never reach a log line: :func:`redact` removes bearer tokens, client secrets,
``Authorization`` values and passwords in URLs from messages, exception texts and the string
values of the structured fields before they are written.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from typing import Any

import msgspec

from shared.correlation import current_correlation_id, current_layer, current_traceparent

__all__ = ["JsonFormatter", "configure_logging", "redact"]

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)(basic\s+)[A-Za-z0-9+/=]+"),
    re.compile(
        r"(?i)((?:secret|password|passwd|access_token|refresh_token|id_token|api_key)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s&\"',]+"
    ),
    re.compile(r"(eyJ)[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),
    # user:password@ in URLs (redis://:pw@host, https://id:secret@idp)
    re.compile(r"(?i)([a-z][a-z0-9+.-]*://[^\s/@:]*:)[^\s/@]+(?=@)"),
)


def redact(text: str) -> str:
    """Replace anything that looks like a credential with ``[redacted]``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "[redacted]", text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_value(item) for key, item in value.items()}
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
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "layer": current_layer() or self.layer,
            "message": redact(record.getMessage()),
            "correlationId": current_correlation_id(),
            "traceparent": current_traceparent(),
        }
        fields = getattr(record, "qgate", None)
        if isinstance(fields, dict):
            entry.update({k: _redact_value(v) for k, v in fields.items() if k not in entry})
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return self._encoder.encode(entry).decode("utf-8")


class _TextFormatter(logging.Formatter):
    def __init__(self, layer: str) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s " + f"[{layer}] " + "%(message)s")

    def format(self, record: logging.LogRecord) -> str:
        base = redact(super().format(record))
        return f"{base} layer={current_layer()} correlationId={current_correlation_id()}"


def configure_logging(*, layer: str, level: str = "INFO", fmt: str = "json") -> None:
    """Send qgate's logs (and the servers') to stderr in the chosen format, once per process."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(layer) if fmt == "json" else _TextFormatter(layer))
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # httpx logs every request at INFO, with URLs; our own middleware logs what matters.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
