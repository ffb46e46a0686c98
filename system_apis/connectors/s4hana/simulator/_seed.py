"""The simulator's demo data: the reference demo's plants, products, suppliers, purchase orders
and lots, booked the way S/4HANA would have booked them (goods receipts, inspection lots, usage
decisions, transfer postings, goods issues), so the connector reads the same lots back
(``LOT-1000-0022`` is batch ``0022`` at plant 1000).

The demo's specifications become inspection plans (one change state per version), and its
inspections the inspection lots' results: a goods-receipt inspection is the receipt's lot of
origin 01 with the inspection's results recorded before its usage decision; any other (the
cancelled stock check) an origin-89 lot made through the API for the batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from shared.models import (
    CharacteristicValuation,
    InspectionOrigin,
    InspectionStatus,
    LotDisposition,
    StockCategory,
)
from shared.models.erp import GoodsReceipt, Lot, PurchaseOrder, Supplier
from shared.models.lifecycle import DEFAULT_CATEGORY
from shared.models.qms import Inspection, Specification
from shared.settings import S4HanaSettings
from system_apis.connectors.reference import ISSUABLE, build_demo
from system_apis.connectors.s4hana._mapping import PlantCodes, parse_lot_id, parse_po_id
from system_apis.connectors.s4hana._notes import BlockNote
from system_apis.connectors.s4hana._odata import decimal_text, odata_date
from system_apis.connectors.s4hana._postings import (
    Bucket,
    plan_moves,
    transfer_document,
    ud_stock_posting,
    usage_decision,
)
from system_apis.connectors.s4hana.simulator._inspection import (
    cancel_inspection_lot,
    create_api_inspection_lot,
    plan_characteristic,
    record_inspection_result,
)
from system_apis.connectors.s4hana.simulator._postings import (
    active_inspection_lot,
    post_material_document,
    post_ud_stock,
    record_usage_decision,
)
from system_apis.connectors.s4hana.simulator._query import from_wire
from system_apis.connectors.s4hana.simulator._state import Plan, State

__all__ = ["block_code", "demo_block_notes", "seed_demo"]

_QM_SYSTEMS = {"IATF 16949": "IATF", "ISO 9001": "ISO9"}
_USER = "DEMO_SEED"
_UNITS = {"degC": "°C", "MOhm": "MΩ", "0.1mm": "dmm"}
"""SAP units of measure have at most three characters: the demo's longer ones as the
simulator's unit customizing names them (the others are kept as the demo writes them)."""


@contextmanager
def _at(state: State, moment: datetime) -> Iterator[None]:
    clock = state.clock
    state.clock = lambda: moment
    try:
        yield
    finally:
        state.clock = clock


