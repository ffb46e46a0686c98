"""Supplier quality status: what ERP and QMS say about a supplier, combined into one status.

The resulting status is the worse of the QMS's recorded status and what the figures give:

============ ================================================================================
BLOCKED      the ERP blocks purchasing from the supplier
PROBATION    rejection rate above ``probation_ppm``, or an open CRITICAL nonconformance
CONDITIONAL  rejection rate above ``conditional_ppm``, or any open nonconformance or CAPA
APPROVED     none of the above
============ ================================================================================

(DISQUALIFIED only ever comes from the QMS.) The rejection rate is the quantity of inspections
that FAILED per million inspected, over inspections of the supplier's material created in the
last ``quality_window_days`` that have an overall result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

from process_apis.clients.system import SystemClient
from process_apis.suppliers.models import RejectionRate, SupplierQualityView
from shared.auth import Principal
from shared.delegation import chain_for
from shared.errors import CapabilityUnsupported, NotFound
from shared.models import (
    InspectionResult,
    NonconformanceStatus,
    Severity,
    SupplierQualityStatusCode,
)
from shared.models.qms import Capa, Inspection, Nonconformance
from shared.settings import ProcessSettings

__all__ = ["SupplierQualityService"]

_Q = SupplierQualityStatusCode
_RANK: Final = {
    _Q.APPROVED: 0,
    _Q.CONDITIONAL: 1,
    _Q.PROBATION: 2,
    _Q.BLOCKED: 3,
    _Q.DISQUALIFIED: 4,
}
_CLOSED: Final = frozenset({NonconformanceStatus.CLOSED, NonconformanceStatus.CANCELLED})
_RESULTED: Final = frozenset(
    {InspectionResult.PASS, InspectionResult.CONDITIONAL_PASS, InspectionResult.FAIL}
)


def _worse(a: SupplierQualityStatusCode, b: SupplierQualityStatusCode) -> SupplierQualityStatusCode:
    return a if _RANK[a] >= _RANK[b] else b


class SupplierQualityService:
    def __init__(
        self,
        *,
        system: SystemClient,
        policy: ProcessSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.system = system
        self.policy = policy
        self._clock = clock

    async def status(
        self, supplier_id: str, principal: Principal, *, window_days: int | None = None
    ) -> SupplierQualityView:
        chain = chain_for(principal)
        try:
            supplier = await self.system.supplier(supplier_id, chain)
        except NotFound:
            raise NotFound(f"No supplier {supplier_id} in the ERP.") from None
        days = window_days or self.policy.quality_window_days
        now = self._clock()
        since = now - timedelta(days=days)

        gaps: list[str] = []

        async def collect_ncs() -> list[Nonconformance]:
            try:
                return [
                    nc async for nc in self.system.nonconformances(chain, supplierId=supplier_id)
                ]
            except CapabilityUnsupported:
                gaps.append(
                    "The QMS keeps no nonconformances (not supported by the connected QMS)."
                )
                return []

        async def collect_capas() -> list[Capa]:
            try:
                return [c async for c in self.system.capas(chain, supplierId=supplier_id)]
            except CapabilityUnsupported:
                gaps.append("The QMS keeps no CAPA (not supported by the connected QMS).")
                return []

        async def recorded_status() -> SupplierQualityStatusCode:
            try:
                return (await self.system.supplier_quality_status(supplier_id, chain)).status
            except CapabilityUnsupported:
                # A QMS without supplier status (e.g. Tryton): the figures alone decide, from
                # the most favourable recorded status.
                gaps.append(
                    "The QMS keeps no supplier quality status (not supported by the connected "
                    "QMS): the status is computed from the ERP and QMS figures alone."
                )
                return _Q.APPROVED

        async def collect_inspections() -> list[Inspection]:
            return [i async for i in self.system.inspections(chain, supplierId=supplier_id)]

        recorded, ncs, capas, inspections = await asyncio.gather(
            recorded_status(),
            collect_ncs(),
            collect_capas(),
            collect_inspections(),
        )
        open_ncs = [nc for nc in ncs if nc.status not in _CLOSED]
        critical = sum(1 for nc in open_ncs if nc.severity is Severity.CRITICAL)
        open_capas = [c for c in capas if c.status not in _CLOSED]
        rate = self._rate(inspections, since, days)

        computed, reasons = _Q.APPROVED, []
        if supplier.purchasing_blocked:
            computed = _Q.BLOCKED
            reasons.append("The ERP blocks purchasing from this supplier.")
        if rate.ppm > self.policy.probation_ppm:
            computed = _worse(computed, _Q.PROBATION)
            reasons.append(
                f"Rejection rate {rate.ppm:g} ppm is above the probation threshold "
                f"({self.policy.probation_ppm:g} ppm)."
            )
        elif rate.ppm > self.policy.conditional_ppm:
            computed = _worse(computed, _Q.CONDITIONAL)
            reasons.append(
                f"Rejection rate {rate.ppm:g} ppm is above the conditional threshold "
                f"({self.policy.conditional_ppm:g} ppm)."
            )
        if critical:
            computed = _worse(computed, _Q.PROBATION)
            reasons.append(f"{critical} critical nonconformance(s) open.")
        if open_ncs or open_capas:
            computed = _worse(computed, _Q.CONDITIONAL)
            reasons.append(f"{len(open_ncs)} nonconformance(s) and {len(open_capas)} CAPA(s) open.")
        status = _worse(computed, recorded)
        if _RANK[recorded] > _RANK[computed]:
            reasons.append(f"The QMS records the supplier as {recorded.value}.")
        if not reasons:
            reasons.append("No block, no open case, rejection rate within the thresholds.")
        reasons += gaps
        return SupplierQualityView(
            supplier_id=supplier.supplier_id,
            name=supplier.name,
            status=status,
            reasons=reasons,
            recorded_status=recorded,
            purchasing_blocked=supplier.purchasing_blocked,
            blocked_functions=(
                list(supplier.purchasing_block.functions) if supplier.purchasing_block else []
            ),
            open_nonconformances=[nc.nc_id for nc in open_ncs],
            open_critical_nonconformances=critical,
            open_capas=[c.capa_id for c in open_capas],
            rejection_rate=rate,
            evaluated_at=now,
        )

    @staticmethod
    def _rate(inspections: list[Inspection], since: datetime, days: int) -> RejectionRate:
        counted = [i for i in inspections if i.created_at >= since and i.result in _RESULTED]
        failed = [i for i in counted if i.result is InspectionResult.FAIL]
        inspected = sum(i.quantity for i in counted)
        rejected = sum(i.quantity for i in failed)
        ppm = round(rejected / inspected * 1_000_000, 1) if inspected else 0.0
        return RejectionRate(
            window_days=days,
            since=since,
            inspections=len(counted),
            failed_inspections=len(failed),
            inspected_quantity=round(inspected, 3),
            rejected_quantity=round(rejected, 3),
            ppm=ppm,
        )
