"""Master data of the demo: plants, suppliers, items and their specifications (static tables).

Plant ids ``1000`` / ``2000`` and supplier ids ``SUP-0001`` … ``SUP-0004`` are fixed: the demo
OAuth clients carry them as ``plants`` / ``supplier_id`` claims.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Final, NamedTuple

from shared.models import BlockedFunction, SupplierQualityStatusCode
from shared.models.qms import Characteristic

__all__ = [
    "BASE_TIME",
    "ITEMS",
    "PLANTS",
    "SPECS",
    "SUPPLIERS",
    "DemoItem",
    "DemoSpec",
    "DemoSupplier",
]

BASE_TIME: Final = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
"""The demo's "now": every demo timestamp is at or before it."""

_S = SupplierQualityStatusCode
_F = BlockedFunction

PLANTS: Final = (("1000", "Stuttgart Works", "DE"), ("2000", "Greenville Plant", "US"))


class DemoSupplier(NamedTuple):
    supplier_id: str
    name: str
    country: str
    status: SupplierQualityStatusCode
    blocked: tuple[BlockedFunction, ...]
    reason: str | None
    certification: tuple[str, str, date] | None
    lot_prefix: str


SUPPLIERS: Final = (
    DemoSupplier(
        "SUP-0001", "Kugelwerk Schweinfurt GmbH", "DE", _S.APPROVED, (), None,
        ("IATF 16949", "CERT-KWS-2024-118", date(2028, 3, 31)), "KWS",
    ),
    DemoSupplier(
        "SUP-0002", "Midlands Precision Castings Ltd", "GB", _S.CONDITIONAL, (),
        "Porosity findings on A100 housings; approved on condition of 100% visual checks",
        ("ISO 9001", "CERT-MPC-2023-044", date(2026, 12, 15)), "MPC",
    ),
    DemoSupplier(
        "SUP-0003", "Pearl River Electronics Co., Ltd.", "CN", _S.PROBATION,
        (_F.PURCHASE_ORDER,),
        "No new purchase orders while supplier CAPA-000001 (solder voids) is open",
        ("IATF 16949", "CERT-PRE-2023-907", date(2026, 10, 15)), "PRE",
    ),
    DemoSupplier(
        "SUP-0004", "Great Lakes Sealing Inc.", "US", _S.APPROVED, (), None,
        ("ISO 9001", "CERT-GLS-2024-233", date(2027, 1, 31)), "GLS",
    ),
    DemoSupplier(
        "SUP-0005", "Rheinland Fasteners & Shafts AG", "DE", _S.DISQUALIFIED,
        (_F.RFQ, _F.PURCHASE_ORDER, _F.GOODS_RECEIPT),
        "Disqualified after repeated hardness failures on drive shafts (CAPA-000002)",
        None, "RFS",
    ),
)  # fmt: skip


class DemoItem(NamedTuple):
    item_id: str
    description: str
    uom: str
    supplier_id: str
    inspect_1000: bool
    inspect_2000: bool


ITEMS: Final = (
    DemoItem("BRG-6205", "Deep groove ball bearing 6205-2RS C3", "PC", "SUP-0001", True, False),
    DemoItem("BRG-6308", "Deep groove ball bearing 6308 C3", "PC", "SUP-0001", True, True),
    DemoItem("GRS-LX2", "Lithium complex grease NLGI 2", "KG", "SUP-0004", True, False),
    DemoItem("HSG-A100", "Gearbox housing A100, AlSi9Cu3 die cast", "PC", "SUP-0002", True, True),
    DemoItem("HSG-B220", "Pump housing B220, EN-GJL-250", "PC", "SUP-0002", True, False),
    DemoItem("PCB-CTRL7", "Motor controller PCB assembly rev 7", "PC", "SUP-0003", True, True),
    DemoItem("PCB-SENS2", "Hall sensor board rev 2", "PC", "SUP-0003", True, True),
    DemoItem("SEL-040", "Radial shaft seal 40x62x8 FKM", "PC", "SUP-0004", False, True),
    DemoItem("SEL-ORG25", "O-ring 25x3 NBR 70", "PC", "SUP-0004", False, False),
    DemoItem("SHF-3012", "Drive shaft 30x120, 42CrMo4 hardened", "PC", "SUP-0005", True, True),
)  # fmt: skip


