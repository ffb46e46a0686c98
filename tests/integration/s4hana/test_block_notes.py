"""Purchasing-block notes: SAP keeps the block indicators, qgate the reason, actor, time and
version (SAP's supplier long text is read-only in API_BUSINESS_PARTNER). Two system-layer
replicas sharing Redis read the same notes; a change made in SAP directly is seen as one."""

from __future__ import annotations

import pytest

from shared.errors import DownstreamUnavailable, PreconditionFailed
from shared.models import BlockedFunction
from shared.models.commands import PurchasingBlockChange
from system_apis.connectors.s4hana import BlockNote, MemoryBlockNotes, RedisBlockNotes
from tests.e2e._servers import free_port
from tests.integration.s4hana._sim import connect, simulator

SUPPLIER = "SUP-0001"


async def test_two_replicas_sharing_redis_see_one_block_and_its_reason(redis_url: str) -> None:
    sim = simulator()
    first, _ = connect(sim, notes=RedisBlockNotes.from_url(redis_url))
    second, _ = connect(sim, notes=RedisBlockNotes.from_url(redis_url))
    before = await second.get_supplier(SUPPLIER)

    await first.set_purchasing_block(
        SUPPLIER,
        PurchasingBlockChange(functions=[BlockedFunction.GOODS_RECEIPT], reason="8D overdue"),
        actor="qa.lead@plant-1000",
        expected_version=before.version,
    )
    seen = await second.get_supplier(SUPPLIER)

    assert seen.version == before.version + 1
    assert seen.purchasing_block is not None
    assert seen.purchasing_block.reason == "8D overdue"
    assert seen.purchasing_block.blocked_by == "qa.lead@plant-1000"
    assert sim.state.require("A_Supplier", (SUPPLIER,))["SupplierProcurementBlock"] == "Q2"
    assert list(sim.state.rows("A_SupplierText")) == []  # nothing written into SAP's texts
    with pytest.raises(PreconditionFailed):
        await second.set_purchasing_block(
            SUPPLIER,
            PurchasingBlockChange(functions=[], reason="stale"),
            actor="x",
            expected_version=before.version,
        )
    await first.aclose()
    await second.aclose()


async def test_a_block_changed_in_sap_directly_moves_the_version_and_drops_the_note() -> None:
    sim = simulator()
    connector, _ = connect(sim)
    blocked = await connector.set_purchasing_block(
        SUPPLIER,
        PurchasingBlockChange(functions=[BlockedFunction.PURCHASE_ORDER], reason="Audit"),
        actor="qe-1",
    )
    sim.state.require("A_Supplier", (SUPPLIER,))["SupplierProcurementBlock"] = "Q2"

    seen = await connector.get_supplier(SUPPLIER)

    assert seen.version == blocked.version + 1
    assert seen.purchasing_block is not None
    assert {f.value for f in seen.purchasing_block.functions} == {
        "PURCHASE_ORDER",
        "GOODS_RECEIPT",
    }
    assert seen.purchasing_block.reason == "Blocked in S/4HANA"
    await connector.aclose()


class _Raced(MemoryBlockNotes):
    """Another replica notes its block between this one's read and its write."""

    async def put(self, supplier: str, note: BlockNote, *, replaces: int | None) -> bool:
        return False


async def test_a_note_written_by_another_replica_meanwhile_is_a_precondition_failure() -> None:
    connector, _ = connect(simulator(), notes=_Raced())

    with pytest.raises(PreconditionFailed, match="changed at the same time"):
        await connector.set_purchasing_block(
            SUPPLIER,
            PurchasingBlockChange(functions=[BlockedFunction.RFQ], reason="Late"),
            actor="qe-1",
        )
    await connector.aclose()


async def test_the_notes_store_down_is_a_retryable_unavailability() -> None:
    connector, _ = connect(
        simulator(), notes=RedisBlockNotes.from_url(f"redis://127.0.0.1:{free_port()}/0")
    )

    with pytest.raises(DownstreamUnavailable) as caught:
        await connector.get_supplier(SUPPLIER)

    assert caught.value.retryable
    await connector.aclose()
