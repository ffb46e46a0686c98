"""The read side of the reference QMS: its tables, and every list and get."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from shared.errors import NotFound
from shared.models.qms import (
    Capa,
    CapaPage,
    Inspection,
    InspectionPage,
    Nonconformance,
    NonconformancePage,
    Specification,
    SpecificationPage,
    SupplierQualityEventPage,
    SupplierQualityStatus,
)
from system_apis.connectors.base import (
    CapaFilter,
    InspectionFilter,
    NonconformanceFilter,
    PageRequest,
    QmsCapability,
    SpecificationFilter,
    SupplierQualityEventFilter,
    require,
)
from system_apis.connectors.reference._dataset import QmsDataset
from system_apis.connectors.reference._paging import matches, paginate
from system_apis.connectors.reference._records import QMS_SYSTEM, IdSequence, find, utcnow
from system_apis.connectors.reference.demo import build_demo

__all__ = ["QmsTables"]

_C = QmsCapability


class QmsTables:
    """The reference QMS's records (frozen Structs, replaced on change) and its reads."""

    def __init__(
        self,
        *,
        data: QmsDataset | None = None,
        capabilities: frozenset[QmsCapability] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if data is None:
            data = build_demo()[1]
        self._capabilities = frozenset(_C) if capabilities is None else frozenset(capabilities)
        self._clock = clock or utcnow
        # Writes check a version and then replace the record; nothing awaits in between today,
        # but the lock keeps that atomic by construction rather than by accident.
        self._lock = asyncio.Lock()
        self._specs = {(s.spec_id, s.spec_version): s for s in data.specifications}
        self._inspections = {i.inspection_id: i for i in data.inspections}
        self._ncs = {n.nc_id: n for n in data.nonconformances}
        self._capas = {c.capa_id: c for c in data.capas}
        self._events = {e.event_id: e for e in data.supplier_quality_events}
        self._statuses = {s.supplier_id: s for s in data.supplier_quality_statuses}
        self._ids = IdSequence([*self._inspections, *self._ncs, *self._capas, *self._events])

    @property
    def system(self) -> str:
        return QMS_SYSTEM

    @property
    def capabilities(self) -> frozenset[QmsCapability]:
        return self._capabilities

    async def ping(self) -> None:
        """Always answers: the reference QMS lives in this process."""

    async def aclose(self) -> None:
        """Nothing to release."""

    async def list_specifications(
        self, query: SpecificationFilter, page: PageRequest
    ) -> SpecificationPage:
        """Every version of every specification, ordered by id and then version."""
        require(self, _C.SPECIFICATIONS)
        items, cursor = paginate(
            (s for s in self._specs.values() if matches(s, query)),
            key=lambda s: f"{s.spec_id}/{s.spec_version:06d}",
            page=page,
            list_name="specifications",
        )
        return SpecificationPage(items=items, next_cursor=cursor)

    async def get_specification(
        self, spec_id: str, spec_version: int | None = None
    ) -> Specification:
        """The given version, or the current (highest) one."""
        require(self, _C.SPECIFICATIONS)
        if spec_version is not None:
            spec = self._specs.get((spec_id, spec_version))
            if spec is None:
                raise NotFound(f"Specification {spec_id} version {spec_version} not found")
            return spec
        versions = [s for (sid, _), s in self._specs.items() if sid == spec_id]
        if not versions:
            raise NotFound(f"Specification {spec_id} not found")
        return max(versions, key=lambda s: s.spec_version)

    async def list_inspections(self, query: InspectionFilter, page: PageRequest) -> InspectionPage:
        require(self, _C.INSPECTIONS)
        items, cursor = paginate(
            (i for i in self._inspections.values() if matches(i, query)),
            key=lambda i: i.inspection_id,
            page=page,
            list_name="inspections",
        )
        return InspectionPage(items=items, next_cursor=cursor)

    async def get_inspection(self, inspection_id: str) -> Inspection:
        require(self, _C.INSPECTIONS)
        return find(self._inspections, "Inspection", inspection_id)

    async def list_nonconformances(
        self, query: NonconformanceFilter, page: PageRequest
    ) -> NonconformancePage:
        require(self, _C.NONCONFORMANCES)
        special = {"lot_id": lambda nc, lot_id: lot_id in nc.lot_ids}
        items, cursor = paginate(
            (n for n in self._ncs.values() if matches(n, query, special)),
            key=lambda n: n.nc_id,
            page=page,
            list_name="nonconformances",
        )
        return NonconformancePage(items=items, next_cursor=cursor)

    async def get_nonconformance(self, nc_id: str) -> Nonconformance:
        require(self, _C.NONCONFORMANCES)
        return find(self._ncs, "Nonconformance", nc_id)

    async def list_capas(self, query: CapaFilter, page: PageRequest) -> CapaPage:
        require(self, _C.CAPA)
        items, cursor = paginate(
            (c for c in self._capas.values() if matches(c, query)),
            key=lambda c: c.capa_id,
            page=page,
            list_name="CAPAs",
        )
        return CapaPage(items=items, next_cursor=cursor)

    async def get_capa(self, capa_id: str) -> Capa:
        require(self, _C.CAPA)
        return find(self._capas, "CAPA", capa_id)

    async def list_supplier_quality_events(
        self, query: SupplierQualityEventFilter, page: PageRequest
    ) -> SupplierQualityEventPage:
        require(self, _C.SUPPLIER_QUALITY_EVENTS)
        items, cursor = paginate(
            (e for e in self._events.values() if matches(e, query)),
            key=lambda e: e.event_id,
            page=page,
            list_name="supplier quality events",
        )
        return SupplierQualityEventPage(items=items, next_cursor=cursor)

    async def get_supplier_quality_status(self, supplier_id: str) -> SupplierQualityStatus:
        require(self, _C.SUPPLIER_QUALITY_STATUS)
        return find(self._statuses, "Supplier quality status of", supplier_id)
