"""Inspections: created against the current specification, results valuated, decided once."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import BackendRejected, NotFound, PreconditionFailed
from shared.models import (
    CharacteristicValuation,
    DispositionCode,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    StockCategory,
)
from shared.models.commands import (
    InspectionCreate,
    Measurement,
    ResultsRecord,
    TargetQuantityInput,
    UsageDecisionCreate,
)
from shared.models.qms import Characteristic, Inspection, Specification
from system_apis.connectors.base import InspectionFilter, QmsConnector
from tests.contract.conformance._helpers import (
    ACTOR,
    CONF_LOT,
    MISSING_ID,
    current_spec,
    etag_of,
    inspections,
)

_St = InspectionStatus
_R = InspectionResult
_V = CharacteristicValuation
_O = InspectionOrigin


def _measure(char: Characteristic, *, ok: bool) -> Measurement:
    if not char.quantitative:
        return Measurement(characteristic_id=char.characteristic_id, conforming=ok)
    low, up = char.lower_limit, char.upper_limit
    if ok:
        inside = char.target if char.target is not None else low if low is not None else up
        return Measurement(characteristic_id=char.characteristic_id, measured_value=inside)
    outside = up + 1 if up is not None else (low or 0) - 1
    return Measurement(characteristic_id=char.characteristic_id, measured_value=outside)


async def _open(qms: QmsConnector, spec: Specification, **extra: str) -> Inspection:
    return await qms.create_inspection(
        InspectionCreate(
            origin=_O.GOODS_RECEIPT if "goods_receipt_id" in extra else _O.OTHER,
            lot_id=CONF_LOT,
            item_id=spec.item_id,
            plant_id="1000",
            quantity=100,
            **extra,
        ),
        actor=ACTOR,
    )


async def _record(
    qms: QmsConnector, inspection: Inspection, spec: Specification, *, reject: str | None = None
) -> Inspection:
    results = [_measure(c, ok=c.characteristic_id != reject) for c in spec.characteristics]
    return await qms.record_results(
        inspection.inspection_id, ResultsRecord(results=results), actor=ACTOR
    )


def _decision(
    code: DispositionCode = DispositionCode.RELEASE,
    *,
    quantities: list[TargetQuantityInput] | None = None,
    source_code: str | None = None,
) -> UsageDecisionCreate:
    return UsageDecisionCreate(
        decision=code,
        reason="Conformance",
        decided_by="qa.conformance",
        quantities=quantities or [],
        source_code=source_code,
    )


async def test_an_inspection_starts_against_the_current_specification(
    qms_connector: QmsConnector,
) -> None:
    spec = await current_spec(qms_connector)
    created = await _open(qms_connector, spec)
    assert (created.status, created.result, created.version) == (_St.CREATED, _R.PENDING, 1)
    assert (created.spec_id, created.spec_version) == (spec.spec_id, spec.spec_version)
    assert [r.characteristic_id for r in created.results] == [
        c.characteristic_id for c in spec.characteristics
    ]
    assert all(r.valuation is _V.NOT_EVALUATED for r in created.results)
    assert created.decision is None
    assert etag_of(created, qms_connector.system) == "1"
    assert await qms_connector.get_inspection(created.inspection_id) == created
    listed = await inspections(qms_connector, InspectionFilter(lot_id=CONF_LOT))
    assert listed == [created]


async def test_one_goods_receipt_has_one_inspection(qms_connector: QmsConnector) -> None:
    spec = await current_spec(qms_connector)
    first = await _open(qms_connector, spec, goods_receipt_id="GR-CONF-1")
    again = await _open(qms_connector, spec, goods_receipt_id="GR-CONF-1")
    assert again == first
    other = await _open(qms_connector, spec, goods_receipt_id="GR-CONF-2")
    assert other.inspection_id != first.inspection_id


async def test_an_unknown_specification_or_item_is_refused(qms_connector: QmsConnector) -> None:
    spec = await current_spec(qms_connector)
    with pytest.raises(NotFound):
        await _open(qms_connector, spec, spec_id=MISSING_ID)
    with pytest.raises(BackendRejected):
        await qms_connector.create_inspection(
            InspectionCreate(
                origin=_O.OTHER, lot_id=CONF_LOT, item_id=MISSING_ID, plant_id="1000", quantity=1
            ),
            actor=ACTOR,
        )


async def test_results_valuate_against_the_limits(qms_connector: QmsConnector) -> None:
    spec = await current_spec(qms_connector)
    created = await _open(qms_connector, spec)
    first, *rest = spec.characteristics
    partial = await qms_connector.record_results(
        created.inspection_id,
        ResultsRecord(results=[_measure(first, ok=False)]),
        actor=ACTOR,
        expected_version=created.version,
    )
    assert (partial.status, partial.result, partial.version) == (_St.IN_PROGRESS, _R.PENDING, 2)
    assert partial.results[0].valuation is _V.REJECT
    assert all(r.valuation is _V.NOT_EVALUATED for r in partial.results[1:])
    corrected = await qms_connector.record_results(
        created.inspection_id,
        ResultsRecord(results=[_measure(c, ok=True) for c in (first, *rest)]),
        actor=ACTOR,
    )
    assert (corrected.status, corrected.result) == (_St.RESULTS_RECORDED, _R.PASS)
    assert all(r.valuation is _V.ACCEPT for r in corrected.results)


async def test_a_rejected_critical_characteristic_fails(qms_connector: QmsConnector) -> None:
    spec = await current_spec(qms_connector)
    critical = next(c for c in spec.characteristics if c.critical)
    done = await _record(
        qms_connector, await _open(qms_connector, spec), spec, reject=critical.characteristic_id
    )
    assert (done.status, done.result) == (_St.RESULTS_RECORDED, _R.FAIL)


async def test_a_rejected_minor_characteristic_is_a_conditional_pass(
    qms_connector: QmsConnector,
) -> None:
    spec = await current_spec(qms_connector, needs_non_critical=True)
    minor = next(c for c in spec.characteristics if not c.critical)
    done = await _record(
        qms_connector, await _open(qms_connector, spec), spec, reject=minor.characteristic_id
    )
    assert (done.status, done.result) == (_St.RESULTS_RECORDED, _R.CONDITIONAL_PASS)


@pytest.mark.parametrize("mistake", ["unknown", "no-value", "twice"])
async def test_invalid_results_are_refused(qms_connector: QmsConnector, mistake: str) -> None:
    spec = await current_spec(qms_connector)
    created = await _open(qms_connector, spec)
    char = spec.characteristics[0]
    results = {
        "unknown": [Measurement(characteristic_id=MISSING_ID, measured_value=1.0, conforming=True)],
        "no-value": [Measurement(characteristic_id=char.characteristic_id)],
        "twice": [_measure(char, ok=True), _measure(char, ok=True)],
    }[mistake]
    with pytest.raises(BackendRejected):
        await qms_connector.record_results(
            created.inspection_id, ResultsRecord(results=results), actor=ACTOR
        )
    assert await qms_connector.get_inspection(created.inspection_id) == created


async def test_a_stale_version_is_a_precondition_failure(qms_connector: QmsConnector) -> None:
    spec = await current_spec(qms_connector)
    created = await _open(qms_connector, spec)
    await _record(qms_connector, created, spec)
    with pytest.raises(PreconditionFailed):
        await qms_connector.record_results(
            created.inspection_id,
            ResultsRecord(results=[_measure(spec.characteristics[0], ok=True)]),
            actor=ACTOR,
            expected_version=created.version,
        )
    with pytest.raises(PreconditionFailed):
        await qms_connector.record_usage_decision(
            created.inspection_id, _decision(), actor=ACTOR, expected_version=created.version
        )


async def test_a_usage_decision_needs_every_result_and_is_made_once(
    qms_connector: QmsConnector,
) -> None:
    spec = await current_spec(qms_connector)
    created = await _open(qms_connector, spec)
    with pytest.raises(BackendRejected):
        await qms_connector.record_usage_decision(created.inspection_id, _decision(), actor=ACTOR)
    recorded = await _record(qms_connector, created, spec)
    decided = await qms_connector.record_usage_decision(
        created.inspection_id,
        _decision(
            quantities=[
                TargetQuantityInput(category=StockCategory.AVAILABLE, quantity=95),
                TargetQuantityInput(category=StockCategory.BLOCKED, quantity=5),
            ],
            source_code="A1",
        ),
        actor=ACTOR,
        expected_version=recorded.version,
    )
    assert decided.status is _St.DECIDED
    assert decided.version == recorded.version + 1
    assert decided.decision is not None
    assert decided.decision.decision is DispositionCode.RELEASE
    assert decided.decision.lot_id == created.lot_id
    assert decided.decision.inspection_id == created.inspection_id
    assert decided.decision.source_code == "A1"
    assert [(q.category, q.quantity) for q in decided.decision.quantities] == [
        (StockCategory.AVAILABLE, 95),
        (StockCategory.BLOCKED, 5),
    ]
    with pytest.raises(BackendRejected):
        await qms_connector.record_usage_decision(created.inspection_id, _decision(), actor=ACTOR)
    with pytest.raises(BackendRejected):
        await _record(qms_connector, decided, spec)
    assert await qms_connector.get_inspection(created.inspection_id) == decided


async def test_decision_quantities_must_add_up(qms_connector: QmsConnector) -> None:
    spec = await current_spec(qms_connector)
    recorded = await _record(qms_connector, await _open(qms_connector, spec), spec)
    with pytest.raises(BackendRejected):
        await qms_connector.record_usage_decision(
            recorded.inspection_id,
            _decision(
                quantities=[TargetQuantityInput(category=StockCategory.AVAILABLE, quantity=50)]
            ),
            actor=ACTOR,
        )


async def test_concurrent_decisions_let_exactly_one_win(qms_connector: QmsConnector) -> None:
    spec = await current_spec(qms_connector)
    recorded = await _record(qms_connector, await _open(qms_connector, spec), spec)
    outcomes = await asyncio.gather(
        *(
            qms_connector.record_usage_decision(
                recorded.inspection_id,
                _decision(code),
                actor=ACTOR,
                expected_version=recorded.version,
            )
            for code in (DispositionCode.RELEASE, DispositionCode.BLOCK)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(o, Inspection) for o in outcomes) == 1
    assert sum(isinstance(o, (PreconditionFailed, BackendRejected)) for o in outcomes) == 1


async def test_seeded_inspections_cover_every_status(qms_connector: QmsConnector) -> None:
    seeded = await inspections(qms_connector)
    assert {i.status for i in seeded} == set(InspectionStatus)
    for inspection in seeded:
        assert (inspection.decision is not None) == (inspection.status is _St.DECIDED)
        assert etag_of(inspection, qms_connector.system) == str(inspection.version)
