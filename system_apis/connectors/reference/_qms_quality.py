"""The reference QMS's writes on nonconformances, CAPAs and supplier quality (rules: ``_qms``)."""

from __future__ import annotations

from shared.errors import BackendRejected
from shared.models import BlockedFunction, CapaStage, NonconformanceStatus
from shared.models.commands import (
    CapaCreate,
    CapaStageAdvance,
    NonconformanceCreate,
    NonconformanceUpdate,
    SupplierQualityEventCreate,
    SupplierQualityStatusChange,
)
from shared.models.lifecycle import NC_TRANSITIONS, next_stage
from shared.models.qms import (
    Capa,
    CapaStageRecord,
    Nonconformance,
    SupplierQualityEvent,
    SupplierQualityStatus,
)
from system_apis.connectors.base import QmsCapability, require
from system_apis.connectors.reference._codes import NC_CODES, SUPPLIER_STATUS_CODES, capa_code
from system_apis.connectors.reference._qms_reads import QmsTables
from system_apis.connectors.reference._records import (
    QMS_SYSTEM,
    bump,
    check_version,
    external_refs,
    find,
)

__all__ = ["QmsQuality"]

_C = QmsCapability
_N = NonconformanceStatus
_FINAL = frozenset({_N.CLOSED, _N.CANCELLED})