def seed_demo(state: State, settings: S4HanaSettings) -> State:
    """Fill ``state`` with the demo (deterministic: the same state on every call)."""
    erp, qms = build_demo()
    for plant in erp.plants:
        state.put(
            "A_Plant",
            {
                "Plant": plant.plant_id,
                "PlantName": plant.name,
                "CompanyCode": "1010",
                "CompanyCodeName": "qgate Demo",
            },
        )
    for item in erp.items:
        state.put(
            "A_Product",
            {
                "Product": item.item_id,
                "ProductType": "ROH",
                "BaseUnit": item.base_uom,
                "IsBatchManagementRequired": item.batch_managed,
                "QltyMgmtInProcmtIsActive": True,
                "LastChangeDateTime": None,
            },
        )
        state.put(
            "A_ProductDescription",
            {"Product": item.item_id, "Language": "EN", "ProductDescription": item.description},
        )
        for item_plant in item.plants:
            inspect = item_plant.inspection_required_on_receipt
            state.put(
                "A_ProductPlant",
                {
                    "Product": item.item_id,
                    "Plant": item_plant.plant_id,
                    "HasPostToInspectionStock": inspect,
                    "IsBatchManagementRequired": item.batch_managed,
                    "BaseUnit": item.base_uom,
                },
            )
            state.put(
                "A_ProductPlantQualityMgmt",
                {
                    "Product": item.item_id,
                    "Plant": item_plant.plant_id,
                    "HasPostToInspectionStock": inspect,
                    "QualityMgmtCtrlKey": "0001" if inspect else "",
                    "InspLotDocumentationIsRequired": False,
                },
            )
    _plans(state, qms.specifications)
    for supplier in erp.suppliers:
        _supplier(state, settings, supplier)
    for order in erp.purchase_orders:
        number = parse_po_id(order.po_id)
        state.put(
            "A_PurchaseOrder",
            {
                "PurchaseOrder": number,
                "CompanyCode": "1010",
                "PurchaseOrderType": "NB",
                "Supplier": order.supplier_id,
                "PurchasingOrganization": "1010",
                "PurchasingGroup": "001",
                "PurchaseOrderDate": order.ordered_at,
                "CreationDate": order.ordered_at,
                "DocumentCurrency": "EUR",
                "PurchasingProcessingStatus": "05",
            },
        )
        for line in order.lines:
            codes = PlantCodes.of(settings, line.plant_id)
            state.put(
                "A_PurchaseOrderItem",
                {
                    "PurchaseOrder": number,
                    "PurchaseOrderItem": f"{line.line_no:05d}",
                    "Plant": line.plant_id,
                    "StorageLocation": codes.codes.storage_location,
                    "Material": line.item_id,
                    "OrderQuantity": decimal_text(line.quantity),
                    "PurchaseOrderQuantityUnit": line.uom,
                    "OverdelivTolrtdLmtRatioInPct": "10.0",
                    "UnderdelivTolrtdLmtRatioInPct": "0.0",
                    "GoodsReceiptIsExpected": True,
                    "IsCompletelyDelivered": False,
                    "PurchaseOrderItemCategory": "0",
                },
            )
    lots = {lot.lot_id: lot for lot in erp.lots}
    on_receipt = {
        i.lot_id: i for i in qms.inspections if i.origin is InspectionOrigin.GOODS_RECEIPT
    }
    others = sorted(
        (i for i in qms.inspections if i.origin is not InspectionOrigin.GOODS_RECEIPT),
        key=lambda i: i.created_at,
    )
    for receipt in erp.goods_receipts:
        while others and others[0].created_at < receipt.received_at:
            _other_inspection(state, others.pop(0))  # lot numbers grow with time, as in SAP
        _book_lot(state, settings, receipt, lots[receipt.lot_id], on_receipt.get(receipt.lot_id))
    for other in others:
        _other_inspection(state, other)
    for supplier in erp.suppliers:
        _block(state, supplier)
        if supplier.quality_status.value in ("PROBATION", "BLOCKED", "DISQUALIFIED"):
            _quality_info_records(state, supplier, erp.purchase_orders)
    return state


def _plans(state: State, specifications: list[Specification]) -> None:
    """An inspection plan per material at every plant where it exists: task list group
    ``5000000n`` per material (in catalog order), a change state per version of the material's
    specification (the change state id is the version), the current one the highest."""
    materials = list(dict.fromkeys(spec.item_id for spec in specifications))
    for number, material in enumerate(materials, start=1):
        versions = sorted(
            (spec for spec in specifications if spec.item_id == material),
            key=lambda spec: spec.spec_version,
        )
        for row in state.where("A_ProductPlant", Product=material):
            plant = str(row["Plant"])
            states = [_plan(f"{50000000 + number:08d}", spec, plant) for spec in versions]
            state.plans[(material, plant)] = replace(states[-1], earlier=tuple(states[:-1]))


def _plan(group: str, spec: Specification, plant: str) -> Plan:
    return Plan(
        BillOfOperationsGroup=group,
        BillOfOperationsChangeStateID=str(spec.spec_version),
        valid_from=spec.valid_from,
        characteristics=tuple(
            plan_characteristic(
                index,
                master=char.characteristic_id,
                plant=plant,
                text=char.name,
                quantitative=char.quantitative,
                lower=char.lower_limit,
                upper=char.upper_limit,
                target=char.target,
                unit=_UNITS.get(char.uom or "", char.uom or ""),
                critical=char.critical,
            )
            for index, char in enumerate(spec.characteristics)
        ),
    )


