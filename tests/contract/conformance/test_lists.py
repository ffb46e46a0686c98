"""Every list: pagination (no gaps, no duplicates, id order), cursors, gets, filters."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from shared.errors import InvalidCursor, NotFound
from shared.models import Page
from system_apis.connectors.base import (
    CapaFilter,
    ErpConnector,
    GoodsReceiptFilter,
    InspectionFilter,
    ItemFilter,
    LotFilter,
    NonconformanceFilter,
    PageRequest,
    PurchaseOrderFilter,
    QmsConnector,
    SpecificationFilter,
    SupplierFilter,
    SupplierQualityEventFilter,
)
from tests.contract.conformance._helpers import MISSING_ID, walk

Lister = Callable[[Any, Any, PageRequest], Awaitable[Page[Any]]]
Getter = Callable[[Any, Any], Awaitable[Any]]


@dataclass(frozen=True)
class ListCase:
    port: str
    """``erp`` or ``qms``: which connector fixture the list belongs to."""
    lister: Lister
    query: type[msgspec.Struct]
    key: Callable[[Any], Any]
    """The record's id (the list's order)."""
    getter: Getter | None = None
    """Reads one record by ``key``."""


LISTS: dict[str, ListCase] = {
    "plants": ListCase(
        "erp", lambda c, q, p: c.list_plants(p), SupplierFilter, lambda r: r.plant_id,
        lambda c, k: c.get_plant(k),
    ),
    "items": ListCase(
        "erp", lambda c, q, p: c.list_items(q, p), ItemFilter, lambda r: r.item_id,
        lambda c, k: c.get_item(k),
    ),
    "suppliers": ListCase(
        "erp", lambda c, q, p: c.list_suppliers(q, p), SupplierFilter, lambda r: r.supplier_id,
        lambda c, k: c.get_supplier(k),
    ),
    "purchase-orders": ListCase(
        "erp", lambda c, q, p: c.list_purchase_orders(q, p), PurchaseOrderFilter,
        lambda r: r.po_id, lambda c, k: c.get_purchase_order(k),
    ),
    "goods-receipts": ListCase(
        "erp", lambda c, q, p: c.list_goods_receipts(q, p), GoodsReceiptFilter,
        lambda r: r.receipt_id, lambda c, k: c.get_goods_receipt(k),
    ),
    "lots": ListCase(
        "erp", lambda c, q, p: c.list_lots(q, p), LotFilter, lambda r: r.lot_id,
        lambda c, k: c.get_lot(k),
    ),
    "specifications": ListCase(
        "qms", lambda c, q, p: c.list_specifications(q, p), SpecificationFilter,
        lambda r: (r.spec_id, r.spec_version), lambda c, k: c.get_specification(*k),
    ),
    "inspections": ListCase(
        "qms", lambda c, q, p: c.list_inspections(q, p), InspectionFilter,
        lambda r: r.inspection_id, lambda c, k: c.get_inspection(k),
    ),
    "nonconformances": ListCase(
        "qms", lambda c, q, p: c.list_nonconformances(q, p), NonconformanceFilter,
        lambda r: r.nc_id, lambda c, k: c.get_nonconformance(k),
    ),
    "capas": ListCase(
        "qms", lambda c, q, p: c.list_capas(q, p), CapaFilter, lambda r: r.capa_id,
        lambda c, k: c.get_capa(k),
    ),
    "supplier-quality-events": ListCase(
        "qms", lambda c, q, p: c.list_supplier_quality_events(q, p), SupplierQualityEventFilter,
        lambda r: r.event_id,
    ),
}  # fmt: skip

GETTERS: dict[str, Getter] = {
    "plant": lambda c, k: c.get_plant(k),
    "item": lambda c, k: c.get_item(k),
    "supplier": lambda c, k: c.get_supplier(k),
    "purchase-order": lambda c, k: c.get_purchase_order(k),
    "goods-receipt": lambda c, k: c.get_goods_receipt(k),
    "lot": lambda c, k: c.get_lot(k),
    "specification": lambda c, k: c.get_specification(k),
    "specification-version": lambda c, k: c.get_specification(k, 999),
    "inspection": lambda c, k: c.get_inspection(k),
    "nonconformance": lambda c, k: c.get_nonconformance(k),
    "capa": lambda c, k: c.get_capa(k),
    "supplier-quality-status": lambda c, k: c.get_supplier_quality_status(k),
}
_QMS_GETTERS = {
    "specification", "specification-version", "inspection", "nonconformance", "capa",
    "supplier-quality-status",
}  # fmt: skip


def _connector(case_port: str, erp: ErpConnector, qms: QmsConnector) -> Any:
    return erp if case_port == "erp" else qms


async def _all(case: ListCase, connector: Any, query: msgspec.Struct | None = None) -> list[Any]:
    wanted = query if query is not None else case.query()
    return await walk(lambda page: case.lister(connector, wanted, page))


@pytest.mark.parametrize("name", sorted(LISTS))
@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_walking_small_pages_returns_every_record_once_in_id_order(
    name: str, limit: int, erp_connector: ErpConnector, qms_connector: QmsConnector
) -> None:
    case = LISTS[name]
    connector = _connector(case.port, erp_connector, qms_connector)
    everything = [case.key(r) for r in await _all(case, connector)]
    paged = [case.key(r) for r in await walk(lambda p: case.lister(connector, case.query(), p),
                                              limit=limit)]  # fmt: skip
    assert len(everything) >= 2, "the data should have records on more than one page"
    assert paged == everything
    assert len(set(paged)) == len(paged)
    assert paged == sorted(paged)


@pytest.mark.parametrize("name", sorted(LISTS))
async def test_the_last_page_has_no_cursor(
    name: str, erp_connector: ErpConnector, qms_connector: QmsConnector
) -> None:
    case = LISTS[name]
    connector = _connector(case.port, erp_connector, qms_connector)
    page = await case.lister(connector, case.query(), PageRequest(limit=200))
    assert page.items
    assert page.next_cursor is None


@pytest.mark.parametrize("name", sorted(LISTS))
@pytest.mark.parametrize("cursor", ["not a cursor!", "Zm9vYmFy", "", "x" * 40])
async def test_a_cursor_the_connector_did_not_issue_is_a_bad_request(
    name: str, cursor: str, erp_connector: ErpConnector, qms_connector: QmsConnector
) -> None:
    case = LISTS[name]
    connector = _connector(case.port, erp_connector, qms_connector)
    with pytest.raises(InvalidCursor, match="cursor"):
        await case.lister(connector, case.query(), PageRequest(cursor=cursor, limit=5))


@pytest.mark.parametrize("name", sorted(n for n, c in LISTS.items() if c.getter is not None))
async def test_get_returns_the_listed_record(
    name: str, erp_connector: ErpConnector, qms_connector: QmsConnector
) -> None:
    case = LISTS[name]
    assert case.getter is not None
    connector = _connector(case.port, erp_connector, qms_connector)
    for record in (await _all(case, connector))[:8]:
        assert await case.getter(connector, case.key(record)) == record


@pytest.mark.parametrize("name", sorted(GETTERS))
async def test_get_of_an_unknown_id_is_not_found(
    name: str, erp_connector: ErpConnector, qms_connector: QmsConnector
) -> None:
    connector = qms_connector if name in _QMS_GETTERS else erp_connector
    with pytest.raises(NotFound):
        await GETTERS[name](connector, MISSING_ID)


async def test_get_specification_without_version_is_the_highest(
    qms_connector: QmsConnector,
) -> None:
    case = LISTS["specifications"]
    every = await _all(case, qms_connector)
    highest: dict[str, int] = {}
    for spec in every:
        highest[spec.spec_id] = max(highest.get(spec.spec_id, 0), spec.spec_version)
    assert any(v > 1 for v in highest.values()), "the data should have a specification revised"
    for spec_id, version in highest.items():
        assert (await qms_connector.get_specification(spec_id)).spec_version == version
    spec_id = next(iter(highest))
    with pytest.raises(NotFound):
        await qms_connector.get_specification(spec_id, highest[spec_id] + 1)


def _values(record: Any, field: str) -> list[Any]:
    """What a record offers for a filter field (lists for items' plants, NCs' lots)."""
    if field == "plant_id" and hasattr(record, "plants"):
        return [p.plant_id for p in record.plants]
    if field == "lot_id" and hasattr(record, "lot_ids"):
        return list(record.lot_ids)
    value = getattr(record, field)
    return [] if value is None else [value]


FILTERS = [
    pytest.param(name, field, id=f"{name}-{field}")
    for name, case in sorted(LISTS.items())
    for field in case.query.__struct_fields__
    if name != "plants"
]


@pytest.mark.parametrize(("name", "field"), FILTERS)
async def test_each_filter_field_returns_exactly_the_matching_records(
    name: str, field: str, erp_connector: ErpConnector, qms_connector: QmsConnector
) -> None:
    case = LISTS[name]
    connector = _connector(case.port, erp_connector, qms_connector)
    every = await _all(case, connector)
    values = list(dict.fromkeys(v for record in every for v in _values(record, field)))
    assert values, f"the data should give {name} a {field} to filter on"
    for value in values[:4]:
        got = await _all(case, connector, case.query(**{field: value}))
        expected = [case.key(r) for r in every if value in _values(r, field)]
        assert [case.key(r) for r in got] == expected
    if isinstance(values[0], str) and not isinstance(values[0], enum.Enum):
        assert await _all(case, connector, case.query(**{field: MISSING_ID})) == []
