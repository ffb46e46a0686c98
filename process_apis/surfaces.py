"""The process layer's surface: quality operations spanning ERP and QMS."""

from __future__ import annotations

from shared.contracts import Surface
from shared.diagnostics import diagnostic_examples

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
    tags={"Diagnostics": "Verify the caller and the chain of layers."},
    examples=diagnostic_examples,
)

SURFACES = (QUALITY,)
