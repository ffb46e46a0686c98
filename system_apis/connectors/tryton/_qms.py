"""The QMS port over Tryton's quality module (controls, inspections, alerts)."""

from __future__ import annotations

from typing import Any, Final

from shared.errors import BackendRejected, NotFound
from shared.models.commands import (
    InspectionCreate,
    NonconformanceCreate,
    NonconformanceUpdate,
    ResultsRecord,
    UsageDecisionCreate,
)
from shared.models.qms import (
    Inspection,
    InspectionPage,
    Nonconformance,
    NonconformancePage,
    Specification,
    SpecificationPage,
)
from system_apis.connectors.base import (
    InspectionFilter,
    NonconformanceFilter,
    PageRequest,
    QmsCapability,
    SpecificationFilter,
    UndeclaredQmsMethods,
    require,
)
from system_apis.connectors.tryton._alerts import AlertState, alert_of
from system_apis.connectors.tryton._common import SYSTEM, paginate
from system_apis.connectors.tryton._inspections import (
    InspectionState,
    SpecState,
    read_inspections,
    read_specs,
)
from system_apis.connectors.tryton._notes import StateNotes
from system_apis.connectors.tryton._qms_writes import QmsWrites
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = ["QMS_CAPABILITIES", "TrytonQmsConnector"]

QMS_CAPABILITIES: Final = frozenset(QmsCapability) - {
    QmsCapability.CAPA,
    QmsCapability.SUPPLIER_QUALITY_EVENTS,
    QmsCapability.SUPPLIER_QUALITY_STATUS,
}
"""Tryton's quality module has controls, inspections and alerts; it has no CAPA (8D), no
supplier quality events and no supplier quality status."""


def _spec_key(spec: Specification) -> str:
    return f"{spec.spec_id}\x00{spec.spec_version:09d}"