def _q(cid: str, name: str, low: float | None, up: float | None, target: float | None,
       uom: str, *, critical: bool = False) -> Characteristic:  # fmt: skip
    return Characteristic(
        characteristic_id=cid, name=name, quantitative=True, lower_limit=low, upper_limit=up,
        target=target, uom=uom, critical=critical,
    )  # fmt: skip


def _v(cid: str, name: str, *, critical: bool = False) -> Characteristic:
    return Characteristic(characteristic_id=cid, name=name, quantitative=False, critical=critical)


class DemoSpec(NamedTuple):
    item_id: str
    version: int
    valid_from: datetime
    characteristics: tuple[Characteristic, ...]


_V1: Final = BASE_TIME - timedelta(days=400)
_V2: Final = BASE_TIME - timedelta(days=45)

_BRG_6205: Final = (
    _q("C010", "Bore diameter", 24.990, 25.000, 24.995, "mm", critical=True),
    _q("C020", "Outer diameter", 51.987, 52.000, 51.994, "mm", critical=True),
    _q("C030", "Width", 14.880, 15.000, 14.940, "mm"),
)
_HSG_A100: Final = (
    _q("C010", "Bearing seat diameter", 61.990, 62.020, 62.005, "mm", critical=True),
    _q("C020", "Flatness of sealing face", 0.0, 0.05, 0.02, "mm", critical=True),
    _v("C030", "Porosity on non-sealing surfaces"),
)
_PCB_CTRL7: Final = (
    _v("C010", "Solder joints (IPC-A-610 class 2)", critical=True),
    _v("C020", "Functional test", critical=True),
    _q("C030", "Conformal coating thickness", 25.0, 75.0, 50.0, "um"),
)

SPECS: Final = (
    DemoSpec("BRG-6205", 1, _V1, _BRG_6205),
    DemoSpec("BRG-6205", 2, _V2, (*_BRG_6205, _v("C040", "Running noise"))),
    DemoSpec("BRG-6308", 1, _V1, (
        _q("C010", "Bore diameter", 39.988, 40.000, 39.994, "mm", critical=True),
        _q("C020", "Radial clearance", 18.0, 36.0, 27.0, "um"),
        _v("C030", "Free of corrosion", critical=True),
    )),
    DemoSpec("GRS-LX2", 1, _V1, (
        _q("C010", "Dropping point", 250.0, None, None, "degC", critical=True),
        _q("C020", "Worked penetration", 265.0, 295.0, 280.0, "0.1mm"),
        _v("C030", "Appearance (homogeneous, no separation)"),
    )),
    DemoSpec("HSG-A100", 1, _V1, _HSG_A100),
    DemoSpec("HSG-A100", 2, _V2, (*_HSG_A100, _q("C040", "Wall thickness", 3.8, 4.4, 4.1, "mm"))),
    DemoSpec("HSG-B220", 1, _V1, (
        _q("C010", "Bore diameter", 80.000, 80.046, 80.023, "mm", critical=True),
        _q("C020", "Brinell hardness", 180.0, 250.0, 215.0, "HB"),
        _v("C030", "Free of casting defects"),
    )),
    DemoSpec("PCB-CTRL7", 1, _V1, _PCB_CTRL7),
    DemoSpec("PCB-CTRL7", 2, _V2, (*_PCB_CTRL7, _v("C040", "Label legible, matches BOM"))),
    DemoSpec("PCB-SENS2", 1, _V1, (
        _v("C010", "Functional test", critical=True),
        _q("C020", "Insulation resistance", 100.0, None, None, "MOhm", critical=True),
        _v("C030", "Visual inspection"),
    )),
    DemoSpec("SEL-040", 1, _V1, (
        _q("C010", "Inner lip diameter", 37.6, 38.4, 38.0, "mm", critical=True),
        _q("C020", "Hardness", 70.0, 80.0, 75.0, "ShA"),
        _v("C030", "Sealing lip free of damage", critical=True),
    )),
    DemoSpec("SEL-ORG25", 1, _V1, (
        _q("C010", "Cross-section", 2.92, 3.08, 3.0, "mm", critical=True),
        _v("C020", "Surface free of flash and voids"),
    )),
    DemoSpec("SHF-3012", 1, _V1, (
        _q("C010", "Journal diameter", 29.987, 30.000, 29.994, "mm", critical=True),
        _q("C020", "Surface hardness", 52.0, 58.0, 55.0, "HRC", critical=True),
        _q("C030", "Radial runout", 0.0, 0.02, 0.01, "mm"),
        _v("C040", "Free of grinding burns"),
    )),
)  # fmt: skip