def _record_results(state: State, number: str, inspection: Inspection) -> None:
    """The inspection's recorded results, posted as a client posts them: the measured value of
    a quantitative characteristic (SAP valuates it), the valuation of a qualitative one."""
    chars = {
        str(c["InspectionSpecification"]): c
        for c in state.where("A_InspectionCharacteristic", InspectionLot=number)
    }
    for result in inspection.results:
        if result.valuation is CharacteristicValuation.NOT_EVALUATED:
            continue
        char = chars.get(result.characteristic_id)
        if char is None:
            raise ValueError(
                f"{inspection.inspection_id}: characteristic {result.characteristic_id} is not "
                f"in the plan of inspection lot {number}"
            )
        body = {
            "InspectionLot": number,
            "InspPlanOperationInternalID": char["InspPlanOperationInternalID"],
            "InspectionCharacteristic": char["InspectionCharacteristic"],
            "InspectionResultText": (result.note or "")[:40],
        }
        if result.measured_value is not None:
            body["InspResultFrmtdMeanValue"] = str(result.measured_value)
        else:
            accepted = result.valuation is CharacteristicValuation.ACCEPT
            body["InspectionValuationResult"] = "A" if accepted else "R"
        record_inspection_result(state, body, _USER)


def _other_inspection(state: State, inspection: Inspection) -> None:
    """An inspection not made by a goods receipt (the demo's stock check): an origin-89 lot
    for the batch, its results, cancelled an hour later when the QMS cancelled it."""
    if inspection.status is InspectionStatus.DECIDED:
        raise ValueError(f"{inspection.inspection_id}: no usage decision codes for origin 89")
    key = parse_lot_id(inspection.lot_id)
    with _at(state, inspection.created_at):
        lot = create_api_inspection_lot(
            state,
            {
                "Material": inspection.item_id,
                "Plant": key.plant,
                "Batch": key.batch,
                "Supplier": inspection.supplier_id or "",
                "InspectionLotQuantity": decimal_text(inspection.quantity),
                "InspectionLotText": "Stock re-inspection",
            },
            _USER,
        )
        _record_results(state, lot["InspectionLot"], inspection)
    if inspection.status is InspectionStatus.CANCELLED:
        with _at(state, inspection.created_at + timedelta(hours=1)):
            cancel_inspection_lot(state, lot["InspectionLot"])


def _supplier(state: State, settings: S4HanaSettings, supplier: Supplier) -> None:
    certification = supplier.qms_certification
    valid_to = (
        datetime.combine(certification.valid_to, datetime.min.time(), tzinfo=UTC)
        if certification
        else None
    )
    state.put(
        "A_Supplier",
        {
            "Supplier": supplier.supplier_id,
            "SupplierName": supplier.name,
            "SupplierFullName": supplier.name,
            "SupplierAccountGroup": "SUPL",
            "PurchasingIsBlocked": False,
            "PaymentIsBlockedForSupplier": False,
            "PostingIsBlocked": False,
            "SupplierProcurementBlock": "",
            "SuplrQualityManagementSystem": (
                _QM_SYSTEMS.get(certification.standard, "") if certification else ""
            ),
            "SuplrQltyInProcmtCertfnValidTo": valid_to,
            "DeletionIndicator": False,
        },
    )
    state.put(
        "A_BusinessPartnerAddress",
        {"BusinessPartner": supplier.supplier_id, "AddressID": "1", "Country": supplier.country},
    )
    for organization in sorted({c.purchasing_organization for c in settings.plants.values()}):
        state.put(
            "A_SupplierPurchasingOrg",
            {
                "Supplier": supplier.supplier_id,
                "PurchasingOrganization": organization,
                "PurchasingIsBlockedForSupplier": False,
            },
        )


