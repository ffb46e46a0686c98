"""Reading Tryton's master data and purchasing as canonical records.

Item = ``product.product`` (its code); supplier = ``party.party`` (its code) that supplies a
product or has a purchase; purchase order = ``purchase.purchase`` (its number), lines numbered by
their sequence; goods receipt = a received ``stock.shipment.in`` (its number; ``reference`` is
the supplier's delivery note) and its incoming move.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from shared.models import StockCategory, SupplierQualityStatusCode
from shared.models.erp import (
    GoodsReceipt,
    Item,
    ItemPlant,
    Plant,
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
)
from system_apis.connectors.tryton._common import lot_id_of, many2one, qty, refs, utc
from system_apis.connectors.tryton._locations import Locations
from system_apis.connectors.tryton._notes import StateNotes
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = [
    "item_rows",
    "nested",
    "plants",
    "purchase_orders",
    "receipts",
    "suppliers",
]

_RECEIVED = ["received", "done"]


def nested(row: Mapping[str, Any], path: str) -> Any:
    """``row["a."]["b"]`` for a dotted read of ``a.b`` (None along the way gives None)."""
    head, _, rest = path.partition(".")
    if not rest:
        return row.get(head)
    inner = row.get(head + ".")
    return nested(inner, rest) if isinstance(inner, Mapping) else None


def plants(locations: Locations) -> list[Plant]:
    return [
        Plant(
            plant_id=p.plant_id,
            name=p.name,
            country=p.country,
            external_refs=refs("stock.location", p.warehouse, 1),
            source_status="warehouse",
        )
        for p in locations.plants.values()
    ]


async def item_rows(
    client: TrytonClient, codes: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    domain: list[Any] = [("code", "!=", None)]
    if codes is not None:
        domain.append(("code", "in", list(codes)))
    rows: list[dict[str, Any]] = await client.execute(
        "product.product",
        "search_read",
        domain,
        0,
        None,
        [("code", "ASC")],
        ["code", "name", "default_uom.symbol", "active", "type"],
    )
    return [r for r in rows if r.get("type") == "goods"]


async def items(
    client: TrytonClient, locations: Locations, codes: Iterable[str] | None = None
) -> list[Item]:
    rows = await item_rows(client, codes)
    controlled = await _controlled_products(client, [int(r["id"]) for r in rows])
    return [
        Item(
            item_id=str(r["code"]),
            description=str(r["name"])[:200],
            base_uom=str(nested(r, "default_uom.symbol") or "u")[:8],
            batch_managed=True,
            plants=[
                ItemPlant(plant_id=p, inspection_required_on_receipt=int(r["id"]) in controlled)
                for p in sorted(locations.plants)
            ],
            external_refs=refs("product.product", int(r["id"]), 1),
            source_status="active" if r.get("active", True) else "inactive",
        )
        for r in rows
    ]


async def _controlled_products(client: TrytonClient, ids: list[int]) -> set[int]:
    """Products with an active quality control: qgate inspects them on receipt."""
    if not ids:
        return set()
    rows = await client.execute(
        "quality.control", "search_read", [("product", "in", ids)], 0, None, None, ["product"]
    )
    return {int(r["product"]) for r in rows if r.get("product")}


async def suppliers(client: TrytonClient, codes: Iterable[str] | None = None) -> list[Supplier]:
    supplying = await client.execute(
        "purchase.product_supplier", "search_read", [], 0, None, None, ["party"]
    )
    purchasing = await client.execute(
        "purchase.purchase", "search_read", [], 0, None, None, ["party"]
    )
    ids = sorted({int(r["party"]) for r in [*supplying, *purchasing] if r.get("party")})
    domain: list[Any] = [("id", "in", ids), ("code", "!=", None)]
    if codes is not None:
        domain.append(("code", "in", list(codes)))
    rows = await client.execute(
        "party.party",
        "search_read",
        domain,
        0,
        None,
        [("code", "ASC")],
        ["code", "name", "active", "addresses"],
        context={"active_test": False},
    )
    address_ids = [a for r in rows for a in (r.get("addresses") or [])[:1]]
    countries: dict[int, str] = {}
    if address_ids:
        for address in await client.execute("party.address", "read", address_ids, ["country.code"]):
            countries[int(address["id"])] = str(nested(address, "country.code") or "ZZ")
    result = []
    for r in rows:
        first = (r.get("addresses") or [None])[0]
        active = bool(r.get("active", True))
        result.append(
            Supplier(
                supplier_id=str(r["code"]),
                name=str(r["name"])[:200],
                country=countries.get(first, "ZZ") if first else "ZZ",
                # Tryton keeps no supplier quality status; an archived party buys nothing more.
                quality_status=(
                    SupplierQualityStatusCode.APPROVED
                    if active
                    else SupplierQualityStatusCode.DISQUALIFIED
                ),
                purchasing_blocked=False,
                external_refs=refs("party.party", int(r["id"]), 1),
                source_status="active" if active else "archived",
            )
        )
    return result


async def line_numbers(
    client: TrytonClient, purchase_ids: Iterable[int]
) -> dict[int, list[dict[str, Any]]]:
    """Each purchase's goods lines, in order, with ``line_no`` set (sequence, else position)."""
    ids = list(purchase_ids)
    if not ids:
        return {}
    rows = await client.execute(
        "purchase.line",
        "search_read",
        [("purchase", "in", ids), ("type", "=", "line"), ("product", "!=", None)],
        0,
        None,
        [("purchase", "ASC"), ("sequence", "ASC"), ("id", "ASC")],
        ["purchase", "sequence", "product.code", "quantity", "unit.symbol", "product"],
    )
    lines: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        siblings = lines.setdefault(int(row["purchase"]), [])
        row["line_no"] = int(row["sequence"]) if row.get("sequence") else (len(siblings) + 1) * 10
        siblings.append(row)
    return lines


