"""The demo's lot histories: each scenario becomes a PO line receipt, a lot and an inspection.

A scenario says what happened to one received lot (inspected or not, the result, the decision,
what was issued); ``demo`` derives every record from it with the rules the reference connectors
enforce, so the demo data is what the connectors would have produced.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from shared.models import InspectionResult, InspectionStatus, LotDisposition, StockCategory

__all__ = ["SCENARIOS", "Scenario"]

_D = LotDisposition
_R = InspectionResult
_St = InspectionStatus


class Scenario(NamedTuple):
    key: str
    """How the quality records (nonconformances, events) refer to this lot."""
    item_id: str
    plant_id: str
    quantity: float
    disposition: LotDisposition
    days_ago: int
    status: InspectionStatus | None = None
    """The goods-receipt inspection's status; None when the item is not inspected there."""
    result: InspectionResult = _R.PENDING
    issued: float = 0.0
    split: tuple[tuple[StockCategory, float], ...] = ()
    """The decision's quantities (and so the lot's stock), when not all in one category."""
    reject: str | None = None
    """The characteristic that failed (default: the first critical one for FAIL, the first
    non-critical one for CONDITIONAL_PASS)."""
    note: str | None = None


_DEC = _St.DECIDED
SCENARIOS: Final = (
    Scenario("brg-old", "BRG-6205", "1000", 1500, _D.RELEASED, 70, _DEC, _R.PASS, issued=1200),
    Scenario("shf-returned", "SHF-3012", "1000", 200, _D.RETURNED_TO_SUPPLIER, 66, _DEC, _R.FAIL,
             reject="C020", note="Surface hardness 47 HRC, induction hardening depth too low"),
    Scenario("ring-1000", "SEL-ORG25", "1000", 20000, _D.RELEASED, 60, issued=7500),
    Scenario("shf-scrapped", "SHF-3012", "1000", 150, _D.SCRAPPED, 58, _DEC, _R.FAIL,
             reject="C020", note="Surface hardness 45-48 HRC on 5 of 5 samples"),
    Scenario("brg-2000", "BRG-6205", "2000", 3000, _D.RELEASED, 50, issued=900),
    Scenario("pcb-returned", "PCB-CTRL7", "1000", 300, _D.RETURNED_TO_SUPPLIER, 40, _DEC,
             _R.FAIL, reject="C020", note="12 of 50 boards fail the functional test"),
    Scenario("sens-scrapped", "PCB-SENS2", "1000", 250, _D.SCRAPPED, 38, _DEC, _R.FAIL,
             note="Hall sensor output stuck high on 9 of 32 samples"),
    Scenario("grease-1000", "GRS-LX2", "1000", 180, _D.RELEASED, 36, _DEC, _R.PASS, issued=42.5),
    Scenario("seal-1000", "SEL-040", "1000", 5000, _D.RELEASED, 35, issued=1800),
    Scenario("housing-b-2000", "HSG-B220", "2000", 40, _D.RELEASED, 33),
    Scenario("brg-released", "BRG-6205", "1000", 2000, _D.RELEASED, 30, _DEC, _R.PASS,
             issued=650),
    Scenario("brg-split", "BRG-6308", "1000", 500, _D.RELEASED, 28, _DEC, _R.PASS,
             split=((StockCategory.AVAILABLE, 480), (StockCategory.BLOCKED, 20)),
             note="20 bearings with damaged packaging kept blocked"),
    Scenario("ring-blocked", "SEL-ORG25", "1000", 20000, _D.BLOCKED, 26),
    Scenario("housing-b-restricted", "HSG-B220", "1000", 60, _D.RESTRICTED, 24, _DEC,
             _R.CONDITIONAL_PASS, issued=10, note="Hardness 262 HB: machinable, not for export"),
    Scenario("pcb-rejected", "PCB-CTRL7", "1000", 400, _D.REJECTED, 22, _DEC, _R.FAIL,
             note="Solder voids above 25% on power MOSFET pads"),
    Scenario("housing-a-rejected", "HSG-A100", "1000", 80, _D.REJECTED, 20, _DEC, _R.FAIL,
             note="Bearing seat 62.041 mm, above the upper limit"),
    Scenario("seal-2000", "SEL-040", "2000", 4000, _D.RELEASED, 19, _DEC, _R.PASS),
    Scenario("ring-2000", "SEL-ORG25", "2000", 10000, _D.RELEASED, 18),
    Scenario("housing-a-restricted", "HSG-A100", "2000", 100, _D.RESTRICTED, 16, _DEC,
             _R.CONDITIONAL_PASS, note="Wall thickness 3.6 mm at rib; restricted to test rigs"),
    Scenario("pcb-blocked", "PCB-CTRL7", "2000", 300, _D.BLOCKED, 14, _DEC, _R.FAIL,
             reject="C020", note="Functional test: gate driver fault on 4 of 20 boards"),
    Scenario("sens-rejected", "PCB-SENS2", "2000", 200, _D.REJECTED, 12, _DEC, _R.FAIL,
             reject="C020", note="Insulation resistance 40 MOhm"),
    Scenario("grease-2000", "GRS-LX2", "2000", 90, _D.RELEASED, 11, issued=30.25),
    Scenario("sens-released", "PCB-SENS2", "1000", 250, _D.RELEASED, 10, _DEC, _R.PASS,
             issued=100),
    Scenario("housing-a-use-as-is", "HSG-A100", "1000", 120, _D.BLOCKED, 9, _DEC,
             _R.CONDITIONAL_PASS, note="Porosity up to 0.8 mm on the non-sealing flange face"),
    Scenario("shf-2000", "SHF-3012", "2000", 120, _D.QUARANTINE, 8, _St.RESULTS_RECORDED,
             _R.FAIL, reject="C020", note="Surface hardness 49 HRC"),
    Scenario("pcb-quarantine", "PCB-CTRL7", "1000", 400, _D.QUARANTINE, 6, _St.RESULTS_RECORDED,
             _R.FAIL, note="Solder voids on 3 of 13 boards"),
    Scenario("housing-b-quarantine", "HSG-B220", "1000", 60, _D.QUARANTINE, 5,
             _St.RESULTS_RECORDED, _R.CONDITIONAL_PASS, note="Sand inclusion on outer wall"),
    Scenario("housing-a-quarantine", "HSG-A100", "1000", 120, _D.QUARANTINE, 4,
             _St.RESULTS_RECORDED, _R.PASS),
    Scenario("brg-6308-2000", "BRG-6308", "2000", 400, _D.QUARANTINE, 3, _St.IN_PROGRESS),
    Scenario("brg-6308-1000", "BRG-6308", "1000", 500, _D.QUARANTINE, 2, _St.IN_PROGRESS),
    Scenario("seal-2000-new", "SEL-040", "2000", 4000, _D.QUARANTINE, 1, _St.CREATED),
    Scenario("grease-new", "GRS-LX2", "1000", 180, _D.QUARANTINE, 1, _St.CREATED),
    Scenario("brg-new", "BRG-6205", "1000", 2000, _D.QUARANTINE, 0, _St.CREATED),
    Scenario("ring-2000-new", "SEL-ORG25", "2000", 10000, _D.RELEASED, 0),
)  # fmt: skip
"""Ordered oldest first, so ids grow with time."""
