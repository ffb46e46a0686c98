"""A demo Tryton database for qgate: created with ``trytond-admin``, then seeded.

:func:`create_database` makes the SQLite database and activates the modules (about 25 s);
:func:`seed` configures the company, plants, suppliers, items and purchase orders
(``_demo_setup``), describes the specifications as quality controls, and then receives, inspects
and disposes lots through the connectors themselves, so the data holds lots in every
disposition, inspections in every status and open alerts. Used by ``qgate tryton init-demo``
and by the tests' template database.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Final, NamedTuple

from shared.models import (
    DispositionCode,
    InspectionOrigin,
    LotDisposition,
    MaterialDisposition,
    NonconformanceStatus,
    NonconformanceType,
    Severity,
)
from shared.models.commands import (
    GoodsIssueCreate,
    GoodsReceiptCreate,
    InspectionCreate,
    LotDispositionChange,
    Measurement,
    NonconformanceCreate,
    NonconformanceUpdate,
    ResultsRecord,
    UsageDecisionCreate,
)
from shared.models.erp import GoodsReceipt
from shared.models.qms import Inspection
from system_apis.connectors.base import PageRequest, PurchaseOrderFilter, SpecificationFilter
from system_apis.connectors.tryton._demo_setup import configure_company, configure_master_data
from system_apis.connectors.tryton._erp import TrytonErpConnector
from system_apis.connectors.tryton._notes import StateNotes
from system_apis.connectors.tryton._qms import TrytonQmsConnector
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = ["MODULES", "create_database", "seed"]

MODULES: Final = ("company", "currency", "party", "product", "stock", "stock_lot", "purchase",
                  "quality")  # fmt: skip
ACTOR: Final = "qgate.demo"
_D = LotDisposition
_V1: Final = "2025-09-27T06:00:00+00:00"
_V2: Final = "2026-09-17T06:00:00+00:00"


class _Point(NamedTuple):
    cid: str
    name: str
    low: float | None = None
    up: float | None = None
    target: float | None = None
    uom: str | None = None
    critical: bool = False
    quantitative: bool = True


def _v(cid: str, name: str, *, critical: bool = False) -> _Point:
    return _Point(cid, name, critical=critical, quantitative=False)


_BRG: Final = (
    _Point("C010", "Bore diameter", 24.990, 25.000, 24.995, "mm", critical=True),
    _Point("C020", "Outer diameter", 51.987, 52.000, 51.994, "mm", critical=True),
    _Point("C030", "Width", 14.880, 15.000, 14.940, "mm"),
)
_HSG: Final = (
    _Point("C010", "Bearing seat diameter", 61.990, 62.020, 62.005, "mm", critical=True),
    _Point("C020", "Flatness of sealing face", 0.0, 0.05, 0.02, "mm", critical=True),
    _v("C030", "Porosity on non-sealing surfaces"),
)
SPECS: Final = (
    ("BRG-6205", 1, _V1, _BRG),
    ("BRG-6205", 2, _V2, (*_BRG, _v("C040", "Running noise"))),
    ("HSG-A100", 1, _V1, _HSG),
    ("HSG-A100", 2, _V2, (*_HSG, _Point("C040", "Wall thickness", 3.8, 4.4, 4.1, "mm"))),
    ("PCB-CTRL7", 1, _V1, (
        _v("C010", "Solder joints (IPC-A-610 class 2)", critical=True),
        _v("C020", "Functional test", critical=True),
        _Point("C030", "Conformal coating thickness", 25.0, 75.0, 50.0, "um"),
    )),
    ("GRS-LX2", 1, _V1, (
        _Point("C010", "Dropping point", 250.0, None, None, "degC", critical=True),
        _Point("C020", "Worked penetration", 265.0, 295.0, 280.0, "0.1mm"),
    )),
)  # fmt: skip


def create_database(directory: Path, name: str, *, admin_password: str, email: str) -> Path:
    """Create ``<directory>/<name>.sqlite`` and activate qgate's modules with ``trytond-admin``
    (the admin user gets ``admin_password``). Raises ``CalledProcessError`` when it fails."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.sqlite"
    path.touch()
    with tempfile.NamedTemporaryFile("w", suffix=".pass", delete=False) as passfile:
        passfile.write(admin_password)
    env = {
        **os.environ,
        "TRYTOND_DATABASE__URI": "sqlite://",
        "TRYTOND_DATABASE__PATH": str(directory),
        "TRYTONPASSFILE": passfile.name,
    }
    admin = Path(sys.executable).with_name("trytond-admin")
    try:
        subprocess.run(  # noqa: S603 - our own interpreter's trytond-admin, fixed arguments
            [
                str(admin),
                "-d",
                name,
                "-u",
                *MODULES,
                "--activate-dependencies",
                "--email",
                email,
            ],
            env=env,
            check=True,
            capture_output=True,
        )
    finally:
        os.unlink(passfile.name)
    return path


