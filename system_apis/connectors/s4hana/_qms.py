"""``S4HanaQmsConnector``: the QMS port over SAP QM's inspection lots (API_INSPECTIONLOT_SRV).

What SAP's published APIs among qgate's reference definitions let it do, it does: inspections
(read, create: SAP origin 89, or the lot SAP made itself on a goods receipt), results per
characteristic and the usage decision. Specifications (inspection plans), nonconformances
(quality notifications), CAPA and supplier quality records are not declared: their SAP APIs are
not among the definitions qgate's fidelity checks hold it to, so the system API answers 501 for
them rather than guess field names (see ``_inspections`` for the mapping).

With SAP as the ERP too, the usage decision is made here and its stock posting by the ERP
connector's lot change (which finds the decision made and posts the quantities).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import httpx
import redis

from shared.errors import BackendRejected, DownstreamUnavailable, NotFound, PreconditionFailed
from shared.models import InspectionStatus
from shared.models.commands import (
    InspectionCreate,
    Measurement,
    ResultsRecord,
    UsageDecisionCreate,
)
from shared.models.lifecycle import DECISION_TARGET
from shared.models.qms import (
    Inspection,
    InspectionPage,
)
from shared.settings import S4HanaSettings
from system_apis.connectors.base import (
    InspectionFilter,
    PageRequest,
    QmsCapability,
    UndeclaredQmsMethods,
    require,
)
from system_apis.connectors.s4hana._client import S4HanaClient
from system_apis.connectors.s4hana._inspections import (
    LotState,
    char_key,
    characteristic_id,
    inspection_of,
    parse_plan_id,
)
from system_apis.connectors.s4hana._mapping import (
    SYSTEM,
    PlantCodes,
    parse_gr_id,
    parse_lot_id,
)
from system_apis.connectors.s4hana._notes import (
    DecisionNote,
    InspectionNote,
    InspectionNotes,
    MemoryInspectionNotes,
)
from system_apis.connectors.s4hana._odata import (
    Entity,
    and_filter,
    decimal_text,
    entity_path,
    eq,
    parse_decimal,
    quote,
)
from system_apis.connectors.s4hana._paging import decode_cursor, encode_cursor
from system_apis.connectors.s4hana._postings import usage_decision

__all__ = ["QMS_CAPABILITIES", "S4HanaQmsConnector"]

QMS_CAPABILITIES: Final = frozenset(
    {QmsCapability.INSPECTIONS, QmsCapability.INSPECTION_RESULTS, QmsCapability.USAGE_DECISION}
)
"""What SAP QM does through API_INSPECTIONLOT_SRV."""

_QM: Final = "API_INSPECTIONLOT_SRV"
_LOT_EXPAND: Final = "to_InspectionLotWithStatus"
_BATCH: Final = 40
"""Inspection lots per read of their characteristics, results and decisions (one ``or``
filter each, kept well inside URL limits)."""
_SAP_TEXT: Final = 40
_SAP_EXTERNAL_NUMBER: Final = 30
_SAP_INSPECTOR: Final = 12
_log = logging.getLogger("qgate.connectors.s4hana")


class S4HanaQmsConnector(UndeclaredQmsMethods):
    """The QMS port over SAP QM (cloud or on-premise); ``transport`` for tests, the simulator.

    ``notes`` keeps the version qgate counts and the decision details SAP has no field for (see
    ``_notes``): Redis when the system layer has replicas, memory otherwise. What SAP QM's
    inspection-lot API does not offer is refused by ``UndeclaredQmsMethods``.
    """

    def __init__(
        self,
        settings: S4HanaSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        capabilities: frozenset[QmsCapability] | None = None,
        notes: InspectionNotes | None = None,
        clock: Any = None,
    ) -> None:
        self._settings = settings
        self._client = S4HanaClient(settings, transport=transport)
        self._notes: InspectionNotes = notes if notes is not None else MemoryInspectionNotes()
        declared = QMS_CAPABILITIES if capabilities is None else capabilities
        self._capabilities = declared & QMS_CAPABILITIES
        self._creating = asyncio.Lock()
        """One inspection per goods receipt: look up and create under one lock (rare calls)."""
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def system(self) -> str:
        return SYSTEM

    @property
    def capabilities(self) -> frozenset[QmsCapability]:
        return self._capabilities

    async def ping(self) -> None:
        await self._client.request("GET", _QM, "A_InspectionLot", params={"$top": "1"})

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._notes.aclose()

    def _codes(self, plant: str) -> PlantCodes:
        return PlantCodes.of(self._settings, plant)

    # --- reading ---------------------------------------------------------------------------

    async def _all(self, entity_set: str, **params: str | None) -> list[Entity]:
        query = {k: v for k, v in params.items() if v}
        return [row async for row in self._client.collection(_QM, entity_set, params=query)]

    async def _notes_of(self, numbers: Iterable[str]) -> dict[str, InspectionNote]:
        try:
            return await self._notes.get_many(numbers)
        except redis.RedisError as exc:
            raise DownstreamUnavailable("qgate's store of inspection-lot notes is down") from exc

    async def _states(self, lots: list[Entity], *, after_write: bool = False) -> list[LotState]:
        """Each lot with its characteristics, results, decision and note (``after_write``:
        a notes store that is down gives no notes instead of failing a change SAP made)."""
        states: list[LotState] = []
        for start in range(0, len(lots), _BATCH):
            chunk = lots[start : start + _BATCH]
            numbers = [str(lot["InspectionLot"]) for lot in chunk]
            which = " or ".join(eq("InspectionLot", n) for n in numbers)
            chars, results, decisions = await asyncio.gather(
                self._all("A_InspectionCharacteristic", **{"$filter": which}),
                self._all("A_InspectionResult", **{"$filter": which}),
                self._all("A_InspLotUsageDecision", **{"$filter": which}),
            )
            try:
                notes = await self._notes_of(numbers)
            except DownstreamUnavailable:
                if not after_write:
                    raise
                _log.warning("inspection lots %s: notes store down after a change", numbers)
                notes = {}
            by_lot: dict[str, list[Entity]] = defaultdict(list)
            for char in chars:
                by_lot[str(char["InspectionLot"])].append(char)
            recorded: dict[str, dict[tuple[str, str], Entity]] = defaultdict(dict)
            for result in results:
                recorded[str(result["InspectionLot"])][char_key(result)] = result
            decided = {str(d["InspectionLot"]): d for d in decisions}
            states.extend(
                LotState(
                    lot=lot,
                    characteristics=sorted(by_lot[number], key=char_key),
                    results=recorded[number],
                    decision=decided.get(number),
                    note=notes.get(number),
                )
                for lot, number in zip(chunk, numbers, strict=True)
            )
        return states

    async def _state(self, inspection_id: str, *, after_write: bool = False) -> LotState:
        lot, _ = await self._client.entity(
            _QM,
            entity_path("A_InspectionLot", {"InspectionLot": inspection_id}),
            params={"$expand": _LOT_EXPAND},
            what=f"inspection lot {inspection_id}",
        )
        [state] = await self._states([lot], after_write=after_write)
        return state

    def _inspection(self, state: LotState) -> Inspection:
        return inspection_of(state, self._codes(str(state.lot["Plant"])))

    async def list_inspections(self, query: InspectionFilter, page: PageRequest) -> InspectionPage:
        require(self, QmsCapability.INSPECTIONS)
        after = decode_cursor(page.cursor, "inspections") if page.cursor is not None else None
        batch = None
        if query.lot_id is not None:
            try:
                key = parse_lot_id(query.lot_id)
            except NotFound:
                return InspectionPage(items=[])
            if query.plant_id not in (None, key.plant):
                return InspectionPage(items=[])
            batch = and_filter(eq("Plant", key.plant), eq("Batch", key.batch))
        server = and_filter(
            eq("Plant", query.plant_id) if query.plant_id else None,
            eq("Material", query.item_id) if query.item_id else None,
            eq("Supplier", query.supplier_id) if query.supplier_id else None,
            batch,
        )
        wanted: list[Inspection] = []
        chunk = max(page.limit + 1, 50)
        while len(wanted) <= page.limit:
            lots = await self._all(
                "A_InspectionLot",
                **{
                    "$filter": and_filter(
                        server, f"InspectionLot gt {quote(after)}" if after else None
                    ),
                    "$orderby": "InspectionLot",
                    "$expand": _LOT_EXPAND,
                    "$top": str(chunk),
                },
            )
            for state in await self._states(lots):
                inspection = self._inspection(state)
                if _matches(inspection, query):
                    wanted.append(inspection)
            if len(lots) < chunk:
                break
            after = str(lots[-1]["InspectionLot"])
        items = wanted[: page.limit]
        more = len(wanted) > page.limit
        return InspectionPage(
            items=items,
            next_cursor=encode_cursor(items[-1].inspection_id, "inspections") if more else None,
        )

    async def get_inspection(self, inspection_id: str) -> Inspection:
        require(self, QmsCapability.INSPECTIONS)
        return self._inspection(await self._state(inspection_id))

    # --- writing ---------------------------------------------------------------------------

    async def _remember(
        self,
        number: str,
        *,
        before: LotState | None = None,
        decision: DecisionNote | None = None,
        **header: str | None,
    ) -> LotState:
        """Read the lot again and note its version and fingerprint after qgate's write
        (``before``: the lot as it was read for the write; a change counts one more than that).

        SAP itself refused whatever conflicted (a second usage decision, a stale result ETag),
        so a lost compare-and-set here is only another note written meanwhile: read again and
        count on from it. A notes store that fails after SAP took the change is logged, not
        raised (a retry would find the change made): the record then shows what SAP holds.
        """
        state = await self._state(number, after_write=True)
        for _ in range(5):
            current = state.note
            version = state.version
            if before is not None and state.fingerprint != before.fingerprint:
                version = max(version, before.version + 1)
            note = InspectionNote(
                version=version,
                fingerprint=state.fingerprint,
                origin=header.get("origin") or (current.origin if current else None),
                goods_receipt_id=header.get("goods_receipt_id")
                or (current.goods_receipt_id if current else None),
                decision=decision or (current.decision if current else None),
            )
            try:
                stored = await self._notes.put(
                    number, note, replaces=current.version if current else None
                )
            except redis.RedisError:
                _log.warning(
                    "inspection lot %s changed in S/4HANA but its note could not be stored",
                    number,
                    exc_info=True,
                )
                return state
            if stored:
                state.note = note
                return state
            state = await self._state(number, after_write=True)
        raise PreconditionFailed(
            f"Inspection {number} was changed at the same time by another writer; read it again."
        )

    async def create_inspection(self, inspection: InspectionCreate, *, actor: str) -> Inspection:
        require(self, QmsCapability.INSPECTIONS)
        try:
            key = parse_lot_id(inspection.lot_id)
        except NotFound:
            raise BackendRejected(
                f"S/4HANA inspects batches: {inspection.lot_id} is not a lot of this system "
                "(LOT-<plant>-<batch>)."
            ) from None
        if key.plant != inspection.plant_id:
            raise BackendRejected(
                f"Lot {inspection.lot_id} is at plant {key.plant}, not {inspection.plant_id}."
            )
        plan = parse_plan_id(inspection.spec_id) if inspection.spec_id else None
        if inspection.spec_id and plan is None:
            raise NotFound(f"Specification {inspection.spec_id} not found")
        receipt = inspection.goods_receipt_id
        if receipt and len(receipt) > _SAP_EXTERNAL_NUMBER:
            raise BackendRejected(
                f"S/4HANA keeps at most {_SAP_EXTERNAL_NUMBER} characters of a goods receipt id."
            )
        async with self._creating:
            if receipt:
                existing = await self._by_receipt(receipt, inspection.item_id)
                if existing is not None:
                    return self._inspection(existing)
            body: Entity = {
                "Material": inspection.item_id,
                "Plant": key.plant,
                "Batch": key.batch,
                "InspectionLotOrigin": "89",
                "InspectionLotType": "89",
                "InspectionLotQuantity": decimal_text(inspection.quantity),
                "InspectionLotText": f"qgate {inspection.origin.value} by {actor}"[:_SAP_TEXT],
            }
            if inspection.supplier_id:
                body["Supplier"] = inspection.supplier_id
            if plan is not None:
                body["BillOfOperationsGroup"], body["BillOfOperationsVariant"] = plan
            if receipt:
                body["InspLotExternalNumber"] = receipt
                try:
                    document = parse_gr_id(receipt)
                except NotFound:
                    pass
                else:
                    body["MaterialDocumentYear"] = document.year
                    body["MaterialDocument"] = document.document
                    body["MaterialDocumentItem"] = document.item
            created = await self._client.create(
                _QM, "A_InspectionLot", body, what=f"an inspection of lot {inspection.lot_id}"
            )
            state = await self._remember(
                str(created["InspectionLot"]),
                origin=inspection.origin.value,
                goods_receipt_id=receipt,
            )
        return self._inspection(state)

    async def _by_receipt(self, receipt: str, material: str) -> LotState | None:
        """The inspection lot of a goods receipt: the one SAP made on posting it, or the one
        qgate created for it (its id kept in ``InspLotExternalNumber``)."""
        which: str | None
        try:
            document = parse_gr_id(receipt)
        except NotFound:
            which = eq("InspLotExternalNumber", receipt)
        else:
            which = and_filter(
                eq("MaterialDocumentYear", document.year),
                eq("MaterialDocument", document.document),
                eq("MaterialDocumentItem", document.item),
            )
        lots = await self._all(
            "A_InspectionLot",
            **{"$filter": and_filter(which, eq("Material", material)), "$expand": _LOT_EXPAND},
        )
        if not lots:
            return None
        first = min(lots, key=lambda lot: str(lot["InspectionLot"]))
        [state] = await self._states([first])
        return state

    async def record_results(
        self,
        inspection_id: str,
        results: ResultsRecord,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Inspection:
        require(self, QmsCapability.INSPECTION_RESULTS)
        state = await self._state(inspection_id)
        if state.status in (InspectionStatus.DECIDED, InspectionStatus.CANCELLED):
            raise BackendRejected(
                f"Inspection {inspection_id} is {state.status.value}: results can no longer change."
            )
        _check_version(inspection_id, state.version, expected_version)
        planned = {characteristic_id(c): c for c in state.characteristics}
        bodies = [_result_body(planned, m, actor) for m in _once_each(results.results)]
        for char, body in bodies:
            existing = state.results.get(char_key(char))
            what = f"the result of {characteristic_id(char)} on inspection lot {inspection_id}"
            if existing is None:
                await self._client.create(
                    _QM, "A_InspectionResult", {**_keys(char), **body}, what=what
                )
            else:
                await self._client.update(
                    _QM,
                    entity_path("A_InspectionResult", _keys(char)),
                    body,
                    etag=_etag_of(existing),
                    what=what,
                )
        return self._inspection(await self._remember(inspection_id, before=state))

    async def record_usage_decision(
        self,
        inspection_id: str,
        decision: UsageDecisionCreate,
        *,
        actor: str,
        expected_version: int | None = None,
    ) -> Inspection:
        require(self, QmsCapability.USAGE_DECISION)
        state = await self._state(inspection_id)
        status = state.status
        if status is not InspectionStatus.RESULTS_RECORDED:
            raise BackendRejected(
                f"Inspection {inspection_id} is {status.value}: "
                + (
                    "a usage decision needs every characteristic's result."
                    if status in (InspectionStatus.CREATED, InspectionStatus.IN_PROGRESS)
                    else "it cannot be decided (again)."
                )
            )
        _check_version(inspection_id, state.version, expected_version)
        lot_quantity = parse_decimal(state.lot.get("InspectionLotQuantity"))
        planned = sum(Decimal(str(q.quantity)) for q in decision.quantities)
        if decision.quantities and planned != Decimal(str(lot_quantity)):
            raise BackendRejected(
                f"The quantities add up to {planned}, not the inspection lot's {lot_quantity}."
            )
        codes = self._codes(str(state.lot["Plant"]))
        body = usage_decision(codes, inspection_id, DECISION_TARGET[decision.decision])
        if decision.source_code:
            body["InspectionLotUsageDecisionCode"] = decision.source_code
        await self._client.create(
            _QM,
            "A_InspLotUsageDecision",
            body,
            what=f"the usage decision of inspection lot {inspection_id}",
        )
        noted = DecisionNote(
            decision=decision.decision.value,
            reason=decision.reason,
            decided_by=decision.decided_by,
            at=self._clock(),
            signature_meaning=decision.signature_meaning,
            quantities=tuple((q.category.value, q.quantity) for q in decision.quantities),
        )
        return self._inspection(await self._remember(inspection_id, before=state, decision=noted))


def _matches(inspection: Inspection, query: InspectionFilter) -> bool:
    return all(
        getattr(query, name) is None or getattr(inspection, name) == getattr(query, name)
        for name in query.__struct_fields__
    )


def _check_version(inspection_id: str, current: int, expected: int | None) -> None:
    if expected is not None and expected != current:
        raise PreconditionFailed(
            f"Inspection {inspection_id} is at version {current}, not {expected}; "
            "read it again and retry with the current version."
        )


def _once_each(measurements: list[Measurement]) -> list[Measurement]:
    seen: set[str] = set()
    for measurement in measurements:
        if measurement.characteristic_id in seen:
            raise BackendRejected(f"{measurement.characteristic_id} is given twice.")
        seen.add(measurement.characteristic_id)
    return measurements


def _result_body(
    planned: dict[str, Entity], measurement: Measurement, actor: str
) -> tuple[Entity, Entity]:
    """The characteristic a measurement is for and the result SAP is sent (checked first, so
    a wrong one changes nothing): a quantitative one's mean value (SAP valuates it against the
    plan's limits), a qualitative one's valuation."""
    char = planned.get(measurement.characteristic_id)
    if char is None:
        raise BackendRejected(
            f"The inspection plan has no characteristic {measurement.characteristic_id}."
        )
    body: Entity = {"Inspector": actor[:_SAP_INSPECTOR]}
    if char.get("InspSpecIsQuantitative"):
        if measurement.measured_value is None:
            raise BackendRejected(f"{measurement.characteristic_id} needs a measuredValue.")
        body["InspResultFrmtdMeanValue"] = format(Decimal(str(measurement.measured_value)), "f")
    else:
        if measurement.conforming is None:
            raise BackendRejected(f"{measurement.characteristic_id} needs conforming (true/false).")
        body["InspectionValuationResult"] = "A" if measurement.conforming else "R"
    if measurement.note:
        body["InspectionResultText"] = measurement.note[:_SAP_TEXT]
    return char, body


def _keys(char: Entity) -> dict[str, str]:
    return {
        "InspectionLot": str(char["InspectionLot"]),
        "InspPlanOperationInternalID": str(char["InspPlanOperationInternalID"]),
        "InspectionCharacteristic": str(char["InspectionCharacteristic"]),
    }


def _etag_of(entity: Entity) -> str | None:
    meta = entity.get("__metadata")
    etag = meta.get("etag") if isinstance(meta, dict) else None
    return str(etag) if etag else None
