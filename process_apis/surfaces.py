"""The process layer's surfaces: quality operations spanning ERP and QMS, and the operations API
(dead letters, consumer groups, webhook subscriptions) below ``/process/v1/ops``."""

from __future__ import annotations

from process_apis.examples import quality_examples
from process_apis.operations.examples import operations_examples
from shared.contracts import Surface

__all__ = ["OPERATIONS", "OPERATIONS_PREFIX", "QUALITY", "SURFACES"]

OPERATIONS_PREFIX = "/process/v1/ops"

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
    excludes=(OPERATIONS_PREFIX,),
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
        "Supplier containment": (
            "A failed incoming inspection contains the supplier lot at every plant: the lot "
            "blocked, the same supplier lot quarantined, a supplier nonconformance, a "
            "procurement hold, the case in the supplier's portal, webhook subscribers "
            "notified; each step retried until done, visible, never applied twice."
        ),
        "Procurement holds": (
            "Purchasing of a supplier's item on hold, kept and enforced by qgate; lifted with "
            "a second person's approval once the CAPA is verified."
        ),
        "Audit trail": "Who changed what, when and why: hash-chained, verifiable.",
        "Diagnostics": "Verify the caller and the chain of layers.",
    },
    examples=quality_examples,
)

OPERATIONS = Surface(
    name="operations",
    prefix=OPERATIONS_PREFIX,
    title="qgate operations API",
    description=(
        "Operating qgate's event platform: the dead letters of each event stream and their "
        "replay, the pending work of every consumer group, and the webhook subscriptions that "
        "deliver events to other systems. Every operation needs the `qgate.ops` scope."
    ),
    contract="process_apis/operations.v1.yaml",
    tags={
        "Dead letters": (
            "Events a consumer group gave up on after its retries, with the reason; replayed "
            "once the cause is fixed, to the group that failed them only."
        ),
        "Consumer groups": (
            "Who consumes which stream: pending (unacknowledged) events, lag, consumers, and "
            "the age of the oldest pending event."
        ),
        "Webhooks": "Subscriptions that deliver qgate's events to other systems, signed.",
        "Overview": (
            "The figures an operator looks at first, in one answer: what waits for a system, "
            "an event consumer or an operator."
        ),
    },
    examples=operations_examples,
)

SURFACES = (QUALITY, OPERATIONS)
