"""Inspections and alerts written in Tryton: create, results, usage decision, status changes.

Each write first checks the request against the record as read (nothing changes on a refusal),
then claims the record's qgate attachment (compare-and-set on Tryton's ``_timestamp``: a
concurrent writer gets 412), then presses Tryton's own buttons: ``process`` on an inspection
with every point recorded (Tryton passes or fails it, and opens the alert on failure),
``process`` / ``defer`` / ``resolve`` on alerts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec

from shared.errors import BackendRejected, DownstreamRejected, PreconditionFailed
from shared.models import InspectionStatus, NonconformanceStatus
from shared.models.commands import (
    InspectionCreate,
    NonconformanceCreate,
    NonconformanceUpdate,
    ResultsRecord,
    UsageDecisionCreate,
)
from shared.models.lifecycle import DECISION_TARGET, NC_TRANSITIONS
from shared.models.qms import DispositionDecision, TargetQuantity
from system_apis.connectors.tryton._alerts import BUTTONS, AlertState
from system_apis.connectors.tryton._common import check_version
from system_apis.connectors.tryton._inspections import REPORT_CONTROL, InspectionState
from system_apis.connectors.tryton._lots import validate_split
from system_apis.connectors.tryton._notes import Note, StateNotes
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = ["QmsWrites"]

_S = NonconformanceStatus
_FINAL = frozenset({InspectionStatus.DECIDED, InspectionStatus.CANCELLED})


class QmsWrites:
    def __init__(
        self,
        client: TrytonClient,
        inspection_notes: StateNotes,
        alert_notes: StateNotes,
        inspection: Callable[[str], Awaitable[InspectionState]],
        alert: Callable[[str], Awaitable[AlertState]],
    ) -> None:
        self._client = client
        self._inspections = inspection_notes
        self._alerts = alert_notes
        self._inspection = inspection
        self._alert = alert

    async def _claim(
        self,
        notes: StateNotes,
        model: str,
        db_id: int,
        note: Note | None,
        data: dict[str, Any],
        label: str,
    ) -> None:
        if note is None:
            await notes.create(model, db_id, {"version": 1})
            note = await notes.one(model, db_id)
            if note is None:  # pragma: no cover - just created
                raise DownstreamRejected("Tryton lost qgate's attachment")
            if note.version != 1:
                # Another writer made the note first and already claimed it: what we read
                # (no note, version 1) is out of date.
                raise PreconditionFailed(
                    f"{label} changed while this request was applied; read it again and retry."
                )
        await notes.replace(note, data)

    async def create_inspection(
        self, inspection: InspectionCreate, control: int, header: dict[str, Any], origin: str | None
    ) -> int:
        reference = inspection.goods_receipt_id or inspection.lot_id
        [db_id] = await self._client.execute("quality.inspection", "create", [{
            "control": control, "reference": reference, "origin": origin,
        }])  # fmt: skip
        await self._inspections.create("quality.inspection", db_id, header)
        return int(db_id)

    async def record_results(
        self, state: InspectionState, results: ResultsRecord, expected_version: int | None
    ) -> None:
        current = state.inspection
        if current.status in _FINAL:
            raise BackendRejected(
                f"Inspection {current.inspection_id} is {current.status.value}: "
                "results can no longer change."
            )
        chars = {c.characteristic_id: c for c in state.spec.spec.characteristics}
        points = dict(state.points)
        seen: set[str] = set()
        for measurement in results.results:
            char = chars.get(measurement.characteristic_id)
            if char is None:
                raise BackendRejected(
                    f"Specification {current.spec_id} has no characteristic "
                    f"{measurement.characteristic_id}."
                )
            if measurement.characteristic_id in seen:
                raise BackendRejected(f"{measurement.characteristic_id} is given twice.")
            seen.add(measurement.characteristic_id)
            if char.quantitative and measurement.measured_value is None:
                raise BackendRejected(f"{char.characteristic_id} needs a measuredValue.")
            if not char.quantitative and measurement.conforming is None:
                raise BackendRejected(f"{char.characteristic_id} needs conforming (true/false).")
            points[char.characteristic_id] = (
                float(measurement.measured_value)
                if char.quantitative and measurement.measured_value is not None
                else bool(measurement.conforming)
            )
        check_version("Inspection", current.inspection_id, current.version, expected_version)
        data = dict(state.note.data if state.note else {})
        await self._claim(
            self._inspections, "quality.inspection", state.db_id, state.note,
            {**data, "version": current.version + 1}, f"Inspection {current.inspection_id}",
        )  # fmt: skip
        ids = [state.db_id]
        if state.tryton_state != "pending":
            await self._client.execute("quality.inspection", "pending", ids)
        await self._client.execute("quality.inspection", "write", ids, {"points": points})
        if all(points.get(c) is not None for c in chars):
            await self._client.execute("quality.inspection", "process", ids)

    async def decide(
        self,
        state: InspectionState,
        decision: UsageDecisionCreate,
        actor: str,
        expected_version: int | None,
    ) -> None:
        current = state.inspection
        if current.status is not InspectionStatus.RESULTS_RECORDED:
            raise BackendRejected(
                f"Inspection {current.inspection_id} is {current.status.value}: a usage decision "
                "needs every result recorded and is made once."
            )
        split = validate_split(
            f"inspection {current.inspection_id}",
            current.quantity,
            DECISION_TARGET[decision.decision],
            decision.quantities,
        )
        check_version("Inspection", current.inspection_id, current.version, expected_version)
        record = DispositionDecision(
            decision=decision.decision,
            lot_id=current.lot_id,
            inspection_id=current.inspection_id,
            quantities=[
                TargetQuantity(category=q.category, quantity=split.get(q.category, q.quantity))
                for q in decision.quantities
            ],
            decided_by=decision.decided_by,
            decided_at=datetime.now(UTC),
            reason=decision.reason,
            signature_meaning=decision.signature_meaning,
            source_code=decision.source_code,
        )  # fmt: skip
        data = dict(state.note.data if state.note else {})
        await self._claim(
            self._inspections, "quality.inspection", state.db_id, state.note,
            {**data, "version": current.version + 1, "decision": msgspec.to_builtins(record),
             "decidedFor": actor}, f"Inspection {current.inspection_id}",
        )  # fmt: skip
        # The decision handles the inspection's open alerts: Tryton shows them in processing.
        alerts = await self._client.execute(
            "quality.alert",
            "search",
            [("origin", "=", f"quality.inspection,{state.db_id}"), ("state", "=", "open")],
        )
        if alerts:
            await self._client.execute("quality.alert", "process", alerts)

    async def create_nonconformance(
        self, nc: NonconformanceCreate, inspection: InspectionState | None, actor: str
    ) -> str:
        origin = inspection.db_id if inspection else await self._report(nc)
        # Tryton opened the alert of the report inspection itself; an inspection named by the
        # caller gets a new one (it may have others already).
        found = (
            []
            if inspection
            else await self._client.execute(
                "quality.alert", "search", [("origin", "=", f"quality.inspection,{origin}")], 0, 1
            )
        )
        values = {"title": nc.title, "description": nc.description}
        if found:
            await self._client.execute("quality.alert", "write", found, values)
            db_id = int(found[0])
        else:
            [db_id] = await self._client.execute("quality.alert", "create", [{
                **values, "origin": f"quality.inspection,{origin}",
            }])  # fmt: skip
        await self._alerts.create("quality.alert", db_id, {
            "version": 1, "type": nc.type.value, "severity": nc.severity.value,
            "status": _S.OPEN.value, "plantId": nc.plant_id, "supplierId": nc.supplier_id,
            "itemId": nc.item_id, "lotIds": list(dict.fromkeys(nc.lot_ids)),
            "inspectionId": nc.inspection_id, "materialDisposition": None, "createdFor": actor,
        })  # fmt: skip
        [row] = await self._client.execute("quality.alert", "read", [db_id], ["number"])
        return str(row["number"])

    async def _report(self, nc: NonconformanceCreate) -> int:
        """A failed observation against the report control (made once), so Tryton opens the
        alert a nonconformance without an inspection needs."""
        control = await self._client.execute(
            "quality.control", "search", [("name", "=", REPORT_CONTROL)], 0, 1,
            context={"active_test": False},
        )  # fmt: skip
        if not control:
            control = await self._client.execute("quality.control", "create", [{
                "name": REPORT_CONTROL, "operations": [], "points": [["create", [{
                    "name": "conforming", "string": "Conforming", "type_": "boolean",
                }]]],
            }])  # fmt: skip
        [db_id] = await self._client.execute("quality.inspection", "create", [{
            "control": control[0], "reference": nc.title[:60], "points": {"conforming": False},
        }])  # fmt: skip
        await self._client.execute("quality.inspection", "process", [db_id])
        return int(db_id)

    async def update_nonconformance(
        self, state: AlertState, update: NonconformanceUpdate, actor: str, expected: int | None
    ) -> None:
        nc = state.nonconformance
        target = update.status
        if nc.status in (_S.CLOSED, _S.CANCELLED):
            raise BackendRejected(f"Nonconformance {nc.nc_id} is {nc.status.value}: it is final.")
        if target is not None and target is not nc.status:
            if target not in NC_TRANSITIONS[nc.status]:
                raise BackendRejected(
                    f"Nonconformance {nc.nc_id} is {nc.status.value}: it cannot become "
                    f"{target.value}."
                )
            material = update.material_disposition or nc.material_disposition
            if target is _S.CLOSED and material is None:
                raise BackendRejected(
                    f"Nonconformance {nc.nc_id} needs a material disposition before it closes."
                )
        check_version("Nonconformance", nc.nc_id, nc.version, expected)
        data = dict(state.note.data if state.note else _derived(state))
        data.update({"version": nc.version + 1, "status": (target or nc.status).value,
                     "updatedFor": actor, "reason": update.reason})  # fmt: skip
        if update.severity is not None:
            data["severity"] = update.severity.value
        if update.material_disposition is not None:
            data["materialDisposition"] = update.material_disposition.value
        await self._claim(
            self._alerts,
            "quality.alert",
            state.db_id,
            state.note,
            data,
            f"Nonconformance {nc.nc_id}",
        )
        ids = [state.db_id]
        if update.description is not None:
            await self._client.execute(
                "quality.alert", "write", ids, {"description": update.description}
            )
        for button in _buttons(state.tryton_state, target):
            await self._client.execute("quality.alert", button, ids)


def _buttons(state: str, target: NonconformanceStatus | None) -> Sequence[str]:
    if target is None:
        return ()
    return BUTTONS.get((state, target), ())


def _derived(state: AlertState) -> dict[str, Any]:
    """What an alert Tryton opened by itself is read as, kept once qgate first changes it."""
    nc = state.nonconformance
    return {
        "type": nc.type.value, "severity": nc.severity.value, "plantId": nc.plant_id,
        "supplierId": nc.supplier_id, "itemId": nc.item_id, "lotIds": nc.lot_ids,
        "inspectionId": nc.inspection_id, "materialDisposition": None,
    }  # fmt: skip
