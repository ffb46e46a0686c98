"""The request pipeline every qgate layer runs before a handler: authenticate, rate-limit, enforce
the declared scopes, accept on-behalf-of context, and make unsafe operations idempotent.

It is one ASGI middleware (one pass, at most one store round trip per concern) rather than a
stack of five, because each layer of indirection costs on every request (see
``../shared/docs/STACK.md``). Its steps, in order:

1. **Authentication** (handlers that declare a security requirement): ``Authorization: Bearer``
   verified by :class:`~shared.auth.TokenVerifier`. A failure is remembered, not raised yet, so
   that step 2 can count it against the caller's address.
2. **Rate limit**: by client id when authenticated, by remote address otherwise
   (:class:`~shared.ratelimit.RateLimiter`); ``RateLimit-Policy`` / ``RateLimit`` headers on every
   response, 429 with ``Retry-After`` past the limit. Health probes are exempt.
3. **The scope guard**: the one place scopes are enforced. It reads the security requirement the
   handler declares (``handler.resolve_security()``, the same object the contract is generated
   from), so the contract and the check cannot disagree. Missing scope: 403 ``insufficient_scope``.
4. **On-behalf-of**: a ``Qgate-On-Behalf-Of`` header is accepted only from a client holding
   ``qgate.delegate``; the chain lands on ``Principal.on_behalf_of``.
5. **Idempotency** (handlers with ``opt={"idempotent": True}``): ``Idempotency-Key`` required
   (400), claimed atomically per client (409 while in flight, 422 with another payload), the
   response stored when it is a success (< 400) and replayed with ``Idempotent-Replayed: true``;
   an error response releases the key so the client can correct and retry with the same key.

Errors are rendered here as problem+json so they carry the rate-limit headers too.
"""

from __future__ import annotations

from shared.platform._auth import declared_scopes, enforce_declared_scopes, verified_principal
from shared.platform._idempotency import IDEMPOTENCY_HEADER, REPLAYED_HEADER
from shared.platform._middleware import Platform, PlatformMiddleware

__all__ = [
    "IDEMPOTENCY_HEADER",
    "REPLAYED_HEADER",
    "Platform",
    "PlatformMiddleware",
    "declared_scopes",
    "enforce_declared_scopes",
    "verified_principal",
]
