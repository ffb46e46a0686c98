"""Lots: disposition changes keep stock consistent, versions guard writes, only released stock
can be issued, final dispositions are final, concurrent writers cannot both win."""

from __future__ import annotations

import asyncio

import pytest

from shared.errors import BackendRejected, NotFound, PreconditionFailed
from shared.models import LotDisposition, StockCategory
from shared.models.commands import GoodsIssueCreate, LotDispositionChange, TargetQuantityInput
from shared.models.erp import Lot
from shared.models.lifecycle import DEFAULT_CATEGORY, FINAL_DISPOSITIONS
from system_apis.connectors.base import ErpConnector, LotFilter
from tests.contract.conformance._helpers import (
    ACTOR,
    MISSING_ID,
    assert_stock_consistent,
    etag_of,
    fresh_lot,
    lots_in,
    stock,
    walk,
)

_D = LotDisposition
_C = StockCategory


def _change(disposition: LotDisposition, **quantities: float) -> LotDispositionChange:
    return LotDispositionChange(
        disposition=disposition,
        reason="Conformance test",
        quantities=[
            TargetQuantityInput(category=StockCategory(c), quantity=q)
            for c, q in quantities.items()
        ],
    )


async def test_every_lot_keeps_its_stock_consistent(erp_connector: ErpConnector) -> None:
    lots = await walk(lambda page: erp_connector.list_lots(LotFilter(), page))
    assert {lot.disposition for lot in lots} == set(LotDisposition)
    for lot in lots:
        assert_stock_consistent(lot)
        assert etag_of(lot, erp_connector.system) == str(lot.version)
        assert lot.source_status


@pytest.mark.parametrize("disposition", [d for d in LotDisposition if d is not _D.QUARANTINE])
async def test_a_change_without_quantities_moves_all_stock_to_the_default_category(
    erp_connector: ErpConnector, disposition: LotDisposition
) -> None:
    lot = await fresh_lot(erp_connector, _D.QUARANTINE, quantity=12.5)
    changed = await erp_connector.change_lot_disposition(
        lot.lot_id, _change(disposition), actor=ACTOR, expected_version=lot.version
    )
    assert changed.disposition is disposition
    assert changed.version == lot.version + 1
    assert etag_of(changed, erp_connector.system) == str(changed.version)
    assert_stock_consistent(changed)
    default = DEFAULT_CATEGORY[disposition]
    if default is None:
        assert changed.total_quantity == 0
    else:
        assert changed.total_quantity == lot.total_quantity
        assert stock(changed, default) == lot.total_quantity
    assert await erp_connector.get_lot(lot.lot_id) == changed


async def test_a_change_with_quantities_splits_the_stock(erp_connector: ErpConnector) -> None:
    lot = await fresh_lot(erp_connector, _D.QUARANTINE, quantity=100)
    changed = await erp_connector.change_lot_disposition(
        lot.lot_id,
        _change(_D.RELEASED, AVAILABLE=92.5, BLOCKED=7.5),
        actor=ACTOR,
        expected_version=lot.version,
    )
    assert_stock_consistent(changed)
    assert (stock(changed, _C.AVAILABLE), stock(changed, _C.BLOCKED)) == (92.5, 7.5)
    assert stock(changed, _C.QUALITY_INSPECTION) == 0