class TrytonQmsConnector(UndeclaredQmsMethods):
    """Specifications, inspections, usage decisions and nonconformances in Tryton (no CAPA
    or supplier quality records: ``UndeclaredQmsMethods`` refuses those)."""

    def __init__(
        self, client: TrytonClient, *, capabilities: frozenset[QmsCapability] = QMS_CAPABILITIES
    ) -> None:
        self._client = client
        self._capabilities = capabilities & QMS_CAPABILITIES
        self._control_notes = StateNotes(client, "control")
        self._inspection_notes = StateNotes(client, "inspection")
        self._alert_notes = StateNotes(client, "alert")
        self._writes = QmsWrites(
            client, self._inspection_notes, self._alert_notes, self._inspection, self._alert
        )

    @property
    def system(self) -> str:
        return SYSTEM

    @property
    def capabilities(self) -> frozenset[QmsCapability]:
        return self._capabilities

    async def ping(self) -> None:
        await self._client.call("model.res.user.get_preferences", False)

    async def aclose(self) -> None:
        await self._client.aclose()

    # -- specifications ---------------------------------------------------------------------

    async def _specs(self) -> list[SpecState]:
        return await read_specs(self._client, self._control_notes)

    async def list_specifications(
        self, query: SpecificationFilter, page: PageRequest
    ) -> SpecificationPage:
        require(self, QmsCapability.SPECIFICATIONS)
        every = [s.spec for s in await self._specs() if query.item_id in (None, s.spec.item_id)]
        items, cursor = paginate(every, key=_spec_key, page=page, list_name="specifications")
        return SpecificationPage(items=items, next_cursor=cursor)

    async def get_specification(
        self, spec_id: str, spec_version: int | None = None
    ) -> Specification:
        require(self, QmsCapability.SPECIFICATIONS)
        return (await self._spec(spec_id, spec_version)).spec

    async def _spec(self, spec_id: str, spec_version: int | None = None) -> SpecState:
        versions = [s for s in await self._specs() if s.spec.spec_id == spec_id]
        if spec_version is not None:
            versions = [s for s in versions if s.spec.spec_version == spec_version]
        if not versions:
            suffix = f" version {spec_version}" if spec_version is not None else ""
            raise NotFound(f"Specification {spec_id}{suffix} not found")
        return max(versions, key=lambda s: s.spec.spec_version)

    # -- inspections ------------------------------------------------------------------------

    async def _inspection_states(self, domain: list[Any] | None = None) -> list[InspectionState]:
        return await read_inspections(
            self._client, self._inspection_notes, await self._specs(), domain
        )

    async def _inspection(self, inspection_id: str) -> InspectionState:
        found = await self._inspection_states([("number", "=", inspection_id)])
        if not found:
            raise NotFound(f"Inspection {inspection_id} not found")
        return found[0]

    async def list_inspections(self, query: InspectionFilter, page: PageRequest) -> InspectionPage:
        require(self, QmsCapability.INSPECTIONS)
        every = [s.inspection for s in await self._inspection_states()]
        every = [i for i in every if all(
            getattr(query, f) in (None, getattr(i, f)) for f in query.__struct_fields__
        )]  # fmt: skip
        items, cursor = paginate(
            every, key=lambda i: i.inspection_id, page=page, list_name="inspections"
        )
        return InspectionPage(items=items, next_cursor=cursor)

    async def get_inspection(self, inspection_id: str) -> Inspection:
        require(self, QmsCapability.INSPECTIONS)
        return (await self._inspection(inspection_id)).inspection

    async def create_inspection(self, inspection: InspectionCreate, *, actor: str) -> Inspection:
        require(self, QmsCapability.INSPECTIONS)
        if inspection.goods_receipt_id is not None:
            existing = [
                s.inspection
                for s in await self._inspection_states(
                    [("reference", "=", inspection.goods_receipt_id)]
                )
                if s.inspection.goods_receipt_id == inspection.goods_receipt_id
            ]
            if existing:
                return existing[0]
        if inspection.spec_id is not None:
            spec = await self._spec(inspection.spec_id)
        else:
            current = [s for s in await self._specs() if s.spec.item_id == inspection.item_id]
            if not current:
                raise BackendRejected(
                    f"Item {inspection.item_id} has no quality control (specification) in Tryton."
                )
            spec = max(current, key=lambda s: s.spec.spec_version)
        origin = await self._receipt_origin(inspection.goods_receipt_id)
        header = {
            "version": 1, "origin": inspection.origin.value, "lotId": inspection.lot_id,
            "itemId": inspection.item_id, "plantId": inspection.plant_id,
            "supplierId": inspection.supplier_id, "quantity": inspection.quantity,
            "goodsReceiptId": inspection.goods_receipt_id, "createdFor": actor, "decision": None,
        }  # fmt: skip
        db_id = await self._writes.create_inspection(inspection, spec.control, header, origin)
        [row] = await self._client.execute("quality.inspection", "read", [db_id], ["number"])
        return await self.get_inspection(str(row["number"]))

    async def _receipt_origin(self, receipt_id: str | None) -> str | None:
        """The supplier shipment of a goods receipt Tryton knows (the inspection's origin)."""
        if receipt_id is None:
            return None
        found = await self._client.execute(
            "stock.shipment.in", "search", [("number", "=", receipt_id.split(".", 1)[0])], 0, 1
        )
        return f"stock.shipment.in,{found[0]}" if found else None

    async def record_results(
        self,
        inspection_id: str,
        results: ResultsRecord,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Inspection:
        require(self, QmsCapability.INSPECTION_RESULTS)
        state = await self._inspection(inspection_id)
        await self._writes.record_results(state, results, expected_version)
        return await self.get_inspection(inspection_id)

    async def record_usage_decision(
        self,
        inspection_id: str,
        decision: UsageDecisionCreate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Inspection:
        require(self, QmsCapability.USAGE_DECISION)
        state = await self._inspection(inspection_id)
        await self._writes.decide(state, decision, actor, expected_version)
        return await self.get_inspection(inspection_id)

    # -- nonconformances --------------------------------------------------------------------

    async def _alert_states(self, domain: list[Any] | None = None) -> list[AlertState]:
        rows = await self._client.execute(
            "quality.alert",
            "search_read",
            domain or [],
            0,
            None,
            [("number", "ASC")],
            ["number", "title", "description", "origin", "state", "create_date", "write_date"],
        )
        origins = sorted({
            int(str(r["origin"]).rsplit(",", 1)[1]) for r in rows if r.get("origin")
        })  # fmt: skip
        inspections = {
            s.db_id: s.inspection
            for s in await self._inspection_states([("id", "in", origins)])
        } if origins else {}  # fmt: skip
        notes = await self._alert_notes.of("quality.alert", [int(r["id"]) for r in rows])
        return [
            alert_of(
                r,
                inspections.get(int(str(r["origin"]).rsplit(",", 1)[1]))
                if r.get("origin")
                else None,
                notes.get(int(r["id"])),
            )
            for r in rows
        ]

    async def _alert(self, nc_id: str) -> AlertState:
        found = await self._alert_states([("number", "=", nc_id)])
        if not found:
            raise NotFound(f"Nonconformance {nc_id} not found")
        return found[0]

    async def list_nonconformances(
        self, query: NonconformanceFilter, page: PageRequest
    ) -> NonconformancePage:
        require(self, QmsCapability.NONCONFORMANCES)
        every = [s.nonconformance for s in await self._alert_states()]
        every = [n for n in every if _nc_matches(n, query)]
        items, cursor = paginate(
            every, key=lambda n: n.nc_id, page=page, list_name="nonconformances"
        )
        return NonconformancePage(items=items, next_cursor=cursor)

    async def get_nonconformance(self, nc_id: str) -> Nonconformance:
        require(self, QmsCapability.NONCONFORMANCES)
        return (await self._alert(nc_id)).nonconformance

    async def create_nonconformance(
        self, nonconformance: NonconformanceCreate, *, actor: str
    ) -> Nonconformance:
        require(self, QmsCapability.NONCONFORMANCES)
        inspection = (
            await self._inspection(nonconformance.inspection_id)
            if nonconformance.inspection_id is not None
            else None
        )
        nc_id = await self._writes.create_nonconformance(nonconformance, inspection, actor)
        return await self.get_nonconformance(nc_id)

    async def update_nonconformance(
        self,
        nc_id: str,
        update: NonconformanceUpdate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Nonconformance:
        require(self, QmsCapability.NONCONFORMANCES)
        state = await self._alert(nc_id)
        await self._writes.update_nonconformance(state, update, actor, expected_version)
        return await self.get_nonconformance(nc_id)


def _nc_matches(nc: Nonconformance, query: NonconformanceFilter) -> bool:
    return (
        query.status in (None, nc.status)
        and query.type in (None, nc.type)
        and query.severity in (None, nc.severity)
        and query.plant_id in (None, nc.plant_id)
        and query.supplier_id in (None, nc.supplier_id)
        and (query.lot_id is None or query.lot_id in nc.lot_ids)
    )
