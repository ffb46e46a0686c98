"""The process layer's surface: quality operations spanning ERP and QMS."""

from __future__ import annotations

from process_apis.examples import quality_examples
from shared.contracts import Surface

__all__ = ["QUALITY", "SURFACES"]

QUALITY = Surface(
    name="quality",
    prefix="/process/v1",
    title="qgate quality process API",
    description=(
        "Business operations that span ERP and QMS: lot disposition, inspection on goods "
        "receipt, supplier containment, nonconformance and CAPA sync, supplier quality status. "
        "Called by the experience layer and integration clients. A calling layer names the "
        "caller it acts for in the `Qgate-On-Behalf-Of` header (base64url JSON list of callers, "
        "original first), accepted only from clients holding `qgate.delegate`."
    ),
    contract="process_apis/quality.v1.yaml",
    tags={
        "Lot dispositions": (
            "One decision about a lot, applied to QMS and ERP exactly once: idempotent, "
            "validated against the disposition state machine, four eyes for releasing a "
            "blocked lot, kept and retried while a system is unavailable."
        ),
        "Inspections": "Inspection on goods receipt, and results that propose a disposition.",
        "Suppliers": "Supplier quality status across ERP and QMS.",
        "Lots": "Lots in the ERP, with disposition and stock, to read and filter.",
        "Nonconformances": "Nonconformances in the QMS, to read and filter.",
        "Audit trail": "Who changed what, when and why: hash-chained, verifiable.",
        "Diagnostics": "Verify the caller and the chain of layers.",
    },
    examples=quality_examples,
)

SURFACES = (QUALITY,)
