"""Signed webhook payloads in the Standard Webhooks style (standardwebhooks.com).

Every delivery carries three headers:

- ``webhook-id``: the message id, the same on every retry of one delivery (the CloudEvent's
  id), so a receiver can drop duplicates;
- ``webhook-timestamp``: seconds since the epoch when this attempt was signed;
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` over ``"{id}.{timestamp}.{body}"`` with
  the subscription's secret (``whsec_<base64 key>``, shown once when the subscription is made).

A receiver recomputes the signature with :func:`verify` (constant-time comparison) and refuses
timestamps too far from its clock, which stops replays of an old delivery.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Final

__all__ = [
    "ID_HEADER",
    "SECRET_PREFIX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "InvalidSignature",
    "new_secret",
    "sign",
    "signed_headers",
    "verify",
]

ID_HEADER: Final = "webhook-id"
TIMESTAMP_HEADER: Final = "webhook-timestamp"
SIGNATURE_HEADER: Final = "webhook-signature"
SECRET_PREFIX: Final = "whsec_"  # noqa: S105 - the format's prefix, not a secret
_TOLERANCE_SECONDS: Final = 300


class InvalidSignature(ValueError):
    """The payload is not signed with the secret, or its timestamp is out of tolerance."""


def new_secret() -> str:
    """A fresh secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 signature>`` of one attempt."""
    content = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(
    secret: str, message_id: str, body: bytes, *, now: int | None = None
) -> dict[str, str]:
    """The three headers of one delivery attempt."""
    timestamp = int(time.time()) if now is None else now
    return {
        ID_HEADER: message_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, message_id, timestamp, body),
    }


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int | None = None,
    tolerance: int = _TOLERANCE_SECONDS,
) -> None:
    """Raise :class:`InvalidSignature` unless one of the signatures matches and the timestamp
    is within ``tolerance`` seconds (what a receiver does; headers matched case-insensitively)."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        message_id = lower[ID_HEADER]
        timestamp = int(lower[TIMESTAMP_HEADER])
        offered = lower[SIGNATURE_HEADER].split()
    except (KeyError, ValueError) as exc:
        raise InvalidSignature("missing or malformed webhook headers") from exc
    current = int(time.time()) if now is None else now
    if abs(current - timestamp) > tolerance:
        raise InvalidSignature("timestamp out of tolerance")
    expected = sign(secret, message_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise InvalidSignature("no matching signature")
