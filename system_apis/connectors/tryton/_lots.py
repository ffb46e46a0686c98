"""Lots as Tryton keeps them: ``stock.lot``, its done moves, and qgate's note on it.

Stock per category is what the lot's done moves left in each location (see ``_locations``).
The disposition, version, plant, supplier and supplier lot number are in the lot's qgate note
(``_notes``); a lot Tryton received without qgate has none, and is read as QUARANTINE while it
has quality-inspection stock, else by where its stock is (version 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from shared.errors import BackendRejected
from shared.models import LotDisposition, StockCategory
from shared.models.erp import Lot, StockBalance
from shared.models.lifecycle import DEFAULT_CATEGORY
from shared.models.qms import TargetQuantity
from system_apis.connectors.tryton._common import lot_id_of, many2one, qty, refs, show, utc
from system_apis.connectors.tryton._erp_reads import nested
from system_apis.connectors.tryton._locations import Locations
from system_apis.connectors.tryton._notes import Note, StateNotes
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = ["ALLOWED", "ISSUABLE", "LotState", "read_lots", "split_for", "validate_split"]

_D = LotDisposition
_C = StockCategory

ALLOWED: Final[Mapping[LotDisposition, frozenset[StockCategory]]] = {
    _D.QUARANTINE: frozenset({_C.QUALITY_INSPECTION, _C.BLOCKED}),
    _D.RELEASED: frozenset({_C.AVAILABLE, _C.BLOCKED, _C.RETURNS}),
    _D.RESTRICTED: frozenset({_C.RESTRICTED, _C.BLOCKED, _C.RETURNS}),
    _D.BLOCKED: frozenset({_C.BLOCKED, _C.RETURNS}),
    _D.REJECTED: frozenset({_C.BLOCKED, _C.RETURNS}),
    _D.RETURNED_TO_SUPPLIER: frozenset({_C.RETURNS}),
    _D.SCRAPPED: frozenset(),
}
"""The stock categories a lot of each disposition may hold (the canonical rules)."""

ISSUABLE: Final[Mapping[LotDisposition, StockCategory]] = {
    _D.RELEASED: _C.AVAILABLE,
    _D.RESTRICTED: _C.RESTRICTED,
}


@dataclass(frozen=True)
class LotState:
    """A lot as read: the canonical record, where its stock is, and its note."""

    lot: Lot
    db_id: int
    product: int
    uom: int
    by_location: Mapping[int, float]
    """On-the-books stock per actual location."""
    note: Note | None


async def read_lots(
    client: TrytonClient,
    locations: Locations,
    notes: StateNotes,
    ids: Iterable[int] | None = None,
) -> list[LotState]:
    domain: list[Any] = [] if ids is None else [("id", "in", list(ids))]
    rows = await client.execute(
        "stock.lot",
        "search_read",
        domain,
        0,
        None,
        [("id", "ASC")],
        ["number", "product", "product.code", "product.default_uom", "product.default_uom.symbol",
         "create_date", "write_date"],
        context={"active_test": False},
    )  # fmt: skip
    if not rows:
        return []
    lot_ids = [int(r["id"]) for r in rows]
    moves = await client.execute(
        "stock.move",
        "search_read",
        [("lot", "in", lot_ids), ("state", "=", "done")],
        0,
        None,
        [("id", "ASC")],
        ["lot", "from_location", "to_location", "internal_quantity", "shipment"],
    )
    lot_notes = await notes.of("stock.lot", lot_ids)
    per_lot: dict[int, list[dict[str, Any]]] = {}
    for move in moves:
        per_lot.setdefault(int(move["lot"]), []).append(move)
    origins = await _receipt_origins(client, locations, [
        i for i in lot_ids if i not in lot_notes
    ], per_lot)  # fmt: skip
    states = []
    for row in rows:
        db_id = int(row["id"])
        by_location = _stock(per_lot.get(db_id, []), locations)
        note = lot_notes.get(db_id)
        states.append(_state(row, by_location, note, origins.get(db_id), locations))
    return states


def _stock(moves: Sequence[Mapping[str, Any]], locations: Locations) -> dict[int, float]:
    stock: dict[int, float] = {}
    for move in moves:
        quantity = float(move["internal_quantity"])
        source, target = many2one(move["from_location"]), many2one(move["to_location"])
        if target in locations.category:
            stock[target] = stock.get(target, 0.0) + quantity
        if source in locations.category:
            stock[source] = stock.get(source, 0.0) - quantity
    return {k: qty(v) for k, v in stock.items() if qty(v) != 0}


async def _receipt_origins(
    client: TrytonClient,
    locations: Locations,
    lot_ids: list[int],
    per_lot: Mapping[int, list[dict[str, Any]]],
) -> dict[int, tuple[str | None, str | None]]:
    """(plant, supplier) of lots without a note, from the receipt that brought them in."""
    first: dict[int, dict[str, Any]] = {}
    for lot in lot_ids:
        incoming = [
            m
            for m in per_lot.get(lot, [])
            if many2one(m["from_location"]) in locations.supplier_locations
        ]
        if incoming:
            first[lot] = incoming[0]
    shipment_ids = sorted({
        int(str(m["shipment"]).rsplit(",", 1)[1]) for m in first.values()
        if str(m.get("shipment") or "").startswith("stock.shipment.in,")
    })  # fmt: skip
    supplier_of: dict[int, str] = {}
    if shipment_ids:
        for row in await client.execute(
            "stock.shipment.in", "read", shipment_ids, ["supplier.code"]
        ):
            supplier_of[int(row["id"])] = str(nested(row, "supplier.code") or "")
    origins = {}
    for lot, move in first.items():
        plant = locations.plant_of_location(many2one(move["to_location"]) or 0)
        shipment = str(move.get("shipment") or "")
        supplier = (
            supplier_of.get(int(shipment.rsplit(",", 1)[1]))
            if shipment.startswith("stock.shipment.in,")
            else None
        )
        origins[lot] = (plant, supplier or None)
    return origins


def _state(
    row: Mapping[str, Any],
    by_location: Mapping[int, float],
    note: Note | None,
    origin: tuple[str | None, str | None] | None,
    locations: Locations,
) -> LotState:
    categories: dict[StockCategory, float] = {}
    for location, quantity in by_location.items():
        category = locations.category[location][1]
        categories[category] = categories.get(category, 0.0) + quantity
    total = qty(sum(categories.values()))
    data = note.data if note is not None else {}
    plant = data.get("plantId") or (origin[0] if origin else None)
    if plant is None and by_location:
        plant = locations.plant_of_location(next(iter(by_location)))
    disposition = _D(data["disposition"]) if "disposition" in data else _inferred(categories)
    version = note.version if note is not None else 1
    db_id = int(row["id"])
    lot = Lot(
        lot_id=lot_id_of(db_id),
        lot_number=str(row["number"]),
        item_id=str(nested(row, "product.code") or "NONE"),
        plant_id=str(plant or "NONE"),
        supplier_id=data.get("supplierId") or (origin[1] if origin else None),
        supplier_lot_number=data.get("supplierLotNumber"),
        disposition=disposition,
        stock=[StockBalance(category=c, quantity=qty(categories.get(c, 0.0))) for c in _C],
        total_quantity=total,
        uom=str(nested(row, "product.default_uom.symbol") or "u")[:8],
        updated_at=utc(
            note.written if note is not None else (row.get("write_date") or row["create_date"])
        ),
        version=version,
        external_refs=refs("stock.lot", db_id, version),
        source_status=_source_status(by_location, locations),
    )
    return LotState(
        lot=lot,
        db_id=db_id,
        product=int(row["product"]),
        uom=int(nested(row, "product.default_uom") or 0),
        by_location=dict(by_location),
        note=note,
    )


def _inferred(categories: Mapping[StockCategory, float]) -> LotDisposition:
    if categories.get(_C.QUALITY_INSPECTION):
        return _D.QUARANTINE
    if categories.get(_C.AVAILABLE):
        return _D.RELEASED
    if categories.get(_C.RESTRICTED):
        return _D.RESTRICTED
    if categories.get(_C.BLOCKED):
        return _D.BLOCKED
    if categories.get(_C.RETURNS):
        return _D.RETURNED_TO_SUPPLIER
    return _D.RELEASED


def _source_status(by_location: Mapping[int, float], locations: Locations) -> str:
    """Tryton's own view of the lot: the location codes holding its stock (Tryton has no lot
    status), or ``no stock``."""
    names = []
    for location in sorted(by_location):
        plant, category = locations.category[location]
        names.append(f"{plant}:{category.value}={show(by_location[location])}")
    return ", ".join(names) if names else "no stock"


def split_for(
    lot: Lot, disposition: LotDisposition, quantities: Sequence[TargetQuantity]
) -> dict[StockCategory, float]:
    """The lot's stock per category after moving to ``disposition`` (validated), or
    :class:`BackendRejected` when the quantities do not fit the canonical rules."""
    return validate_split(f"lot {lot.lot_id}", lot.total_quantity, disposition, quantities)


def validate_split(
    subject: str, total: float, disposition: LotDisposition, quantities: Sequence[TargetQuantity]
) -> dict[StockCategory, float]:
    """``total`` split over categories for ``disposition``: ``quantities`` when given (each
    category once, allowed for the disposition, adding up), else all in its default category."""
    total = qty(total)
    default = DEFAULT_CATEGORY[disposition]
    allowed = ALLOWED[disposition]
    if not quantities:
        return {} if default is None else {default: total}
    split: dict[StockCategory, float] = {}
    for entry in quantities:
        if entry.category in split:
            raise BackendRejected(
                f"{entry.category.value} is named twice in the quantities; give each stock "
                "category at most once."
            )
        split[entry.category] = qty(entry.quantity)
    if not allowed:
        raise BackendRejected(
            f"A {disposition.value} lot holds no stock (it is written off); send no quantities."
        )
    wrong = sorted(c.value for c, q in split.items() if q > 0 and c not in allowed)
    if wrong:
        raise BackendRejected(
            f"A {disposition.value} lot cannot hold {', '.join(wrong)} stock; allowed: "
            f"{', '.join(sorted(c.value for c in allowed))}."
        )
    given = qty(sum(split.values()))
    if given != total:
        raise BackendRejected(
            f"The quantities add up to {show(given)} but {subject} holds {show(total)}; "
            "they must add up to the whole quantity."
        )
    if default is not None and total > 0 and split.get(default, 0.0) <= 0:
        raise BackendRejected(
            f"A {disposition.value} lot must keep some stock in {default.value}; "
            "choose the disposition that matches where the stock goes."
        )
    return {c: q for c, q in split.items() if q > 0}
