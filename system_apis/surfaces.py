"""The system layer's two surfaces: the canonical ERP and QMS contracts."""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

from shared.contracts import Link, Surface
from shared.diagnostics import diagnostic_examples

__all__ = ["ERP", "QMS", "SURFACES"]

_ON_BEHALF_OF: Final = (
    "The process layer names the caller it acts for in the `Qgate-On-Behalf-Of` header "
    "(base64url JSON list of callers, original first), accepted only from clients holding "
    "`qgate.delegate`."
)
_CONVENTIONS: Final = (
    'Every record carries `version` and answers with `ETag: "<version>"`; updates take it as '
    "`If-Match` (stale: 412). Lists paginate with `cursor` / `limit` (`nextCursor` is absent on "
    "the last page). Unsafe operations require `Idempotency-Key`. What the connected system "
    "cannot do answers 501 `capability-unsupported`; what it refuses answers 409 "
    "`backend-rejected` with its reason."
)


def _examples() -> ModuleType:
    # Imported when a contract is rendered: the demo data is not needed to serve requests.
    return importlib.import_module("system_apis.examples")


def _to(operation_id: str, **parameters: str) -> Link:
    return Link(operation_id=operation_id, parameters=parameters)


_LOT: Final = {"lot_id": "$response.body#/lotId"}
_LOT_WITH_ETAG: Final = {**_LOT, "header.If-Match": "$response.header.ETag"}

ERP = Surface(
    name="erp",
    prefix="/system/erp/v1",
    title="qgate ERP system API",
    description=(
        "Canonical, vendor-neutral contract over the ERP: items, suppliers, purchase orders, "
        "goods receipts, lots and stock. Write scopes belong to the process layer's service "
        f"client and the operations client only. {_ON_BEHALF_OF}\n\n{_CONVENTIONS}"
    ),
    contract="system_apis/erp.v1.yaml",
    tags={
        "Diagnostics": "Verify the caller and the chain of layers.",
        "Plants": "Plants (sites) known to the ERP.",
        "Items": "Material master, with per-plant inspection-on-receipt flags.",
        "Suppliers": "Suppliers and their purchasing block.",
        "Purchase orders": "Purchase orders and their lines.",
        "Goods receipts": "Receipts against purchase-order lines, into lots.",
        "Lots": "Lots (batches): disposition, stock by category, issue and status changes.",
    },
    examples=lambda: {**diagnostic_examples(), **_examples().erp_examples()},
    links={
        "getSupplier": {
            "SetPurchasingBlock": _to(
                "setSupplierPurchasingBlock",
                supplier_id="$response.body#/supplierId",
                **{"header.If-Match": "$response.header.ETag"},
            )
        },
        "getPurchaseOrder": {
            "GetSupplier": _to("getSupplier", supplier_id="$response.body#/supplierId"),
            "GetPlant": _to("getPlant", plant_id="$response.body#/plantId"),
        },
        "postGoodsReceipt": {
            "GetGoodsReceipt": _to("getGoodsReceipt", receipt_id="$response.body#/receiptId"),
            "GetLot": _to("getLot", **_LOT),
            "GetPurchaseOrder": _to("getPurchaseOrder", po_id="$response.body#/poId"),
        },
        "getGoodsReceipt": {"GetLot": _to("getLot", **_LOT)},
        "getLot": {
            "GetLotStock": _to("getLotStock", **_LOT),
            "GetItem": _to("getItem", item_id="$response.body#/itemId"),
            "ChangeLotDisposition": _to("changeLotDisposition", **_LOT_WITH_ETAG),
            "IssueLotGoods": _to("issueLotGoods", **_LOT_WITH_ETAG),
        },
        "changeLotDisposition": {
            "GetLot": _to("getLot", **_LOT),
            "ChangeLotDispositionAgain": _to("changeLotDisposition", **_LOT_WITH_ETAG),
        },
        "issueLotGoods": {"GetLotStock": _to("getLotStock", **_LOT)},
    },
)

_INSPECTION: Final = {"inspection_id": "$response.body#/inspectionId"}
_NC: Final = {"nc_id": "$response.body#/ncId"}
_CAPA: Final = {"capa_id": "$response.body#/capaId"}

QMS = Surface(
    name="qms",
    prefix="/system/qms/v1",
    title="qgate QMS system API",
    description=(
        "Canonical, vendor-neutral contract over the QMS: specifications, inspections and "
        "results, usage decisions, nonconformances, CAPA and supplier quality. "
        f"{_ON_BEHALF_OF}\n\n{_CONVENTIONS}"
    ),
    contract="system_apis/qms.v1.yaml",
    tags={
        "Diagnostics": "Verify the caller and the chain of layers.",
        "Specifications": "Versioned inspection specifications with characteristic limits.",
        "Inspections": "Inspections, results per characteristic and usage decisions.",
        "Nonconformances": "Nonconformances along their status transitions.",
        "CAPA": "Corrective and preventive actions through the 8D stages.",
        "Supplier quality": "Supplier quality events and status.",
    },
    examples=lambda: {**diagnostic_examples(), **_examples().qms_examples()},
    links={
        "createInspection": {
            "GetInspection": _to("getInspection", **_INSPECTION),
            "RecordResults": _to("recordInspectionResults", **_INSPECTION),
            "RecordUsageDecision": _to("recordUsageDecision", **_INSPECTION),
            "GetSpecification": _to("getSpecification", spec_id="$response.body#/specId"),
        },
        "recordInspectionResults": {
            "GetInspection": _to("getInspection", **_INSPECTION),
            "RecordUsageDecision": _to("recordUsageDecision", **_INSPECTION),
        },
        "createNonconformance": {
            "GetNonconformance": _to("getNonconformance", **_NC),
            "UpdateNonconformance": _to("updateNonconformance", **_NC),
        },
        "updateNonconformance": {
            "UpdateNonconformanceAgain": _to("updateNonconformance", **_NC),
        },
        "createCapa": {
            "GetCapa": _to("getCapa", **_CAPA),
            "AdvanceCapaStage": _to("advanceCapaStage", **_CAPA),
        },
        "advanceCapaStage": {"AdvanceCapaStageAgain": _to("advanceCapaStage", **_CAPA)},
        "recordSupplierQualityEvent": {
            "GetSupplierQualityStatus": _to(
                "getSupplierQualityStatus", supplier_id="$response.body#/supplierId"
            )
        },
    },
)

SURFACES = (ERP, QMS)