async def purchase_orders(
    client: TrytonClient, locations: Locations, numbers: Iterable[str] | None = None
) -> list[PurchaseOrder]:
    domain: list[Any] = [("number", "!=", None), ("state", "not in", ["draft", "cancelled"])]
    if numbers is not None:
        domain.append(("number", "in", list(numbers)))
    rows = await client.execute(
        "purchase.purchase",
        "search_read",
        domain,
        0,
        None,
        [("number", "ASC")],
        ["number", "party.code", "warehouse", "purchase_date", "create_date", "state"],
    )
    lines = await line_numbers(client, [int(r["id"]) for r in rows])
    line_ids = [int(line["id"]) for ls in lines.values() for line in ls]
    received, shipments = await _received(client, line_ids)
    orders = []
    for r in rows:
        plant = locations.by_warehouse(many2one(r.get("warehouse")) or 0)
        plant_id = plant.plant_id if plant else "NONE"
        own = lines.get(int(r["id"]), [])
        version = 1 + len({s for line in own for s in shipments.get(int(line["id"]), set())})
        ordered = r.get("purchase_date")
        orders.append(
            PurchaseOrder(
                po_id=str(r["number"]),
                supplier_id=str(nested(r, "party.code") or "NONE"),
                plant_id=plant_id,
                ordered_at=(
                    dt.datetime.combine(ordered, dt.time(), tzinfo=dt.UTC)
                    if isinstance(ordered, dt.date)
                    else utc(r.get("create_date"))
                ),
                lines=[
                    PurchaseOrderLine(
                        line_no=int(line["line_no"]),
                        item_id=str(nested(line, "product.code")),
                        plant_id=plant_id,
                        quantity=qty(float(line["quantity"])),
                        received_quantity=qty(received.get(int(line["id"]), 0.0)),
                        uom=str(nested(line, "unit.symbol") or "u")[:8],
                    )
                    for line in own
                ],
                version=version,
                external_refs=refs("purchase.purchase", int(r["id"]), version),
                source_status=str(r["state"]),
            )
        )
    return orders