@pytest.mark.parametrize(
    ("disposition", "quantities"),
    [
        pytest.param(_D.RELEASED, {"AVAILABLE": 60.0}, id="not-adding-up"),
        pytest.param(_D.RELEASED, {"AVAILABLE": 60.0, "BLOCKED": 60.0}, id="adding-up-to-more"),
        pytest.param(
            _D.RELEASED, {"AVAILABLE": 90.0, "QUALITY_INSPECTION": 10.0}, id="released-qi"
        ),
        pytest.param(_D.QUARANTINE, {"AVAILABLE": 100.0}, id="quarantine-available"),
        pytest.param(_D.BLOCKED, {"AVAILABLE": 100.0}, id="blocked-available"),
        pytest.param(_D.RELEASED, {"BLOCKED": 100.0}, id="released-without-available"),
        pytest.param(_D.SCRAPPED, {"BLOCKED": 100.0}, id="scrapped-with-stock"),
    ],
)
async def test_inconsistent_quantities_are_rejected_and_change_nothing(
    erp_connector: ErpConnector, disposition: LotDisposition, quantities: dict[str, float]
) -> None:
    lot = await fresh_lot(erp_connector, _D.QUARANTINE, quantity=100)
    with pytest.raises(BackendRejected):
        await erp_connector.change_lot_disposition(
            lot.lot_id, _change(disposition, **quantities), actor=ACTOR, expected_version=1
        )
    assert await erp_connector.get_lot(lot.lot_id) == lot


async def test_a_category_named_twice_is_rejected(erp_connector: ErpConnector) -> None:
    lot = await fresh_lot(erp_connector, _D.QUARANTINE, quantity=100)
    twice = LotDispositionChange(
        disposition=_D.RELEASED,
        reason="Conformance test",
        quantities=[
            TargetQuantityInput(category=_C.AVAILABLE, quantity=50),
            TargetQuantityInput(category=_C.AVAILABLE, quantity=50),
        ],
    )
    with pytest.raises(BackendRejected, match="AVAILABLE"):
        await erp_connector.change_lot_disposition(
            lot.lot_id, twice, actor=ACTOR, expected_version=lot.version
        )


async def test_a_stale_version_is_a_precondition_failure(erp_connector: ErpConnector) -> None:
    lot = await fresh_lot(erp_connector, _D.QUARANTINE)
    await erp_connector.change_lot_disposition(
        lot.lot_id, _change(_D.BLOCKED), actor=ACTOR, expected_version=lot.version
    )
    with pytest.raises(PreconditionFailed, match=str(lot.version + 1)):
        await erp_connector.change_lot_disposition(
            lot.lot_id, _change(_D.RELEASED), actor=ACTOR, expected_version=lot.version
        )
    assert (await erp_connector.get_lot(lot.lot_id)).disposition is _D.BLOCKED


@pytest.mark.parametrize("final", sorted(FINAL_DISPOSITIONS))
async def test_a_final_disposition_cannot_change(
    erp_connector: ErpConnector, final: LotDisposition
) -> None:
    lot = await fresh_lot(erp_connector, final)
    with pytest.raises(BackendRejected, match="final"):
        await erp_connector.change_lot_disposition(
            lot.lot_id, _change(_D.QUARANTINE), actor=ACTOR, expected_version=lot.version
        )
    seeded = await lots_in(erp_connector, final)
    assert seeded, f"the data should hold a {final.value} lot"
    with pytest.raises(BackendRejected):
        await erp_connector.change_lot_disposition(
            seeded[0].lot_id, _change(_D.RELEASED), actor=ACTOR, expected_version=seeded[0].version
        )


async def test_changing_or_issuing_an_unknown_lot_is_not_found(erp_connector: ErpConnector) -> None:
    with pytest.raises(NotFound):
        await erp_connector.change_lot_disposition(
            MISSING_ID, _change(_D.BLOCKED), actor=ACTOR, expected_version=1
        )
    with pytest.raises(NotFound):
        await erp_connector.issue_goods(MISSING_ID, GoodsIssueCreate(quantity=1), actor=ACTOR)


async def test_released_stock_is_issued(erp_connector: ErpConnector) -> None:
    lot = await fresh_lot(erp_connector, _D.RELEASED, quantity=40)
    issued = await erp_connector.issue_goods(
        lot.lot_id, GoodsIssueCreate(quantity=15.25), actor=ACTOR, expected_version=lot.version
    )
    assert issued.version == lot.version + 1
    assert issued.total_quantity == 24.75
    assert stock(issued, _C.AVAILABLE) == 24.75
    assert_stock_consistent(issued)
    with pytest.raises(BackendRejected):
        await erp_connector.issue_goods(lot.lot_id, GoodsIssueCreate(quantity=25), actor=ACTOR)
    with pytest.raises(PreconditionFailed):
        await erp_connector.issue_goods(
            lot.lot_id, GoodsIssueCreate(quantity=1), actor=ACTOR, expected_version=lot.version
        )
    assert await erp_connector.get_lot(lot.lot_id) == issued


