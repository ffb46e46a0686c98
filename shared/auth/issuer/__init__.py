"""The development token issuer: OAuth 2.0 client credentials with RFC 9068 JWT access tokens.

For the embedded default and tests only (production mode refuses it; the app factory decides).
It holds an RS256 key generated at start-up, so tokens do not survive a restart, and knows its
clients from :class:`~shared.auth.clients.ClientConfig` (the demo set by default).

:func:`dev_issuer_router` serves it:

- ``POST /oauth/token``: RFC 6749 §4.4 client credentials; client authentication by
  ``client_secret_basic`` or ``client_secret_post``; RFC 6749 §5.2 JSON errors.
- ``GET /.well-known/jwks.json``: the public key set.
- ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata.

The router must be mounted so that ``issuer + "/oauth/token"`` reaches it, since the metadata
advertises URLs built from the issuer.
"""

from __future__ import annotations

from shared.auth.issuer._issuer import DevIssuer, OAuthError, TokenResponse
from shared.auth.issuer._routes import dev_issuer_router

__all__ = ["DevIssuer", "OAuthError", "TokenResponse", "dev_issuer_router"]
