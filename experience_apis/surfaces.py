"""The experience layer's surfaces: the supplier portal and the plant app."""

from __future__ import annotations

from experience_apis.examples import partner_examples, plant_examples
from shared.contracts import Surface

__all__ = ["PARTNER", "PLANT", "SURFACES"]

PARTNER = Surface(
    name="partner",
    prefix="/partner/v1",
    title="qgate supplier portal API",
    description=(
        "Views for supplier portals, scoped to the supplier named by the token's `supplier_id` "
        "claim: another supplier's record answers 404."
    ),
    contract="experience_apis/partner.v1.yaml",
    tags={
        "Lots": "My lots at the customer's plants, and what was decided about them.",
        "Inspections": "Summaries of the inspections of my material.",
        "Nonconformances": "Nonconformances about my material.",
        "Containment cases": (
            "Containment of my material after a failed inspection: the case, its lots at "
            "every plant, and my response (actions taken, 8D D3 answer, documents)."
        ),
        "Scorecard": "My incoming quality as the customer measures it.",
        "Diagnostics": "Verify the caller and the chain of layers.",
    },
    examples=partner_examples,
)

PLANT = Surface(
    name="plant",
    prefix="/plant/v1",
    title="qgate plant app API",
    description=(
        "Views for plant apps, scoped to the plants named by the token's `plants` claim: "
        "another plant's record answers 404."
    ),
    contract="experience_apis/plant.v1.yaml",
    tags={
        "Lots": "Lots at my plants, held inventory, and each lot's timeline.",
        "Inspections": "Inspections at my plants: pending work and recording results.",
        "Dispositions": "Requesting a lot disposition on behalf of the plant user.",
        "Diagnostics": "Verify the caller and the chain of layers.",
    },
    examples=plant_examples,
)

SURFACES = (PARTNER, PLANT)
