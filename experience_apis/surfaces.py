"""The experience layer's surfaces: the supplier portal and the plant app."""

from __future__ import annotations

from shared.contracts import Surface
from shared.diagnostics import diagnostic_examples

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
    tags={"Diagnostics": "Verify the caller and the chain of layers."},
    examples=diagnostic_examples,
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
    tags={"Diagnostics": "Verify the caller and the chain of layers."},
    examples=diagnostic_examples,
)

SURFACES = (PARTNER, PLANT)
