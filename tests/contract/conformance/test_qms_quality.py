"""Nonconformances, CAPAs, supplier quality events and statuses."""

from __future__ import annotations

import pytest

from shared.errors import BackendRejected, NotFound, PreconditionFailed
from shared.models import (
    BlockedFunction,
    CapaStage,
    CapaType,
    MaterialDisposition,
    NonconformanceStatus,
    NonconformanceType,
    Severity,
    SupplierQualityEventKind,
    SupplierQualityStatusCode,
)
from shared.models.commands import (
    CapaCreate,
    CapaStageAdvance,
    NonconformanceCreate,
    NonconformanceUpdate,
    SupplierQualityEventCreate,
    SupplierQualityStatusChange,
)
from shared.models.qms import Nonconformance
from system_apis.connectors.base import (
    CapaFilter,
    NonconformanceFilter,
    QmsConnector,
    SupplierQualityEventFilter,
)
from tests.contract.conformance._helpers import ACTOR, MISSING_ID, walk

_S = NonconformanceStatus


async def _nc(qms: QmsConnector) -> Nonconformance:
    return await qms.create_nonconformance(
        NonconformanceCreate(
            type=NonconformanceType.SUPPLIER_NC,
            severity=Severity.MAJOR,
            title="Conformance: burrs on bore",
            plant_id="1000",
            lot_ids=["CONF-LOT-1", "CONF-LOT-2", "CONF-LOT-1"],
        ),
        actor=ACTOR,
    )


def _update(
    status: NonconformanceStatus | None = None, material: MaterialDisposition | None = None
) -> NonconformanceUpdate:
    return NonconformanceUpdate(reason="Conformance", status=status, material_disposition=material)


async def _known_supplier(qms: QmsConnector) -> str:
    events = await walk(
        lambda page: qms.list_supplier_quality_events(SupplierQualityEventFilter(), page)
    )
    assert events, "the data should hold supplier quality events"
    return events[0].supplier_id


async def test_a_nonconformance_is_created_open(qms_connector: QmsConnector) -> None:
    created = await _nc(qms_connector)
    assert (created.status, created.version) == (_S.OPEN, 1)
    assert created.lot_ids == ["CONF-LOT-1", "CONF-LOT-2"]
    assert await qms_connector.get_nonconformance(created.nc_id) == created
    listed = await walk(
        lambda page: qms_connector.list_nonconformances(
            NonconformanceFilter(lot_id="CONF-LOT-2"), page
        )
    )
    assert listed == [created]


async def test_a_nonconformance_follows_its_transitions_to_closed(
    qms_connector: QmsConnector,
) -> None:
    nc = await _nc(qms_connector)
    with pytest.raises(BackendRejected, match="OPEN"):
        await qms_connector.update_nonconformance(nc.nc_id, _update(_S.CLOSED), actor=ACTOR)
    nc = await qms_connector.update_nonconformance(
        nc.nc_id, _update(_S.IN_PROGRESS), actor=ACTOR, expected_version=nc.version
    )
    assert (nc.status, nc.version) == (_S.IN_PROGRESS, 2)
    nc = await qms_connector.update_nonconformance(nc.nc_id, _update(_S.IN_REVIEW), actor=ACTOR)
    with pytest.raises(BackendRejected, match="material"):
        await qms_connector.update_nonconformance(nc.nc_id, _update(_S.CLOSED), actor=ACTOR)
    nc = await qms_connector.update_nonconformance(
        nc.nc_id, _update(material=MaterialDisposition.REWORK), actor=ACTOR
    )
    assert (nc.status, nc.material_disposition) == (_S.IN_REVIEW, MaterialDisposition.REWORK)
    with pytest.raises(PreconditionFailed):
        await qms_connector.update_nonconformance(
            nc.nc_id, _update(_S.CLOSED), actor=ACTOR, expected_version=nc.version - 1
        )
    closed = await qms_connector.update_nonconformance(
        nc.nc_id, _update(_S.CLOSED), actor=ACTOR, expected_version=nc.version
    )
    assert (closed.status, closed.version) == (_S.CLOSED, nc.version + 1)
    with pytest.raises(BackendRejected):
        await qms_connector.update_nonconformance(nc.nc_id, _update(_S.IN_PROGRESS), actor=ACTOR)
    assert await qms_connector.get_nonconformance(nc.nc_id) == closed


async def test_a_cancelled_nonconformance_cannot_change(qms_connector: QmsConnector) -> None:
    nc = await _nc(qms_connector)
    await qms_connector.update_nonconformance(nc.nc_id, _update(_S.CANCELLED), actor=ACTOR)
    with pytest.raises(BackendRejected):
        await qms_connector.update_nonconformance(
            nc.nc_id, _update(material=MaterialDisposition.SCRAP), actor=ACTOR
        )


async def test_updating_an_unknown_nonconformance_is_not_found(qms_connector: QmsConnector) -> None:
    with pytest.raises(NotFound):
        await qms_connector.update_nonconformance(MISSING_ID, _update(_S.CANCELLED), actor=ACTOR)


async def test_the_data_holds_open_nonconformances(qms_connector: QmsConnector) -> None:
    every = await walk(
        lambda page: qms_connector.list_nonconformances(NonconformanceFilter(), page)
    )
    assert sum(nc.status in (_S.OPEN, _S.IN_PROGRESS, _S.IN_REVIEW) for nc in every) >= 3


