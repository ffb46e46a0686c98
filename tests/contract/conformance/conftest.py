"""The connectors the conformance suite runs against.

To add a connector, add a :class:`~tests.contract.conformance._helpers.Factory` to
``ERP_FACTORIES`` / ``QMS_FACTORIES``: ``build`` returns a connector with data the suite can
read (a few records of each kind, open purchase-order lines, lots in every disposition);
``restricted`` returns one that does not declare the given capability. Tests use the port only;
when one needs an existing record it finds it through list calls (``_helpers``), and it creates
what it changes through the port where it can.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from functools import cache
from typing import Final

import pytest

from shared.models.qms import Characteristic, Specification
from shared.settings import S4HanaSettings
from system_apis.connectors.base import (
    Capability,
    ErpCapability,
    ErpConnector,
    QmsCapability,
    QmsConnector,
)
from system_apis.connectors.reference import ReferenceErpConnector, ReferenceQmsConnector
from system_apis.connectors.s4hana import (
    QMS_CAPABILITIES as S4HANA_QMS_CAPABILITIES,
)
from system_apis.connectors.s4hana import (
    build_simulator,
    simulator_connector,
    simulator_qms_connector,
)
from system_apis.connectors.s4hana._inspections import characteristic_id, plan_id
from system_apis.connectors.tryton import ERP_CAPABILITIES, QMS_CAPABILITIES
from tests.contract.conformance._helpers import PLANS, Factory
from tests.integration.tryton._server import TRYTON

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
    # A real trytond on loopback, a fresh copy of the seeded template database per test.
    "tryton": Factory(
        build=TRYTON.erp, restricted=lambda cap: TRYTON.erp(ERP_CAPABILITIES - {cap})
    ),
}

QMS_FACTORIES: dict[str, Factory[QmsConnector, QmsCapability]] = {
    "reference": Factory(
        build=ReferenceQmsConnector,
        restricted=lambda cap: ReferenceQmsConnector(capabilities=frozenset(QmsCapability) - {cap}),
    ),
    # SAP QM through the simulator: inspections, results, usage decisions.
    "s4hana-sim": Factory(
        build=lambda: simulator_qms_connector(S4HanaSettings()),
        restricted=lambda cap: simulator_qms_connector(
            S4HanaSettings(), capabilities=S4HANA_QMS_CAPABILITIES - {cap}
        ),
    ),
    "tryton": Factory(
        build=TRYTON.qms, restricted=lambda cap: TRYTON.qms(QMS_CAPABILITIES - {cap})
    ),
}


@cache
def _simulator_plans() -> list[Specification]:
    """The simulator's inspection plans at plant 1000 (their current change state), as the SAP
    QM connector names them: what its inspection lots are created against."""
    settings = S4HanaSettings()
    critical = set(settings.plants["1000"].critical_weightings)
    plans = build_simulator(settings).state.plans
    return [
        Specification(
            spec_id=plan_id(plan.BillOfOperationsGroup, plan.BillOfOperationsVariant),
            spec_version=int(plan.BillOfOperationsChangeStateID),
            item_id=material,
            title=f"Inspection plan of {material}",
            valid_from=plan.valid_from,
            characteristics=[
                Characteristic(
                    characteristic_id=characteristic_id(row),
                    name=str(row["InspectionSpecificationText"]),
                    quantitative=bool(row["InspSpecIsQuantitative"]),
                    lower_limit=row["InspSpecLowerLimit"] if row["InspSpecHasLowerLimit"] else None,
                    upper_limit=row["InspSpecUpperLimit"] if row["InspSpecHasUpperLimit"] else None,
                    target=row["InspSpecTargetValue"] if row["InspSpecHasTargetValue"] else None,
                    uom=str(row.get("InspectionSpecificationUnit") or "") or None,
                    critical=row.get("InspSpecImportanceCode") in critical,
                )
                for row in plan.characteristics
            ],
        )
        for (material, plant), plan in sorted(plans.items())
        if plant == "1000"
    ]


PLANS["s4hana"] = _simulator_plans

UNSUPPORTED: dict[str, frozenset[Capability]] = {
    "s4hana-sim": frozenset(QmsCapability) - S4HANA_QMS_CAPABILITIES,
    "tryton": (frozenset(ErpCapability) - ERP_CAPABILITIES)
    | (frozenset(QmsCapability) - QMS_CAPABILITIES),
}
"""What a factory's connector does not declare: the tests that need it are not collected for
that factory (its 501 answer is what ``test_capabilities`` checks instead)."""

_NC: Final = frozenset({QmsCapability.NONCONFORMANCES})
_NEEDS: dict[str, frozenset[Capability]] = {
    "test_a_nonconformance_is_created_open": _NC,
    "test_a_nonconformance_follows_its_transitions_to_closed": _NC,
    "test_a_cancelled_nonconformance_cannot_change": _NC,
    "test_updating_an_unknown_nonconformance_is_not_found": _NC,
    "test_the_data_holds_open_nonconformances": _NC,
    "test_get_specification_without_version_is_the_highest": frozenset(
        {QmsCapability.SPECIFICATIONS}
    ),
    "test_a_purchasing_block_is_set_deduplicated_and_lifted": frozenset(
        {ErpCapability.PURCHASING_BLOCK}
    ),
    "test_blocking_an_unknown_supplier_is_not_found": frozenset({ErpCapability.PURCHASING_BLOCK}),
    "test_a_capa_walks_the_8d_stages_to_closed": frozenset({QmsCapability.CAPA}),
    "test_a_stale_capa_advance_is_a_precondition_failure": frozenset({QmsCapability.CAPA}),
    "test_the_data_holds_a_capa_mid_8d": frozenset({QmsCapability.CAPA}),
    "test_supplier_quality_events_are_appended": frozenset({QmsCapability.SUPPLIER_QUALITY_EVENTS}),
    "test_a_supplier_quality_status_is_replaced_with_a_new_version": frozenset(
        {QmsCapability.SUPPLIER_QUALITY_STATUS, QmsCapability.SUPPLIER_QUALITY_EVENTS}
    ),
}
"""Tests that exercise a capability beyond reading and writing the basic records."""
_LIST_NEEDS: dict[str, Capability] = {
    "specifications": QmsCapability.SPECIFICATIONS,
    "specification": QmsCapability.SPECIFICATIONS,
    "specification-version": QmsCapability.SPECIFICATIONS,
    "nonconformances": QmsCapability.NONCONFORMANCES,
    "nonconformance": QmsCapability.NONCONFORMANCES,
    "capas": QmsCapability.CAPA,
    "capa": QmsCapability.CAPA,
    "supplier-quality-events": QmsCapability.SUPPLIER_QUALITY_EVENTS,
    "supplier-quality-status": QmsCapability.SUPPLIER_QUALITY_STATUS,
}
"""Lists and getters (``test_lists``' ``name``) that need a capability."""
_QMS_LISTS = frozenset({
    "specifications", "inspections", "nonconformances", "capas", "supplier-quality-events",
    "specification", "specification-version", "inspection", "nonconformance", "capa",
    "supplier-quality-status",
})  # fmt: skip


def _deselect(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return False
    params = callspec.params
    erp, qms = params.get("erp_factory"), params.get("qms_factory")
    name = params.get("name")
    needs = set(_NEEDS.get(getattr(item, "originalname", item.name), frozenset()))
    if isinstance(name, str) and name in _LIST_NEEDS:
        needs.add(_LIST_NEEDS[name])
    # Factory names repeat across ports (s4hana-sim, tryton): each is asked about its own.
    for factory, port in ((erp, ErpCapability), (qms, QmsCapability)):
        own = {need for need in needs if isinstance(need, port)}
        if factory is not None and own & UNSUPPORTED.get(factory, frozenset()):
            return True
    if isinstance(name, str) and erp is not None and qms is not None:
        # A list test reads one port; the other port's connector is the reference one only.
        unused = erp if name in _QMS_LISTS else qms
        return bool(unused != "reference")
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    dropped = [item for item in items if _deselect(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


@pytest.fixture(autouse=True)
def _fresh_tryton_database() -> None:
    """Each test gets its own copy of the Tryton template (when it builds a Tryton connector)."""
    TRYTON.new_test()


@pytest.fixture(scope="session", autouse=True)
def _stop_tryton() -> Iterator[None]:
    yield
    TRYTON.stop()


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