async def _received(
    client: TrytonClient, line_ids: list[int]
) -> tuple[dict[int, float], dict[int, set[str]]]:
    """Quantity received per purchase line (done incoming moves) and the shipments it came in."""
    if not line_ids:
        return {}, {}
    moves = await client.execute(
        "stock.move",
        "search_read",
        [("origin", "in", [f"purchase.line,{i}" for i in line_ids]), ("state", "=", "done")],
        0,
        None,
        None,
        ["origin", "quantity", "shipment"],
    )
    received: dict[int, float] = {}
    shipments: dict[int, set[str]] = {}
    for move in moves:
        line = int(str(move["origin"]).rsplit(",", 1)[1])
        received[line] = received.get(line, 0.0) + float(move["quantity"])
        if move.get("shipment"):
            shipments.setdefault(line, set()).add(str(move["shipment"]))
    return received, shipments


async def receipts(
    client: TrytonClient,
    locations: Locations,
    lot_notes: StateNotes,
    domain: list[Any] | None = None,
) -> list[GoodsReceipt]:
    rows = await client.execute(
        "stock.shipment.in",
        "search_read",
        [("state", "in", _RECEIVED), ("number", "!=", None), *(domain or [])],
        0,
        None,
        [("number", "ASC")],
        ["number", "reference", "supplier.code", "warehouse", "warehouse_storage", "create_date",
         "state"],
    )  # fmt: skip
    if not rows:
        return []
    by_ref = {f"stock.shipment.in,{r['id']}": r for r in rows}
    moves = await client.execute(
        "stock.move",
        "search_read",
        [("shipment", "in", list(by_ref)), ("origin", "like", "purchase.line,%")],
        0,
        None,
        [("id", "ASC")],
        ["shipment", "origin", "quantity", "lot", "lot.number", "product.code"],
    )
    line_ids = {int(str(m["origin"]).rsplit(",", 1)[1]) for m in moves}
    line_rows = await client.execute(
        "purchase.line", "read", sorted(line_ids), ["purchase", "purchase.number"]
    )
    purchase_of = {int(r["id"]): r for r in line_rows}
    numbered = await line_numbers(client, {int(r["purchase"]) for r in line_rows})
    line_no = {int(line["id"]): int(line["line_no"]) for ls in numbered.values() for line in ls}
    lot_ids = {int(m["lot"]) for m in moves if m.get("lot")}
    notes = await lot_notes.of("stock.lot", lot_ids)
    per_shipment: dict[str, list[dict[str, Any]]] = {}
    for move in moves:
        per_shipment.setdefault(str(move["shipment"]), []).append(move)
    result = []
    for ref, row in by_ref.items():
        shipment_moves = [m for m in per_shipment.get(ref, []) if m.get("lot")]
        plant = locations.by_warehouse(many2one(row.get("warehouse")) or 0)
        stored = locations.category.get(many2one(row.get("warehouse_storage")) or 0)
        category = stored[1] if stored else StockCategory.AVAILABLE
        for index, move in enumerate(shipment_moves):
            line = int(str(move["origin"]).rsplit(",", 1)[1])
            lot = int(move["lot"])
            note = notes.get(lot)
            number = str(row["number"])
            receipt_id = number if len(shipment_moves) == 1 else f"{number}.{index + 1}"
            result.append(
                GoodsReceipt(
                    receipt_id=receipt_id,
                    po_id=str(nested(purchase_of[line], "purchase.number")),
                    line_no=line_no.get(line, 10),
                    item_id=str(nested(move, "product.code")),
                    plant_id=plant.plant_id if plant else "NONE",
                    supplier_id=str(nested(row, "supplier.code") or "NONE"),
                    lot_id=lot_id_of(lot),
                    lot_number=str(nested(move, "lot.number")),
                    supplier_lot_number=(note.data.get("supplierLotNumber") if note else None),
                    delivery_note=row.get("reference") or None,
                    quantity=qty(float(move["quantity"])),
                    stock_category=category,
                    received_at=utc(row.get("create_date")),
                    external_refs=refs("stock.shipment.in", int(row["id"]), 1),
                    source_status=str(row["state"]),
                )
            )
    return result
