"""Where a lot's stock sits in Tryton, and where a disposition sends it.

Tryton has no lot status. A plant is a warehouse (``stock.location`` of type ``warehouse``
whose code is the plant id); its stock categories are locations:

=================== ==================================================== ===================
category            Tryton location (``<plant>`` = the warehouse's code)  in the storage zone
=================== ==================================================== ===================
AVAILABLE           the warehouse's storage zone (and output zone)        yes
QUALITY_INSPECTION  ``<plant>-QUARANTINE`` (and the input zone)           no
RESTRICTED          ``<plant>-RESTRICTED``                                no
BLOCKED             ``<plant>-BLOCKED``; ``<plant>-REJECTED`` for REJECTED no
RETURNS             ``<plant>-RETURNS``                                   no
=================== ==================================================== ===================

The quarantine, restricted, blocked, rejected and returns locations are storage locations of
the warehouse outside its storage zone, so Tryton never assigns (picks) stock from them; stock
moves there only through internal shipments, which is how qgate applies a disposition. A
SCRAPPED lot's stock goes to the warehouse's lost-and-found location (off the books); issued
stock goes to the production location coded ``QGATE-CONSUMPTION``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from shared.errors import DownstreamRejected
from shared.models import LotDisposition, StockCategory
from system_apis.connectors.tryton._common import many2one, qty
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = ["CONSUMPTION_CODE", "SUFFIXES", "Locations", "Plant", "plan_moves"]

_C = StockCategory
_D = LotDisposition
CONSUMPTION_CODE: Final = "QGATE-CONSUMPTION"
SUFFIXES: Final = ("QUARANTINE", "RESTRICTED", "BLOCKED", "REJECTED", "RETURNS")
"""The codes ``<plant>-<suffix>`` of a plant's locations outside its storage zone."""


@dataclass(frozen=True)
class Plant:
    plant_id: str
    name: str
    country: str
    warehouse: int
    input: int
    output: int
    storage: int
    lost_found: int | None
    special: Mapping[str, int]
    """``QUARANTINE`` … ``RETURNS`` -> location id."""

    def target(self, category: StockCategory, disposition: LotDisposition) -> int:
        """The location a disposition puts stock of ``category`` in."""
        if category is _C.AVAILABLE:
            return self.storage
        if category is _C.BLOCKED and disposition is _D.REJECTED:
            return self.special["REJECTED"]
        name = {
            _C.QUALITY_INSPECTION: "QUARANTINE",
            _C.RESTRICTED: "RESTRICTED",
            _C.BLOCKED: "BLOCKED",
            _C.RETURNS: "RETURNS",
        }[category]
        return self.special[name]


