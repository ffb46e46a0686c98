"""Idempotency-key store (draft-ietf-httpapi-idempotency-key-header), in memory or on Redis.

The idempotency middleware drives it like this::

    claim = await store.claim(scoped_key, fingerprint, in_flight_ttl=60.0)
    match claim.outcome:
        case ClaimOutcome.CLAIMED:    # run the handler, then
            await store.complete(scoped_key, claim.token, StoredResponse(...), retention=86400.0)
            # or, if it failed: await store.release(scoped_key, claim.token)
        case ClaimOutcome.IN_FLIGHT:  # 409
        case ClaimOutcome.MISMATCH:   # 422: key reused for a different request
        case ClaimOutcome.REPLAY:     # replay claim.response

Every call is atomic per key (across replicas for :class:`RedisIdempotencyStore`); records
expire by themselves (in flight after ``in_flight_ttl``, completed after ``retention``).
"""

from __future__ import annotations

from shared.idempotency._base import (
    DEFAULT_IN_FLIGHT_TTL,
    DEFAULT_RETENTION,
    Claim,
    ClaimOutcome,
    IdempotencyStore,
    StoredResponse,
)
from shared.idempotency._memory import MemoryIdempotencyStore
from shared.idempotency._redis import DEFAULT_PREFIX, RedisIdempotencyStore

__all__ = [
    "DEFAULT_IN_FLIGHT_TTL",
    "DEFAULT_PREFIX",
    "DEFAULT_RETENTION",
    "Claim",
    "ClaimOutcome",
    "IdempotencyStore",
    "MemoryIdempotencyStore",
    "RedisIdempotencyStore",
    "StoredResponse",
]
