"""Where a lot's stock goes for a disposition (the same rules as the reference ERP)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from shared.errors import BackendRejected
from shared.models import LotDisposition, StockCategory
from shared.models.erp import Lot
from shared.models.lifecycle import DEFAULT_CATEGORY
from shared.models.qms import TargetQuantity

__all__ = ["target_split"]


def _show(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def target_split(
    lot: Lot,
    disposition: LotDisposition,
    quantities: Sequence[TargetQuantity],
    allowed_by: Mapping[LotDisposition, frozenset[StockCategory]],
) -> dict[StockCategory, float]:
    """The stock after the change; BackendRejected when the quantities are inconsistent."""
    total = round(lot.total_quantity, 3)
    default = DEFAULT_CATEGORY[disposition]
    if not quantities:
        return {} if default is None else {default: total}
    allowed = allowed_by[disposition]
    split: dict[StockCategory, float] = {}
    for entry in quantities:
        if entry.category in split:
            raise BackendRejected(
                f"{entry.category.value} is named twice in the quantities; "
                "give each stock category at most once."
            )
        split[entry.category] = round(entry.quantity, 3)
    if not allowed:
        raise BackendRejected(
            f"A {disposition.value} lot holds no stock (it is written off); send no quantities."
        )
    wrong = sorted(c.value for c, q in split.items() if q > 0 and c not in allowed)
    if wrong:
        raise BackendRejected(
            f"A {disposition.value} lot cannot hold {', '.join(wrong)} stock; "
            f"allowed: {', '.join(sorted(c.value for c in allowed))}."
        )
    given = round(sum(split.values()), 3)
    if given != total:
        raise BackendRejected(
            f"The quantities add up to {_show(given)} but lot {lot.lot_id} holds "
            f"{_show(total)}; they must add up to the whole quantity."
        )
    if default is not None and total > 0 and split.get(default, 0.0) <= 0:
        raise BackendRejected(
            f"A {disposition.value} lot must keep some stock in {default.value}; "
            "choose the disposition that matches where the stock goes."
        )
    return {c: q for c, q in split.items() if q > 0}
