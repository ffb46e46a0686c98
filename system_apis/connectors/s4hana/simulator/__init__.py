"""The S/4HANA simulator: SAP's OData v2 service subsets qgate uses, stateful, in one ASGI app.

``build_simulator(settings)`` gives one seeded with the demo data; serve it (``qgate serve --erp
s4hana-sim`` runs it in-process) or point ``httpx.ASGITransport`` at it in tests.
"""

from __future__ import annotations

from shared.settings import S4HanaSettings
from system_apis.connectors.s4hana.simulator._app import Exchange, Faults, S4HanaSimulator
from system_apis.connectors.s4hana.simulator._inspection import plan_of
from system_apis.connectors.s4hana.simulator._seed import seed_demo
from system_apis.connectors.s4hana.simulator._state import KEYS, SERVICES, Plan, SapError, State

__all__ = [
    "KEYS",
    "SERVICES",
    "Exchange",
    "Faults",
    "Plan",
    "S4HanaSimulator",
    "SapError",
    "State",
    "build_simulator",
    "plan_of",
]


def build_simulator(settings: S4HanaSettings, *, seeded: bool = True) -> S4HanaSimulator:
    """A simulator accepting ``settings``' user and password (and its OAuth client)."""
    state = seed_demo(State(), settings) if seeded else State()
    clients = (
        {settings.client_id: settings.client_secret}
        if settings.client_id and settings.client_secret
        else {}
    )
    return S4HanaSimulator(
        state=state, user=settings.user, password=settings.password, oauth_clients=clients
    )
