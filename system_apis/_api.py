"""What every system API operation shares: connectors, pages, ETags and the actor.

- The connectors live in ``app.state`` (``erp``, ``qms``), put there by the composition root;
  handlers take them as the ``erp`` / ``qms`` dependencies.
- Every record read or written is answered with ``ETag: "<version>"``. Updates take
  ``If-Match`` with that ETag (:mod:`system_apis.params`): stale answers 412; where it is
  required, missing answers 428.
"""

from __future__ import annotations

import re
from typing import Any, Final, TypeVar

from litestar import Request, Response
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency, Provide

from shared.errors import PreconditionFailed, PreconditionRequired
from shared.models import Record
from shared.platform import verified_principal
from system_apis.connectors.base import (
    DEFAULT_PAGE_SIZE,
    ErpConnector,
    PageRequest,
    QmsConnector,
)

__all__ = [
    "CONNECTORS",
    "ETAG",
    "LOCATION",
    "Erp",
    "Qms",
    "actor",
    "etag",
    "expected_version",
    "page",
    "record_response",
]

_R = TypeVar("_R", bound=Record)
_TAG: Final = re.compile(r'^"(\d{1,18})"$')

ETAG: Final = ResponseHeader(
    name="ETag",
    description='The record\'s version as an entity tag, `"<version>"`: send it as `If-Match`.',
    documentation_only=True,
    required=True,
)
LOCATION: Final = ResponseHeader(
    name="Location",
    description="Where the created record can be read.",
    documentation_only=True,
    required=True,
)


def _connector(key: str) -> Provide:
    def provide(request: Request[Any, Any, Any]) -> Any:
        return request.app.state[key]

    return Provide(provide, sync_to_thread=False)


CONNECTORS: Final = {"erp": _connector("erp"), "qms": _connector("qms")}
"""Dependencies for handlers: ``erp: Erp``, ``qms: Qms``."""

Erp = NamedDependency[ErpConnector]
Qms = NamedDependency[QmsConnector]


def page(cursor: str | None, limit: int | None) -> PageRequest:
    return PageRequest(cursor=cursor, limit=limit or DEFAULT_PAGE_SIZE)


def etag(version: int) -> str:
    return f'"{version}"'


def expected_version(if_match: str | None, *, required: bool) -> int | None:
    """The version ``If-Match`` names (None: any, or absent where optional).

    Only strong tags compare (RFC 9110 §13.1.1): a weak or foreign tag never matches.
    """
    if if_match is not None and not if_match.strip():
        if_match = None
    if if_match is None:
        if required:
            raise PreconditionRequired(
                'This operation requires If-Match with the record\'s ETag ("<version>").'
            )
        return None
    if if_match.strip() == "*":
        return None
    for tag in (part.strip() for part in if_match.split(",")):
        match = _TAG.match(tag)
        if match:
            return int(match.group(1))
    raise PreconditionFailed(f"If-Match {if_match} does not match the record's current ETag.")


def actor(request: Request[Any, Any, Any]) -> str:
    """Who a change is made for: the original caller when a layer acts on its behalf."""
    principal = verified_principal(request)
    if principal.on_behalf_of:
        return principal.on_behalf_of[0].subject
    return principal.subject


def record_response(
    record: _R, *, status_code: int = 200, location: str | None = None
) -> Response[_R]:
    """The record with its ``ETag`` (and ``Location`` when just created)."""
    headers = {"ETag": etag(record.version)}
    if location is not None:
        headers["Location"] = location
    return Response(record, status_code=status_code, headers=headers)
