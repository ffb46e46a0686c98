"""Moving a lot's stock in Tryton: internal shipments through wait, assign and done.

Every move qgate makes is an internal shipment (one per source and destination), so it shows in
Tryton as a document with its reference (the disposition or issue) and goes through Tryton's own
checks: assignment refuses stock that is not there, and a quality control on the shipment
answers a wizard instead of acting, which qgate treats as "not done".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from shared.errors import BackendRejected
from system_apis.connectors.tryton._common import show
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = ["cancel_shipments", "finish_shipments", "press", "reserve_moves"]


async def press(client: TrytonClient, model: str, button: str, ids: Sequence[int]) -> None:
    """Press a Tryton button; a button that answers an action (a wizard to run first) did not
    act, which is a refusal."""
    answer = await client.execute(model, button, list(ids))
    if answer:
        raise BackendRejected(
            f"Tryton did not {button} the {model} {list(ids)}: it asks for an action in its "
            "client first (e.g. a quality inspection required by a quality control)."
        )


async def reserve_moves(
    client: TrytonClient,
    *,
    lot: int,
    product: int,
    unit: int,
    moves: Sequence[tuple[int, int, float]],
    reference: str,
) -> list[int]:
    """Create one internal shipment per (from, to) and assign it; BackendRejected (and nothing
    left behind) when Tryton cannot assign the stock."""
    grouped: dict[tuple[int, int], float] = {}
    for source, target, quantity in moves:
        grouped[(source, target)] = grouped.get((source, target), 0.0) + quantity
    values: list[dict[str, Any]] = [
        {
            "from_location": source,
            "to_location": target,
            "reference": reference[:100],
            "moves": [
                [
                    "create",
                    [
                        {
                            "product": product,
                            "unit": unit,
                            "quantity": quantity,
                            "lot": lot,
                            "from_location": source,
                            "to_location": target,
                        }
                    ],
                ]
            ],
        }
        for (source, target), quantity in grouped.items()
    ]
    if not values:
        return []
    ids: list[int] = await client.execute("stock.shipment.internal", "create", values)
    try:
        await press(client, "stock.shipment.internal", "wait", ids)
        await client.execute("stock.shipment.internal", "assign_try", ids)
        states = await client.execute("stock.shipment.internal", "read", ids, ["state"])
        _check_assigned(states, grouped.values())
    except BaseException:
        await cancel_shipments(client, ids)
        raise
    return ids


def _check_assigned(states: Sequence[dict[str, Any]], quantities: Iterable[float]) -> None:
    if any(s["state"] != "assigned" for s in states):
        wanted = ", ".join(show(q) for q in quantities)
        raise BackendRejected(
            f"Tryton cannot assign {wanted} of the lot: the stock is no longer there."
        )


async def finish_shipments(client: TrytonClient, ids: Sequence[int]) -> None:
    if ids:
        await press(client, "stock.shipment.internal", "do", ids)


async def cancel_shipments(client: TrytonClient, ids: Sequence[int]) -> None:
    """Undo shipments qgate created and could not finish (cancelled, then deleted)."""
    if not ids:
        return
    await client.execute("stock.shipment.internal", "cancel", list(ids))
    await client.execute("stock.shipment.internal", "delete", list(ids))
