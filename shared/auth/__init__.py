"""Authentication: scopes, clients, principals, token verification and the dev token issuer."""

from shared.auth.clients import ClientConfig, demo_clients
from shared.auth.issuer import DevIssuer, OAuthError, TokenResponse, dev_issuer_router
from shared.auth.principal import Caller, Principal
from shared.auth.scopes import DELEGATION_SCOPE, OPERATIONS_SCOPE, SCOPES
from shared.auth.verifier import (
    ACCESS_TOKEN_TYPES,
    SUPPORTED_ALGORITHMS,
    JwksCache,
    TokenVerifier,
)

__all__ = [
    "ACCESS_TOKEN_TYPES",
    "DELEGATION_SCOPE",
    "OPERATIONS_SCOPE",
    "SCOPES",
    "SUPPORTED_ALGORITHMS",
    "Caller",
    "ClientConfig",
    "DevIssuer",
    "JwksCache",
    "OAuthError",
    "Principal",
    "TokenResponse",
    "TokenVerifier",
    "demo_clients",
    "dev_issuer_router",
]
