"""SAP QM inspection lots read into canonical inspections (API_INSPECTIONLOT_SRV).

An inspection is an inspection lot (``A_InspectionLot``, its status in
``A_InspectionLotWithStatus``), the characteristics its inspection plan gave it
(``A_InspectionCharacteristic``), their results (``A_InspectionResult``) and its usage decision
(``A_InspLotUsageDecision``). Ids:

- the inspection is the inspection lot number; the lot is ``LOT-<plant>-<batch>``;
- the specification is the inspection plan, ``PLAN-<group>-<group counter>``, its version the
  plan's change state (SAP's inspection-plan API is not among the definitions qgate is checked
  against, so specifications are not listed: the capability is not declared);
- a characteristic is its master inspection characteristic (``InspectionSpecification``), or
  ``OP<operation>-<characteristic>`` for one planned without.

SAP valuates each result (``A`` accept, ``R`` reject); a rejected characteristic whose weighting
is one of the plant's ``critical_weightings`` fails the inspection, any other rejection is a
conditional pass. The version is counted by qgate (``_notes.InspectionNote``).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from shared.models import (
    CharacteristicValuation,
    DispositionCode,
    ExternalRef,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
    StockCategory,
)
from shared.models.lifecycle import DECISION_TARGET
from shared.models.qms import (
    CharacteristicResult,
    DispositionDecision,
    Inspection,
    TargetQuantity,
)
from system_apis.connectors.s4hana._mapping import SYSTEM, PlantCodes, gr_id, lot_id
from system_apis.connectors.s4hana._notes import InspectionNote
from system_apis.connectors.s4hana._odata import Entity, parse_decimal, parse_odata_date

__all__ = [
    "CharKey",
    "LotState",
    "char_key",
    "characteristic_id",
    "inspection_of",
    "parse_plan_id",
    "plan_id",
]

CharKey = tuple[str, str]
"""(``InspPlanOperationInternalID``, ``InspectionCharacteristic``)."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_PLAN: Final = re.compile(r"^PLAN-(?P<group>[A-Za-z0-9]{1,8})-(?P<counter>[A-Za-z0-9]{1,2})$")
_ORIGINS: Final = {
    "01": InspectionOrigin.GOODS_RECEIPT,
    "03": InspectionOrigin.IN_PROCESS,
    "04": InspectionOrigin.PRODUCTION,
    "06": InspectionOrigin.RETURN,
    "08": InspectionOrigin.STOCK,
    "09": InspectionOrigin.STOCK,
}
"""SAP inspection lot origin -> canonical origin (any other, e.g. 89, is OTHER)."""
_CODE_FOR: Final = {target: code for code, target in DECISION_TARGET.items()}
_POSTED: Final = (
    ("InspLotQtyToFree", StockCategory.AVAILABLE),
    ("InspLotQtyToBlocked", StockCategory.BLOCKED),
    ("InspLotQtyReturnedToSupplier", StockCategory.RETURNS),
)


def plan_id(group: str, counter: str) -> str:
    return f"PLAN-{group}-{counter}"


def parse_plan_id(value: str) -> tuple[str, str] | None:
    match = _PLAN.match(value)
    return (match["group"], match["counter"]) if match else None


def char_key(row: Entity) -> CharKey:
    return (str(row["InspPlanOperationInternalID"]), str(row["InspectionCharacteristic"]))


def characteristic_id(row: Entity) -> str:
    master = str(row.get("InspectionSpecification") or "")
    if master:
        return master
    operation, number = char_key(row)
    return f"OP{int(operation) if operation.isdigit() else operation}-{number}"


def _date(value: object) -> datetime | None:
    return parse_odata_date(value) if isinstance(value, str) and value else None


@dataclass
class LotState:
    """What SAP holds about one inspection lot, and qgate's note of it."""

    lot: Entity
    characteristics: list[Entity]
    """In plan order (operation, characteristic)."""
    results: dict[CharKey, Entity]
    decision: Entity | None
    note: InspectionNote | None

    @property
    def number(self) -> str:
        return str(self.lot["InspectionLot"])

    @property
    def cancelled(self) -> bool:
        status = self.lot.get("to_InspectionLotWithStatus")
        return isinstance(status, dict) and bool(status.get("InspLotStatusCanceled"))

    def valuation(self, char: Entity) -> str:
        result = self.results.get(char_key(char))
        return str(result.get("InspectionValuationResult") or "") if result else ""

    @property
    def recorded(self) -> int:
        return sum(1 for c in self.characteristics if self.valuation(c) in ("A", "R"))

    @property
    def fingerprint(self) -> str:
        """What a change in SAP would alter: results, decision, cancellation."""
        seen = [
            [
                *char_key(c),
                self.valuation(c),
                str(self.results.get(char_key(c), {}).get("InspResultFrmtdMeanValue") or ""),
                str(self.results.get(char_key(c), {}).get("ChangedDateTime") or ""),
            ]
            for c in self.characteristics
        ]
        decided = self.decision or {}
        facts = [
            seen,
            str(decided.get("InspectionLotUsageDecisionCode") or ""),
            str(decided.get("ChangedDateTime") or ""),
            self.cancelled,
        ]
        return hashlib.sha256(json.dumps(facts).encode()).hexdigest()[:32]

    @property
    def version(self) -> int:
        """qgate's count of changes: the note's, one more when SAP changed since qgate's last
        write. SAP keeps no counter, so a lot qgate never wrote counts its stages: 1 created,
        2 with results, 3 decided (what qgate's first write notes, so no reader ever sees the
        version go back)."""
        if self.note is None:
            return 1 + (1 if self.recorded else 0) + (1 if self.decision else 0)
        return self.note.version + (0 if self.note.fingerprint == self.fingerprint else 1)

    @property
    def status(self) -> InspectionStatus:
        if self.cancelled:
            return InspectionStatus.CANCELLED
        if self.decision is not None:
            return InspectionStatus.DECIDED
        if self.characteristics and self.recorded == len(self.characteristics):
            return InspectionStatus.RESULTS_RECORDED
        return InspectionStatus.IN_PROGRESS if self.recorded else InspectionStatus.CREATED


