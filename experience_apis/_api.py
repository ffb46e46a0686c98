"""What the experience routes share: the process client dependency, conditional reads, headers.

Reads answer ``ETag`` (a hash of the view as sent) and ``Cache-Control: private, no-cache``; a
poll that sends the tag back in ``If-None-Match`` gets ``304 Not Modified`` with no body, so a
portal polling for changes costs a few bytes. The tag is computed from the caller's own view,
so it reveals nothing about data the caller may not see.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Final, TypeVar

import msgspec
from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import HeaderParameter

from experience_apis.clients.process import ProcessClient
from experience_apis.scoping import Tenancy

__all__ = [
    "CACHE_CONTROL",
    "CONDITIONAL",
    "ETAG",
    "LOCATION",
    "NOT_MODIFIED",
    "IfNoneMatch",
    "Process",
    "Scope",
    "conditional",
    "process_dependency",
]

_T = TypeVar("_T")


def _process(request: Request[Any, Any, Any]) -> ProcessClient:
    client: ProcessClient = request.app.state["process_client"]
    return client


process_dependency: Final = Provide(_process, sync_to_thread=False)
Process = NamedDependency[ProcessClient]
Scope = NamedDependency[Tenancy]

ETAG: Final = ResponseHeader(
    name="ETag",
    description="Entity tag of this view: send it as `If-None-Match` to poll (304 if unchanged).",
    documentation_only=True,
    required=True,
)
CACHE_CONTROL: Final = ResponseHeader(
    name="Cache-Control",
    description="`private, no-cache`: only the caller may keep it, and revalidates it.",
    documentation_only=True,
    required=True,
)
LOCATION: Final = ResponseHeader(
    name="Location",
    description="Where the created or accepted resource can be read.",
    documentation_only=True,
    required=True,
)
CONDITIONAL: Final = [ETAG, CACHE_CONTROL]
NOT_MODIFIED: Final = {
    304: ResponseSpec(
        data_container=None,
        description="Not modified: the view still has the `ETag` sent in `If-None-Match`.",
        generate_examples=False,
    )
}
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-None-Match",
        description="The `ETag` of the view you hold: 304 with no body while it is unchanged.",
        max_length=1024,
        pattern=r'^(\*|(W/)?"[!#-~]*"( *, *(W/)?"[!#-~]*")*)?$',
    ),
]
_CACHE_CONTROL_VALUE: Final = "private, no-cache"


def _matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110 §13.1.2: weak comparison against every tag listed (``*`` matches any)."""
    if if_none_match.strip() == "*":
        return True
    return any(
        tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(",") if tag.strip()
    )


def conditional(view: Any, if_none_match: str | None) -> Response[Any]:
    """200 with the view, its ``ETag`` and ``Cache-Control``; 304 when the caller has it."""
    body = msgspec.json.encode(view)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": _CACHE_CONTROL_VALUE}
    if if_none_match and _matches(if_none_match, etag):
        return Response(content=b"", status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)
