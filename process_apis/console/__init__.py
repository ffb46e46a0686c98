"""The operations console: one page served by the process layer at ``/process/console``.

It shows the figures of ``GET /process/v1/ops/summary``, the pending dispositions, the dead
letters of each stream with a Replay button, and the containment cases with their steps. The
page and its script and style sheet are static files of this package (no framework, nothing
from a CDN: it works in a plant without internet access); its data comes from the versioned
APIs with a bearer token holding ``qgate.ops`` (and ``quality.read`` for dispositions and
cases).

Where the token comes from: in dev mode with the development issuer, the page asks
``/process/console/dev-token``, which gets one for the ``operations`` demo client from the
issuer (the way the layers get their own tokens); elsewhere that route answers 404 and the
operator pastes a token, which the page keeps in ``sessionStorage`` for the browser tab.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final

import httpx
import msgspec
from litestar import Response, get
from litestar.datastructures import CacheControlHeader
from litestar.params import ParameterKwarg

from shared.errors import DownstreamUnavailable, NotFound
from shared.settings import Mode, Settings

__all__ = ["CONSOLE_CLIENT", "CONSOLE_PATH", "console_handlers"]

CONSOLE_PATH: Final = "/process/console"
CONSOLE_CLIENT: Final = "operations"
"""The dev issuer's demo client whose token the console uses in dev mode."""
_STATIC: Final = Path(__file__).with_name("static")
_ASSETS: Final = {"console.js": "text/javascript", "console.css": "text/css"}
# The page loads only its own files and talks only to its own origin.
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
_NO_STORE: Final = CacheControlHeader(no_store=True)
_UNCHANGING: Final = {"rate_limit_exempt": True}


class DevToken(msgspec.Struct, frozen=True, rename="camel"):
    access_token: str
    expires_in: int
    client_id: str


def _dev_secret(settings: Settings) -> str | None:
    if settings.mode is not Mode.DEV or not settings.dev_issuer.enabled:
        return None
    return settings.service_secret(CONSOLE_CLIENT, None)


def console_handlers(
    settings: Settings, *, issuer_transport: httpx.AsyncBaseTransport | None = None
) -> list[Any]:
    """The page, its two files, and (dev mode only) the route that fetches its token."""
    page = (_STATIC / "console.html").read_bytes()
    assets = {name: (_STATIC / name).read_bytes() for name in _ASSETS}
    secret = _dev_secret(settings)

    @get(
        [CONSOLE_PATH, f"{CONSOLE_PATH}/"],
        operation_id="processConsole",
        include_in_schema=False,
        security=[],
        opt=_UNCHANGING,
        cache_control=_NO_STORE,
        sync_to_thread=False,
    )
    def console() -> Response[bytes]:
        return Response(page, media_type="text/html", headers=_PAGE_HEADERS)

    @get(
        f"{CONSOLE_PATH}/assets/{{name:str}}",
        operation_id="processConsoleAsset",
        include_in_schema=False,
        security=[],
        opt=_UNCHANGING,
        cache_control=_NO_STORE,
        sync_to_thread=False,
    )
    def asset(name: Annotated[str, ParameterKwarg(max_length=64)]) -> Response[bytes]:
        if name not in assets:
            raise NotFound(f"{CONSOLE_PATH}/assets/{name} is not one of the console's files.")
        return Response(assets[name], media_type=_ASSETS[name])

    @get(
        f"{CONSOLE_PATH}/dev-token",
        operation_id="processConsoleDevToken",
        include_in_schema=False,
        security=[],
        cache_control=_NO_STORE,
    )
    async def dev_token() -> DevToken:
        if secret is None:
            raise NotFound("No token is handed out outside dev mode: paste a token with qgate.ops.")
        async with httpx.AsyncClient(transport=issuer_transport, timeout=10.0) as http:
            try:
                answer = await http.post(
                    settings.token_url,
                    data={"grant_type": "client_credentials"},
                    auth=(CONSOLE_CLIENT, secret),
                )
            except httpx.HTTPError as exc:
                raise DownstreamUnavailable("The development issuer did not answer.") from exc
        if answer.status_code != 200:
            raise DownstreamUnavailable(
                f"The development issuer refused the console's token ({answer.status_code})."
            )
        body = answer.json()
        return DevToken(
            access_token=str(body["access_token"]),
            expires_in=int(body.get("expires_in", 0)),
            client_id=CONSOLE_CLIENT,
        )

    return [console, asset, dev_token]
