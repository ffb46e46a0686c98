"""How canonical ids and codes map to SAP keys and customizing (per plant, from settings).

Ids: a plant, item (material) and supplier keep SAP's key; a purchase order is ``PO-`` and its
number; a lot is ``LOT-<plant>-<batch>`` (a batch's stock is per plant); a goods receipt is
``GR-<year>-<material document>-<item>``. SAP's own keys are kept in ``externalRefs``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from shared.errors import BackendRejected, NotFound
from shared.models import LotDisposition, StockCategory
from shared.settings import S4HanaPlant, S4HanaSettings

__all__ = [
    "SYSTEM",
    "GoodsReceiptKey",
    "LotKey",
    "PlantCodes",
    "gr_id",
    "lot_id",
    "parse_gr_id",
    "parse_lot_id",
    "parse_po_id",
    "po_id",
]

SYSTEM: Final = "s4hana"

_LOT: Final = re.compile(r"^LOT-(?P<plant>[A-Za-z0-9]{1,4})-(?P<batch>[A-Za-z0-9._-]{1,10})$")
_GR: Final = re.compile(r"^GR-(?P<year>\d{4})-(?P<doc>\d{10})-(?P<item>\d{4})$")
_PO: Final = re.compile(r"^PO-(?P<po>[0-9A-Za-z]{1,10})$")


@dataclass(frozen=True)
class LotKey:
    plant: str
    batch: str


@dataclass(frozen=True)
class GoodsReceiptKey:
    year: str
    document: str
    item: str


def lot_id(plant: str, batch: str) -> str:
    return f"LOT-{plant}-{batch}"


def parse_lot_id(value: str) -> LotKey:
    match = _LOT.match(value)
    if match is None:
        raise NotFound(f"Lot {value} not found")
    return LotKey(match["plant"], match["batch"])


def po_id(purchase_order: str) -> str:
    return f"PO-{purchase_order}"


def parse_po_id(value: str) -> str:
    match = _PO.match(value)
    if match is None:
        raise NotFound(f"Purchase order {value} not found")
    return match["po"]


def gr_id(year: str, document: str, item: str) -> str:
    return f"GR-{year}-{document}-{item}"


def parse_gr_id(value: str) -> GoodsReceiptKey:
    match = _GR.match(value)
    if match is None:
        raise NotFound(f"Goods receipt {value} not found")
    return GoodsReceiptKey(match["year"], match["doc"], match["item"])


class PlantCodes:
    """One plant's customizing, read both ways (canonical -> SAP code and back)."""

    def __init__(self, plant: str, codes: S4HanaPlant) -> None:
        self.plant = plant
        self.codes = codes
        self._category = {code: StockCategory(name) for name, code in codes.stock_types.items()}
        self._by_reason = {code: LotDisposition(name) for name, code in codes.reason_codes.items()}
        self._by_ud = {code: LotDisposition(name) for name, code in codes.ud_codes.items()}

    @classmethod
    def of(cls, settings: S4HanaSettings, plant: str) -> PlantCodes:
        return cls(plant, settings.plants.get(plant) or S4HanaPlant())

    def stock_type(self, category: StockCategory) -> str:
        return self.codes.stock_types[category.value]

    def category(self, stock_type: str) -> StockCategory | None:
        return self._category.get(stock_type)

    def storage_location(self, disposition: LotDisposition) -> str:
        if disposition is LotDisposition.REJECTED:
            return self.codes.rejected_storage_location
        return self.codes.storage_location

    def movement_type(self, source: StockCategory, target: StockCategory | None) -> str:
        name = f"{source.value}>{target.value if target else 'SCRAP'}"
        found = self.codes.movement_types.get(name)
        if found is None:
            raise BackendRejected(
                f"No movement type is configured for {name} at plant {self.plant} "
                "(QGATE_S4HANA_PLANTS movement_types)."
            )
        return found

    def reason_code(self, disposition: LotDisposition) -> str:
        return self.codes.reason_codes[disposition.value]

    def disposition_of_reason(self, code: str) -> LotDisposition | None:
        return self._by_reason.get(code)

    def ud_code(self, disposition: LotDisposition) -> str | None:
        return self.codes.ud_codes.get(disposition.value)

    def disposition_of_ud(self, code: str) -> LotDisposition | None:
        return self._by_ud.get(code)

    def ud_stock_type(self, category: StockCategory) -> str:
        found = self.codes.ud_stock_types.get(category.value)
        if found is None:
            raise BackendRejected(
                f"A usage decision cannot post stock to {category.value} at plant {self.plant}."
            )
        return found
