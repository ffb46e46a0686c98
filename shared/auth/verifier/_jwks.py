"""The issuer's signing keys: :class:`JwksCache`, and which key may verify which algorithm."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Final

import httpx
import msgspec
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, Key, OKPKey, RSAKey

from shared.correlation import outgoing_headers
from shared.errors import DownstreamUnavailable, Unauthenticated

__all__ = ["SUPPORTED_ALGORITHMS", "JwksCache"]

#: Signature algorithms a verifier may allow, with the key type (and curve) each needs. Only
#: asymmetric ones: a JWKS publishes public keys, and an HMAC "key" taken from a JWKS would be
#: public knowledge. ``EdDSA`` is left out (deprecated by RFC 9864; joserfc warns on it).
SUPPORTED_ALGORITHMS: Final[dict[str, tuple[str, str | None]]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
    "ES512": ("EC", "P-521"),
    "Ed25519": ("OKP", "Ed25519"),
}

_UNAVAILABLE: Final = "identity provider keys unavailable"


def _usable(key: Key, alg: str) -> bool:
    """Whether ``key`` may verify a signature made with ``alg`` (type, curve, use, alg)."""
    kty, crv = SUPPORTED_ALGORITHMS[alg]
    if key.key_type != kty:
        return False
    if crv is not None and key.get("crv") != crv:
        return False
    if key.get("use") not in (None, "sig"):
        return False
    key_ops = key.get("key_ops")
    if key_ops is not None and "verify" not in key_ops:
        return False
    return key.alg in (None, alg)


class JwksCache:
    """The identity provider's signing keys, fetched from its JWKS URL on demand.

    Keys are fetched on first use; an unknown ``kid`` triggers a refetch at most once per
    ``min_refetch_interval`` seconds. Concurrent callers share one fetch. A failed fetch (network
    error, non-200, not a JWK set) raises :class:`~shared.errors.DownstreamUnavailable` and is
    retried at most once a second.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        jwks_url: str,
        *,
        min_refetch_interval: float = 30.0,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._url = jwks_url
        self._min_interval = min_refetch_interval
        self._failure_backoff = min(1.0, min_refetch_interval)
        self._timeout = timeout
        self._clock = clock
        self._keys: list[Key] | None = None
        self._lock = asyncio.Lock()
        self._attempts = 0  # completed fetch attempts, successful or not
        self._last_attempt: float | None = None
        self._last_failed = False

    @property
    def fetch_count(self) -> int:
        """How many fetches were attempted (for metrics and tests)."""
        return self._attempts

    async def key_for(self, kid: str | None, alg: str) -> Key:
        """The public key named ``kid`` that can verify ``alg``.

        Without a ``kid`` the key set must hold exactly one usable key.

        :raises Unauthenticated: ``unknown signing key`` when no such key is published.
        :raises DownstreamUnavailable: when the key set cannot be fetched.
        """
        if alg not in SUPPORTED_ALGORITHMS:
            raise Unauthenticated("algorithm not allowed")
        seen = self._attempts
        key = self._lookup(kid, alg)
        if key is None:
            await self._refresh(seen)
            key = self._lookup(kid, alg)
        if key is None:
            raise Unauthenticated("unknown signing key")
        return key

    def _lookup(self, kid: str | None, alg: str) -> Key | None:
        if self._keys is None:
            return None
        if kid is None:
            usable = [key for key in self._keys if _usable(key, alg)]
            return usable[0] if len(usable) == 1 else None
        for key in self._keys:
            if key.kid == kid and _usable(key, alg):
                return key
        return None

    async def _refresh(self, seen: int) -> None:
        async with self._lock:
            if self._attempts != seen:
                # Another caller fetched while this one waited: share its outcome.
                if self._last_failed:
                    raise DownstreamUnavailable(_UNAVAILABLE)
                return
            now = self._clock()
            if self._last_attempt is not None:
                wait = self._failure_backoff if self._last_failed else self._min_interval
                if now - self._last_attempt < wait:
                    if self._last_failed:
                        raise DownstreamUnavailable(_UNAVAILABLE)
                    return
            self._last_attempt = now
            try:
                keys = await self._fetch()
            except DownstreamUnavailable:
                self._last_failed = True
                raise
            finally:
                self._attempts += 1
            self._last_failed = False
            self._keys = keys

    async def _fetch(self) -> list[Key]:
        try:
            # ASGITransport does not enforce httpx timeouts: bound the call ourselves too.
            async with asyncio.timeout(self._timeout):
                response = await self._client.get(
                    self._url,
                    headers={
                        **outgoing_headers(),
                        "Accept": "application/jwk-set+json, application/json",
                    },
                    timeout=self._timeout,
                )
        except (httpx.HTTPError, TimeoutError) as exc:
            raise DownstreamUnavailable(_UNAVAILABLE) from exc
        if response.status_code != 200:
            raise DownstreamUnavailable(_UNAVAILABLE)
        try:
            document = msgspec.json.decode(response.content)
        except msgspec.DecodeError as exc:
            raise DownstreamUnavailable(_UNAVAILABLE) from exc
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise DownstreamUnavailable(_UNAVAILABLE)
        keys: list[Key] = []
        for entry in entries:
            # RFC 7517 §5: skip keys this verifier cannot use rather than fail the whole set.
            if not isinstance(entry, dict):
                continue
            try:
                key = JWKRegistry.import_key(entry)
            except (JoseError, ValueError, TypeError, KeyError):
                continue
            if isinstance(key, RSAKey | ECKey | OKPKey):
                keys.append(key)
        return keys