async def seed(client: TrytonClient, *, company: str = "qgate Demo Manufacturing") -> None:
    """Seed a database fresh from :func:`create_database` (logged in as its admin)."""
    await configure_company(client, company)
    client.forget_session()
    today = dt.date(2026, 11, 1)
    await configure_master_data(client, today=today)
    await _specifications(client)
    erp = TrytonErpConnector(client)
    qms = TrytonQmsConnector(client)
    await _lots_and_inspections(client, erp, qms)


async def _specifications(client: TrytonClient) -> None:
    notes = StateNotes(client, "control")
    products = {
        r["code"]: r["id"]
        for r in await client.execute("product.product", "search_read", [], 0, None, None, ["code"])
    }
    for item, version, valid_from, points in SPECS:
        latest = max(v for i, v, _, _ in SPECS if i == item)
        [control] = await client.execute("quality.control", "create", [{
            "name": f"SPEC-{item} v{version}", "product": products[item], "operations": [],
            "points": [["create", [
                {"name": p.cid, "string": p.name, "type_": "float" if p.quantitative else "boolean",
                 "tolerance_lower": p.low, "tolerance_upper": p.up}
                for p in points
            ]]],
        }])  # fmt: skip
        await notes.create("quality.control", control, {
            "specId": f"SPEC-{item}", "version": version, "validFrom": valid_from,
            "characteristics": {
                p.cid: {"target": p.target, "uom": p.uom, "critical": p.critical} for p in points
            },
        })  # fmt: skip
        if version < latest:
            await client.execute("quality.control", "write", [control], {"active": False})


class _Lot(NamedTuple):
    plant: str
    item: str
    quantity: float
    path: tuple[LotDisposition, ...]
    inspection: str | None
    """None, CREATED, IN_PROGRESS, PASS, FAIL, MINOR (conditional pass) — PASS/FAIL/MINOR then
    decided when the path leaves quarantine."""


_LOTS: Final = (
    _Lot("1000", "BRG-6205", 100, (), "CREATED"),
    _Lot("1000", "BRG-6205", 80, (), "IN_PROGRESS"),
    _Lot("1000", "HSG-A100", 50, (), "PASS"),
    _Lot("1000", "HSG-A100", 60, (_D.BLOCKED,), "FAIL"),
    _Lot("1000", "PCB-CTRL7", 40, (_D.RELEASED,), "PASS"),
    _Lot("1000", "PCB-CTRL7", 30, (_D.RESTRICTED,), "MINOR"),
    _Lot("1000", "GRS-LX2", 25, (_D.REJECTED,), "FAIL"),
    _Lot("1000", "GRS-LX2", 20, (_D.REJECTED, _D.SCRAPPED), None),
    _Lot("1000", "BRG-6205", 15, (_D.REJECTED, _D.RETURNED_TO_SUPPLIER), None),
    _Lot("1000", "SEL-ORG25", 200, (), None),
    _Lot("2000", "BRG-6205", 70, (), "CREATED"),
    _Lot("2000", "SEL-ORG25", 90, (), None),
    _Lot("2000", "HSG-A100", 45, (_D.BLOCKED,), None),
)
_DECISION: Final = {
    _D.RELEASED: DispositionCode.RELEASE,
    _D.RESTRICTED: DispositionCode.RESTRICT,
    _D.BLOCKED: DispositionCode.BLOCK,
    _D.REJECTED: DispositionCode.REJECT,
}