async def test_a_capa_walks_the_8d_stages_to_closed(qms_connector: QmsConnector) -> None:
    nc = await _nc(qms_connector)
    capa = await qms_connector.create_capa(
        CapaCreate(
            type=CapaType.CORRECTIVE,
            title="Conformance 8D",
            plant_id="1000",
            owner="sqe.conformance",
            nc_ids=[nc.nc_id],
        ),
        actor=ACTOR,
    )
    assert (capa.status, capa.stage, capa.version) == (_S.OPEN, CapaStage.D0, 1)
    assert await qms_connector.get_capa(capa.capa_id) == capa
    with pytest.raises(BackendRejected, match="D0"):
        await qms_connector.advance_capa(
            capa.capa_id, CapaStageAdvance(stage=CapaStage.D2, summary="Too early"), actor=ACTOR
        )
    for stage in CapaStage:
        before = capa
        capa = await qms_connector.advance_capa(
            capa.capa_id,
            CapaStageAdvance(stage=stage, summary=f"{stage.value} done"),
            actor=ACTOR,
            expected_version=before.version,
        )
        assert capa.version == before.version + 1
        assert capa.completed_stages[-1].stage is stage
        assert (capa.effectiveness_verified_at is not None) == (stage >= CapaStage.D7)
        assert capa.status is (_S.CLOSED if stage is CapaStage.D8 else _S.IN_PROGRESS)
    assert capa.stage is CapaStage.D8
    assert [r.stage for r in capa.completed_stages] == list(CapaStage)
    with pytest.raises(BackendRejected):
        await qms_connector.advance_capa(
            capa.capa_id, CapaStageAdvance(stage=CapaStage.D8, summary="Again"), actor=ACTOR
        )
    closed = await walk(lambda page: qms_connector.list_capas(CapaFilter(status=_S.CLOSED), page))
    assert capa in closed


async def test_a_stale_capa_advance_is_a_precondition_failure(qms_connector: QmsConnector) -> None:
    capa = await qms_connector.create_capa(
        CapaCreate(type=CapaType.PREVENTIVE, title="Conformance", plant_id="2000", owner="sqe"),
        actor=ACTOR,
    )
    await qms_connector.advance_capa(
        capa.capa_id, CapaStageAdvance(stage=CapaStage.D0, summary="Team"), actor=ACTOR
    )
    with pytest.raises(PreconditionFailed):
        await qms_connector.advance_capa(
            capa.capa_id,
            CapaStageAdvance(stage=CapaStage.D1, summary="Problem"),
            actor=ACTOR,
            expected_version=capa.version,
        )


async def test_the_data_holds_a_capa_mid_8d(qms_connector: QmsConnector) -> None:
    every = await walk(lambda page: qms_connector.list_capas(CapaFilter(), page))
    assert any(c.status is _S.IN_PROGRESS and CapaStage.D0 < c.stage < CapaStage.D8 for c in every)


async def test_supplier_quality_events_are_appended(qms_connector: QmsConnector) -> None:
    supplier_id = await _known_supplier(qms_connector)
    before = await walk(
        lambda page: qms_connector.list_supplier_quality_events(
            SupplierQualityEventFilter(supplier_id=supplier_id), page
        )
    )
    recorded = [
        await qms_connector.record_supplier_quality_event(
            SupplierQualityEventCreate(
                supplier_id=supplier_id,
                kind=SupplierQualityEventKind.AUDIT_FINDING,
                description=f"Conformance finding {n}",
            ),
            actor=ACTOR,
        )
        for n in range(2)
    ]
    assert recorded[0].event_id != recorded[1].event_id
    assert all(e.occurred_at is not None and e.version == 1 for e in recorded)
    after = await walk(
        lambda page: qms_connector.list_supplier_quality_events(
            SupplierQualityEventFilter(supplier_id=supplier_id), page
        )
    )
    assert {e.event_id for e in after} == {e.event_id for e in before} | {
        e.event_id for e in recorded
    }
    assert [e for e in after if e.event_id in {b.event_id for b in before}] == before


async def test_a_supplier_quality_status_is_replaced_with_a_new_version(
    qms_connector: QmsConnector,
) -> None:
    supplier_id = await _known_supplier(qms_connector)
    current = await qms_connector.get_supplier_quality_status(supplier_id)
    changed = await qms_connector.set_supplier_quality_status(
        supplier_id,
        SupplierQualityStatusChange(
            status=SupplierQualityStatusCode.PROBATION,
            reason="Conformance",
            blocked_functions=[BlockedFunction.RFQ, BlockedFunction.RFQ],
        ),
        actor=ACTOR,
        expected_version=current.version,
    )
    assert changed.version == current.version + 1
    assert (changed.status, changed.blocked_functions, changed.reason) == (
        SupplierQualityStatusCode.PROBATION,
        [BlockedFunction.RFQ],
        "Conformance",
    )
    assert await qms_connector.get_supplier_quality_status(supplier_id) == changed
    with pytest.raises(PreconditionFailed):
        await qms_connector.set_supplier_quality_status(
            supplier_id,
            SupplierQualityStatusChange(status=SupplierQualityStatusCode.APPROVED, reason="x"),
            actor=ACTOR,
            expected_version=current.version,
        )
    with pytest.raises(NotFound):
        await qms_connector.set_supplier_quality_status(
            MISSING_ID,
            SupplierQualityStatusChange(status=SupplierQualityStatusCode.APPROVED, reason="x"),
            actor=ACTOR,
        )
