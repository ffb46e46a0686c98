"""Per-client rate limiting on a moving window, shared by every replica through Redis.

:class:`RateLimiter` wraps ``limits.aio`` (``MovingWindowRateLimiter``): authenticated callers are
keyed by client id and limited by their tier (``client_tiers.get(client_id, default_tier)``);
unauthenticated callers are keyed by remote address and limited by ``anonymous_tier``. Each
:meth:`RateLimiter.hit` returns a :class:`RateLimitDecision` whose
:meth:`~RateLimitDecision.headers` are the ``RateLimit-Policy`` and ``RateLimit`` fields of
draft-ietf-httpapi-ratelimit-headers-11 (23 May 2026; its q/w and r/t parameters are unchanged
since -08)::

    RateLimit-Policy: "standard";q=600;w=60
    RateLimit: "standard";r=599;t=60
    Retry-After: 17                      (only when the request is refused)

Both fields are Structured Field Lists (RFC 9651) of one Item: the policy name as a String, with
Integer parameters. ``pk`` (partition key) is deliberately not sent: it would echo the client id.

Cost per :meth:`RateLimiter.hit`: two storage calls, the minimum the ``limits`` API allows
(``hit`` consumes, ``get_window_stats`` reads what the headers need). On Redis that is two round
trips, each one ``EVALSHA`` of a ``limits`` Lua script: ``acquire_moving_window`` (``LINDEX`` +
``LPUSH`` + ``LTRIM`` + ``EXPIRE``, atomic, so replicas never over-admit) then ``moving_window``
(a binary search of ``LINDEX`` calls, O(log q)). STACK.md measured ≈ 140 µs of server CPU per
redis-py round trip, so ≈ 280 µs per request; a single custom Lua script returning the decision
and the window would halve it. The memory storage does no I/O. The two calls are not atomic
together: under concurrency ``remaining`` may already count other callers' hits (never too
high), which the draft allows.

The timestamps in the Redis list are taken from the *application's* clock (``limits`` passes
``time.time()`` to the script), so replicas sharing a Redis need synchronised clocks.
"""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import quote

import limits
import msgspec
import redis.asyncio
from limits.aio.storage import MemoryStorage, MovingWindowSupport, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

__all__ = [
    "DRAFT",
    "RateLimitDecision",
    "RateLimitUnavailable",
    "RateLimiter",
]

DRAFT = "draft-ietf-httpapi-ratelimit-headers-11"
"""The Internet-Draft whose ``RateLimit-Policy`` / ``RateLimit`` syntax :meth:`headers` follows."""

# An sf-string may hold printable ASCII only (RFC 9651 §3.3.3); tier names are kept to a
# conservative subset so that they need no escaping and read well in logs and keys.
_TIER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class RateLimitUnavailable(Exception):
    """The rate-limit storage could not be reached or failed; the caller picks fail-open/closed."""


