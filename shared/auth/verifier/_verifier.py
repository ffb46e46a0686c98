"""Checking one access token: :class:`TokenVerifier`, with its cache of verified principals."""

from __future__ import annotations

import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from typing import Any, Final

import msgspec
from joserfc import jws
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jws import JWSRegistry
from joserfc.jwt import JWTClaimsRegistry

from shared.auth.principal import Principal
from shared.auth.verifier._jwks import SUPPORTED_ALGORITHMS, JwksCache
from shared.errors import Unauthenticated

__all__ = ["ACCESS_TOKEN_TYPES", "TokenVerifier"]

#: RFC 9068 §4: the ``typ`` header of a JWT access token (compared case-insensitively).
ACCESS_TOKEN_TYPES: Final = ("at+jwt", "application/at+jwt")

_MAX_TOKEN_LENGTH: Final = 8192
# Compact JWS: three base64url segments; an empty signature is let through to be refused as
# alg "none" by the allow-list, with a clearer detail than "malformed token".
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


class TokenVerifier:
    """Verify RFC 9068 JWT access tokens and turn them into :class:`Principal` objects."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        audience: str,
        algorithms: Sequence[str] = ("RS256", "ES256"),
        leeway: int = 30,
        cache_size: int = 10_000,
        token_types: Collection[str] | None = ACCESS_TOKEN_TYPES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """
        :param token_types: accepted ``typ`` header values (RFC 9068 §4 requires ``at+jwt``);
            ``None`` accepts any, for identity providers that do not type their access tokens.
        :param clock: seconds since the epoch (tests move time with it).
        """
        unsupported = [alg for alg in algorithms if alg not in SUPPORTED_ALGORITHMS]
        if unsupported or not algorithms:
            raise ValueError(
                f"unsupported token algorithms {unsupported!r}; "
                f"choose from {sorted(SUPPORTED_ALGORITHMS)}"
            )
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._algorithms = frozenset(algorithms)
        self._leeway = leeway
        self._cache_size = cache_size
        self._token_types = (
            None if token_types is None else frozenset(t.lower() for t in token_types)
        )
        self._clock = clock
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        # Unregistered header parameters are legal (RFC 7515 §4); "crit" is refused below.
        self._jws_registry = JWSRegistry(algorithms=list(algorithms), strict_check_header=False)
        self._claims_registry = JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=leeway,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
            client_id={"essential": True},
        )

    async def verify(self, token: str) -> Principal:
        """The principal of a valid access token.

        :raises Unauthenticated: for any problem with the token.
        :raises DownstreamUnavailable: when the issuer's keys cannot be fetched.
        """
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at > self._clock():
                self._cache.move_to_end(token)
                return cached
            del self._cache[token]

        obj, header = self._parse(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms:
            raise Unauthenticated("algorithm not allowed")
        typ = header.get("typ")
        if self._token_types is not None and (
            not isinstance(typ, str) or typ.lower() not in self._token_types
        ):
            raise Unauthenticated("wrong token type")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise Unauthenticated("malformed token")

        key = await self._jwks.key_for(kid, alg)
        try:
            valid = jws.validate_compact(obj, key, registry=self._jws_registry)
        except JoseError:
            valid = False
        if not valid:
            raise Unauthenticated("invalid signature")

        principal = self._principal(obj.payload)
        self._remember(token, principal)
        return principal

    def clear_cache(self) -> None:
        """Forget every cached principal (e.g. after revoking a signing key)."""
        self._cache.clear()

    @staticmethod
    def _parse(token: str) -> tuple[Any, dict[str, Any]]:
        if (
            not isinstance(token, str)
            or len(token) > _MAX_TOKEN_LENGTH
            or _COMPACT_JWS.fullmatch(token) is None
        ):
            raise Unauthenticated("malformed token")
        try:
            obj = jws.extract_compact(token.encode("ascii"))
            header = obj.headers()
        except (JoseError, ValueError, TypeError) as exc:
            raise Unauthenticated("malformed token") from exc
        # No JWS extensions: "crit" (and the unencoded payload option it guards) is not part of
        # the access token profile, so refuse it rather than half-support it.
        if not isinstance(header, dict) or "crit" in header or "b64" in header:
            raise Unauthenticated("malformed token")
        return obj, header

    def _principal(self, payload: bytes | None) -> Principal:
        try:
            claims = msgspec.json.decode(payload or b"")
        except msgspec.DecodeError as exc:
            raise Unauthenticated("malformed token") from exc
        if not isinstance(claims, dict):
            raise Unauthenticated("malformed token")
        self._validate_claims(claims)

        client_id = claims["client_id"]
        subject = claims["sub"]
        scope = claims.get("scope", "")
        supplier_id = claims.get("supplier_id")
        plants = claims.get("plants", [])
        if (
            not isinstance(client_id, str)
            or not client_id
            or not isinstance(subject, str)
            or not isinstance(scope, str)
            or (supplier_id is not None and not isinstance(supplier_id, str))
            or not isinstance(plants, list)
            or not all(isinstance(plant, str) for plant in plants)
        ):
            raise Unauthenticated("malformed token")
        return Principal(
            client_id=client_id,
            subject=subject,
            scopes=frozenset(scope.split()),
            supplier_id=supplier_id,
            plants=tuple(plants),
            expires_at=math.floor(claims["exp"]),
        )

    def _validate_claims(self, claims: dict[str, Any]) -> None:
        if claims.get("iss") is None:
            raise Unauthenticated("wrong issuer")
        if claims.get("aud") is None:
            raise Unauthenticated("wrong audience")
        try:
            self._claims_registry.validate(claims)
        except ExpiredTokenError as exc:
            raise Unauthenticated("token expired") from exc
        except MissingClaimError as exc:
            raise Unauthenticated(f"missing claim: {exc.claim}") from exc
        except InvalidClaimError as exc:
            raise Unauthenticated(_invalid_claim_detail(exc.claim, claims)) from exc
        except JoseError as exc:
            raise Unauthenticated("malformed token") from exc

    def _remember(self, token: str, principal: Principal) -> None:
        if self._cache_size <= 0:
            return
        self._cache[token] = principal
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)


def _invalid_claim_detail(claim: str, claims: dict[str, Any]) -> str:
    if claim == "iss":
        return "wrong issuer"
    if claim == "aud":
        return "wrong audience"
    if claim in ("nbf", "iat"):
        value = claims.get(claim)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        return "token not yet valid" if numeric else "malformed token"
    return "malformed token"
