"""Types and the abstract store shared by every idempotency-store implementation."""

from __future__ import annotations

import abc
import enum
import math

import msgspec

from shared.stores import Store

__all__ = [
    "DEFAULT_IN_FLIGHT_TTL",
    "DEFAULT_RETENTION",
    "Claim",
    "ClaimOutcome",
    "IdempotencyStore",
    "StoredResponse",
]

DEFAULT_IN_FLIGHT_TTL = 60.0
"""Seconds an unfinished claim blocks its key; pick it above the worst downstream latency."""

DEFAULT_RETENTION = 86400.0
"""Seconds a completed response stays replayable (24 h)."""


class StoredResponse(msgspec.Struct, frozen=True):
    """The response recorded for a completed key and replayed verbatim to a retry."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


class ClaimOutcome(enum.StrEnum):
    """What :meth:`IdempotencyStore.claim` found."""

    CLAIMED = "claimed"
    """The key was free; the caller now owns it and must ``complete`` or ``release`` it."""
    IN_FLIGHT = "in_flight"
    """Another request with the same fingerprint is still running (answer 409)."""
    MISMATCH = "mismatch"
    """The key is in flight or completed for a *different* request fingerprint (answer 422)."""
    REPLAY = "replay"
    """The key completed for this fingerprint; replay :attr:`Claim.response`."""


class Claim(msgspec.Struct, frozen=True):
    """Result of :meth:`IdempotencyStore.claim`.

    ``token`` is set only for ``CLAIMED`` (the owner token to pass to ``complete`` / ``release``);
    ``response`` is set only for ``REPLAY``.
    """

    outcome: ClaimOutcome
    token: str | None = None
    response: StoredResponse | None = None


def check_seconds(name: str, value: float) -> float:
    """Return ``value`` if it is a finite, positive number of seconds; raise ``ValueError``."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number of seconds > 0, got {value!r}")
    return float(value)


class IdempotencyStore(Store):
    """Records idempotency keys: in flight, then completed with the response to replay.

    Keys are opaque strings already scoped by the caller (e.g. ``"client:operation:key"``);
    fingerprints are digests of the request. Every method is atomic with respect to every other
    call on the same key, across all instances sharing a backend (for Redis: across replicas).
    Records expire on their own: an in-flight record after ``in_flight_ttl`` (so a crashed
    request frees its key), a completed one after ``retention``. The store can also be used as an
    ``async with`` block, which calls :meth:`aclose` on exit.
    """

    @abc.abstractmethod
    async def claim(
        self, key: str, fingerprint: str, in_flight_ttl: float = DEFAULT_IN_FLIGHT_TTL
    ) -> Claim:
        """Atomically claim ``key`` for the request with ``fingerprint``.

        - key unknown or expired: record it as in flight for ``in_flight_ttl`` seconds under a
          fresh random owner token, return ``CLAIMED`` with that ``token``;
        - key known with a different fingerprint (in flight or completed): ``MISMATCH``;
        - key in flight with the same fingerprint: ``IN_FLIGHT``;
        - key completed with the same fingerprint: ``REPLAY`` with the stored ``response``.

        Of any number of concurrent claims of a free key exactly one gets ``CLAIMED``. If the
        owner neither completes nor releases within ``in_flight_ttl``, the key frees itself and
        the operation may run again: pick the TTL above the worst handler latency.

        Raises ``ValueError`` for a non-positive TTL; backend errors propagate.
        """

    @abc.abstractmethod
    async def complete(
        self,
        key: str,
        token: str,
        response: StoredResponse,
        retention: float = DEFAULT_RETENTION,
    ) -> bool:
        """Store ``response`` for ``key`` if it is still in flight and owned by ``token``.

        Compare-and-set: on success the in-flight record is replaced by the completed one
        (same fingerprint), which expires ``retention`` seconds from now, and ``True`` is
        returned. ``False`` (and nothing changes) if the claim expired, was released, or
        ``token`` is not the owner's.

        Raises ``ValueError`` for a non-positive retention; backend errors propagate.
        """

    @abc.abstractmethod
    async def release(self, key: str, token: str) -> bool:
        """Forget ``key`` if it is in flight and owned by ``token`` (compare-and-delete).

        Call it when the operation failed so that a retry may run it. ``True`` if the record
        was deleted; ``False`` (and nothing changes) otherwise, e.g. when the claim expired,
        completed, or belongs to someone else.
        """
