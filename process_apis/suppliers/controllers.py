"""``/process/v1/suppliers/{id}/quality-status``."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, get
from litestar.params import QueryParameter

from process_apis._api import Suppliers
from process_apis.suppliers.models import SupplierQualityView
from shared.params import path_id
from shared.platform import verified_principal
from shared.routes import DOWNSTREAM, READ, problems, requires

__all__ = ["handlers"]


@get(
    "/suppliers/{supplier_id:str}/quality-status",
    operation_id="getSupplierQualityStatus",
    summary="A supplier's quality status: ERP blocks, open cases, rejection rate (ppm)",
    description=(
        "Combines the ERP's purchasing block, the QMS's recorded status, open nonconformances "
        "and CAPAs, and the rejection rate over a window into one status, with the reasons. "
        "Thresholds: QGATE_PROCESS_CONDITIONAL_PPM and QGATE_PROCESS_PROBATION_PPM."
    ),
    tags=["Suppliers"],
    security=requires("quality.read"),
    responses=problems(READ, DOWNSTREAM, 404),
)
async def get_supplier_quality_status(
    request: Request[Any, Any, Any],
    suppliers: Suppliers,
    supplier_id: Annotated[str, path_id("The supplier's id.")],
    window_days: Annotated[
        int | None,
        QueryParameter(
            name="windowDays",
            description="Days of inspections the rejection rate covers (default: the policy's).",
            ge=1,
            le=3650,
        ),
    ] = None,
) -> SupplierQualityView:
    return await suppliers.status(supplier_id, verified_principal(request), window_days=window_days)


handlers: Final = [get_supplier_quality_status]
