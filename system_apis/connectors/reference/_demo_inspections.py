"""The demo's QMS records per lot: specifications, inspections and their results."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from shared.models import (
    CharacteristicValuation,
    DispositionCode,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
)
from shared.models.erp import GoodsReceipt, Lot
from shared.models.lifecycle import DECISION_TARGET
from shared.models.qms import (
    Characteristic,
    CharacteristicResult,
    DispositionDecision,
    Inspection,
    Specification,
    TargetQuantity,
)
from system_apis.connectors.reference._codes import INSPECTION_CODES
from system_apis.connectors.reference._demo_catalog import BASE_TIME, ITEMS, SPECS, DemoSpec
from system_apis.connectors.reference._demo_lots import Scenario
from system_apis.connectors.reference._records import QMS_SYSTEM, external_refs

__all__ = ["demo_results", "inspection", "measured", "specifications", "stock_check"]

_R = InspectionResult
_St = InspectionStatus
_ACCEPT = CharacteristicValuation.ACCEPT
_REJECT = CharacteristicValuation.REJECT
_NOT_EVALUATED = CharacteristicValuation.NOT_EVALUATED
_DESCRIPTIONS: Final = {item.item_id: item.description for item in ITEMS}
_DECISION_FOR: Final = {target: code for code, target in DECISION_TARGET.items()}
_SOURCE_CODES: Final = {
    DispositionCode.RELEASE: "A1",
    DispositionCode.RESTRICT: "A2",
    DispositionCode.BLOCK: "R1",
    DispositionCode.REJECT: "R2",
    DispositionCode.SCRAP: "R3",
    DispositionCode.RETURN_TO_SUPPLIER: "R4",
    DispositionCode.QUARANTINE: "Q1",
}
"""The reference QMS's own usage-decision codes (like SAP's, customer-configured)."""


def specifications() -> list[Specification]:
    """Every version of every item's specification."""
    return [_specification(spec) for spec in SPECS]


def _specification(spec: DemoSpec) -> Specification:
    current = all(o.version <= spec.version for o in SPECS if o.item_id == spec.item_id)
    spec_id = f"SPEC-{spec.item_id}"
    return Specification(
        external_refs=external_refs(QMS_SYSTEM, "Specification", f"{spec_id}.{spec.version}", 1),
        source_status="RELEASED" if current else "SUPERSEDED",
        spec_id=spec_id,
        spec_version=spec.version,
        item_id=spec.item_id,
        title=f"Incoming inspection: {_DESCRIPTIONS[spec.item_id]}",
        valid_from=spec.valid_from,
        characteristics=list(spec.characteristics),
    )


def _spec_at(specs: list[Specification], item_id: str, at: datetime) -> Specification:
    """The item's specification version valid at ``at``."""
    valid = [s for s in specs if s.item_id == item_id and s.valid_from <= at]
    return max(valid, key=lambda s: s.spec_version)


def inspection(
    scenario: Scenario,
    lot: Lot,
    receipt: GoodsReceipt,
    inspection_id: str,
    specs: list[Specification],
) -> Inspection:
    """The goods-receipt inspection of a scenario's lot, as far as the scenario got."""
    status = scenario.status or _St.CREATED
    result = scenario.result if status in (_St.RESULTS_RECORDED, _St.DECIDED) else _R.PENDING
    spec = _spec_at(specs, lot.item_id, receipt.received_at)
    created_at = receipt.received_at + timedelta(minutes=30)
    decision = None
    if status is _St.DECIDED:
        code = _DECISION_FOR[scenario.disposition]
        decision = DispositionDecision(
            decision=code,
            lot_id=lot.lot_id,
            inspection_id=inspection_id,
            quantities=[TargetQuantity(category=c, quantity=q) for c, q in scenario.split],
            decided_by=f"qa.lead.{lot.plant_id}",
            decided_at=min(created_at + timedelta(days=2), BASE_TIME),
            reason=scenario.note or "All characteristics within specification",
            signature_meaning="Reviewed and approved",
            source_code=_SOURCE_CODES[code],
        )
    version = {_St.CREATED: 1, _St.IN_PROGRESS: 2, _St.RESULTS_RECORDED: 2}.get(status, 3)
    return Inspection(
        version=version,
        external_refs=external_refs(QMS_SYSTEM, "Inspection", inspection_id, version),
        source_status=INSPECTION_CODES[status],
        inspection_id=inspection_id,
        origin=InspectionOrigin.GOODS_RECEIPT,
        status=status,
        result=result,
        lot_id=lot.lot_id,
        item_id=lot.item_id,
        plant_id=lot.plant_id,
        supplier_id=lot.supplier_id,
        spec_id=spec.spec_id,
        spec_version=spec.spec_version,
        quantity=receipt.quantity,
        goods_receipt_id=receipt.receipt_id,
        created_at=created_at,
        results=demo_results(spec, status, result, scenario),
        decision=decision,
    )