async def _lots_and_inspections(
    client: TrytonClient, erp: TrytonErpConnector, qms: TrytonQmsConnector
) -> None:
    orders = (await erp.list_purchase_orders(PurchaseOrderFilter(), PageRequest(limit=200))).items
    order_of = {(o.plant_id, o.lines[0].item_id): o for o in orders}
    specs = (await qms.list_specifications(SpecificationFilter(), PageRequest(limit=200))).items
    current = {s.item_id: s for s in sorted(specs, key=lambda s: s.spec_version)}
    received: list[tuple[_Lot, GoodsReceipt, Inspection | None]] = []
    for index, lot in enumerate(_LOTS):
        order = order_of[(lot.plant, lot.item)]
        receipt = await erp.post_goods_receipt(
            GoodsReceiptCreate(
                po_id=order.po_id, line_no=10, quantity=lot.quantity,
                supplier_lot_number=f"SL-{index + 1:03d}" if index % 3 == 0 else None,
                delivery_note=f"DN-{index + 1:04d}",
            ),
            actor=ACTOR,
        )  # fmt: skip
        inspection = None
        if lot.inspection is not None:
            inspection = await _inspect(qms, receipt, current[lot.item].spec_id, lot.inspection)
        received.append((lot, receipt, inspection))
    for lot, receipt, inspection in received:
        for step, target in enumerate(lot.path):
            if step == 0 and inspection is not None and target in _DECISION:
                await qms.record_usage_decision(
                    inspection.inspection_id,
                    UsageDecisionCreate(
                        decision=_DECISION[target], reason="Demo usage decision",
                        decided_by="qa.lead",
                    ),
                    actor=ACTOR,
                )  # fmt: skip
            current_lot = await erp.get_lot(receipt.lot_id)
            await erp.change_lot_disposition(
                receipt.lot_id,
                LotDispositionChange(disposition=target, reason="Demo disposition"),
                actor=ACTOR,
                expected_version=current_lot.version,
            )
    released = next(r for lot, r, _ in received if lot.item == "SEL-ORG25")
    await erp.issue_goods(released.lot_id, GoodsIssueCreate(quantity=20), actor=ACTOR)
    await _cancelled_inspection(client, qms, received[0][1], current["BRG-6205"].spec_id)
    await _nonconformances(qms, received)


async def _inspect(
    qms: TrytonQmsConnector, receipt: GoodsReceipt, spec_id: str, outcome: str
) -> Inspection:
    inspection = await qms.create_inspection(
        InspectionCreate(
            origin=InspectionOrigin.GOODS_RECEIPT, lot_id=receipt.lot_id, item_id=receipt.item_id,
            plant_id=receipt.plant_id, quantity=receipt.quantity, supplier_id=receipt.supplier_id,
            goods_receipt_id=receipt.receipt_id, spec_id=spec_id,
        ),
        actor=ACTOR,
    )  # fmt: skip
    if outcome == "CREATED":
        return inspection
    spec = await qms.get_specification(spec_id)
    chars = spec.characteristics if outcome != "IN_PROGRESS" else spec.characteristics[:1]
    reject = None
    if outcome == "FAIL":
        reject = next(c.characteristic_id for c in chars if c.critical)
    if outcome == "MINOR":
        reject = next(c.characteristic_id for c in chars if not c.critical)
    results = [_measure(c, ok=c.characteristic_id != reject) for c in chars]
    return await qms.record_results(
        inspection.inspection_id, ResultsRecord(results=results), actor=ACTOR
    )