def _quality_info_records(state: State, supplier: Supplier, orders: list[PurchaseOrder]) -> None:
    """A quality info record (material x supplier x plant) blocking procurement of each material
    the supplier delivers: SAP keeps quality status per material, not per supplier."""
    supplied = sorted(
        {
            (ln.item_id, ln.plant_id)
            for o in orders
            if o.supplier_id == supplier.supplier_id
            for ln in o.lines
        }
    )
    for material, plant in supplied:
        number = len(state.where("QualityInProcurement", Material=material)) + 1
        state.put(
            "QualityInProcurement",
            {
                "Material": material,
                "QltyInProcmtIntID": f"{number:06d}",
                "Supplier": supplier.supplier_id,
                "Plant": plant,
                "ProcurementBlock": "1",
                "BlockReason": f"Supplier quality status {supplier.quality_status.value}"[:40],
            },
        )


def _block(state: State, supplier: Supplier) -> None:
    """Blocks come after the demo's receipts (a blocked supplier delivered before)."""
    block = supplier.purchasing_block
    if block is None:
        return
    functions = {f.value for f in block.functions}
    row = state.require("A_Supplier", (supplier.supplier_id,))
    row["PurchasingIsBlocked"] = "PURCHASE_ORDER" in functions
    row["PaymentIsBlockedForSupplier"] = "PAYMENT" in functions
    row["SupplierProcurementBlock"] = block_code(functions)
    for org in state.where("A_SupplierPurchasingOrg", Supplier=supplier.supplier_id):
        org["PurchasingIsBlockedForSupplier"] = "PURCHASE_ORDER" in functions


def block_code(functions: set[str]) -> str:
    rfq, gr = "RFQ" in functions, "GOODS_RECEIPT" in functions
    return "Q3" if rfq and gr else "Q2" if gr else "Q1" if rfq else ""


def demo_block_notes() -> dict[str, BlockNote]:
    """qgate's notes of the demo's purchasing blocks (as if qgate had set them: version 2)."""
    erp, _ = build_demo()
    return {
        s.supplier_id: BlockNote(
            functions=tuple(sorted({f.value for f in s.purchasing_block.functions})),
            reason=s.purchasing_block.reason,
            actor=s.purchasing_block.blocked_by,
            at=s.purchasing_block.blocked_at,
            version=2,
        )
        for s in erp.suppliers
        if s.purchasing_block is not None
    }


