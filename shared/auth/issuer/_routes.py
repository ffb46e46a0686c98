"""The issuer's HTTP routes: token endpoint (with its form parsing), JWKS and metadata."""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import parse_qsl

import msgspec
from litestar import Request, Response, Router, get, post

from shared.auth.issuer._issuer import _NO_STORE, DevIssuer, OAuthError

__all__ = ["dev_issuer_router"]

_TAGS: Final = ["OAuth (development)"]
_FORM: Final = "application/x-www-form-urlencoded"
_MAX_FORM_FIELDS: Final = 32


def _parse_form(content_type: str, body: bytes) -> dict[str, str]:
    if content_type != _FORM:
        raise OAuthError(400, "invalid_request", f"the request body must be {_FORM}")
    try:
        pairs = parse_qsl(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            errors="strict",
            max_num_fields=_MAX_FORM_FIELDS,
        )
    except ValueError as exc:  # includes UnicodeDecodeError
        raise OAuthError(400, "invalid_request", "the request body is not a valid form") from exc
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            # RFC 6749 §3.2: request parameters must not be included more than once.
            raise OAuthError(400, "invalid_request", "a request parameter is repeated")
        form[name] = value
    return form


def _oauth_error_response(error: OAuthError) -> Response[bytes]:
    return Response(
        content=error.body(),
        status_code=error.status,
        media_type="application/json",
        headers=error.headers,
    )


def dev_issuer_router(issuer: DevIssuer) -> Router:
    """Routes of the development issuer: token endpoint, JWKS and metadata."""

    @post(
        "/oauth/token",
        operation_id="issueToken",
        tags=_TAGS,
        security=[],
        include_in_schema=False,
        status_code=200,
    )
    async def issue_token(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            basic_auth = request.headers.get("Authorization")
            form = _parse_form(request.content_type[0], await request.body())
            token = issuer.authenticate_and_issue(basic_auth=basic_auth, form=form)
        except OAuthError as error:
            return _oauth_error_response(error)
        return Response(
            content=msgspec.json.encode(token),
            status_code=200,
            media_type="application/json",
            headers=_NO_STORE,
        )

    @get(
        "/.well-known/jwks.json",
        operation_id="getJwks",
        tags=_TAGS,
        security=[],
        include_in_schema=False,
        opt={"rate_limit_exempt": True},  # public, cheap, fetched by every verifier
    )
    async def get_jwks() -> Response[bytes]:
        return Response(
            content=msgspec.json.encode(issuer.jwks()),
            media_type="application/json",
        )

    @get(
        "/.well-known/oauth-authorization-server",
        operation_id="getAuthorizationServerMetadata",
        tags=_TAGS,
        security=[],
        include_in_schema=False,
        opt={"rate_limit_exempt": True},  # public, cheap, fetched by every verifier
    )
    async def get_metadata() -> Response[bytes]:
        return Response(
            content=msgspec.json.encode(issuer.metadata()),
            media_type="application/json",
        )

    return Router(path="/", route_handlers=[issue_token, get_jwks, get_metadata])
