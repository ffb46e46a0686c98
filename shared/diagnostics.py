"""Diagnostic operations every surface offers: ``whoami`` and connectivity checks.

They exercise the whole chain a real operation uses: token, scope guard, rate limit,
idempotency, problem+json, correlation and on-behalf-of, from the experience layer through the
process layer down to the system layer. Each layer answers with the hops below it, so a caller
sees which client each layer saw, on whose behalf, under which correlation id.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import httpx
import msgspec
from litestar import Request, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody

from shared.auth import Caller, Principal
from shared.correlation import current_correlation_id
from shared.delegation import chain_for, derive_key
from shared.errors import DownstreamRejected, DownstreamUnavailable
from shared.http import LayerClient
from shared.models import QgateStruct, RequestStruct
from shared.platform import verified_principal
from shared.routes import DOWNSTREAM, IDEMPOTENT, READ, WRITE, IdempotencyKey, problems, requires

__all__ = [
    "CallerView",
    "ConnectivityCheck",
    "ConnectivityCheckRequest",
    "Downstream",
    "Hop",
    "WhoAmI",
    "caller_view",
    "decode_downstream",
    "diagnostic_examples",
    "diagnostic_handlers",
    "new_check",
    "own_hop",
]

_log = logging.getLogger("qgate.diagnostics")
_T = TypeVar("_T")


class CallerRef(QgateStruct, frozen=True, kw_only=True):
    client_id: str
    subject: str
    supplier_id: str | None = None
    plants: list[str] = msgspec.field(default_factory=list)


class CallerView(QgateStruct, frozen=True, kw_only=True):
    """The verified caller as one layer saw it."""

    client_id: str
    subject: str
    scopes: list[str]
    supplier_id: str | None = None
    plants: list[str] = msgspec.field(default_factory=list)
    on_behalf_of: list[CallerRef] = msgspec.field(default_factory=list)
    """Original caller first, then each layer that called on its behalf."""


class Hop(QgateStruct, frozen=True, kw_only=True):
    layer: str
    surface: str
    caller: CallerView
    correlation_id: str | None
    reference: str | None = None
    """The id this layer gave the operation (a connectivity check's id), if any."""


class WhoAmI(QgateStruct, frozen=True, kw_only=True):
    """The caller this surface verified, and every hop below it."""

    caller: CallerView
    hops: list[Hop]


class ConnectivityCheckRequest(RequestStruct, frozen=True, kw_only=True):
    note: Annotated[str, msgspec.Meta(max_length=200, description="Free text, echoed back.")] = ""


class ConnectivityCheck(QgateStruct, frozen=True, kw_only=True):
    """A recorded end-to-end check: created once per Idempotency-Key, replayed after."""

    check_id: str
    note: str
    created_at: datetime
    hops: list[Hop]


def _ref(caller: Caller) -> CallerRef:
    return CallerRef(
        client_id=caller.client_id,
        subject=caller.subject,
        supplier_id=caller.supplier_id,
        plants=list(caller.plants),
    )


def caller_view(principal: Principal) -> CallerView:
    return CallerView(
        client_id=principal.client_id,
        subject=principal.subject,
        scopes=sorted(principal.scopes),
        supplier_id=principal.supplier_id,
        plants=list(principal.plants),
        on_behalf_of=[_ref(caller) for caller in principal.on_behalf_of],
    )


def own_hop(layer: str, surface: str, principal: Principal, reference: str | None = None) -> Hop:
    return Hop(
        layer=layer,
        surface=surface,
        caller=caller_view(principal),
        correlation_id=current_correlation_id(),
        reference=reference,
    )


def new_check(
    *, layer: str, surface: str, principal: Principal, note: str, below: list[Hop]
) -> ConnectivityCheck:
    """Record a check at this layer; logged, so an operator can count executions."""
    check_id = str(uuid.uuid4())
    _log.info(
        "connectivity check %s recorded",
        check_id,
        extra={
            "qgate": {
                "event": "connectivity_check_recorded",
                "checkId": check_id,
                "surface": surface,
                "clientId": principal.client_id,
            }
        },
    )
    return ConnectivityCheck(
        check_id=check_id,
        note=note,
        created_at=datetime.now(UTC),
        hops=[own_hop(layer, surface, principal, check_id), *below],
    )


def decode_downstream(response: httpx.Response, type_: type[_T], *, layer: str) -> _T:
    """Decode a 2xx answer from the layer below.

    A 429 (the layer below is shedding load) is a retryable 503 with its ``Retry-After``;
    anything else that is not 2xx is a bad gateway (502).
    """
    if response.status_code == 429:
        retry_after = response.headers.get("retry-after", "1")
        raise DownstreamUnavailable(
            f"{layer} is rate limiting qgate", headers={"Retry-After": retry_after}
        )
    if not 200 <= response.status_code < 300:
        _log.warning("%s answered %s: %s", layer, response.status_code, response.text[:500])
        raise DownstreamRejected(f"{layer} answered {response.status_code}")
    try:
        return msgspec.json.decode(response.content, type=type_)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise DownstreamRejected(
            f"{layer} answered a body that does not match its contract"
        ) from exc


class Downstream(msgspec.Struct, frozen=True, kw_only=True):
    """Where a relaying surface sends its diagnostics: a LayerClient in ``app.state``."""

    state_key: str
    layer: str
    whoami_path: str
    check_paths: tuple[str, ...]


def diagnostic_handlers(
    *,
    layer: str,
    surface: str,
    prefix: str,
    tag: str,
    read_scope: str,
    write_scope: str,
    downstream: Downstream | None = None,
) -> list[HTTPRouteHandler]:
    """``GET {prefix}/whoami`` and ``POST {prefix}/connectivity-checks`` for one surface.

    With ``downstream``, both relay to the layer below on behalf of the caller (the check with a
    key derived from the caller's Idempotency-Key); without, this layer is the end of the chain.
    """
    read_errors = problems(READ, DOWNSTREAM) if downstream else problems(READ)
    write_errors = problems(WRITE, DOWNSTREAM) if downstream else problems(WRITE)

    @get(
        f"{prefix}/whoami",
        operation_id=f"{surface}WhoAmI",
        summary="Show the verified caller and how each layer below sees it",
        description=(
            "The caller this surface verified (client, scopes, tenant claims, on-behalf-of "
            "chain) and the same as seen by each layer below, with correlation ids."
        ),
        tags=[tag],
        security=requires(read_scope),
        responses=read_errors,
    )
    async def who_am_i(request: Request[Any, Any, Any]) -> WhoAmI:
        principal = verified_principal(request)
        hops = [own_hop(layer, surface, principal)]
        if downstream is not None:
            client: LayerClient = request.app.state[downstream.state_key]
            response = await client.request(
                "GET", downstream.whoami_path, on_behalf_of=chain_for(principal)
            )
            hops.extend(decode_downstream(response, WhoAmI, layer=downstream.layer).hops)
        return WhoAmI(caller=caller_view(principal), hops=hops)

    @post(
        f"{prefix}/connectivity-checks",
        operation_id=f"create{surface.capitalize()}ConnectivityCheck",
        summary="Record a connectivity check through every layer below (idempotent)",
        description=(
            "Records a check at this layer and at every layer below, each exactly once per "
            "Idempotency-Key: a retry with the same key replays the first answer."
        ),
        tags=[tag],
        security=requires(write_scope),
        responses=write_errors,
        status_code=201,
        opt=IDEMPOTENT,
    )
    async def create_connectivity_check(
        request: Request[Any, Any, Any],
        data: JSONBody[ConnectivityCheckRequest],
        idempotency_key: IdempotencyKey,
    ) -> ConnectivityCheck:
        principal = verified_principal(request)
        below: list[Hop] = []
        if downstream is not None:
            client: LayerClient = request.app.state[downstream.state_key]
            for path in downstream.check_paths:
                response = await client.request(
                    "POST",
                    path,
                    json=ConnectivityCheckRequest(note=data.note),
                    on_behalf_of=chain_for(principal),
                    headers={"Idempotency-Key": derive_key(principal, idempotency_key, path)},
                )
                below.extend(
                    decode_downstream(response, ConnectivityCheck, layer=downstream.layer).hops
                )
        return new_check(
            layer=layer, surface=surface, principal=principal, note=data.note, below=below
        )

    return [who_am_i, create_connectivity_check]


def diagnostic_examples() -> dict[str, Any]:
    """Examples of the diagnostics' wire Structs, for every surface's contract."""
    caller = CallerView(
        client_id="plant-app",
        subject="plant-app",
        scopes=["plant.read", "plant.write"],
        plants=["1000"],
    )
    below = CallerView(
        client_id="experience-service",
        subject="experience-service",
        scopes=["qgate.delegate", "quality.read", "quality.write"],
        on_behalf_of=[CallerRef(client_id="plant-app", subject="plant-app", plants=["1000"])],
    )
    correlation_id = "5f0c6c1e-8f2a-4b7e-9a57-3f6d2b1c0a9e"
    hops = [
        Hop(layer="experience", surface="plant", caller=caller, correlation_id=correlation_id),
        Hop(layer="process", surface="quality", caller=below, correlation_id=correlation_id),
    ]
    check = ConnectivityCheck(
        check_id="0b6f7a52-3c1e-4a8e-9d3b-2f4c5e6a7b8c",
        note="first light",
        created_at=datetime(2026, 11, 20, 8, 30, tzinfo=UTC),
        hops=[
            msgspec.structs.replace(hop, reference="0b6f7a52-3c1e-4a8e-9d3b-2f4c5e6a7b8c")
            for hop in hops
        ],
    )
    structs: dict[str, msgspec.Struct] = {
        "WhoAmI": WhoAmI(caller=caller, hops=hops),
        "ConnectivityCheck": check,
        "ConnectivityCheckRequest": ConnectivityCheckRequest(note="first light"),
    }
    return {name: msgspec.to_builtins(value) for name, value in structs.items()}