async def test_restricted_stock_is_issued_only_from_restricted(erp_connector: ErpConnector) -> None:
    lot = await fresh_lot(erp_connector, _D.RESTRICTED, quantity=30)
    with pytest.raises(BackendRejected, match="RESTRICTED"):
        await erp_connector.issue_goods(lot.lot_id, GoodsIssueCreate(quantity=1), actor=ACTOR)
    issued = await erp_connector.issue_goods(
        lot.lot_id, GoodsIssueCreate(quantity=10, category=_C.RESTRICTED), actor=ACTOR
    )
    assert stock(issued, _C.RESTRICTED) == 20
    assert_stock_consistent(issued)


@pytest.mark.parametrize("disposition", [_D.QUARANTINE, _D.BLOCKED, _D.REJECTED])
@pytest.mark.parametrize("category", [_C.AVAILABLE, _C.QUALITY_INSPECTION, _C.BLOCKED])
async def test_a_lot_that_is_not_released_cannot_be_issued(
    erp_connector: ErpConnector, disposition: LotDisposition, category: StockCategory
) -> None:
    lot = await fresh_lot(erp_connector, disposition)
    with pytest.raises(BackendRejected, match=disposition.value):
        await erp_connector.issue_goods(
            lot.lot_id, GoodsIssueCreate(quantity=1, category=category), actor=ACTOR
        )
    assert await erp_connector.get_lot(lot.lot_id) == lot


async def test_seeded_blocked_and_quarantined_lots_cannot_be_issued(
    erp_connector: ErpConnector,
) -> None:
    for disposition in (_D.BLOCKED, _D.QUARANTINE):
        lots = [lot for lot in await lots_in(erp_connector, disposition) if lot.total_quantity]
        assert lots, f"the data should hold a {disposition.value} lot with stock"
        with pytest.raises(BackendRejected):
            await erp_connector.issue_goods(
                lots[0].lot_id, GoodsIssueCreate(quantity=1), actor=ACTOR
            )


async def test_concurrent_changes_with_one_version_let_exactly_one_win(
    erp_connector: ErpConnector,
) -> None:
    lot = await fresh_lot(erp_connector, _D.QUARANTINE)
    outcomes = await asyncio.gather(
        erp_connector.change_lot_disposition(
            lot.lot_id, _change(_D.RELEASED), actor=ACTOR, expected_version=lot.version
        ),
        erp_connector.change_lot_disposition(
            lot.lot_id, _change(_D.BLOCKED), actor=ACTOR, expected_version=lot.version
        ),
        return_exceptions=True,
    )
    won = [o for o in outcomes if isinstance(o, Lot)]
    lost = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(won) == 1
    assert len(lost) == 1
    assert isinstance(lost[0], PreconditionFailed)
    assert await erp_connector.get_lot(lot.lot_id) == won[0]
    assert won[0].version == lot.version + 1


async def test_concurrent_issues_never_overdraw(erp_connector: ErpConnector) -> None:
    lot = await fresh_lot(erp_connector, _D.RELEASED, quantity=10)
    outcomes = await asyncio.gather(
        *(
            erp_connector.issue_goods(lot.lot_id, GoodsIssueCreate(quantity=4), actor=ACTOR)
            for _ in range(3)
        ),
        return_exceptions=True,
    )
    assert sum(isinstance(o, Lot) for o in outcomes) == 2
    assert all(isinstance(o, (Lot, BackendRejected)) for o in outcomes)
    final = await erp_connector.get_lot(lot.lot_id)
    assert final.total_quantity == 2
    assert_stock_consistent(final)
