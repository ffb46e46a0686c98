"""The demo's quality records: nonconformances, CAPAs, supplier events and statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final, NamedTuple

from shared.models import (
    CapaStage,
    CapaType,
    InspectionResult,
    InspectionStatus,
    MaterialDisposition,
    NonconformanceStatus,
    NonconformanceType,
    Severity,
    SupplierQualityEventKind,
    SupplierQualityStatusCode,
)
from shared.models.erp import Lot
from shared.models.qms import (
    Capa,
    CapaStageRecord,
    Inspection,
    Nonconformance,
    SupplierQualityEvent,
    SupplierQualityStatus,
)
from system_apis.connectors.reference._codes import NC_CODES, SUPPLIER_STATUS_CODES, capa_code
from system_apis.connectors.reference._demo_catalog import BASE_TIME, SUPPLIERS
from system_apis.connectors.reference._records import QMS_SYSTEM, external_refs

__all__ = ["quality_records"]

_S = NonconformanceStatus
_T = NonconformanceType
_M = MaterialDisposition
_K = SupplierQualityEventKind
_NC_VERSION: Final = {_S.OPEN: 1, _S.IN_PROGRESS: 2, _S.IN_REVIEW: 3, _S.CLOSED: 4, _S.CANCELLED: 2}


class _Nc(NamedTuple):
    lots: tuple[str, ...]
    type: NonconformanceType
    severity: Severity
    status: NonconformanceStatus
    disposition: MaterialDisposition | None
    days_ago: int
    title: str
    description: str
    plant_id: str | None = None
    supplier_id: str | None = None


_NCS: Final = (
    _Nc(("housing-a-use-as-is",), _T.SUPPLIER_NC, Severity.MAJOR, _S.IN_REVIEW, _M.USE_AS_IS, 8,
        "Porosity on non-sealing flange face, gearbox housing A100",
        "Pores up to 0.8 mm outside the sealing face. Engineering: no effect on strength or "
        "sealing; use as is. The lot stays blocked until a second person approves the release."),
    _Nc(("pcb-rejected", "pcb-quarantine"), _T.SUPPLIER_NC, Severity.CRITICAL, _S.OPEN, None, 21,
        "Solder voids on power MOSFET pads, controller PCB rev 7",
        "X-ray shows voids above 25% of the pad area; supplier 8D requested (CAPA-000001)."),
    _Nc(("ring-blocked",), _T.COMPLAINT, Severity.MAJOR, _S.IN_PROGRESS, None, 25,
        "Customer complaint: O-rings swell in contact with coolant",
        "Line 3 reports swollen O-rings after 48 h in coolant; lot blocked pending analysis."),
    _Nc(("pcb-returned",), _T.SUPPLIER_NC, Severity.MAJOR, _S.CLOSED, _M.RETURN_TO_VENDOR, 39,
        "Functional test failures, controller PCB rev 7", "Lot returned for credit."),
    _Nc(("shf-scrapped",), _T.SUPPLIER_NC, Severity.CRITICAL, _S.CLOSED, _M.SCRAP, 57,
        "Hardening depth too low on drive shafts", "Surface hardness 45-48 HRC; scrapped."),
    _Nc(("sens-scrapped",), _T.NONCONFORMANCE, Severity.MAJOR, _S.CLOSED, _M.SCRAP, 37,
        "Hall sensor output stuck high", "ESD damage in our handling; lot scrapped."),
    _Nc((), _T.AUDIT_FINDING, Severity.OBSERVATION, _S.OPEN, None, 15,
        "Supplier process audit: gauge calibration records incomplete",
        "Two bore gauges without a current calibration record.", "1000", "SUP-0002"),
    _Nc(("housing-a-restricted",), _T.DEVIATION, Severity.MINOR, _S.CANCELLED, None, 15,
        "Deviation request: A100 wall thickness at rib",
        "Withdrawn: the lot was restricted to test rigs instead."),
)  # fmt: skip

_8D: Final = (
    "Team formed: SQE, production, supplier quality.",
    "Problem described with 5W2H; photos and measurements attached.",
    "Containment: suspect lots blocked, stock at both plants sorted.",
    "Root cause: process parameter drift at the supplier.",
    "Corrective action chosen and validated on a pilot lot.",
    "Corrective action implemented; control plan updated.",
    "Preventive actions rolled out to sister processes.",
    "Effectiveness verified on three consecutive lots.",
    "Team recognised; 8D closed.",
)


def quality_records(
    lots: dict[str, Lot], inspections: dict[str, Inspection], base: datetime = BASE_TIME
) -> tuple[
    list[Nonconformance], list[Capa], list[SupplierQualityEvent], list[SupplierQualityStatus]
]:
    """Quality records that refer to the demo's lots and inspections by their scenario keys."""
    ncs = [_nonconformance(n, f"NC-{i:06d}", lots, inspections, base) for i, n in
           enumerate(_NCS, start=1)]  # fmt: skip
    capas = [
        _capa("CAPA-000001", CapaType.SUPPLIER_CORRECTIVE, "8D: solder voids on PCB rev 7",
              "1000", "SUP-0003", ["NC-000002"], 4, base - timedelta(days=20)),
        _capa("CAPA-000002", CapaType.SUPPLIER_CORRECTIVE, "8D: hardening depth on drive shafts",
              "1000", "SUP-0005", ["NC-000005"], 9, base - timedelta(days=56)),
        _capa("CAPA-000003", CapaType.PREVENTIVE, "Porosity check on all die-cast housings",
              "2000", "SUP-0002", [], 0, base - timedelta(days=3)),
    ]  # fmt: skip
    return ncs, capas, _events(ncs, inspections, base), _statuses(base)