def _overall(state: LotState, critical: frozenset[str]) -> InspectionResult:
    if not state.characteristics or state.recorded < len(state.characteristics):
        return InspectionResult.PENDING
    rejected = [c for c in state.characteristics if state.valuation(c) == "R"]
    if not rejected:
        return InspectionResult.PASS
    if any(str(c.get("InspSpecImportanceCode") or "") in critical for c in rejected):
        return InspectionResult.FAIL
    return InspectionResult.CONDITIONAL_PASS


def _characteristic_result(state: LotState, char: Entity) -> CharacteristicResult:
    valuation = state.valuation(char)
    result = state.results.get(char_key(char)) or {}
    quantitative = bool(char.get("InspSpecIsQuantitative"))
    recorded = valuation in ("A", "R")
    measured = None
    if quantitative and recorded and result.get("InspResultFrmtdMeanValue") not in (None, ""):
        measured = float(str(result["InspResultFrmtdMeanValue"]))
    return CharacteristicResult(
        characteristic_id=characteristic_id(char),
        valuation=(
            CharacteristicValuation.ACCEPT
            if valuation == "A"
            else CharacteristicValuation.REJECT
            if valuation == "R"
            else CharacteristicValuation.NOT_EVALUATED
        ),
        measured_value=measured,
        conforming=(valuation == "A") if recorded and not quantitative else None,
        note=str(result.get("InspectionResultText") or "") or None,
    )


def _decision(state: LotState, codes: PlantCodes, identifier: str) -> DispositionDecision | None:
    decided = state.decision
    if decided is None:
        return None
    code = str(decided.get("InspectionLotUsageDecisionCode") or "")
    noted = state.note.decision if state.note else None
    if noted is not None:
        decision = DispositionCode(noted.decision)
        quantities = [
            TargetQuantity(category=StockCategory(category), quantity=quantity)
            for category, quantity in noted.quantities
        ]
    else:
        target = codes.disposition_of_ud(code)
        accepted = decided.get("InspLotUsageDecisionValuation") == "A"
        decision = (
            _CODE_FOR[target]
            if target is not None
            else (DispositionCode.RELEASE if accepted else DispositionCode.BLOCK)
        )
        quantities = [
            TargetQuantity(category=category, quantity=parse_decimal(state.lot.get(name)))
            for name, category in _POSTED
            if parse_decimal(state.lot.get(name)) > 0
        ]
    decided_at = (
        noted.at
        if noted
        else _date(decided.get("ChangedDateTime"))
        or _date(decided.get("InspectionLotUsageDecidedOn"))
        or _EPOCH
    )
    return DispositionDecision(
        decision=decision,
        lot_id=identifier,
        inspection_id=state.number,
        quantities=quantities,
        decided_by=noted.decided_by
        if noted
        else str(decided.get("InspectionLotUsageDecidedBy") or "") or "SAP",
        decided_at=decided_at,
        reason=noted.reason if noted else f"Usage decision {code or '-'} made in S/4HANA",
        signature_meaning=noted.signature_meaning if noted else None,
        source_code=code or None,
    )


def inspection_of(state: LotState, codes: PlantCodes) -> Inspection:
    lot = state.lot
    critical = frozenset(codes.codes.critical_weightings)
    plant, batch = str(lot["Plant"]), str(lot.get("Batch") or "")
    identifier = lot_id(plant, batch) if batch else f"LOT-{plant}-NONE"
    note = state.note
    document = str(lot.get("MaterialDocument") or "")
    receipt = (
        gr_id(str(lot["MaterialDocumentYear"]), document, str(lot["MaterialDocumentItem"]))
        if document
        else (note.goods_receipt_id if note else None)
    )
    origin = (
        InspectionOrigin(note.origin)
        if note and note.origin
        else _ORIGINS.get(str(lot.get("InspectionLotOrigin") or ""), InspectionOrigin.OTHER)
    )
    group = str(lot.get("BillOfOperationsGroup") or "")
    change_state = str(lot.get("BillOfOperationsChangeStateID") or "")
    version = state.version
    decided = state.decision or {}
    return Inspection(
        inspection_id=state.number,
        origin=origin,
        status=state.status,
        result=_overall(state, critical),
        lot_id=identifier,
        item_id=str(lot["Material"]),
        plant_id=plant,
        supplier_id=str(lot.get("Supplier") or "") or None,
        spec_id=plan_id(group, str(lot.get("BillOfOperationsVariant") or "1"))
        if group
        else "PLAN-NONE",
        spec_version=int(change_state) if change_state.isdigit() and int(change_state) else 1,
        quantity=parse_decimal(lot.get("InspectionLotQuantity")),
        goods_receipt_id=receipt,
        created_at=_date(lot.get("InspectionLotCreatedOn")) or _EPOCH,
        results=[_characteristic_result(state, c) for c in state.characteristics],
        decision=_decision(state, codes, identifier),
        version=version,
        external_refs=[
            ExternalRef(system=SYSTEM, type="A_InspectionLot", id=state.number, etag=str(version))
        ],
        source_status=(
            f"UD {decided.get('InspectionLotUsageDecisionCode')}"
            if state.decision
            else f"origin {lot.get('InspectionLotOrigin') or '-'}"
        ),
    )