@dataclass
class Locations:
    """The plants and the stock category of every location inside them."""

    plants: dict[str, Plant] = field(default_factory=dict)
    category: dict[int, tuple[str, StockCategory]] = field(default_factory=dict)
    """location id -> (plant id, category) for every location holding stock on the books."""
    root: dict[int, int] = field(default_factory=dict)
    """location id -> the category location (zone or quality location) it lies in."""
    consumption: int | None = None
    lost_found: int | None = None
    supplier_locations: frozenset[int] = frozenset()

    def plant_of_location(self, location_id: int) -> str | None:
        found = self.category.get(location_id)
        return found[0] if found is not None else None

    def plant(self, plant_id: str) -> Plant:
        return self.plants[plant_id]

    def by_warehouse(self, warehouse_id: int) -> Plant | None:
        return next((p for p in self.plants.values() if p.warehouse == warehouse_id), None)

    @classmethod
    async def load(cls, client: TrytonClient) -> Locations:
        rows: list[dict[str, Any]] = await client.execute(
            "stock.location",
            "search_read",
            [],
            0,
            None,
            [("id", "ASC")],
            [
                "code",
                "name",
                "type",
                "parent",
                "input_location",
                "output_location",
                "storage_location",
                "lost_found_location",
                "address.country.code",
            ],
        )
        by_code = {str(r["code"]): r for r in rows if r.get("code")}
        parent = {int(r["id"]): many2one(r.get("parent")) for r in rows}
        found = cls()
        roots: dict[int, tuple[str, StockCategory]] = {}
        for row in rows:
            if row["type"] != "warehouse" or not row.get("code"):
                continue
            plant = _plant(row, by_code)
            if plant is None:
                continue
            found.plants[plant.plant_id] = plant
            roots[plant.storage] = (plant.plant_id, _C.AVAILABLE)
            roots[plant.output] = (plant.plant_id, _C.AVAILABLE)
            roots[plant.input] = (plant.plant_id, _C.QUALITY_INSPECTION)
            categories = {
                "QUARANTINE": _C.QUALITY_INSPECTION,
                "RESTRICTED": _C.RESTRICTED,
                "BLOCKED": _C.BLOCKED,
                "REJECTED": _C.BLOCKED,
                "RETURNS": _C.RETURNS,
            }
            for name, special in plant.special.items():
                roots[special] = (plant.plant_id, categories[name])
        for row in rows:
            ancestor: int | None = int(row["id"])
            while ancestor is not None and ancestor not in roots:
                ancestor = parent.get(ancestor)
            if ancestor is not None:
                found.category[int(row["id"])] = roots[ancestor]
                found.root[int(row["id"])] = ancestor
        consumption = by_code.get(CONSUMPTION_CODE)
        found.consumption = int(consumption["id"]) if consumption else None
        found.lost_found = next((int(r["id"]) for r in rows if r["type"] == "lost_found"), None)
        found.supplier_locations = frozenset(int(r["id"]) for r in rows if r["type"] == "supplier")
        return found


def _plant(row: Mapping[str, Any], by_code: Mapping[str, Mapping[str, Any]]) -> Plant | None:
    code = str(row["code"])
    special = {}
    for suffix in SUFFIXES:
        location = by_code.get(f"{code}-{suffix}")
        if location is None:
            return None  # a warehouse qgate does not manage (no quality locations)
        special[suffix] = int(location["id"])
    zones = [
        many2one(row.get(k)) for k in ("input_location", "output_location", "storage_location")
    ]
    if any(z is None for z in zones):
        raise DownstreamRejected(f"Tryton warehouse {code} lacks its input/output/storage zones")
    address = row.get("address.") or {}
    country = ((address.get("country.") or {}).get("code")) or "ZZ"
    return Plant(
        plant_id=code,
        name=str(row["name"]),
        country=str(country),
        warehouse=int(row["id"]),
        input=int(zones[0] or 0),
        output=int(zones[1] or 0),
        storage=int(zones[2] or 0),
        lost_found=many2one(row.get("lost_found_location")),
        special=special,
    )


def plan_moves(
    current: Mapping[int, float], target: Mapping[int, float], root_of: Mapping[int, int]
) -> list[tuple[int, int, float]]:
    """The moves ``(from, to, quantity)`` that turn ``current`` stock (per actual location) into
    ``target`` (per category location); ``root_of`` maps an actual location to its category
    location. Stock already where it should be stays."""
    kept: dict[int, float] = {}
    surplus: list[tuple[int, float]] = []
    for location, quantity in sorted(current.items()):
        root = root_of[location]
        keep = min(quantity, max(target.get(root, 0.0) - kept.get(root, 0.0), 0.0))
        kept[root] = kept.get(root, 0.0) + keep
        if qty(quantity - keep) > 0:
            surplus.append((location, quantity - keep))
    deficits = [
        (location, wanted - kept.get(location, 0.0))
        for location, wanted in sorted(target.items())
        if qty(wanted - kept.get(location, 0.0)) > 0
    ]
    moves: list[tuple[int, int, float]] = []
    for source, available in surplus:
        left = available
        while qty(left) > 0 and deficits:
            destination, needed = deficits[0]
            amount = min(left, needed)
            moves.append((source, destination, qty(amount)))
            left -= amount
            if qty(needed - amount) > 0:
                deficits[0] = (destination, needed - amount)
            else:
                deficits.pop(0)
        if qty(left) > 0:
            raise ValueError("the target holds less stock than the lot")  # callers validate first
    return moves
