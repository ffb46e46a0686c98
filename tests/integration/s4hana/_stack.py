"""qgate in one process with the ERP as S/4HANA (simulator): issuer, system layer, process
layer. The test keeps the simulator, so it can look at what SAP holds after a call."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import msgspec

from shared.composition import PrefixDispatcher, build_issuer_app, create_layer
from shared.settings import ErpKind, QmsKind, Settings
from system_apis.connectors.s4hana import simulator_connector, simulator_qms_connector
from system_apis.connectors.s4hana.simulator import S4HanaSimulator, build_simulator
from tests.integration._gateway import Caller, settings
from tests.integration.test_pipeline import lifespan


@dataclass
class S4Stack:
    config: Settings
    simulator: S4HanaSimulator
    app: PrefixDispatcher

    @contextlib.asynccontextmanager
    async def caller(self, client_id: str) -> AsyncIterator[Caller]:
        transport = httpx.ASGITransport(app=cast("Any", self.app))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=30.0
        ) as http:
            answer = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client_id, f"{client_id}-secret"),
            )
            assert answer.status_code == 200, answer.text
            yield Caller(http, answer.json()["access_token"])


@contextlib.asynccontextmanager
async def s4hana_stack(*, qms: bool = False, **options: Any) -> AsyncIterator[S4Stack]:
    """The stack with ``QGATE_ERP=s4hana-sim`` (and ``QGATE_QMS=s4hana-sim`` with ``qms``);
    the system layer is given connectors over a simulator this test holds (what
    ``build_connectors`` would build, seeded the same). ``options`` go to ``settings``."""
    config = msgspec.structs.replace(
        settings(**options),
        erp=ErpKind.S4HANA_SIM,
        qms=QmsKind.S4HANA_SIM if qms else QmsKind.REFERENCE,
    )
    simulator = build_simulator(config.s4hana)
    issuer_app, _ = build_issuer_app(config)
    to_issuer = httpx.ASGITransport(app=cast("Any", issuer_app))
    system = create_layer(
        "system",
        config,
        issuer_transport=to_issuer,
        erp_connector=simulator_connector(config.s4hana, simulator),
        qms_connector=simulator_qms_connector(config.s4hana, simulator) if qms else None,
    )
    process = create_layer(
        "process",
        config,
        issuer_transport=to_issuer,
        system_transport=httpx.ASGITransport(app=cast("Any", system)),
    )
    app = PrefixDispatcher(
        [("/system/", system), ("/process/", process), ("/oauth/", issuer_app)], default=process
    )
    async with lifespan(app):
        yield S4Stack(config, simulator, app)
