"""Stock rules of the reference ERP: where a lot's stock may sit for each disposition.

A lot lists every :class:`~shared.models.StockCategory`, in enum order, zero when empty, and the
categories always add up to ``totalQuantity`` (3 decimals). A disposition change with explicit
quantities must name each category at most once, add up to the lot's total, and use only the
categories this table allows for the new disposition; when the lot holds any stock, the
disposition's own category (``DEFAULT_CATEGORY``) must hold some of it:

==================== ========================================= ===================
disposition          categories allowed                        must hold stock
==================== ========================================= ===================
QUARANTINE           QUALITY_INSPECTION, BLOCKED               QUALITY_INSPECTION
RELEASED             AVAILABLE, BLOCKED, RETURNS               AVAILABLE
RESTRICTED           RESTRICTED, BLOCKED, RETURNS              RESTRICTED
BLOCKED              BLOCKED, RETURNS                          BLOCKED
REJECTED             BLOCKED, RETURNS                          BLOCKED
RETURNED_TO_SUPPLIER RETURNS                                   RETURNS
SCRAPPED             none: the stock is written off (total 0)  -
==================== ========================================= ===================

So a partial release (AVAILABLE 480, BLOCKED 20) is possible, while RELEASED never leaves stock
in QUALITY_INSPECTION and QUARANTINE never makes stock AVAILABLE. Stock can be issued from
AVAILABLE of a RELEASED lot and from RESTRICTED of a RESTRICTED lot, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from shared.errors import BackendRejected
from shared.models import LotDisposition, StockCategory
from shared.models.erp import Lot, StockBalance
from shared.models.lifecycle import DEFAULT_CATEGORY
from shared.models.qms import TargetQuantity
from system_apis.connectors.reference._records import qty, show

__all__ = [
    "ALLOWED_CATEGORIES",
    "ISSUABLE",
    "stock_list",
    "stock_of",
    "target_stock",
    "validate_split",
]

_D = LotDisposition
_C = StockCategory

ALLOWED_CATEGORIES: Final[Mapping[LotDisposition, frozenset[StockCategory]]] = {
    _D.QUARANTINE: frozenset({_C.QUALITY_INSPECTION, _C.BLOCKED}),
    _D.RELEASED: frozenset({_C.AVAILABLE, _C.BLOCKED, _C.RETURNS}),
    _D.RESTRICTED: frozenset({_C.RESTRICTED, _C.BLOCKED, _C.RETURNS}),
    _D.BLOCKED: frozenset({_C.BLOCKED, _C.RETURNS}),
    _D.REJECTED: frozenset({_C.BLOCKED, _C.RETURNS}),
    _D.RETURNED_TO_SUPPLIER: frozenset({_C.RETURNS}),
    _D.SCRAPPED: frozenset(),
}
"""Stock categories a lot of each disposition may hold (see the module docstring)."""

ISSUABLE: Final[Mapping[LotDisposition, StockCategory]] = {
    _D.RELEASED: _C.AVAILABLE,
    _D.RESTRICTED: _C.RESTRICTED,
}
"""The one category stock can be issued from, per disposition; other dispositions issue none."""


def stock_list(quantities: Mapping[StockCategory, float]) -> list[StockBalance]:
    """Every category in enum order, zero when absent."""
    return [StockBalance(category=c, quantity=qty(quantities.get(c, 0.0))) for c in StockCategory]


def stock_of(lot: Lot, category: StockCategory) -> float:
    return next((b.quantity for b in lot.stock if b.category is category), 0.0)


def target_stock(
    lot: Lot, disposition: LotDisposition, quantities: Sequence[TargetQuantity]
) -> dict[StockCategory, float]:
    """The lot's stock after moving to ``disposition``: ``quantities`` (validated), or everything
    in the disposition's default category. Raises :class:`BackendRejected` when inconsistent."""
    total = qty(lot.total_quantity)
    default = DEFAULT_CATEGORY[disposition]
    if not quantities:
        return {} if default is None else {default: total}
    return validate_split(
        f"Lot {lot.lot_id}", total, disposition, quantities, ALLOWED_CATEGORIES[disposition]
    )


def validate_split(
    subject: str,
    total: float,
    disposition: LotDisposition,
    quantities: Sequence[TargetQuantity],
    allowed: frozenset[StockCategory],
) -> dict[StockCategory, float]:
    """Check a split of ``total`` over categories (shared with usage decisions in the QMS)."""
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
    if given != qty(total):
        raise BackendRejected(
            f"The quantities add up to {show(given)} but {subject} holds {show(qty(total))}; "
            "they must add up to the whole quantity."
        )
    default = DEFAULT_CATEGORY[disposition]
    if default is not None and total > 0 and split.get(default, 0.0) <= 0:
        raise BackendRejected(
            f"A {disposition.value} lot must keep some stock in {default.value}; "
            "choose the disposition that matches where the stock goes."
        )
    return {c: q for c, q in split.items() if q > 0}
