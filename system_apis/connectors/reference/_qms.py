"""The reference QMS: inspections valuated against specifications, decisions, NCs and 8D CAPAs.

Rules it enforces (each refusal is a :class:`~shared.errors.BackendRejected` saying why):

- an inspection uses ``specId`` or the item's current (highest version) specification; one
  goods receipt has one inspection (not counting cancelled ones): creating it again returns it;
- results: only characteristics of the specification, each with the value its kind needs; not
  once the inspection is DECIDED or CANCELLED (corrections before the decision are allowed);
- the usage decision: only on RESULTS_RECORDED (every characteristic evaluated), once; its
  quantities follow the ERP's stock rule table (``_stock``) and add up to the inspected quantity;
- nonconformances follow ``NC_TRANSITIONS``; CLOSED needs a material disposition; CLOSED and
  CANCELLED ones cannot change;
- a CAPA advances one named 8D stage at a time; completing D7 records the effectiveness check,
  completing D8 closes it;
- supplier quality events and status changes need a supplier the QMS knows (it has a status).
"""

from __future__ import annotations

from shared.errors import BackendRejected, NotFound
from shared.models import InspectionStatus
from shared.models.commands import InspectionCreate, ResultsRecord, UsageDecisionCreate
from shared.models.lifecycle import DECISION_TARGET
from shared.models.qms import (
    CharacteristicResult,
    DispositionDecision,
    Inspection,
    Specification,
    TargetQuantity,
)
from system_apis.connectors.base import QmsCapability, require
from system_apis.connectors.reference._codes import INSPECTION_CODES
from system_apis.connectors.reference._qms_quality import QmsQuality
from system_apis.connectors.reference._records import (
    QMS_SYSTEM,
    bump,
    check_version,
    external_refs,
    find,
    qty,
)
from system_apis.connectors.reference._stock import ALLOWED_CATEGORIES, validate_split
from system_apis.connectors.reference._valuation import not_evaluated, overall, valuate

__all__ = ["ReferenceQmsConnector"]

_C = QmsCapability
_St = InspectionStatus