def stock_check(lot: Lot, inspection_id: str, specs: list[Specification]) -> Inspection:
    """A stock re-inspection opened by mistake and cancelled before any result."""
    spec = _spec_at(specs, lot.item_id, BASE_TIME)
    return Inspection(
        version=2,
        external_refs=external_refs(QMS_SYSTEM, "Inspection", inspection_id, 2),
        source_status=INSPECTION_CODES[_St.CANCELLED],
        inspection_id=inspection_id,
        origin=InspectionOrigin.STOCK,
        status=_St.CANCELLED,
        result=_R.PENDING,
        lot_id=lot.lot_id,
        item_id=lot.item_id,
        plant_id=lot.plant_id,
        supplier_id=lot.supplier_id,
        spec_id=spec.spec_id,
        spec_version=spec.spec_version,
        quantity=lot.total_quantity,
        created_at=BASE_TIME - timedelta(days=7),
        results=[
            CharacteristicResult(characteristic_id=c.characteristic_id, valuation=_NOT_EVALUATED)
            for c in spec.characteristics
        ],
    )


def measured(char: Characteristic, valuation: CharacteristicValuation) -> float | None:
    """A measured value that the reference QMS valuates as ``valuation``."""
    low, up = char.lower_limit, char.upper_limit
    if valuation is CharacteristicValuation.ACCEPT:
        if char.target is not None:
            return char.target
        if low is not None and up is not None:
            return round((low + up) / 2, 4)
        return round(low * 1.25, 4) if low is not None else round((up or 0.0) / 2, 4)
    if up is not None:
        return round(up + (up - (low or 0.0)) * 0.4 + 0.001, 4)
    return round((low or 0.0) * 0.4, 4)


def demo_results(
    spec: Specification, status: InspectionStatus, result: InspectionResult, scenario: Scenario
) -> list[CharacteristicResult]:
    """Per-characteristic results that give ``status`` and ``result`` under the QMS's rules."""
    chars = spec.characteristics
    if status in (_St.CREATED, _St.CANCELLED):
        evaluated: set[str] = set()
    elif status is _St.IN_PROGRESS:
        evaluated = {c.characteristic_id for c in chars[: max(1, len(chars) // 2)]}
    else:
        evaluated = {c.characteristic_id for c in chars}
    rejected = scenario.reject
    if rejected is None and result is _R.FAIL:
        rejected = next(c.characteristic_id for c in chars if c.critical)
    elif rejected is None and result is _R.CONDITIONAL_PASS:
        rejected = next(c.characteristic_id for c in chars if not c.critical)
    out = []
    for char in chars:
        cid = char.characteristic_id
        if cid not in evaluated:
            out.append(CharacteristicResult(characteristic_id=cid, valuation=_NOT_EVALUATED))
            continue
        valuation = _REJECT if cid == rejected else _ACCEPT
        out.append(
            CharacteristicResult(
                characteristic_id=cid,
                valuation=valuation,
                measured_value=measured(char, valuation) if char.quantitative else None,
                conforming=None if char.quantitative else valuation is _ACCEPT,
                note=scenario.note if valuation is _REJECT else None,
            )
        )
    return out
