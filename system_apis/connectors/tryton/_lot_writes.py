"""A lot's disposition change and goods issue, applied in Tryton's own records.

Both follow one order, so a refusal changes nothing and two writers cannot both win:

1. read the lot and check the request against it (state, version, quantities);
2. a disposition claims the lot's note (compare-and-set on Tryton's ``_timestamp``; stale:
   412), then moves the stock through internal shipments (wait, assign, done); should Tryton
   refuse the move, the note is put back;
3. an issue first reserves the stock (an assigned internal shipment to the consumption
   location: Tryton refuses more than there is), then claims the note, then finishes the move;
   without an expected version a lost claim is simply retried on the fresh note.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from shared.errors import BackendRejected, DownstreamRejected, PreconditionFailed
from shared.models import LotDisposition
from shared.models.commands import GoodsIssueCreate, LotDispositionChange
from shared.models.erp import Lot
from shared.models.lifecycle import FINAL_DISPOSITIONS
from system_apis.connectors.tryton._common import check_version, lot_id_of, qty, show
from system_apis.connectors.tryton._locations import Locations, plan_moves
from system_apis.connectors.tryton._lots import ISSUABLE, LotState, split_for
from system_apis.connectors.tryton._notes import Note, StateNotes
from system_apis.connectors.tryton._rpc import TrytonClient
from system_apis.connectors.tryton._stock_moves import (
    cancel_shipments,
    finish_shipments,
    reserve_moves,
)

__all__ = ["LotWrites", "lot_note_data"]

_CLAIM_ATTEMPTS: Final = 20


def lot_note_data(lot: Lot, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": lot.version,
        "disposition": lot.disposition.value,
        "plantId": lot.plant_id,
        "supplierId": lot.supplier_id,
        "supplierLotNumber": lot.supplier_lot_number,
    }
    data.update(changes)
    return data


class LotWrites:
    def __init__(
        self,
        client: TrytonClient,
        notes: StateNotes,
        locations: Callable[[], Awaitable[Locations]],
        read: Callable[[str], Awaitable[LotState]],
    ) -> None:
        self._client = client
        self._notes = notes
        self._locations = locations
        self._read = read

    async def note_of(self, state: LotState) -> Note:
        """The lot's note, created from what the lot is now if it has none yet."""
        if state.note is not None:
            return state.note
        await self._notes.create("stock.lot", state.db_id, lot_note_data(state.lot))
        note = await self._notes.one("stock.lot", state.db_id)
        if note is None:  # pragma: no cover - just created
            raise DownstreamRejected("Tryton lost the lot's note")
        return note

    async def change(
        self, lot_id: str, change: LotDispositionChange, *, actor: str, expected_version: int
    ) -> Lot:
        state = await self._read(lot_id)
        lot = state.lot
        if lot.disposition in FINAL_DISPOSITIONS:
            raise BackendRejected(
                f"Lot {lot_id} is {lot.disposition.value}, which is final: it cannot change."
            )
        check_version("Lot", lot_id, lot.version, expected_version)
        split = split_for(lot, change.disposition, change.quantities)
        locations = await self._locations()
        plant = locations.plant(lot.plant_id)
        if change.disposition is LotDisposition.SCRAPPED:
            scrap = plant.lost_found or locations.lost_found
            if scrap is None:
                raise BackendRejected("Tryton has no lost-and-found location to scrap into")
            target = {scrap: lot.total_quantity} if lot.total_quantity else {}
        else:
            target = {plant.target(c, change.disposition): q for c, q in split.items()}
        moves = plan_moves(state.by_location, target, locations.root)
        note = await self.note_of(state)
        # A lot without a note yet gets one here, and another writer may have made and claimed
        # it between our read and now: the note, not the read, says which version we replace.
        check_version("Lot", lot_id, note.version, expected_version)
        claimed = lot_note_data(
            lot,
            version=lot.version + 1,
            disposition=change.disposition.value,
            reason=change.reason,
            reference=change.reference,
            changedBy=actor,
        )
        await self._notes.replace(note, claimed)
        reference = change.reference or f"{lot_id} {change.disposition.value}"
        try:
            shipments = await reserve_moves(
                self._client,
                lot=state.db_id,
                product=state.product,
                unit=state.uom,
                moves=moves,
                reference=f"qgate {reference}",
            )
            await finish_shipments(self._client, shipments)
        except BaseException:
            await self._restore(state.db_id, note.data)
            raise
        return (await self._read(lot_id)).lot

    async def _restore(self, db_id: int, data: dict[str, Any]) -> None:
        current = await self._notes.one("stock.lot", db_id)
        if current is not None:
            await self._notes.replace(current, data)

    async def issue(
        self, lot_id: str, issue: GoodsIssueCreate, *, actor: str, expected_version: int | None
    ) -> Lot:
        state = await self._read(lot_id)
        lot = state.lot
        category = ISSUABLE.get(lot.disposition)
        if category is None:
            raise BackendRejected(
                f"Lot {lot_id} is {lot.disposition.value}: only RELEASED (AVAILABLE) or "
                "RESTRICTED (RESTRICTED) stock can be issued."
            )
        if issue.category is not category:
            raise BackendRejected(
                f"Lot {lot_id} is {lot.disposition.value}: issue from its {category.value} "
                f"stock, not {issue.category.value}."
            )
        check_version("Lot", lot_id, lot.version, expected_version)
        available = next(b.quantity for b in lot.stock if b.category is category)
        if qty(issue.quantity) > qty(available):
            raise BackendRejected(
                f"Lot {lot_id} holds {show(available)} {category.value}; "
                f"{show(issue.quantity)} cannot be issued."
            )
        locations = await self._locations()
        if locations.consumption is None:
            raise BackendRejected("Tryton has no QGATE-CONSUMPTION location to issue to")
        source = locations.plant(lot.plant_id).target(category, lot.disposition)
        shipments = await reserve_moves(
            self._client,
            lot=state.db_id,
            product=state.product,
            unit=state.uom,
            moves=[(source, locations.consumption, qty(issue.quantity))],
            reference=f"qgate issue {issue.reference or lot_id}",
        )
        try:
            await self._check_reservation(state.db_id, source, shipments, locations)
            await self._claim_issue(state, expected_version, actor, issue)
        except BaseException:
            await cancel_shipments(self._client, shipments)
            raise
        await finish_shipments(self._client, shipments)
        return (await self._read(lot_id)).lot

    async def _check_reservation(
        self, lot: int, source: int, shipments: list[int], locations: Locations
    ) -> None:
        """Tryton checks availability before it writes, and SQLite lets two such reads run side
        by side: two reservations can both pass. Reservations are served in the order Tryton
        numbered their moves; one that does not fit behind the earlier ones is refused."""
        moves = await self._client.execute(
            "stock.move",
            "search_read",
            [("lot", "=", lot), ("state", "in", ["done", "assigned"])],
            0,
            None,
            [("id", "ASC")],
            ["from_location", "to_location", "internal_quantity", "state", "shipment"],
        )
        inside = {loc for loc, root in locations.root.items() if root == source}
        done = 0.0
        for move in moves:
            if move["state"] != "done":
                continue
            if move["to_location"] in inside:
                done += float(move["internal_quantity"])
            if move["from_location"] in inside:
                done -= float(move["internal_quantity"])
        mine = {f"stock.shipment.internal,{i}" for i in shipments}
        reserved = 0.0
        for move in moves:
            if move["state"] != "assigned" or move["from_location"] not in inside:
                continue
            reserved += float(move["internal_quantity"])
            if move["shipment"] in mine:
                if qty(reserved) > qty(done):
                    raise BackendRejected(
                        f"Lot {lot_id_of(lot)}: the stock was issued by another request "
                        "at the same time."
                    )
                return

    async def _claim_issue(
        self, state: LotState, expected: int | None, actor: str, issue: GoodsIssueCreate
    ) -> None:
        note = await self.note_of(state)
        for _ in range(_CLAIM_ATTEMPTS):
            if expected is not None and note.version != expected:
                check_version("Lot", state.lot.lot_id, note.version, expected)
            data = {
                **note.data,
                "version": note.version + 1,
                "issued": show(issue.quantity),
                "changedBy": actor,
            }
            try:
                await self._notes.replace(note, data)
            except PreconditionFailed:
                if expected is not None:
                    raise
                fresh = await self._notes.one("stock.lot", state.db_id)
                if fresh is None:  # pragma: no cover - notes are never deleted
                    raise
                note = fresh
                continue
            return
        raise PreconditionFailed(f"Lot {state.lot.lot_id} kept changing; retry the issue.")
