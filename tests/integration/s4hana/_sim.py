"""A connector over the S/4HANA simulator whose every HTTP request is kept (headers included),
so tests can say what the connector sent as well as what the simulator answered."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from shared.settings import S4HanaSettings
from system_apis.connectors.s4hana import SIMULATOR_URL, BlockNotes, S4HanaErpConnector
from system_apis.connectors.s4hana.simulator import S4HanaSimulator, build_simulator

FETCH = "fetch"


@dataclass
class Sent:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """Every request through ``inner`` and the status it got."""

    inner: httpx.AsyncBaseTransport
    sent: list[Sent] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        response = await self.inner.handle_async_request(request)
        self.sent.append(
            Sent(
                method=request.method,
                path=request.url.path,
                query=dict(request.url.params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
                status=response.status_code,
            )
        )
        return response

    def csrf_fetches(self) -> list[Sent]:
        return [s for s in self.sent if s.headers.get("x-csrf-token", "").lower() == FETCH]

    def writes(self) -> list[Sent]:
        return [s for s in self.sent if s.method in ("POST", "PATCH", "PUT", "MERGE", "DELETE")]


def sim_settings(**overrides: Any) -> S4HanaSettings:
    return S4HanaSettings(**{"base_url": SIMULATOR_URL, **overrides})


def simulator(settings: S4HanaSettings | None = None) -> S4HanaSimulator:
    return build_simulator(settings or sim_settings())


def connect(
    sim: S4HanaSimulator,
    settings: S4HanaSettings | None = None,
    *,
    route: httpx.AsyncBaseTransport | None = None,
    notes: BlockNotes | None = None,
) -> tuple[S4HanaErpConnector, Recorder]:
    """A connector to ``sim`` (or to ``route``, which may forward to it), recording requests;
    purchasing-block notes in memory unless ``notes`` are given."""
    recorder = Recorder(route or httpx.ASGITransport(app=sim))
    connector = S4HanaErpConnector(settings or sim_settings(), transport=recorder, notes=notes)
    return connector, recorder


def stock_by_type(sim: S4HanaSimulator, batch: str, plant: str = "1000") -> dict[str, Decimal]:
    """What SAP holds of a batch: quantity by stock type (01, 02, 07 …), none that are zero."""
    found: dict[str, Decimal] = {}
    for row in sim.state.where("A_MatlStkInAcctMod", Plant=plant, Batch=batch):
        quantity = Decimal(row["MatlWrhsStkQtyInMatlBaseUnit"])
        if quantity:
            found[row["InventoryStockType"]] = found.get(row["InventoryStockType"], 0) + quantity
    return found
