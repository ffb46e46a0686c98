"""ERP goods receipts, lots and stock, and the ERP half of a lot disposition."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Request, Response, get, post
from litestar.params import JSONBody

from shared.models import LotDisposition
from shared.models.commands import GoodsIssueCreate, GoodsReceiptCreate, LotDispositionChange
from shared.models.erp import GoodsReceipt, GoodsReceiptPage, Lot, LotPage
from shared.params import (
    Cursor,
    IfMatch,
    IfMatchRequired,
    Limit,
    as_enum,
    enum_query,
    id_query,
    path_id,
)
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
from system_apis._api import (
    ETAG,
    LOCATION,
    Erp,
    actor,
    etag,
    expected_version,
    page,
    record_response,
)
from system_apis.connectors.base import (
    DEFAULT_PAGE_SIZE,
    ErpCapability,
    GoodsReceiptFilter,
    LotFilter,
    require,
)
from system_apis.erp.schemas import LotStock
from system_apis.surfaces import ERP

__all__ = ["handlers"]

_READ: Final = requires("erp.read")
_WRITE: Final = requires("erp.write")

LotId = Annotated[str, path_id("The lot's id.")]
ReceiptId = Annotated[str, path_id("The goods receipt's id.")]


@get(
    "/goods-receipts",
    operation_id="listGoodsReceipts",
    summary="List goods receipts",
    tags=["Goods receipts"],
    security=_READ,
    responses=problems(READ, PAGED, 501),
)
async def list_goods_receipts(
    erp: Erp,
    po_id: Annotated[str | None, id_query("poId", "Only against this purchase order.")] = None,
    plant_id: Annotated[str | None, id_query("plantId", "Only at this plant.")] = None,
    supplier_id: Annotated[str | None, id_query("supplierId", "Only this supplier's.")] = None,
    lot_id: Annotated[str | None, id_query("lotId", "Only into this lot.")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> GoodsReceiptPage:
    require(erp, ErpCapability.GOODS_RECEIPTS)
    query = GoodsReceiptFilter(
        po_id=po_id, plant_id=plant_id, supplier_id=supplier_id, lot_id=lot_id
    )
    return await erp.list_goods_receipts(query, page(cursor, limit))


@get(
    "/goods-receipts/{receipt_id:str}",
    operation_id="getGoodsReceipt",
    summary="Get a goods receipt",
    tags=["Goods receipts"],
    security=_READ,
    responses=problems(READ, 404, 501),
    response_headers=[ETAG],
)
async def get_goods_receipt(erp: Erp, receipt_id: ReceiptId) -> Response[GoodsReceipt]:
    require(erp, ErpCapability.GOODS_RECEIPTS)
    return record_response(await erp.get_goods_receipt(receipt_id))


@post(
    "/goods-receipts",
    operation_id="postGoodsReceipt",
    summary="Post a goods receipt against a purchase-order line (idempotent)",
    description=(
        "Receives the quantity into a lot: into QUALITY_INSPECTION stock (lot in QUARANTINE) "
        "when the item requires inspection on receipt at the plant, else AVAILABLE. The same "
        "PO line and delivery note is posted once: a repeat returns the first receipt."
    ),
    tags=["Goods receipts"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, 404, 501),
    response_headers=[ETAG, LOCATION],
    status_code=201,
    opt=IDEMPOTENT,
)
async def post_goods_receipt(
    request: Request[Any, Any, Any],
    erp: Erp,
    data: JSONBody[GoodsReceiptCreate],
    idempotency_key: IdempotencyKey,
) -> Response[GoodsReceipt]:
    require(erp, ErpCapability.GOODS_RECEIPT_POSTING)
    receipt = await erp.post_goods_receipt(data, actor=actor(request))
    return record_response(
        receipt,
        status_code=201,
        location=f"{ERP.prefix}/goods-receipts/{receipt.receipt_id}",
    )


@get(
    "/lots",
    operation_id="listLots",
    summary="List lots (batches) with their disposition and stock",
    tags=["Lots"],
    security=_READ,
    responses=problems(READ, PAGED, 501),
)
async def list_lots(
    erp: Erp,
    plant_id: Annotated[str | None, id_query("plantId", "Only at this plant.")] = None,
    supplier_id: Annotated[str | None, id_query("supplierId", "Only from this supplier.")] = None,
    item_id: Annotated[str | None, id_query("itemId", "Only of this item.")] = None,
    disposition: Annotated[
        str | None, enum_query("disposition", LotDisposition, "Only in this status.")
    ] = None,
    supplier_lot_number: Annotated[
        str | None, id_query("supplierLotNumber", "Only with this supplier lot number.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
) -> LotPage:
    require(erp, ErpCapability.LOTS)
    query = LotFilter(
        plant_id=plant_id,
        supplier_id=supplier_id,
        item_id=item_id,
        disposition=as_enum(LotDisposition, disposition),
        supplier_lot_number=supplier_lot_number,
    )
    return await erp.list_lots(query, page(cursor, limit))


@get(
    "/lots/{lot_id:str}",
    operation_id="getLot",
    summary="Get a lot",
    tags=["Lots"],
    security=_READ,
    responses=problems(READ, 404, 501),
    response_headers=[ETAG],
)
async def get_lot(erp: Erp, lot_id: LotId) -> Response[Lot]:
    require(erp, ErpCapability.LOTS)
    return record_response(await erp.get_lot(lot_id))


@get(
    "/lots/{lot_id:str}/stock",
    operation_id="getLotStock",
    summary="Get a lot's stock by category",
    tags=["Lots"],
    security=_READ,
    responses=problems(READ, 404, 501),
    response_headers=[ETAG],
)
async def get_lot_stock(erp: Erp, lot_id: LotId) -> Response[LotStock]:
    require(erp, ErpCapability.LOTS)
    lot = await erp.get_lot(lot_id)
    return Response(LotStock.of(lot), headers={"ETag": etag(lot.version)})


@post(
    "/lots/{lot_id:str}/disposition-changes",
    operation_id="changeLotDisposition",
    summary="Change a lot's disposition and stock categories (idempotent, If-Match required)",
    description=(
        "The ERP half of a lot disposition: sets the lot's status and moves its stock between "
        "categories (the quantities must add up to the lot's total; none given moves all of it "
        "to the disposition's category). Requires `If-Match` with the lot's ETag: missing "
        "answers 428, stale 412. A final lot (SCRAPPED, RETURNED_TO_SUPPLIER) cannot change."
    ),
    tags=["Lots"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, 404, 412, 428, 501),
    response_headers=[ETAG],
    status_code=200,
    opt=IDEMPOTENT,
)
async def change_lot_disposition(
    request: Request[Any, Any, Any],
    erp: Erp,
    lot_id: LotId,
    data: JSONBody[LotDispositionChange],
    idempotency_key: IdempotencyKey,
    if_match: IfMatchRequired = None,
) -> Response[Lot]:
    require(erp, ErpCapability.LOT_DISPOSITION)
    version = expected_version(if_match, required=True)
    if version is None:  # If-Match: * (any version): the current one
        version = (await erp.get_lot(lot_id)).version
    lot = await erp.change_lot_disposition(
        lot_id, data, actor=actor(request), expected_version=version
    )
    return record_response(lot)


@post(
    "/lots/{lot_id:str}/goods-issues",
    operation_id="issueLotGoods",
    summary="Issue (consume) stock of a lot (idempotent)",
    description=(
        "Only released stock can be issued: AVAILABLE stock of a RELEASED lot, or RESTRICTED "
        "stock of a RESTRICTED lot. A lot in QUARANTINE, BLOCKED or REJECTED answers 409. "
        "`If-Match` is optional: with it, a stale ETag answers 412."
    ),
    tags=["Lots"],
    security=_WRITE,
    responses=problems(WRITE, REJECTABLE, 404, 412, 501),
    response_headers=[ETAG],
    status_code=200,
    opt=IDEMPOTENT,
)
async def issue_lot_goods(
    request: Request[Any, Any, Any],
    erp: Erp,
    lot_id: LotId,
    data: JSONBody[GoodsIssueCreate],
    idempotency_key: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response[Lot]:
    require(erp, ErpCapability.GOODS_ISSUE)
    lot = await erp.issue_goods(
        lot_id,
        data,
        actor=actor(request),
        expected_version=expected_version(if_match, required=False),
    )
    return record_response(lot)


handlers: Final = [
    list_goods_receipts,
    get_goods_receipt,
    post_goods_receipt,
    list_lots,
    get_lot,
    get_lot_stock,
    change_lot_disposition,
    issue_lot_goods,
]
