"""Steps 1 and 3 of the pipeline: the bearer token, and the scope guard."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.handlers import HTTPRouteHandler
from litestar.types import Scope

from shared.auth import Principal
from shared.correlation import request_header
from shared.errors import InsufficientScope, Unauthenticated

__all__ = ["declared_scopes", "enforce_declared_scopes", "verified_principal"]


def declared_scopes(handler: HTTPRouteHandler) -> tuple[bool, frozenset[str]]:
    """(secured, scopes) from the handler's single security requirement."""
    requirements = handler.resolve_security()
    if not requirements:
        return False, frozenset()
    scopes: set[str] = set()
    for values in requirements[0].values():
        scopes.update(values)
    return True, frozenset(scopes)


def enforce_declared_scopes(handler: HTTPRouteHandler, principal: Principal) -> None:
    """The scope guard: every scope the handler declares must be granted to the token."""
    _, required = declared_scopes(handler)
    missing = sorted(required - principal.scopes)
    if missing:
        raise InsufficientScope(missing)


def _bearer(scope: Scope) -> str:
    value = request_header(scope, b"authorization")
    if value is None:
        raise Unauthenticated("a bearer access token is required", token_present=False)
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
    return token.strip()


def verified_principal(request: Request[Any, Any, Any]) -> Principal:
    """The caller the pipeline verified for this request (handlers of secured operations)."""
    user = request.scope.get("user")
    if not isinstance(user, Principal):  # pragma: no cover - the pipeline always sets it
        raise Unauthenticated("no verified caller", token_present=False)
    return user
