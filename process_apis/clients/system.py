"""The process layer's typed client of the system APIs (ERP and QMS), over :class:`LayerClient`.

Every call speaks canonical Structs (``shared.models``) and translates the system layer's
problem+json answers back into qgate's error tree, so a process reads like business code:

- 404 -> :class:`NotFound` and 409 ``backend-rejected`` -> :class:`BackendRejected`, with the
  system layer's detail (the ERP's or QMS's own reason);
- 412 -> :class:`PreconditionFailed` (a stale ``If-Match``);
- 409 ``idempotency-key-in-flight`` and 429 -> :class:`DownstreamUnavailable` (retry later);
- 501 -> :class:`CapabilityUnsupported`;
- anything else that is not a success -> :class:`DownstreamRejected` (502): qgate sent something
  its own contract refuses, which is a bug to fix, not the caller's fault.

Transport failures, 5xx and timeouts are raised by :class:`LayerClient` already
(:class:`DownstreamUnavailable`, :class:`DownstreamTimeout`, both retryable).

Writes take the idempotency key the caller derives (deterministic per business operation and
step), so a retry of the same step is answered from the system layer's idempotency store and
never posts twice.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Final, TypeVar

import httpx
import msgspec

from shared.auth import Caller
from shared.errors import (
    BackendRejected,
    CapabilityUnsupported,
    DownstreamRejected,
    DownstreamUnavailable,
    InvalidCursor,
    NotFound,
    PreconditionFailed,
)
from shared.http import LayerClient
from shared.models.commands import (
    InspectionCreate,
    LotDispositionChange,
    NonconformanceCreate,
    PurchasingBlockChange,
    ResultsRecord,
    UsageDecisionCreate,
)
from shared.models.erp import GoodsReceipt, Lot, LotPage, Supplier
from shared.models.qms import (
    Capa,
    CapaPage,
    Inspection,
    InspectionPage,
    Nonconformance,
    NonconformancePage,
    SupplierQualityStatus,
)

__all__ = ["ERP", "QMS", "LotRead", "SystemClient"]

ERP: Final = "/system/erp/v1"
QMS: Final = "/system/qms/v1"
_T = TypeVar("_T")
_log = logging.getLogger("qgate.process.system")
_MAX_PAGES: Final = 500
"""A list is read at most this many pages deep (x 200 records): a runaway cursor stops here."""


class LotRead(msgspec.Struct, frozen=True):
    """A lot and the ETag it was read with (``If-Match`` for its next change)."""

    lot: Lot
    etag: str


def _detail(response: httpx.Response) -> tuple[str, str]:
    """(problem slug, detail) of a problem+json answer; empty strings when it is not one."""
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    slug = str(body.get("type", "")).rsplit("/", 1)[-1]
    return slug, str(body.get("detail") or body.get("title") or "")


class SystemClient:
    """ERP and QMS operations of the system layer, on behalf of the callers in ``chain``."""

    def __init__(self, layer: LayerClient) -> None:
        self._layer = layer

    @property
    def layer(self) -> LayerClient:
        return self._layer

    async def _call(
        self,
        method: str,
        path: str,
        *,
        into: type[_T],
        chain: Sequence[Caller],
        body: Any = None,
        key: str | None = None,
        if_match: str | None = None,
        ok: tuple[int, ...] = (200, 201),
    ) -> tuple[_T, httpx.Response]:
        headers: dict[str, str] = {}
        if key is not None:
            headers["Idempotency-Key"] = key
        if if_match is not None:
            headers["If-Match"] = if_match
        response = await self._layer.request(
            method, path, json=body, on_behalf_of=chain, headers=headers
        )
        if response.status_code in ok:
            try:
                return msgspec.json.decode(response.content, type=into), response
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                _log.error("unusable answer from %s %s: %s", method, path, exc)
                raise DownstreamRejected(f"the system layer answered {path} unusably") from exc
        raise self._error(method, path, response)

    @staticmethod
    def _error(method: str, path: str, response: httpx.Response) -> Exception:
        status = response.status_code
        slug, detail = _detail(response)
        if status == 404:
            return NotFound(detail or f"{path} does not exist")
        if status == 400 and slug == "invalid-cursor":
            return InvalidCursor(detail or "The cursor is not one this list issued.")
        if status == 409 and slug == "backend-rejected":
            return BackendRejected(detail)
        if status == 412:
            return PreconditionFailed(detail or "the record changed since it was read")
        if (status == 409 and slug == "idempotency-key-in-flight") or status == 429:
            return DownstreamUnavailable(f"the system layer is busy with {path} ({status})")
        if status == 501:
            return CapabilityUnsupported(detail or "not supported by the connected system")
        _log.error("the system layer refused %s %s with %s: %s", method, path, status, detail)
        return DownstreamRejected(f"the system layer refused {method} {path} ({status})")

    async def _get(self, path: str, into: type[_T], chain: Sequence[Caller]) -> _T:
        record, _ = await self._call("GET", path, into=into, chain=chain)
        return record

    async def _post(
        self,
        path: str,
        body: msgspec.Struct,
        into: type[_T],
        *,
        key: str,
        chain: Sequence[Caller],
        if_match: str | None = None,
    ) -> _T:
        record, _ = await self._call(
            "POST", path, into=into, chain=chain, body=body, key=key, if_match=if_match
        )
        return record

    async def page(
        self,
        path: str,
        into: type[_T],
        params: Mapping[str, str | None],
        chain: Sequence[Caller],
    ) -> _T:
        """One page of a system-API list (filters left out when None; its cursor passed on)."""
        url = httpx.URL(path, params={k: v for k, v in params.items() if v is not None})
        record, _ = await self._call("GET", str(url), into=into, chain=chain)
        return record

    async def _pages(
        self,
        path: str,
        into: type[Any],
        params: Mapping[str, str],
        chain: Sequence[Caller],
    ) -> AsyncIterator[Any]:
        cursor: str | None = None
        for _ in range(_MAX_PAGES):
            query = {**params, "limit": "200"}
            if cursor:
                query["cursor"] = cursor
            url = httpx.URL(path, params=query)
            page, _ = await self._call("GET", str(url), into=into, chain=chain)
            for item in page.items:
                yield item
            cursor = page.next_cursor
            if not cursor:
                return

    # ERP

    async def lot(self, lot_id: str, chain: Sequence[Caller]) -> LotRead:
        record, response = await self._call("GET", f"{ERP}/lots/{lot_id}", into=Lot, chain=chain)
        return LotRead(record, response.headers.get("ETag", ""))

    async def change_lot_disposition(
        self,
        lot_id: str,
        change: LotDispositionChange,
        *,
        if_match: str,
        key: str,
        chain: Sequence[Caller],
    ) -> Lot:
        return await self._post(
            f"{ERP}/lots/{lot_id}/disposition-changes",
            change,
            Lot,
            key=key,
            chain=chain,
            if_match=if_match,
        )

    def lots(self, chain: Sequence[Caller], **filters: str) -> AsyncIterator[Lot]:
        return self._pages(f"{ERP}/lots", LotPage, filters, chain)

    async def set_purchasing_block(
        self,
        supplier_id: str,
        change: PurchasingBlockChange,
        *,
        key: str,
        chain: Sequence[Caller],
    ) -> Supplier:
        """Set the supplier's blocked functions (none lifts the block); 501 where the ERP
        cannot block purchasing."""
        record, _ = await self._call(
            "PUT",
            f"{ERP}/suppliers/{supplier_id}/purchasing-block",
            into=Supplier,
            chain=chain,
            body=change,
            key=key,
        )
        return record

    async def goods_receipt(self, receipt_id: str, chain: Sequence[Caller]) -> GoodsReceipt:
        return await self._get(f"{ERP}/goods-receipts/{receipt_id}", GoodsReceipt, chain)

    async def supplier(self, supplier_id: str, chain: Sequence[Caller]) -> Supplier:
        return await self._get(f"{ERP}/suppliers/{supplier_id}", Supplier, chain)

    # QMS

    async def inspection(self, inspection_id: str, chain: Sequence[Caller]) -> Inspection:
        return await self._get(f"{QMS}/inspections/{inspection_id}", Inspection, chain)

    def inspections(self, chain: Sequence[Caller], **filters: str) -> AsyncIterator[Inspection]:
        return self._pages(f"{QMS}/inspections", InspectionPage, filters, chain)

    async def create_inspection(
        self, command: InspectionCreate, *, key: str, chain: Sequence[Caller]
    ) -> Inspection:
        return await self._post(f"{QMS}/inspections", command, Inspection, key=key, chain=chain)

    async def record_results(
        self, inspection_id: str, results: ResultsRecord, *, key: str, chain: Sequence[Caller]
    ) -> Inspection:
        return await self._post(
            f"{QMS}/inspections/{inspection_id}/results", results, Inspection, key=key, chain=chain
        )

    async def record_usage_decision(
        self,
        inspection_id: str,
        decision: UsageDecisionCreate,
        *,
        key: str,
        chain: Sequence[Caller],
    ) -> Inspection:
        return await self._post(
            f"{QMS}/inspections/{inspection_id}/usage-decision",
            decision,
            Inspection,
            key=key,
            chain=chain,
        )

    async def nonconformance(self, nc_id: str, chain: Sequence[Caller]) -> Nonconformance:
        return await self._get(f"{QMS}/nonconformances/{nc_id}", Nonconformance, chain)

    async def create_nonconformance(
        self, command: NonconformanceCreate, *, key: str, chain: Sequence[Caller]
    ) -> Nonconformance:
        return await self._post(
            f"{QMS}/nonconformances", command, Nonconformance, key=key, chain=chain
        )

    def nonconformances(
        self, chain: Sequence[Caller], **filters: str
    ) -> AsyncIterator[Nonconformance]:
        return self._pages(f"{QMS}/nonconformances", NonconformancePage, filters, chain)

    def capas(self, chain: Sequence[Caller], **filters: str) -> AsyncIterator[Capa]:
        return self._pages(f"{QMS}/capas", CapaPage, filters, chain)

    async def supplier_quality_status(
        self, supplier_id: str, chain: Sequence[Caller]
    ) -> SupplierQualityStatus:
        return await self._get(
            f"{QMS}/suppliers/{supplier_id}/quality-status", SupplierQualityStatus, chain
        )