class ReferenceQmsConnector(QmsQuality):
    """The embedded QMS (``reference-qms``): seeded with the demo data unless ``data`` is given.

    ``capabilities`` restricts what it declares (default: all); a method whose capability is
    not declared raises :class:`~shared.errors.CapabilityUnsupported`. Every write runs under
    one lock, so a version check and the write it guards are atomic. Rules: module docstring.
    """

    async def create_inspection(self, inspection: InspectionCreate, *, actor: str) -> Inspection:
        """CREATED / PENDING, one NOT_EVALUATED result per characteristic. The same
        ``goodsReceiptId`` returns the inspection already open for it, unchanged."""
        require(self, _C.INSPECTIONS)
        async with self._lock:
            if inspection.goods_receipt_id is not None:
                for existing in self._inspections.values():
                    if (
                        existing.goods_receipt_id == inspection.goods_receipt_id
                        and existing.status is not _St.CANCELLED
                    ):
                        return existing
            spec = self._spec_for(inspection)
            inspection_id = self._ids.next("INSP")
            created = Inspection(
                external_refs=external_refs(QMS_SYSTEM, "Inspection", inspection_id, 1),
                source_status=INSPECTION_CODES[_St.CREATED],
                inspection_id=inspection_id,
                origin=inspection.origin,
                status=_St.CREATED,
                result=overall(spec.characteristics, [])[1],
                lot_id=inspection.lot_id,
                item_id=inspection.item_id,
                plant_id=inspection.plant_id,
                supplier_id=inspection.supplier_id,
                spec_id=spec.spec_id,
                spec_version=spec.spec_version,
                quantity=inspection.quantity,
                goods_receipt_id=inspection.goods_receipt_id,
                created_at=self._clock(),
                results=[not_evaluated(c) for c in spec.characteristics],
            )
            self._inspections[inspection_id] = created
            return created

    def _spec_for(self, inspection: InspectionCreate) -> Specification:
        if inspection.spec_id is not None:
            versions = [s for (sid, _), s in self._specs.items() if sid == inspection.spec_id]
            if not versions:
                raise NotFound(f"Specification {inspection.spec_id} not found")
            spec = max(versions, key=lambda s: s.spec_version)
            if spec.item_id != inspection.item_id:
                raise BackendRejected(
                    f"Specification {spec.spec_id} is for item {spec.item_id}, "
                    f"not {inspection.item_id}."
                )
            return spec
        versions = [s for s in self._specs.values() if s.item_id == inspection.item_id]
        if not versions:
            raise BackendRejected(
                f"Item {inspection.item_id} has no specification in the QMS; create one first "
                "or name a specId."
            )
        return max(versions, key=lambda s: (s.spec_version, s.spec_id))

    async def record_results(
        self,
        inspection_id: str,
        results: ResultsRecord,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Inspection:
        """Valuate each measurement (replacing an earlier result of that characteristic); the
        inspection is IN_PROGRESS until every characteristic is evaluated, then
        RESULTS_RECORDED with PASS, CONDITIONAL_PASS or FAIL (rules in ``_valuation``)."""
        require(self, _C.INSPECTION_RESULTS)
        async with self._lock:
            current = find(self._inspections, "Inspection", inspection_id)
            check_version("Inspection", inspection_id, current.version, expected_version)
            if current.status in (_St.DECIDED, _St.CANCELLED):
                raise BackendRejected(
                    f"Inspection {inspection_id} is {current.status.value}; results can no "
                    "longer be recorded."
                )
            spec = self._specs.get((current.spec_id, current.spec_version))
            if spec is None:
                raise BackendRejected(
                    f"Specification {current.spec_id} version {current.spec_version} of "
                    f"inspection {inspection_id} no longer exists."
                )
            chars = {c.characteristic_id: c for c in spec.characteristics}
            recorded: dict[str, CharacteristicResult] = {
                r.characteristic_id: r for r in current.results
            }
            named: set[str] = set()
            for measurement in results.results:
                cid = measurement.characteristic_id
                if cid not in chars:
                    raise BackendRejected(
                        f"Characteristic {cid} is not in specification {spec.spec_id} version "
                        f"{spec.spec_version}; it has {', '.join(chars)}."
                    )
                if cid in named:
                    raise BackendRejected(f"Characteristic {cid} is named twice; send it once.")
                named.add(cid)
                recorded[cid] = valuate(chars[cid], measurement)
            ordered = [recorded.get(cid) or not_evaluated(c) for cid, c in chars.items()]
            status, result = overall(spec.characteristics, ordered)
            updated = bump(
                current,
                QMS_SYSTEM,
                results=ordered,
                status=status,
                result=result,
                source_status=INSPECTION_CODES[status],
            )
            self._inspections[inspection_id] = updated
            return updated

    async def record_usage_decision(
        self,
        inspection_id: str,
        decision: UsageDecisionCreate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Inspection:
        """Decide a RESULTS_RECORDED inspection (status DECIDED); a second decision, or one
        before every result is in, is refused. Quantities, if any, split the inspected
        quantity over stock categories the target disposition allows."""
        require(self, _C.USAGE_DECISION)
        async with self._lock:
            current = find(self._inspections, "Inspection", inspection_id)
            check_version("Inspection", inspection_id, current.version, expected_version)
            if current.decision is not None or current.status is _St.DECIDED:
                already = current.decision.decision.value if current.decision else "a decision"
                raise BackendRejected(
                    f"Inspection {inspection_id} is already decided ({already}); a usage "
                    "decision cannot be made twice."
                )
            if current.status is not _St.RESULTS_RECORDED:
                raise BackendRejected(
                    f"Inspection {inspection_id} is {current.status.value}; the usage decision "
                    "needs every characteristic's result recorded first."
                )
            target = DECISION_TARGET[decision.decision]
            if decision.quantities:
                validate_split(
                    f"inspection {inspection_id}",
                    current.quantity,
                    target,
                    decision.quantities,
                    ALLOWED_CATEGORIES[target],
                )
            made = DispositionDecision(
                decision=decision.decision,
                lot_id=current.lot_id,
                inspection_id=inspection_id,
                quantities=[
                    TargetQuantity(category=q.category, quantity=qty(q.quantity))
                    for q in decision.quantities
                ],
                decided_by=decision.decided_by,
                decided_at=self._clock(),
                reason=decision.reason,
                signature_meaning=decision.signature_meaning,
                source_code=decision.source_code,
            )
            updated = bump(
                current,
                QMS_SYSTEM,
                status=_St.DECIDED,
                decision=made,
                source_status=INSPECTION_CODES[_St.DECIDED],
            )
            self._inspections[inspection_id] = updated
            return updated
