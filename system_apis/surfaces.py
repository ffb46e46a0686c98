"""The system layer's two surfaces: the canonical ERP and QMS contracts."""

from __future__ import annotations

from shared.contracts import Surface

__all__ = ["ERP", "QMS", "SURFACES"]

ERP = Surface(
    name="erp",
    prefix="/system/erp/v1",
    title="qgate ERP system API",
    description=(
        "Canonical, vendor-neutral contract over the ERP: items, suppliers, purchase orders, "
        "goods receipts, lots and stock. Write scopes belong to the process layer's service "
        "client and the operations client only. The process layer names the caller it acts "
        "for in the `Qgate-On-Behalf-Of` header (base64url JSON list of callers, original "
        "first), accepted only from clients holding `qgate.delegate`."
    ),
    contract="system_apis/erp.v1.yaml",
    tags={"Diagnostics": "Verify the caller and the chain of layers."},
)

QMS = Surface(
    name="qms",
    prefix="/system/qms/v1",
    title="qgate QMS system API",
    description=(
        "Canonical, vendor-neutral contract over the QMS: specifications, inspections and "
        "results, nonconformances, CAPA and supplier quality events. The process layer names "
        "the caller it acts for in the `Qgate-On-Behalf-Of` header (base64url JSON list of "
        "callers, original first), accepted only from clients holding `qgate.delegate`."
    ),
    contract="system_apis/qms.v1.yaml",
    tags={"Diagnostics": "Verify the caller and the chain of layers."},
)

SURFACES = (ERP, QMS)
