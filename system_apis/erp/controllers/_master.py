"""ERP master data: plants, items, suppliers (with the purchasing block), purchase orders."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, Response, get, put
from litestar.params import JSONBody

from shared.models.commands import PurchasingBlockChange
from shared.models.erp import (
    Item,
    ItemPage,
    Plant,
    PlantPage,
    PurchaseOrder,
    PurchaseOrderPage,
    Supplier,
    SupplierPage,
)
from shared.params import Cursor, IfMatch, Limit, as_flag, flag_query, id_query, path_id
from shared.routes import (
    IDEMPOTENT,
    PAGED,
    READ,
    REJECTABLE,
    WRITE,
    IdempotencyKey,
    problems,
    requires,
)
from system_apis._api import ETAG, Erp, actor, expected_version, page, record_response
from system_apis.connectors.base import (
    DEFAULT_PAGE_SIZE,
    ErpCapability,
    ItemFilter,
    PurchaseOrderFilter,
    SupplierFilter,
    require,
)

__all__ = ["handlers"]

_READ: Final = requires("erp.read")
_WRITE: Final = requires("erp.write")
_GET_ERRORS: Final = problems(READ, 404, 501)
_LIST_ERRORS: Final = problems(READ, PAGED, 501)

PlantId = Annotated[str, path_id("The plant's id.")]
ItemId = Annotated[str, path_id("The item's id.")]
SupplierId = Annotated[str, path_id("The supplier's id.")]
PoId = Annotated[str, path_id("The purchase order's id.")]


@get(
    "/plants",
    operation_id="listPlants",
    summary="List plants",
    tags=["Plants"],
    security=_READ,
    responses=_LIST_ERRORS,
)
async def list_plants(
    erp: Erp, cursor: Cursor = None, limit: Limit = DEFAULT_PAGE_SIZE
) -> PlantPage:
    require(erp, ErpCapability.PLANTS)
    return await erp.list_plants(page(cursor, limit))


@get(
    "/plants/{plant_id:str}",
    operation_id="getPlant",
    summary="Get a plant",
    tags=["Plants"],
    security=_READ,
    responses=_GET_ERRORS,
    response_headers=[ETAG],
)
async def get_plant(erp: Erp, plant_id: PlantId) -> Response[Plant]:
    require(erp, ErpCapability.PLANTS)
    return record_response(await erp.get_plant(plant_id))


@get(
    "/items",
    operation_id="listItems",
    summary="List items (material master)",
    tags=["Items"],
    security=_READ,
    responses=_LIST_ERRORS,
)
async def list_items(
    erp: Erp,
    plant_id: Annotated[str | None, id_query("plantId", "Only items set up at this plant.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> ItemPage:
    require(erp, ErpCapability.ITEMS)
    return await erp.list_items(ItemFilter(plant_id=plant_id), page(cursor, limit))


@get(
    "/items/{item_id:str}",
    operation_id="getItem",
    summary="Get an item, with its per-plant inspection-on-receipt flags",
    tags=["Items"],
    security=_READ,
    responses=_GET_ERRORS,
    response_headers=[ETAG],
)
async def get_item(erp: Erp, item_id: ItemId) -> Response[Item]:
    require(erp, ErpCapability.ITEMS)
    return record_response(await erp.get_item(item_id))


@get(
    "/suppliers",
    operation_id="listSuppliers",
    summary="List suppliers",
    tags=["Suppliers"],
    security=_READ,
    responses=_LIST_ERRORS,
)
async def list_suppliers(
    erp: Erp,
    purchasing_blocked: Annotated[
        str | None, flag_query("purchasingBlocked", "Only (un)blocked suppliers.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> SupplierPage:
    require(erp, ErpCapability.SUPPLIERS)
    return await erp.list_suppliers(
        SupplierFilter(purchasing_blocked=as_flag(purchasing_blocked)), page(cursor, limit)
    )


@get(
    "/suppliers/{supplier_id:str}",
    operation_id="getSupplier",
    summary="Get a supplier, with its purchasing block and QMS certification",
    tags=["Suppliers"],
    security=_READ,
    responses=_GET_ERRORS,
    response_headers=[ETAG],
)
async def get_supplier(erp: Erp, supplier_id: SupplierId) -> Response[Supplier]:
    require(erp, ErpCapability.SUPPLIERS)
    return record_response(await erp.get_supplier(supplier_id))


@put(
    "/suppliers/{supplier_id:str}/purchasing-block",
    operation_id="setSupplierPurchasingBlock",
    summary="Set or lift a supplier's purchasing block (idempotent)",
    description=(
        "Blocks exactly the given purchasing functions (RFQ, PURCHASE_ORDER, GOODS_RECEIPT, "
        "PAYMENT) for the reason given; an empty `functions` list lifts the block. "
        "`If-Match` is optional: with it, a stale ETag answers 412."
    ),
    tags=["Suppliers"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, 404, 412, 501),
    response_headers=[ETAG],
    opt=IDEMPOTENT,
)
async def set_supplier_purchasing_block(
    request: Request[Any, Any, Any],
    erp: Erp,
    supplier_id: SupplierId,
    data: JSONBody[PurchasingBlockChange],
    idempotency_key: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response[Supplier]:
    require(erp, ErpCapability.PURCHASING_BLOCK)
    supplier = await erp.set_purchasing_block(
        supplier_id,
        data,
        actor=actor(request),
        expected_version=expected_version(if_match, required=False),
    )
    return record_response(supplier)


@get(
    "/purchase-orders",
    operation_id="listPurchaseOrders",
    summary="List purchase orders",
    tags=["Purchase orders"],
    security=_READ,
    responses=_LIST_ERRORS,
)
async def list_purchase_orders(
    erp: Erp,
    supplier_id: Annotated[str | None, id_query("supplierId", "Only this supplier's.")] = None,
    plant_id: Annotated[str | None, id_query("plantId", "Only for this plant.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> PurchaseOrderPage:
    require(erp, ErpCapability.PURCHASE_ORDERS)
    return await erp.list_purchase_orders(
        PurchaseOrderFilter(supplier_id=supplier_id, plant_id=plant_id), page(cursor, limit)
    )


@get(
    "/purchase-orders/{po_id:str}",
    operation_id="getPurchaseOrder",
    summary="Get a purchase order with its lines",
    tags=["Purchase orders"],
    security=_READ,
    responses=_GET_ERRORS,
    response_headers=[ETAG],
)
async def get_purchase_order(erp: Erp, po_id: PoId) -> Response[PurchaseOrder]:
    require(erp, ErpCapability.PURCHASE_ORDERS)
    return record_response(await erp.get_purchase_order(po_id))


handlers: Final = [
    list_plants,
    get_plant,
    list_items,
    get_item,
    list_suppliers,
    get_supplier,
    set_supplier_purchasing_block,
    list_purchase_orders,
    get_purchase_order,
]
