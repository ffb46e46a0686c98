"""Nonconformances as Tryton's quality alerts (``quality.alert``).

Tryton opens an alert itself when an inspection fails; qgate reads it as a nonconformance of
the inspection's lot, item, plant and supplier. An alert always has an inspection as origin, so
a nonconformance raised without one is recorded the Tryton way: a failed observation against
the ``qgate nonconformance report`` control, on which Tryton opens the alert. Status:

============ ===================================================
canonical    Tryton alert state
============ ===================================================
OPEN         open
IN_PROGRESS  processing (or deferred, not cancelled by qgate)
IN_REVIEW    processing (qgate's review step, in the attachment)
CLOSED       resolved
CANCELLED    deferred (cancelled through qgate)
============ ===================================================

Type, severity, lots and the material disposition live in the alert's qgate attachment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from shared.models import MaterialDisposition, NonconformanceStatus, NonconformanceType, Severity
from shared.models.qms import Inspection, Nonconformance
from system_apis.connectors.tryton._common import refs, utc
from system_apis.connectors.tryton._notes import Note

__all__ = ["BUTTONS", "AlertState", "alert_of"]

_S = NonconformanceStatus

BUTTONS: Final[Mapping[tuple[str, NonconformanceStatus], tuple[str, ...]]] = {
    ("open", _S.IN_PROGRESS): ("process",),
    ("open", _S.CANCELLED): ("process", "defer"),
    ("processing", _S.CANCELLED): ("defer",),
    ("processing", _S.CLOSED): ("resolve",),
    ("deferred", _S.IN_PROGRESS): ("process",),
    ("deferred", _S.IN_REVIEW): ("process",),
}
"""The Tryton buttons that take an alert in a given state to a canonical status."""


@dataclass(frozen=True)
class AlertState:
    nonconformance: Nonconformance
    db_id: int
    tryton_state: str
    note: Note | None


def _status(state: str, data: Mapping[str, Any]) -> NonconformanceStatus:
    kept = data.get("status")
    if state == "open":
        return _S.OPEN
    if state == "resolved":
        return _S.CLOSED
    if state == "deferred":
        return _S.CANCELLED if kept == _S.CANCELLED.value else _S.IN_PROGRESS
    return _S.IN_REVIEW if kept == _S.IN_REVIEW.value else _S.IN_PROGRESS


def alert_of(row: Mapping[str, Any], origin: Inspection | None, note: Note | None) -> AlertState:
    data = note.data if note else {}
    supplier = data.get("supplierId", origin.supplier_id if origin else None)
    lots = data.get("lotIds", [origin.lot_id] if origin else [])
    kind = data.get("type") or (
        NonconformanceType.SUPPLIER_NC if supplier else NonconformanceType.NONCONFORMANCE
    )
    version = note.version if note else 1
    material = data.get("materialDisposition")
    state = str(row["state"])
    nc = Nonconformance(
        nc_id=str(row["number"]),
        type=NonconformanceType(kind),
        status=_status(state, data),
        severity=Severity(data.get("severity", Severity.MAJOR.value)),
        title=str(
            row.get("title")
            or (f"Inspection {origin.inspection_id} failed" if origin else row["number"])
        )[:200],
        description=str(row.get("description") or ""),
        plant_id=str(data.get("plantId") or (origin.plant_id if origin else "NONE")),
        supplier_id=supplier,
        item_id=data.get("itemId", origin.item_id if origin else None),
        lot_ids=list(lots),
        inspection_id=data.get("inspectionId", origin.inspection_id if origin else None),
        material_disposition=MaterialDisposition(material) if material else None,
        created_at=utc(row["create_date"]),
        updated_at=utc(note.written if note else (row.get("write_date") or row["create_date"])),
        version=version,
        external_refs=refs("quality.alert", int(row["id"]), version),
        source_status=state,
    )
    return AlertState(nonconformance=nc, db_id=int(row["id"]), tryton_state=state, note=note)
