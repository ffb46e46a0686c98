"""Step 5 of the pipeline: the ``Idempotency-Key``, the request's fingerprint, and settling or
replaying a stored response."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable
from typing import Final

import msgspec
from litestar.types import Scope, Send

from shared.correlation import request_header
from shared.errors import BadRequest, IdempotencyKeyMissing
from shared.idempotency import StoredResponse

__all__ = ["IDEMPOTENCY_HEADER", "REPLAYED_HEADER"]

IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
REPLAYED_HEADER: Final = "Idempotent-Replayed"
_KEY_RE: Final = re.compile(r"^[\x21-\x7e]{1,255}$")
_log = logging.getLogger("qgate.platform")


def _canonical_body(body: bytes) -> bytes:
    """JSON bodies compare by meaning (key order, spacing), anything else byte for byte."""
    if not body:
        return b""
    try:
        return msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        # Not JSON (or not decodable): fingerprint the bytes; the handler answers 400 for it.
        return body


def _fingerprint(scope: Scope, body: bytes) -> str:
    digest = hashlib.sha256()
    method = str(scope.get("method", ""))
    for part in (method, scope["path"], scope.get("query_string", b"").decode("latin-1")):
        digest.update(part.encode("utf-8"))
        digest.update(b"\n")
    digest.update(_canonical_body(body))
    return digest.hexdigest()


def _idempotency_key(scope: Scope) -> str:
    raw = request_header(scope, b"idempotency-key")
    if raw is None:
        raise IdempotencyKeyMissing(
            "This operation requires an Idempotency-Key header: a unique string of 1 to 255 "
            "visible ASCII characters, the same on every retry of this request."
        )
    value = raw.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]  # the draft's sf-string form
    if not _KEY_RE.match(value):
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 visible ASCII characters (no spaces)",
        )
    return value


async def _settle(outcome: Awaitable[bool], what: str) -> bool:
    """Finish an idempotency record after the response went out: a store failure is logged
    (the caller already has its answer); the in-flight claim then expires on its own."""
    try:
        return await outcome
    except Exception as exc:
        _log.error("idempotency store failed to %s a key: %s", what, type(exc).__name__)
        return False


async def _replay(stored: StoredResponse, send: Send) -> None:
    headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in stored.headers]
    headers.append((REPLAYED_HEADER.lower().encode("latin-1"), b"true"))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body, "more_body": False})