def _measure(char: Any, *, ok: bool) -> Measurement:
    if not char.quantitative:
        return Measurement(characteristic_id=char.characteristic_id, conforming=ok)
    low, up = char.lower_limit, char.upper_limit
    if ok:
        inside = char.target if char.target is not None else low if low is not None else up
        return Measurement(characteristic_id=char.characteristic_id, measured_value=inside)
    outside = up + 1 if up is not None else (low or 0) - 1
    return Measurement(characteristic_id=char.characteristic_id, measured_value=outside)


async def _cancelled_inspection(
    client: TrytonClient, qms: TrytonQmsConnector, receipt: GoodsReceipt, spec_id: str
) -> None:
    """A receipt cancelled in Tryton before it arrived: its inspection is CANCELLED."""
    supplier = await client.execute(
        "party.party", "search", [("code", "=", receipt.supplier_id)], 0, 1
    )
    [warehouse] = await client.execute(
        "stock.location", "search", [("code", "=", receipt.plant_id)], 0, 1
    )
    [zones] = await client.execute(
        "stock.location", "read", [warehouse], ["input_location", "storage_location"]
    )
    [shipment] = await client.execute("stock.shipment.in", "create", [{
        "supplier": supplier[0], "warehouse": warehouse,
        "warehouse_input": zones["input_location"], "warehouse_storage": zones["storage_location"],
    }])  # fmt: skip
    await client.execute("stock.shipment.in", "cancel", [shipment])
    [row] = await client.execute("stock.shipment.in", "read", [shipment], ["number"])
    await qms.create_inspection(
        InspectionCreate(
            origin=InspectionOrigin.GOODS_RECEIPT, lot_id=receipt.lot_id, item_id=receipt.item_id,
            plant_id=receipt.plant_id, quantity=receipt.quantity, supplier_id=receipt.supplier_id,
            goods_receipt_id=str(row["number"]), spec_id=spec_id,
        ),
        actor=ACTOR,
    )  # fmt: skip


async def _nonconformances(
    qms: TrytonQmsConnector, received: list[tuple[_Lot, GoodsReceipt, Inspection | None]]
) -> None:
    by_item = {(lot.plant, lot.item, lot.quantity): r for lot, r, _ in received}
    cases = (
        (NonconformanceType.SUPPLIER_NC, Severity.CRITICAL, "Solder voids on controller boards",
         by_item[("1000", "PCB-CTRL7", 30)], (NonconformanceStatus.IN_PROGRESS,)),
        (NonconformanceType.DEVIATION, Severity.MINOR, "Housing stored outside climate zone",
         by_item[("2000", "HSG-A100", 45)], ()),
        (NonconformanceType.AUDIT_FINDING, Severity.OBSERVATION, "Incoming gauge overdue",
         by_item[("1000", "BRG-6205", 100)],
         (NonconformanceStatus.IN_PROGRESS, NonconformanceStatus.IN_REVIEW, "USE_AS_IS",
          NonconformanceStatus.CLOSED)),
        (NonconformanceType.COMPLAINT, Severity.MAJOR, "Customer reports grease separation",
         by_item[("1000", "GRS-LX2", 25)], ()),
    )  # fmt: skip
    for kind, severity, title, receipt, steps in cases:
        nc = await qms.create_nonconformance(
            NonconformanceCreate(
                type=kind, severity=severity, title=title, plant_id=receipt.plant_id,
                supplier_id=receipt.supplier_id if kind is not NonconformanceType.DEVIATION
                else None,
                item_id=receipt.item_id, lot_ids=[receipt.lot_id],
            ),
            actor=ACTOR,
        )  # fmt: skip
        for step in steps:
            update = (
                NonconformanceUpdate(reason="Demo", material_disposition=MaterialDisposition(step))
                if isinstance(step, str) and step == "USE_AS_IS"
                else NonconformanceUpdate(reason="Demo", status=NonconformanceStatus(step))
            )
            nc = await qms.update_nonconformance(nc.nc_id, update, actor=ACTOR)