class QmsQuality(QmsTables):
    """Nonconformances, CAPAs, supplier quality events and statuses."""

    async def create_nonconformance(
        self, nonconformance: NonconformanceCreate, *, actor: str
    ) -> Nonconformance:
        """A new OPEN nonconformance (a referenced inspection must exist)."""
        require(self, _C.NONCONFORMANCES)
        async with self._lock:
            inspection_id = nonconformance.inspection_id
            if inspection_id is not None and inspection_id not in self._inspections:
                raise BackendRejected(f"Inspection {inspection_id} does not exist in the QMS.")
            nc_id = self._ids.next("NC")
            now = self._clock()
            created = Nonconformance(
                external_refs=external_refs(QMS_SYSTEM, "Nonconformance", nc_id, 1),
                source_status=NC_CODES[_N.OPEN],
                nc_id=nc_id,
                type=nonconformance.type,
                status=_N.OPEN,
                severity=nonconformance.severity,
                title=nonconformance.title,
                description=nonconformance.description,
                plant_id=nonconformance.plant_id,
                supplier_id=nonconformance.supplier_id,
                item_id=nonconformance.item_id,
                lot_ids=list(dict.fromkeys(nonconformance.lot_ids)),
                inspection_id=inspection_id,
                created_at=now,
                updated_at=now,
            )
            self._ncs[nc_id] = created
            return created

    async def update_nonconformance(
        self,
        nc_id: str,
        update: NonconformanceUpdate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Nonconformance:
        """Change status (along ``NC_TRANSITIONS``; the same status is no transition),
        severity, material disposition or description."""
        require(self, _C.NONCONFORMANCES)
        async with self._lock:
            current = find(self._ncs, "Nonconformance", nc_id)
            check_version("Nonconformance", nc_id, current.version, expected_version)
            if current.status in _FINAL:
                raise BackendRejected(
                    f"Nonconformance {nc_id} is {current.status.value}; it cannot be changed."
                )
            status = update.status or current.status
            allowed = NC_TRANSITIONS[current.status]
            if status is not current.status and status not in allowed:
                raise BackendRejected(
                    f"Nonconformance {nc_id} cannot go from {current.status.value} to "
                    f"{status.value}; allowed: {', '.join(sorted(s.value for s in allowed))}."
                )
            material = update.material_disposition or current.material_disposition
            if status is _N.CLOSED and material is None:
                raise BackendRejected(
                    f"Nonconformance {nc_id} needs a material disposition before it is closed; "
                    "send materialDisposition with the update."
                )
            updated = bump(
                current,
                QMS_SYSTEM,
                status=status,
                severity=update.severity or current.severity,
                material_disposition=material,
                description=(
                    current.description if update.description is None else update.description
                ),
                source_status=NC_CODES[status],
                updated_at=self._clock(),
            )
            self._ncs[nc_id] = updated
            return updated

    async def create_capa(self, capa: CapaCreate, *, actor: str) -> Capa:
        """A new OPEN CAPA at stage D0 (the nonconformances it names must exist)."""
        require(self, _C.CAPA)
        async with self._lock:
            unknown = [nc_id for nc_id in capa.nc_ids if nc_id not in self._ncs]
            if unknown:
                raise BackendRejected(
                    f"Nonconformance(s) {', '.join(unknown)} do not exist in the QMS."
                )
            capa_id = self._ids.next("CAPA")
            now = self._clock()
            created = Capa(
                external_refs=external_refs(QMS_SYSTEM, "Capa", capa_id, 1),
                source_status=capa_code(_N.OPEN, CapaStage.D0),
                capa_id=capa_id,
                type=capa.type,
                status=_N.OPEN,
                stage=CapaStage.D0,
                title=capa.title,
                plant_id=capa.plant_id,
                supplier_id=capa.supplier_id,
                nc_ids=list(dict.fromkeys(capa.nc_ids)),
                owner=capa.owner,
                created_at=now,
                updated_at=now,
            )
            self._capas[capa_id] = created
            return created

    async def advance_capa(
        self,
        capa_id: str,
        advance: CapaStageAdvance,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Capa:
        """Complete the current stage (``advance.stage`` must name it): the next stage,
        IN_PROGRESS; completing D7 verifies effectiveness, completing D8 closes the CAPA."""
        require(self, _C.CAPA)
        async with self._lock:
            current = find(self._capas, "CAPA", capa_id)
            check_version("CAPA", capa_id, current.version, expected_version)
            if current.status in _FINAL:
                raise BackendRejected(
                    f"CAPA {capa_id} is {current.status.value}; it cannot advance any more."
                )
            if advance.stage is not current.stage:
                raise BackendRejected(
                    f"CAPA {capa_id} is at {current.stage.value}, not {advance.stage.value}; "
                    "complete the current stage first."
                )
            now = self._clock()
            record = CapaStageRecord(stage=current.stage, completed_at=now, summary=advance.summary)
            following = next_stage(current.stage)
            status = _N.CLOSED if following is None else _N.IN_PROGRESS
            stage = following or current.stage
            verified = now if current.stage is CapaStage.D7 else current.effectiveness_verified_at
            updated = bump(
                current,
                QMS_SYSTEM,
                status=status,
                stage=stage,
                completed_stages=[*current.completed_stages, record],
                effectiveness_verified_at=verified,
                source_status=capa_code(status, stage),
                updated_at=now,
            )
            self._capas[capa_id] = updated
            return updated

    async def record_supplier_quality_event(
        self, event: SupplierQualityEventCreate, *, actor: str
    ) -> SupplierQualityEvent:
        """Append an event (``occurredAt`` defaults to now); events never change."""
        require(self, _C.SUPPLIER_QUALITY_EVENTS)
        async with self._lock:
            if event.supplier_id not in self._statuses:
                raise BackendRejected(f"Supplier {event.supplier_id} is not known to the QMS.")
            event_id = self._ids.next("SQE")
            recorded = SupplierQualityEvent(
                external_refs=external_refs(QMS_SYSTEM, "SupplierQualityEvent", event_id, 1),
                source_status="RECORDED",
                event_id=event_id,
                supplier_id=event.supplier_id,
                kind=event.kind,
                occurred_at=event.occurred_at or self._clock(),
                plant_id=event.plant_id,
                item_id=event.item_id,
                lot_id=event.lot_id,
                inspection_id=event.inspection_id,
                nc_id=event.nc_id,
                description=event.description,
            )
            self._events[event_id] = recorded
            return recorded

    async def set_supplier_quality_status(
        self,
        supplier_id: str,
        change: SupplierQualityStatusChange,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> SupplierQualityStatus:
        """Replace status, blocked functions (duplicates ignored) and reason."""
        require(self, _C.SUPPLIER_QUALITY_STATUS)
        async with self._lock:
            current = find(self._statuses, "Supplier quality status of", supplier_id)
            check_version("Supplier quality status", supplier_id, current.version, expected_version)
            wanted = set(change.blocked_functions)
            updated = bump(
                current,
                QMS_SYSTEM,
                status=change.status,
                blocked_functions=[f for f in BlockedFunction if f in wanted],
                reason=change.reason,
                source_status=SUPPLIER_STATUS_CODES[change.status],
                updated_at=self._clock(),
            )
            self._statuses[supplier_id] = updated
            return updated