def _nonconformance(
    nc: _Nc, nc_id: str, lots: dict[str, Lot], inspections: dict[str, Inspection], base: datetime
) -> Nonconformance:
    lot = lots[nc.lots[0]] if nc.lots else None
    inspection = inspections.get(nc.lots[0]) if nc.lots else None
    version = _NC_VERSION[nc.status]
    created_at = base - timedelta(days=nc.days_ago)
    return Nonconformance(
        version=version,
        external_refs=external_refs(QMS_SYSTEM, "Nonconformance", nc_id, version),
        source_status=NC_CODES[nc.status],
        nc_id=nc_id,
        type=nc.type,
        status=nc.status,
        severity=nc.severity,
        title=nc.title,
        description=nc.description,
        plant_id=nc.plant_id or (lot.plant_id if lot else "1000"),
        supplier_id=nc.supplier_id or (lot.supplier_id if lot else None),
        item_id=lot.item_id if lot else None,
        lot_ids=[lots[key].lot_id for key in nc.lots],
        inspection_id=inspection.inspection_id if inspection else None,
        material_disposition=nc.disposition,
        created_at=created_at,
        updated_at=min(created_at + timedelta(days=version - 1), base),
    )


def _capa(
    capa_id: str,
    capa_type: CapaType,
    title: str,
    plant_id: str,
    supplier_id: str,
    nc_ids: list[str],
    completed: int,
    created_at: datetime,
) -> Capa:
    """A CAPA with its first ``completed`` 8D stages done (9: closed)."""
    stages = list(CapaStage)
    records = [
        CapaStageRecord(
            stage=stage, completed_at=created_at + timedelta(days=2 * (i + 1)), summary=_8D[i]
        )
        for i, stage in enumerate(stages[:completed])
    ]
    closed = completed == len(stages)
    status = _S.CLOSED if closed else _S.IN_PROGRESS if completed else _S.OPEN
    stage = stages[min(completed, len(stages) - 1)]
    version = 1 + completed
    return Capa(
        version=version,
        external_refs=external_refs(QMS_SYSTEM, "Capa", capa_id, version),
        source_status=capa_code(status, stage),
        capa_id=capa_id,
        type=capa_type,
        status=status,
        stage=stage,
        title=title,
        plant_id=plant_id,
        supplier_id=supplier_id,
        nc_ids=nc_ids,
        owner=f"sqe.{plant_id}",
        created_at=created_at,
        updated_at=records[-1].completed_at if records else created_at,
        completed_stages=records,
        effectiveness_verified_at=records[7].completed_at if completed >= 8 else None,
    )


