"""Specifications and inspections as Tryton's quality module keeps them.

Specification = ``quality.control`` of a product; characteristic = control point (its name is
the characteristic id, its tolerances the limits; a boolean point is qualitative). Tryton does
not version controls: each version is a control, the older ones archived, and the control's
qgate attachment names the specification, its version and what points lack (target, unit,
critical). Tryton fails an inspection on any point out of tolerance, so a control qgate did not
describe has only critical characteristics.

Inspection = ``quality.inspection`` against that control; its origin is the supplier shipment of
the goods receipt when there is one (CANCELLED when that shipment is cancelled), its reference
the receipt (or the lot). Its attachment holds what Tryton has no field for: lot, item, plant,
supplier, quantity, the qgate version and the usage decision (Tryton has none). Status: pending
without results CREATED, with some IN_PROGRESS; passed or failed RESULTS_RECORDED, DECIDED once
decided. Result: passed PASS; failed FAIL when a critical characteristic is rejected, else
CONDITIONAL_PASS (Tryton's ``failed`` stays in ``sourceStatus``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from shared.models import (
    CharacteristicValuation,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
)
from shared.models.qms import (
    Characteristic,
    CharacteristicResult,
    DispositionDecision,
    Inspection,
    Specification,
)
from system_apis.connectors.tryton._common import qty, refs, utc
from system_apis.connectors.tryton._erp_reads import nested
from system_apis.connectors.tryton._notes import Note, StateNotes
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = [
    "REPORT_CONTROL",
    "InspectionState",
    "SpecState",
    "inspection_of",
    "read_inspections",
    "read_specs",
    "valuate",
]

REPORT_CONTROL: Final = "qgate nonconformance report"
"""The control of the inspections that carry a nonconformance raised outside an inspection."""
_QUANTITATIVE: Final = frozenset({"float", "numeric", "integer"})


@dataclass(frozen=True)
class SpecState:
    spec: Specification
    control: int
    active: bool
    points: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class InspectionState:
    inspection: Inspection
    db_id: int
    tryton_state: str
    points: Mapping[str, Any]
    spec: SpecState
    note: Note | None


async def read_specs(client: TrytonClient, notes: StateNotes) -> list[SpecState]:
    controls = await client.execute(
        "quality.control",
        "search_read",
        [("name", "!=", REPORT_CONTROL)],
        0,
        None,
        [("id", "ASC")],
        ["name", "product.code", "active", "create_date"],
        context={"active_test": False},
    )
    controls = [c for c in controls if nested(c, "product.code")]
    ids = [int(c["id"]) for c in controls]
    points = await client.execute(
        "quality.control.point",
        "search_read",
        [("control", "in", ids)],
        0,
        None,
        [("id", "ASC")],
        ["control", "name", "string", "type_", "tolerance_lower", "tolerance_upper"],
    )
    by_control: dict[int, list[dict[str, Any]]] = {}
    for point in points:
        by_control.setdefault(int(point["control"]), []).append(point)
    described = await notes.of("quality.control", ids)
    specs = []
    for control in controls:
        db_id = int(control["id"])
        note = described.get(db_id)
        data = note.data if note else {}
        extra: Mapping[str, Mapping[str, Any]] = data.get("characteristics", {})
        own = by_control.get(db_id, [])
        characteristics = [_characteristic(p, extra.get(str(p["name"]), {})) for p in own]
        version = int(data.get("version", 1))
        valid_from = data.get("validFrom")
        spec = Specification(
            spec_id=str(data.get("specId") or f"CTRL-{db_id}"),
            spec_version=version,
            item_id=str(nested(control, "product.code")),
            title=str(control["name"])[:200],
            valid_from=(
                dt.datetime.fromisoformat(valid_from) if valid_from else utc(control["create_date"])
            ),
            characteristics=characteristics,
            version=1,
            external_refs=refs("quality.control", db_id, 1),
            source_status="active" if control.get("active", True) else "archived",
        )
        specs.append(
            SpecState(
                spec=spec,
                control=db_id,
                active=bool(control.get("active", True)),
                points={str(p["name"]): p for p in own},
            )
        )
    return specs


def _characteristic(point: Mapping[str, Any], extra: Mapping[str, Any]) -> Characteristic:
    quantitative = point["type_"] in _QUANTITATIVE
    return Characteristic(
        characteristic_id=str(point["name"]),
        name=str(point.get("string") or point["name"])[:200],
        quantitative=quantitative,
        lower_limit=point.get("tolerance_lower") if quantitative else None,
        upper_limit=point.get("tolerance_upper") if quantitative else None,
        target=extra.get("target"),
        uom=extra.get("uom"),
        critical=bool(extra.get("critical", True)),
    )


def valuate(char: Characteristic, value: Any) -> CharacteristicResult:
    """One point's value as a canonical result, valuated as Tryton's control point does."""
    if value is None:
        return CharacteristicResult(
            characteristic_id=char.characteristic_id,
            valuation=CharacteristicValuation.NOT_EVALUATED,
        )
    if not char.quantitative:
        ok = bool(value)
        return CharacteristicResult(
            characteristic_id=char.characteristic_id,
            valuation=CharacteristicValuation.ACCEPT if ok else CharacteristicValuation.REJECT,
            conforming=ok,
        )
    measured = float(value)
    ok = (char.lower_limit is None or measured >= char.lower_limit) and (
        char.upper_limit is None or measured <= char.upper_limit
    )
    return CharacteristicResult(
        characteristic_id=char.characteristic_id,
        valuation=CharacteristicValuation.ACCEPT if ok else CharacteristicValuation.REJECT,
        measured_value=measured,
    )


_ORIGINS: Final = {
    "stock.shipment.in": InspectionOrigin.GOODS_RECEIPT,
    "stock.shipment.out.return": InspectionOrigin.RETURN,
    "stock.shipment.internal": InspectionOrigin.STOCK,
    "production": InspectionOrigin.PRODUCTION,
}


async def read_inspections(
    client: TrytonClient,
    notes: StateNotes,
    specs: Iterable[SpecState],
    domain: list[Any] | None = None,
) -> list[InspectionState]:
    by_control = {s.control: s for s in specs}
    rows = await client.execute(
        "quality.inspection",
        "search_read",
        [("control", "in", list(by_control)), *(domain or [])],
        0,
        None,
        [("number", "ASC")],
        ["number", "reference", "control", "origin", "points", "state", "create_date"],
    )
    headers = await notes.of("quality.inspection", [int(r["id"]) for r in rows])
    cancelled = await _cancelled_origins(
        client, [str(r["origin"]) for r in rows if r.get("origin")]
    )
    return [
        inspection_of(r, by_control[int(r["control"])], headers.get(int(r["id"])), cancelled)
        for r in rows
    ]


async def _cancelled_origins(client: TrytonClient, origins: list[str]) -> set[str]:
    found: set[str] = set()
    per_model: dict[str, list[int]] = {}
    for origin in origins:
        model, _, db_id = origin.rpartition(",")
        if model.startswith("stock.shipment") and db_id.isdigit():
            per_model.setdefault(model, []).append(int(db_id))
    for model, ids in per_model.items():
        for row in await client.execute(model, "read", sorted(set(ids)), ["state"]):
            if row["state"] == "cancelled":
                found.add(f"{model},{row['id']}")
    return found


def inspection_of(
    row: Mapping[str, Any], spec: SpecState, note: Note | None, cancelled: set[str]
) -> InspectionState:
    data = note.data if note else {}
    points: Mapping[str, Any] = row.get("points") or {}
    chars = spec.spec.characteristics
    results = [valuate(c, points.get(c.characteristic_id)) for c in chars]
    state = str(row["state"])
    origin_ref = str(row.get("origin") or "")
    decision = data.get("decision")
    if origin_ref in cancelled:
        status = InspectionStatus.CANCELLED
    elif state == "pending":
        recorded = any(r.valuation is not CharacteristicValuation.NOT_EVALUATED for r in results)
        status = InspectionStatus.IN_PROGRESS if recorded else InspectionStatus.CREATED
    else:
        status = InspectionStatus.DECIDED if decision else InspectionStatus.RESULTS_RECORDED
    result = InspectionResult.PENDING
    if state == "passed":
        result = InspectionResult.PASS
    elif state == "failed":
        critical = any(
            r.valuation is CharacteristicValuation.REJECT and c.critical
            for c, r in zip(chars, results, strict=True)
        )
        result = InspectionResult.FAIL if critical else InspectionResult.CONDITIONAL_PASS
    version = note.version if note else 1
    origin_model = origin_ref.rpartition(",")[0]
    inspection = Inspection(
        inspection_id=str(row["number"]),
        origin=InspectionOrigin(data["origin"])
        if "origin" in data
        else _ORIGINS.get(origin_model, InspectionOrigin.OTHER),
        status=status,
        result=result,
        lot_id=str(data.get("lotId") or row.get("reference") or "NONE"),
        item_id=str(data.get("itemId") or spec.spec.item_id),
        plant_id=str(data.get("plantId") or "NONE"),
        supplier_id=data.get("supplierId"),
        spec_id=spec.spec.spec_id,
        spec_version=spec.spec.spec_version,
        quantity=qty(float(data.get("quantity", 0))),
        goods_receipt_id=data.get("goodsReceiptId"),
        created_at=utc(row["create_date"]),
        results=results,
        decision=msgspec.convert(decision, DispositionDecision) if decision else None,
        version=version,
        external_refs=refs("quality.inspection", int(row["id"]), version),
        source_status=state,
    )
    return InspectionState(
        inspection=inspection,
        db_id=int(row["id"]),
        tryton_state=state,
        points=dict(points),
        spec=spec,
        note=note,
    )