class RateLimitDecision(msgspec.Struct, frozen=True):
    """The outcome of one :meth:`RateLimiter.hit`, with what the response headers need.

    ``remaining`` is the draft's ``r`` (never negative; 0 when refused) and ``reset_seconds`` its
    ``t``: whole seconds until the oldest hit in the window leaves it and a unit of quota frees
    up (0 when nothing is in the window, at least 1 when refused).
    """

    allowed: bool
    policy: str
    limit: int
    window_seconds: int
    remaining: int
    reset_seconds: int

    def headers(self) -> dict[str, str]:
        """``RateLimit-Policy`` and ``RateLimit`` (always), ``Retry-After`` when refused.

        Syntax of draft-ietf-httpapi-ratelimit-headers-11 §3 and §4: one List Item per field,
        ``"<policy>";q=<quota>;w=<window>`` and ``"<policy>";r=<remaining>;t=<reset>``.
        ``Retry-After`` (RFC 9110 §10.2.3, delay-seconds) equals ``t``: the draft (§6) says it
        SHOULD NOT point earlier than the end of the effective window.
        """
        headers = {
            "RateLimit-Policy": f'"{self.policy}";q={self.limit};w={self.window_seconds}',
            "RateLimit": f'"{self.policy}";r={self.remaining};t={self.reset_seconds}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, self.reset_seconds))
        return headers


class RateLimiter:
    """Moving-window limits per client (by tier) or per remote address (anonymous tier).

    ``tiers`` maps a tier name to a ``limits`` string (``"600/minute"``, ``"10 per 2 seconds"``),
    parsed once here. A bad string, a tier name outside ``[A-Za-z0-9_.-]``, or a reference to a
    tier that is not defined raises :class:`ValueError`.
    """

    def __init__(
        self,
        storage: Storage,
        *,
        tiers: Mapping[str, str],
        client_tiers: Mapping[str, str],
        default_tier: str,
        anonymous_tier: str,
        prefix: str = "qgate",
    ) -> None:
        if not isinstance(storage, MovingWindowSupport):
            raise TypeError(f"{type(storage).__name__} does not support the moving window strategy")
        if not tiers:
            raise ValueError("rate limit tiers: at least one tier must be defined")
        self._items = {name: _parse_tier(name, spec) for name, spec in tiers.items()}
        for role, name in (("default_tier", default_tier), ("anonymous_tier", anonymous_tier)):
            self._require_tier(name, f"{role} {name!r}")
        for client_id, name in client_tiers.items():
            self._require_tier(name, f"client_tiers[{client_id!r}] = {name!r}")
        self._client_tiers = dict(client_tiers)
        self._default_tier = default_tier
        self._anonymous_tier = anonymous_tier
        self._prefix = prefix
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._owned_pool: redis.asyncio.ConnectionPool | None = None

    @classmethod
    def memory(cls, **kw: Any) -> Self:
        """A limiter on process memory: one replica only (tests, development)."""
        return cls(MemoryStorage(wrap_exceptions=True), **kw)

    @classmethod
    def redis(cls, url: str, *, timeout: float = 0.5, **kw: Any) -> Self:
        """A limiter on Redis (``redis://`` or ``rediss://`` URL), shared by every replica.

        Uses redis-py (``implementation="redispy"``; ``limits`` defaults to coredis). ``timeout``
        bounds connecting and each command, so a hung Redis fails a request quickly (redis-py
        still retries a few times on connection errors) instead of stalling it.
        """
        pool = redis.asyncio.ConnectionPool.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        storage = RedisStorage(
            url,
            implementation="redispy",
            wrap_exceptions=True,
            connection_pool=pool,  # type: ignore[arg-type]  # limits types options as scalars
        )
        limiter = cls(storage, **kw)
        limiter._owned_pool = pool
        return limiter

    def _require_tier(self, name: str, what: str) -> None:
        if name not in self._items:
            known = ", ".join(sorted(self._items))
            raise ValueError(f"rate limit tiers: {what} is not a defined tier (have: {known})")

    async def hit(self, *, client_id: str | None, remote_addr: str) -> RateLimitDecision:
        """Consume one unit of the caller's quota and report what is left.

        ``client_id`` is ``None`` for unauthenticated callers, who are keyed by ``remote_addr``.
        Two storage round trips (see the module docstring).

        :raises RateLimitUnavailable: the storage failed; nothing about the quota is known.
        """
        if client_id is None:
            tier, kind, who = self._anonymous_tier, "addr", remote_addr
        else:
            tier = self._client_tiers.get(client_id, self._default_tier)
            kind, who = "client", client_id
        item = self._items[tier]
        # Identifiers are percent-encoded so that no id can forge another's key with "/".
        key = (self._prefix, quote(tier, safe=""), kind, quote(who, safe=""))
        try:
            allowed = await self._strategy.hit(item, *key)
            stats = await self._strategy.get_window_stats(item, *key)
        except (StorageError, OSError) as exc:
            raise RateLimitUnavailable(f"rate limit storage failed: {exc!r}") from exc
        except Exception as exc:
            # Without wrap_exceptions (a storage built by the caller) the raw client error
            # surfaces; anything the storage's client library raises counts as unavailable.
            if isinstance(exc, _base_exceptions(self._storage)):
                raise RateLimitUnavailable(f"rate limit storage failed: {exc!r}") from exc
            raise
        reset = max(0, math.ceil(stats.reset_time - time.time()))
        if allowed:
            remaining = max(0, stats.remaining)
        else:
            # The window was full when the hit was refused; a unit may have freed since, but
            # the refused caller is told to come back later, never "r=1" alongside a 429.
            remaining, reset = 0, max(1, reset)
        return RateLimitDecision(
            allowed=allowed,
            policy=tier,
            limit=item.amount,
            window_seconds=item.get_expiry(),
            remaining=remaining,
            reset_seconds=reset,
        )

    async def ping(self) -> None:
        """Check that the storage answers (for readiness probes).

        :raises RateLimitUnavailable: it does not (``limits``' ``check()`` swallows the cause).
        """
        try:
            healthy = await self._storage.check()
        except Exception as exc:
            raise RateLimitUnavailable(f"rate limit storage failed: {exc!r}") from exc
        if not healthy:
            raise RateLimitUnavailable("rate limit storage did not answer PING")

    async def aclose(self) -> None:
        """Release what this limiter created: the Redis pool, or the memory expiry task."""
        if self._owned_pool is not None:
            await self._owned_pool.aclose()
            self._owned_pool = None
        timer = getattr(self._storage, "timer", None)
        if timer is not None and not timer.done():
            timer.cancel()
            with contextlib.suppress(BaseException):
                await timer


def _parse_tier(name: str, spec: str) -> limits.RateLimitItem:
    if not isinstance(name, str) or not _TIER_NAME.fullmatch(name):
        raise ValueError(
            f"rate limit tiers: invalid tier name {name!r} (use 1-64 of A-Z a-z 0-9 _ . -)"
        )
    try:
        items = limits.parse_many(spec)
    except ValueError as exc:
        raise ValueError(
            f"rate limit tiers: tier {name!r} has an invalid limit {spec!r} "
            '(expected e.g. "600/minute" or "10 per 2 seconds")'
        ) from exc
    if len(items) != 1:
        raise ValueError(
            f"rate limit tiers: tier {name!r} must have exactly one limit, got {spec!r}"
        )
    item = items[0]
    if item.amount < 1:
        raise ValueError(f"rate limit tiers: tier {name!r} must allow at least 1 request")
    return item


def _base_exceptions(storage: Storage) -> tuple[type[Exception], ...]:
    base = storage.base_exceptions
    return base if isinstance(base, tuple) else (base,)
