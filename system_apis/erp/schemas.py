"""Wire Structs of the ERP surface that are views, not canonical records."""

from __future__ import annotations

from shared.models import Identifier, LotDisposition, QgateStruct, Quantity, Version
from shared.models.erp import Lot, StockBalance

__all__ = ["LotStock"]


class LotStock(QgateStruct, frozen=True, kw_only=True):
    """A lot's stock by category (every category listed; they add up to the total)."""

    lot_id: Identifier
    plant_id: Identifier
    disposition: LotDisposition
    stock: list[StockBalance]
    total_quantity: Quantity
    uom: str
    version: Version

    @classmethod
    def of(cls, lot: Lot) -> LotStock:
        return cls(
            lot_id=lot.lot_id,
            plant_id=lot.plant_id,
            disposition=lot.disposition,
            stock=lot.stock,
            total_quantity=lot.total_quantity,
            uom=lot.uom,
            version=lot.version,
        )