class _Event(NamedTuple):
    occurred_at: datetime
    supplier_id: str
    kind: SupplierQualityEventKind
    description: str
    plant_id: str | None = None
    item_id: str | None = None
    lot_id: str | None = None
    inspection_id: str | None = None
    nc_id: str | None = None


def _events(
    ncs: list[Nonconformance], inspections: dict[str, Inspection], base: datetime
) -> list[SupplierQualityEvent]:
    raw: list[_Event] = []
    for insp in inspections.values():
        if insp.status is InspectionStatus.DECIDED and insp.decision and insp.supplier_id:
            passed = insp.result is InspectionResult.PASS
            raw.append(
                _Event(
                    insp.decision.decided_at,
                    insp.supplier_id,
                    _K.INSPECTION_PASSED if passed else _K.INSPECTION_FAILED,
                    f"{insp.result.value}: {insp.decision.reason}",
                    plant_id=insp.plant_id,
                    item_id=insp.item_id,
                    lot_id=insp.lot_id,
                    inspection_id=insp.inspection_id,
                )
            )
    for nc in ncs:
        if nc.supplier_id is None or nc.type not in (_T.SUPPLIER_NC, _T.AUDIT_FINDING):
            continue
        opened = _K.AUDIT_FINDING if nc.type is _T.AUDIT_FINDING else _K.NONCONFORMANCE_OPENED
        about = {"plant_id": nc.plant_id, "item_id": nc.item_id, "nc_id": nc.nc_id}
        raw.append(_Event(nc.created_at, nc.supplier_id, opened, nc.title, **about))
        if nc.status is _S.CLOSED:
            closed = _K.NONCONFORMANCE_CLOSED
            raw.append(_Event(nc.updated_at, nc.supplier_id, closed, nc.title, **about))
    expired = datetime(2026, 10, 15, tzinfo=UTC)
    raw.append(_Event(expired, "SUP-0003", _K.CERTIFICATE_EXPIRED, "IATF 16949 CERT-PRE-2023-907"))
    for supplier in SUPPLIERS:
        if supplier.status is not SupplierQualityStatusCode.APPROVED:
            change = f"APPROVED -> {supplier.status.value}: {supplier.reason}"
            at = base - timedelta(days=21)
            raw.append(_Event(at, supplier.supplier_id, _K.STATUS_CHANGED, change))
    raw.sort(key=lambda event: (event.occurred_at, event.supplier_id, event.kind.value))
    events = []
    for number, event in enumerate(raw, start=1):
        event_id = f"SQE-{number:06d}"
        events.append(
            SupplierQualityEvent(
                external_refs=external_refs(QMS_SYSTEM, "SupplierQualityEvent", event_id, 1),
                source_status="RECORDED",
                event_id=event_id,
                supplier_id=event.supplier_id,
                kind=event.kind,
                occurred_at=event.occurred_at,
                plant_id=event.plant_id,
                item_id=event.item_id,
                lot_id=event.lot_id,
                inspection_id=event.inspection_id,
                nc_id=event.nc_id,
                description=event.description,
            )
        )
    return events


def _statuses(base: datetime) -> list[SupplierQualityStatus]:
    statuses = []
    for supplier in SUPPLIERS:
        changed = supplier.status is not SupplierQualityStatusCode.APPROVED
        version = 2 if changed else 1
        statuses.append(
            SupplierQualityStatus(
                version=version,
                external_refs=external_refs(
                    QMS_SYSTEM, "SupplierQualityStatus", supplier.supplier_id, version
                ),
                source_status=SUPPLIER_STATUS_CODES[supplier.status],
                supplier_id=supplier.supplier_id,
                status=supplier.status,
                blocked_functions=list(supplier.blocked),
                reason=supplier.reason,
                updated_at=base - timedelta(days=21 if changed else 300),
            )
        )
    return statuses
