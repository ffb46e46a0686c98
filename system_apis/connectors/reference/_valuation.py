"""How the reference QMS valuates results: per characteristic, then the inspection as a whole.

A quantitative characteristic is ACCEPTed when the measured value lies within its limits (a
missing limit is open); a qualitative one when the inspector says it conforms. Once every
characteristic is evaluated the inspection is RESULTS_RECORDED with PASS (nothing rejected),
CONDITIONAL_PASS (only non-critical characteristics rejected) or FAIL (a critical one rejected);
until then it is IN_PROGRESS and PENDING.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.errors import BackendRejected
from shared.models import CharacteristicValuation, InspectionResult, InspectionStatus
from shared.models.commands import Measurement
from shared.models.qms import Characteristic, CharacteristicResult

__all__ = ["not_evaluated", "overall", "valuate"]

_V = CharacteristicValuation


def not_evaluated(char: Characteristic) -> CharacteristicResult:
    return CharacteristicResult(
        characteristic_id=char.characteristic_id, valuation=_V.NOT_EVALUATED
    )


def valuate(char: Characteristic, measurement: Measurement) -> CharacteristicResult:
    """The result of one measurement; BackendRejected when it lacks the value the
    characteristic needs (``measuredValue`` or ``conforming``)."""
    cid = char.characteristic_id
    if char.quantitative:
        value = measurement.measured_value
        if value is None:
            raise BackendRejected(
                f"Characteristic {cid} ({char.name}) is quantitative: send measuredValue."
            )
        ok = (char.lower_limit is None or value >= char.lower_limit) and (
            char.upper_limit is None or value <= char.upper_limit
        )
        return CharacteristicResult(
            characteristic_id=cid,
            valuation=_V.ACCEPT if ok else _V.REJECT,
            measured_value=value,
            note=measurement.note,
        )
    if measurement.conforming is None:
        raise BackendRejected(
            f"Characteristic {cid} ({char.name}) is qualitative: send conforming (true or false)."
        )
    return CharacteristicResult(
        characteristic_id=cid,
        valuation=_V.ACCEPT if measurement.conforming else _V.REJECT,
        conforming=measurement.conforming,
        note=measurement.note,
    )


def overall(
    chars: Sequence[Characteristic], results: Sequence[CharacteristicResult]
) -> tuple[InspectionStatus, InspectionResult]:
    """The inspection's status and result from its per-characteristic results."""
    valuation = {r.characteristic_id: r.valuation for r in results}
    if any(valuation.get(c.characteristic_id, _V.NOT_EVALUATED) is _V.NOT_EVALUATED for c in chars):
        evaluated = any(v is not _V.NOT_EVALUATED for v in valuation.values())
        status = InspectionStatus.IN_PROGRESS if evaluated else InspectionStatus.CREATED
        return status, InspectionResult.PENDING
    rejected = [c for c in chars if valuation[c.characteristic_id] is _V.REJECT]
    if any(c.critical for c in rejected):
        return InspectionStatus.RESULTS_RECORDED, InspectionResult.FAIL
    if rejected:
        return InspectionStatus.RESULTS_RECORDED, InspectionResult.CONDITIONAL_PASS
    return InspectionStatus.RESULTS_RECORDED, InspectionResult.PASS
