"""The connectors the conformance suite runs against.

To add a connector, add a :class:`~tests.contract.conformance._helpers.Factory` to
``ERP_FACTORIES`` / ``QMS_FACTORIES``: ``build`` returns a connector with data the suite can
read (a few records of each kind, open purchase-order lines, lots in every disposition);
``restricted`` returns one that does not declare the given capability. Tests use the port only;
when one needs an existing record it finds it through list calls (``_helpers``), and it creates
what it changes through the port where it can.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.settings import S4HanaSettings
from system_apis.connectors.base import ErpCapability, ErpConnector, QmsCapability, QmsConnector
from system_apis.connectors.reference import ReferenceErpConnector, ReferenceQmsConnector
from system_apis.connectors.s4hana import simulator_connector
from tests.contract.conformance._helpers import Factory

ERP_FACTORIES: dict[str, Factory[ErpConnector, ErpCapability]] = {
    "reference": Factory(
        build=ReferenceErpConnector,
        restricted=lambda cap: ReferenceErpConnector(capabilities=frozenset(ErpCapability) - {cap}),
    ),
    "s4hana-sim": Factory(
        build=lambda: simulator_connector(S4HanaSettings()),
        restricted=lambda cap: simulator_connector(
            S4HanaSettings(), capabilities=frozenset(ErpCapability) - {cap}
        ),
    ),
}

QMS_FACTORIES: dict[str, Factory[QmsConnector, QmsCapability]] = {
    "reference": Factory(
        build=ReferenceQmsConnector,
        restricted=lambda cap: ReferenceQmsConnector(capabilities=frozenset(QmsCapability) - {cap}),
    ),
}


@pytest.fixture(params=sorted(ERP_FACTORIES))
def erp_factory(request: pytest.FixtureRequest) -> Factory[ErpConnector, ErpCapability]:
    return ERP_FACTORIES[request.param]


@pytest.fixture(params=sorted(QMS_FACTORIES))
def qms_factory(request: pytest.FixtureRequest) -> Factory[QmsConnector, QmsCapability]:
    return QMS_FACTORIES[request.param]


@pytest.fixture
async def erp_connector(
    erp_factory: Factory[ErpConnector, ErpCapability],
) -> AsyncIterator[ErpConnector]:
    connector = erp_factory.build()
    yield connector
    await connector.aclose()


@pytest.fixture
async def qms_connector(
    qms_factory: Factory[QmsConnector, QmsCapability],
) -> AsyncIterator[QmsConnector]:
    connector = qms_factory.build()
    yield connector
    await connector.aclose()
