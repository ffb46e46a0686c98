"""Every OAuth scope qgate knows, with the one-line description published in the contracts."""

from __future__ import annotations

from typing import Final

__all__ = ["DELEGATION_SCOPE", "OPERATIONS_SCOPE", "SCOPES"]

#: A client holding this scope may pass an on-behalf-of caller (layer-to-layer calls).
DELEGATION_SCOPE: Final = "qgate.delegate"
#: Operations APIs (dead letters, replays, health details).
OPERATIONS_SCOPE: Final = "qgate.ops"

SCOPES: Final[dict[str, str]] = {
    # System layer: canonical ERP/QMS contracts. Write scopes belong to the process service
    # client and to operations only.
    "erp.read": "Read ERP master and transactional data (items, suppliers, orders, lots, stock)",
    "erp.write": "Change ERP state (goods receipts, lot dispositions, stock postings)",
    "qms.read": "Read QMS data (specifications, inspections, nonconformances, CAPA)",
    "qms.write": "Change QMS state (inspections, results, nonconformances, CAPA)",
    # Process layer: business operations spanning systems.
    "quality.read": "Read quality processes (inspections, dispositions, containment, status)",
    "quality.write": "Start and update quality processes (inspections, results, dispositions)",
    "quality.disposition.approve": "Approve or reject a lot disposition",
    "quality.audit.read": "Read the quality audit trail",
    # Experience layer: partner (supplier portal) and plant views.
    "partner.read": "Read the calling supplier's own lots, inspections and cases",
    "partner.respond": "Respond to the calling supplier's nonconformances and containment cases",
    "plant.read": "Read lots and inspections of the caller's plants",
    "plant.write": "Record results and request dispositions for the caller's plants",
    # Platform.
    DELEGATION_SCOPE: "Pass an on-behalf-of caller on layer-to-layer calls",
    OPERATIONS_SCOPE: "Operate qgate (dead letters, replays, pending confirmations)",
}