def _book_lot(
    state: State,
    settings: S4HanaSettings,
    receipt: GoodsReceipt,
    lot: Lot,
    recorded: Inspection | None,
) -> None:
    """``recorded``: the QMS's inspection of the receipt, whose results go on the receipt's
    inspection lot before its usage decision (SAP refuses results after one)."""
    key = parse_lot_id(lot.lot_id)
    codes = PlantCodes.of(settings, key.plant)
    po = parse_po_id(receipt.po_id)
    with _at(state, receipt.received_at):
        post_material_document(
            state,
            from_wire(
                {
                    "GoodsMovementCode": "01",
                    "PostingDate": odata_date(receipt.received_at),
                    "ReferenceDocument": receipt.delivery_note or "",
                    "to_MaterialDocumentItem": {
                        "results": [
                            {
                                "GoodsMovementType": "101",
                                "PurchaseOrder": po,
                                "PurchaseOrderItem": f"{receipt.line_no:05d}",
                                "Plant": key.plant,
                                "StorageLocation": codes.codes.storage_location,
                                "Batch": key.batch,
                                "QuantityInEntryUnit": decimal_text(receipt.quantity),
                                "MaterialDocumentItemText": receipt.supplier_lot_number or "",
                            }
                        ]
                    },
                }
            ),
            _USER,
        )
    issued = (
        round(receipt.quantity - lot.total_quantity, 3)
        if lot.disposition is not LotDisposition.SCRAPPED
        else 0.0
    )
    final = {b.category: b.quantity for b in lot.stock if b.quantity > 0}
    if issued > 0:
        category = ISSUABLE[lot.disposition]
        final[category] = round(final.get(category, 0.0) + issued, 3)
    changed_at = (
        min(receipt.received_at + timedelta(days=2), lot.updated_at)
        if lot.version > 1
        else receipt.received_at
    )
    inspection = active_inspection_lot(state, lot.item_id, key.plant, key.batch)
    decided = lot.disposition
    if decided in (LotDisposition.SCRAPPED, LotDisposition.RETURNED_TO_SUPPLIER):
        decided = LotDisposition.REJECTED
    if recorded is not None:
        if inspection is None:
            raise ValueError(f"{recorded.inspection_id}: {lot.lot_id} has no inspection lot")
        results_at = recorded.created_at + timedelta(hours=1)
        if lot.disposition is not LotDisposition.QUARANTINE:  # decided at changed_at
            results_at = min(results_at, changed_at)
        with _at(state, results_at):
            _record_results(state, inspection["InspectionLot"], recorded)
    with _at(state, changed_at):
        if inspection is not None and lot.disposition is not LotDisposition.QUARANTINE:
            _decide(
                state,
                codes,
                inspection["InspectionLot"],
                lot,
                decided,
                final if decided is lot.disposition else {StockCategory.BLOCKED: receipt.quantity},
            )
        elif inspection is None and lot.disposition is not LotDisposition.RELEASED:
            _transfer(
                state,
                codes,
                lot,
                [Bucket(codes.codes.storage_location, StockCategory.AVAILABLE, receipt.quantity)],
                decided,
                final if decided is lot.disposition else {StockCategory.BLOCKED: receipt.quantity},
            )
        if decided is not lot.disposition:
            location = codes.storage_location(LotDisposition.REJECTED)
            target = {} if DEFAULT_CATEGORY[lot.disposition] is None else final
            _transfer(
                state,
                codes,
                lot,
                [Bucket(location, StockCategory.BLOCKED, receipt.quantity)],
                lot.disposition,
                target,
            )
    if issued > 0:
        category = ISSUABLE[lot.disposition]
        with _at(state, lot.updated_at):
            post_material_document(
                state,
                from_wire(
                    {
                        "GoodsMovementCode": "03",
                        "PostingDate": odata_date(lot.updated_at),
                        "to_MaterialDocumentItem": {
                            "results": [
                                {
                                    "GoodsMovementType": "201",
                                    "Material": lot.item_id,
                                    "Plant": key.plant,
                                    "StorageLocation": codes.codes.storage_location,
                                    "Batch": key.batch,
                                    "InventoryStockType": codes.stock_type(category),
                                    "QuantityInEntryUnit": decimal_text(issued),
                                    "EntryUnit": lot.uom,
                                }
                            ]
                        },
                    }
                ),
                _USER,
            )


def _decide(
    state: State,
    codes: PlantCodes,
    inspection_lot: str,
    lot: Lot,
    disposition: LotDisposition,
    target: dict[StockCategory, float],
) -> None:
    record_usage_decision(
        state, from_wire(usage_decision(codes, inspection_lot, disposition)), _USER
    )
    quantity = float(
        Decimal(state.require("A_InspectionLot", (inspection_lot,))["InspLotQtyToBePosted"])
    )
    location = codes.storage_location(disposition)
    for move in plan_moves(
        [Bucket(codes.codes.storage_location, StockCategory.QUALITY_INSPECTION, quantity)],
        target,
        location,
    ):
        post_ud_stock(
            state, from_wire(ud_stock_posting(codes, inspection_lot, move, "Demo")), _USER
        )


def _transfer(
    state: State,
    codes: PlantCodes,
    lot: Lot,
    current: list[Bucket],
    disposition: LotDisposition,
    target: dict[StockCategory, float],
) -> None:
    key = parse_lot_id(lot.lot_id)
    moves = plan_moves(current, target, codes.storage_location(disposition))
    body = transfer_document(
        codes,
        material=lot.item_id,
        batch=key.batch,
        uom=lot.uom,
        moves=moves,
        disposition=disposition,
        posted_at=state.clock(),
        text="Demo",
    )
    post_material_document(state, from_wire(body), _USER)
