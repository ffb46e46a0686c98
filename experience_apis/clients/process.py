"""The experience layer's typed client of the process API, on behalf of the calling app.

Every call carries the end client (and whoever it acts for) as on-behalf-of context, so the
process layer authorises, audits and attributes the work to the plant user or supplier and the
app they use. A problem the caller can act on (404, 409 ``transition-not-allowed``, 403
``self-approval``, 422 with its field errors, ...) is raised again here as the same error; any
other refusal is qgate's own fault and answers 502 (see :func:`shared.errors.relayed_error`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final, TypeVar

import httpx
import msgspec

from shared.auth import Principal
from shared.delegation import chain_for, derive_key
from shared.errors import DownstreamRejected, relayed_error
from shared.http import LayerClient

__all__ = ["PROCESS", "Posted", "ProcessClient"]

PROCESS: Final = "/process/v1"
_T = TypeVar("_T")
_log = logging.getLogger("qgate.experience.process")


class Posted(msgspec.Struct, frozen=True):
    """What a forwarded command answered: the record, its status and its ``Location``."""

    record: Any
    status: int
    location: str | None


class ProcessClient:
    """Reads and commands of ``/process/v1``, for one experience request's principal."""

    def __init__(self, layer: LayerClient) -> None:
        self._layer = layer

    @property
    def layer(self) -> LayerClient:
        return self._layer

    async def get(
        self,
        path: str,
        into: type[_T],
        principal: Principal,
        params: Mapping[str, str | None] | None = None,
    ) -> _T:
        """``GET /process/v1{path}`` decoded as ``into``; ``None`` filters are left out."""
        url = httpx.URL(
            PROCESS + path, params={k: v for k, v in (params or {}).items() if v is not None}
        )
        response = await self._layer.request("GET", str(url), on_behalf_of=chain_for(principal))
        return self._decode(response, into, "GET", path, ok=(200,))

    async def post(
        self,
        path: str,
        body: msgspec.Struct,
        into: type[_T],
        principal: Principal,
        *,
        idempotency_key: str,
    ) -> Posted:
        """Forward a command; the downstream key is derived from the caller's key and the path,
        so a retry of the caller's request never performs the command twice."""
        key = derive_key(principal, idempotency_key, "POST " + path)
        response = await self._layer.request(
            "POST",
            PROCESS + path,
            json=body,
            on_behalf_of=chain_for(principal),
            headers={"Idempotency-Key": key},
        )
        record = self._decode(response, into, "POST", path, ok=(200, 201, 202))
        return Posted(record, response.status_code, response.headers.get("Location"))

    @staticmethod
    def _decode(
        response: httpx.Response, into: type[_T], method: str, path: str, *, ok: tuple[int, ...]
    ) -> _T:
        if response.status_code not in ok:
            error = relayed_error(response.status_code, response.content)
            if isinstance(error, DownstreamRejected):
                _log.error(
                    "the process layer refused %s %s with %s", method, path, response.status_code
                )
            raise error
        try:
            return msgspec.json.decode(response.content, type=into)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            _log.error("unusable answer from %s %s: %s", method, path, exc)
            raise DownstreamRejected(f"the process layer answered {path} unusably") from exc
