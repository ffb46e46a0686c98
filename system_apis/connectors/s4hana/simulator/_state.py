"""The simulator's state: entity sets of the simulated services, keyed as SAP keys them.

An entity is a dict of SAP property names to values (strings, ``Decimal`` for ``Edm.Decimal``,
``datetime`` for ``Edm.DateTime``, booleans); ``_etag`` is the simulator's own change counter
behind the entity's ``ETag``. Navigation properties are resolved from :data:`NAVIGATIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

__all__ = [
    "KEYS",
    "NAVIGATIONS",
    "SERVICES",
    "Navigation",
    "Plan",
    "SapError",
    "State",
]

Entity = dict[str, Any]

SERVICES: Final[dict[str, tuple[str, ...]]] = {
    "API_PLANT_SRV": ("A_Plant",),
    "API_PRODUCT_SRV": (
        "A_Product",
        "A_ProductDescription",
        "A_ProductPlant",
        "A_ProductPlantQualityMgmt",
    ),
    "API_BUSINESS_PARTNER": (
        "A_Supplier",
        "A_SupplierPurchasingOrg",
        "A_SupplierText",
        "A_BusinessPartnerAddress",
    ),
    "API_PURCHASEORDER_PROCESS_SRV": ("A_PurchaseOrder", "A_PurchaseOrderItem"),
    "API_MATERIAL_DOCUMENT_SRV": ("A_MaterialDocumentHeader", "A_MaterialDocumentItem"),
    "API_MATERIAL_STOCK_SRV": ("A_MaterialStock", "A_MatlStkInAcctMod"),
    "API_INSPECTIONLOT_SRV": (
        "A_InspectionLot",
        "A_InspectionLotWithStatus",
        "A_InspectionCharacteristic",
        "A_InspectionResult",
        "A_InspLotUsageDecision",
        "A_InspLotMatlDocItem",
    ),
    "API_QUALITYINFORECORD_SRV": ("QualityInProcurement",),
}
"""Service -> the entity sets this simulator serves of it (a subset of SAP's)."""

KEYS: Final[dict[str, tuple[str, ...]]] = {
    "A_Plant": ("Plant",),
    "A_Product": ("Product",),
    "A_ProductDescription": ("Product", "Language"),
    "A_ProductPlant": ("Product", "Plant"),
    "A_ProductPlantQualityMgmt": ("Product", "Plant"),
    "A_Supplier": ("Supplier",),
    "A_SupplierPurchasingOrg": ("Supplier", "PurchasingOrganization"),
    "A_SupplierText": ("Supplier", "Language", "LongTextID"),
    "A_BusinessPartnerAddress": ("BusinessPartner", "AddressID"),
    "A_PurchaseOrder": ("PurchaseOrder",),
    "A_PurchaseOrderItem": ("PurchaseOrder", "PurchaseOrderItem"),
    "A_MaterialDocumentHeader": ("MaterialDocumentYear", "MaterialDocument"),
    "A_MaterialDocumentItem": ("MaterialDocumentYear", "MaterialDocument", "MaterialDocumentItem"),
    "A_MaterialStock": ("Material",),
    "A_MatlStkInAcctMod": (
        "Material",
        "Plant",
        "StorageLocation",
        "Batch",
        "Supplier",
        "Customer",
        "WBSElementInternalID",
        "SDDocument",
        "SDDocumentItem",
        "InventorySpecialStockType",
        "InventoryStockType",
    ),
    "A_InspectionLot": ("InspectionLot",),
    "A_InspectionLotWithStatus": ("InspectionLot",),
    "A_InspectionCharacteristic": (
        "InspectionLot",
        "InspPlanOperationInternalID",
        "InspectionCharacteristic",
    ),
    "A_InspectionResult": (
        "InspectionLot",
        "InspPlanOperationInternalID",
        "InspectionCharacteristic",
    ),
    "A_InspLotUsageDecision": ("InspectionLot",),
    "A_InspLotMatlDocItem": ("InspectionLot", "InspLotMatlDocItem"),
    "QualityInProcurement": ("Material", "QltyInProcmtIntID"),
}


@dataclass(frozen=True)
class Navigation:
    target: str
    link: tuple[tuple[str, str], ...]
    """(source property, target property) pairs the two entities share."""
    many: bool


NAVIGATIONS: Final[dict[tuple[str, str], Navigation]] = {
    ("A_Product", "to_Description"): Navigation(
        "A_ProductDescription", (("Product", "Product"),), many=True
    ),
    ("A_Product", "to_Plant"): Navigation("A_ProductPlant", (("Product", "Product"),), many=True),
    ("A_ProductPlant", "to_PlantQualityMgmt"): Navigation(
        "A_ProductPlantQualityMgmt", (("Product", "Product"), ("Plant", "Plant")), many=False
    ),
    ("A_Supplier", "to_SupplierPurchasingOrg"): Navigation(
        "A_SupplierPurchasingOrg", (("Supplier", "Supplier"),), many=True
    ),
    ("A_Supplier", "to_SupplierText"): Navigation(
        "A_SupplierText", (("Supplier", "Supplier"),), many=True
    ),
    ("A_PurchaseOrder", "to_PurchaseOrderItem"): Navigation(
        "A_PurchaseOrderItem", (("PurchaseOrder", "PurchaseOrder"),), many=True
    ),
    ("A_MaterialDocumentHeader", "to_MaterialDocumentItem"): Navigation(
        "A_MaterialDocumentItem",
        (
            ("MaterialDocumentYear", "MaterialDocumentYear"),
            ("MaterialDocument", "MaterialDocument"),
        ),
        many=True,
    ),
    ("A_MaterialDocumentItem", "to_MaterialDocumentHeader"): Navigation(
        "A_MaterialDocumentHeader",
        (
            ("MaterialDocumentYear", "MaterialDocumentYear"),
            ("MaterialDocument", "MaterialDocument"),
        ),
        many=False,
    ),
    ("A_MaterialStock", "to_MatlStkInAcctMod"): Navigation(
        "A_MatlStkInAcctMod", (("Material", "Material"),), many=True
    ),
    ("A_InspectionLot", "to_InspectionLotWithStatus"): Navigation(
        "A_InspectionLotWithStatus", (("InspectionLot", "InspectionLot"),), many=False
    ),
}


@dataclass(frozen=True)
class Plan:
    """An inspection plan (task list type Q) of a material at a plant, at one change state.

    Simulator-internal: SAP's inspection-plan API is not among the definitions qgate is checked
    against, so plans are not served; they only give inspection lots their characteristics.
    Attributes named like SAP's properties are copied onto the lots made from the plan."""

    BillOfOperationsGroup: str
    BillOfOperationsChangeStateID: str
    characteristics: tuple[Entity, ...]
    """``A_InspectionCharacteristic`` templates (no ``InspectionLot`` yet), in plan order."""
    valid_from: datetime
    BillOfOperationsType: str = "Q"
    BillOfOperationsVariant: str = "1"
    BillOfOperationsUsage: str = "5"
    earlier: tuple[Plan, ...] = ()
    """Earlier change states, oldest first: a lot gets the one valid when it is created, as
    SAP copies the task list valid on the lot's key date."""

    def at(self, moment: datetime) -> Plan:
        """The change state valid at ``moment`` (the oldest one if none was valid yet)."""
        states = (*self.earlier, self)
        valid = [state for state in states if state.valid_from <= moment]
        return valid[-1] if valid else states[0]

    def header(self) -> dict[str, str]:
        """The task-list fields an inspection lot of this plan carries."""
        return {
            "BillOfOperationsType": self.BillOfOperationsType,
            "BillOfOperationsGroup": self.BillOfOperationsGroup,
            "BillOfOperationsVariant": self.BillOfOperationsVariant,
            "BillOfOperationsUsage": self.BillOfOperationsUsage,
            "BillOfOperationsChangeStateID": self.BillOfOperationsChangeStateID,
        }


class SapError(Exception):
    """An error SAP answers with: HTTP status, message class/number code, message text."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass
class State:
    """Every entity set's entities, by key tuple, and the number ranges SAP would draw from."""

    sets: dict[str, dict[tuple[str, ...], Entity]] = field(
        default_factory=lambda: {name: {} for name in KEYS}
    )
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    numbers: dict[str, int] = field(default_factory=dict)
    plans: dict[tuple[str, str], Plan] = field(default_factory=dict)
    """(Material, Plant) -> its inspection plan (not served, see :class:`Plan`)."""

    def key_of(self, entity_set: str, entity: Entity) -> tuple[str, ...]:
        return tuple(str(entity.get(name, "")) for name in KEYS[entity_set])

    def put(self, entity_set: str, entity: Entity) -> Entity:
        entity.setdefault("_etag", 1)
        self.sets[entity_set][self.key_of(entity_set, entity)] = entity
        return entity

    def get(self, entity_set: str, key: tuple[str, ...]) -> Entity | None:
        return self.sets[entity_set].get(key)

    def require(self, entity_set: str, key: tuple[str, ...]) -> Entity:
        found = self.get(entity_set, key)
        if found is None:
            shown = ",".join(key)
            raise SapError(
                404,
                "/IWBEP/CM_MGW_RT/020",
                f"Resource not found for segment '{entity_set}({shown})'",
            )
        return found

    def rows(self, entity_set: str) -> Iterator[Entity]:
        yield from self.sets[entity_set].values()

    def where(self, entity_set: str, **equal: str) -> list[Entity]:
        return [
            row
            for row in self.sets[entity_set].values()
            if all(str(row.get(name, "")) == value for name, value in equal.items())
        ]

    def touch(self, entity: Entity) -> None:
        """A change: a new ETag (and ``ChangedDateTime`` where the entity has one)."""
        entity["_etag"] = int(entity.get("_etag", 1)) + 1
        if "ChangedDateTime" in entity:
            entity["ChangedDateTime"] = self.clock()

    def next_number(self, range_name: str, start: int) -> int:
        number = max(self.numbers.get(range_name, start - 1), start - 1) + 1
        self.numbers[range_name] = number
        return number

    def navigate(self, entity_set: str, entity: Entity, nav: str) -> list[Entity] | Entity | None:
        spec = NAVIGATIONS[(entity_set, nav)]
        wanted = {target: str(entity.get(source, "")) for source, target in spec.link}
        found = self.where(spec.target, **wanted)
        if spec.many:
            return found
        return found[0] if found else None
