"""Fidelity of the S/4HANA connector and simulator to SAP's published API definitions.

A workload of every kind of call the connectors make (ERP: reads of every entity kind, goods
receipts, transfer postings, usage decisions with their stock postings, goods issues, purchasing
blocks; QM: inspection lots read and created, results recorded and corrected, a usage decision;
and calls SAP refuses) runs against the simulator; then every recorded exchange is
checked against ``tests/fixtures/sap`` (see its PROVENANCE.md):

- services with an OpenAPI file (API_INSPECTIONLOT_SRV, API_MATERIAL_DOCUMENT_SRV,
  API_MATERIAL_STOCK_SRV, API_QUALITYINFORECORD_SRV): request and response validated with
  openapi-core against the operation (path, query parameters, body, status);
- services with an EDMX ``$metadata`` (API_BUSINESS_PARTNER, API_PRODUCT_SRV,
  API_PURCHASEORDER_PROCESS_SRV, API_PLANT_SRV): every property by name on its entity type, its
  value by the property's type, length and nullability, and nothing sent that the metadata
  marks ``sap:creatable="false"`` / ``sap:updatable="false"``;
- for both: every property name sent or read (also inside expanded navigation properties), every
  ``$filter`` field and every ``$expand`` path exists in SAP's definition. JSON Schema lets an
  object carry properties its schema does not list, so openapi-core alone would not catch an
  invented field: the names are checked explicitly.

How the OData v2 JSON format meets the OpenAPI files (handled here, on purpose):

- the envelope: the files model responses with it (``{"d": entity}`` and
  ``{"d": {"__count", "results"}}``) and POST bodies without it (``Create…`` schemas, as SAP
  Gateway reads them), so bodies are validated as sent; ``__next`` (server-driven paging) is not
  modelled and, being an extra property of ``d``, is allowed;
- ``__metadata`` on every entity and ``{"__deferred": {"uri"}}`` for a navigation property not
  expanded are OData v2 annotations the generated files do not model: they are removed before
  validating (a deferred navigation property's *name* is still checked);
- the files mark the keys SAP assigns from its number ranges as required in ``Create…`` schemas
  (material document year, number and item; the stock posting counter). A client cannot know
  them, and SAP's own samples omit them: those keys, and only those, are not required here;
- the service document (``GET …/SERVICE/``, where the CSRF token is fetched) is in no file.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from shared.errors import BackendRejected, NotFound
from shared.models import (
    BlockedFunction,
    DispositionCode,
    InspectionOrigin,
    LotDisposition,
    StockCategory,
)
from shared.models.commands import (
    GoodsIssueCreate,
    GoodsReceiptCreate,
    InspectionCreate,
    LotDispositionChange,
    Measurement,
    PurchasingBlockChange,
    ResultsRecord,
    TargetQuantityInput,
    UsageDecisionCreate,
)
from shared.models.qms import Inspection
from shared.settings import S4HanaSettings
from system_apis.connectors.base import (
    GoodsReceiptFilter,
    InspectionFilter,
    ItemFilter,
    LotFilter,
    PageRequest,
    PurchaseOrderFilter,
    SupplierFilter,
)
from system_apis.connectors.s4hana import (
    SIMULATOR_URL,
    S4HanaSimulator,
    simulator_connector,
    simulator_qms_connector,
)
from system_apis.connectors.s4hana.simulator import Exchange, build_simulator

FIXTURES: Final = Path(__file__).parents[1] / "fixtures" / "sap"
ROOT: Final = "/sap/opu/odata/sap/"
OPENAPI_SERVICES: Final = (
    "API_INSPECTIONLOT_SRV",
    "API_MATERIAL_DOCUMENT_SRV",
    "API_MATERIAL_STOCK_SRV",
    "API_QUALITYINFORECORD_SRV",
)
EDMX_SERVICES: Final = (
    "API_BUSINESS_PARTNER",
    "API_PRODUCT_SRV",
    "API_PURCHASEORDER_PROCESS_SRV",
    "API_PLANT_SRV",
)
SERVER_ASSIGNED_KEYS: Final = {
    "CreateA_MaterialDocumentHeader": {"MaterialDocumentYear", "MaterialDocument"},
    "CreateA_MaterialDocumentItem": {
        "MaterialDocumentYear",
        "MaterialDocument",
        "MaterialDocumentItem",
    },
    "CreateA_InspLotMatlDocItem": {"InspLotMatlDocItem"},
    "CreateA_InspectionLot": {"InspectionLot"},
}
USED: Final = {
    ("API_PLANT_SRV", "A_Plant"),
    ("API_PRODUCT_SRV", "A_Product"),
    ("API_BUSINESS_PARTNER", "A_Supplier"),
    ("API_BUSINESS_PARTNER", "A_SupplierPurchasingOrg"),
    ("API_BUSINESS_PARTNER", "A_BusinessPartnerAddress"),
    ("API_PURCHASEORDER_PROCESS_SRV", "A_PurchaseOrder"),
    ("API_MATERIAL_DOCUMENT_SRV", "A_MaterialDocumentHeader"),
    ("API_MATERIAL_DOCUMENT_SRV", "A_MaterialDocumentItem"),
    ("API_MATERIAL_STOCK_SRV", "A_MaterialStock"),
    ("API_INSPECTIONLOT_SRV", "A_InspectionLot"),
    ("API_INSPECTIONLOT_SRV", "A_InspLotUsageDecision"),
    ("API_INSPECTIONLOT_SRV", "A_InspLotMatlDocItem"),
    ("API_INSPECTIONLOT_SRV", "A_InspectionCharacteristic"),
    ("API_INSPECTIONLOT_SRV", "A_InspectionResult"),
    ("API_QUALITYINFORECORD_SRV", "QualityInProcurement"),
}
"""Every entity set the connector reads or writes (the workload must reach each)."""
_FILTER_FIELD: Final = re.compile(r"(\w+) (?:eq|ne|gt|ge|lt|le) ")
_ACTOR: Final = "qe-fidelity"
_BASIC: Final = "Basic " + base64.b64encode(b"QGATE_COMM:qgate-s4hana-dev").decode()


# --- the workload ------------------------------------------------------------------------------


async def _workload() -> list[Exchange]:
    simulator = build_simulator(S4HanaSettings())
    simulator.server_page_size = 25  # SAP caps pages too: the connector follows __next
    connector = simulator_connector(S4HanaSettings(), simulator)
    page = PageRequest(limit=200)
    await connector.ping()
    await connector.list_plants(page)
    await connector.get_plant("1000")
    await connector.list_items(ItemFilter(plant_id="1000"), page)
    await connector.get_item("HSG-A100")
    await connector.list_suppliers(SupplierFilter(), page)
    await connector.get_supplier("SUP-0003")
    await connector.list_purchase_orders(PurchaseOrderFilter(), page)
    await connector.get_purchase_order("PO-4500000210")
    receipts = await connector.list_goods_receipts(GoodsReceiptFilter(plant_id="1000"), page)
    await connector.get_goods_receipt(receipts.items[0].receipt_id)
    receipt = GoodsReceiptCreate(
        po_id="PO-4500000210",
        line_no=10,
        quantity=12.5,
        lot_number="F0001",
        supplier_lot_number="MPC-9001",
        delivery_note="DN-77",
    )
    await connector.post_goods_receipt(receipt, actor=_ACTOR)
    await connector.post_goods_receipt(receipt, actor=_ACTOR)  # the same delivery note: found
    await connector.list_lots(LotFilter(plant_id="1000"), page)
    # usage decision + stock posting (QI -> unrestricted), split over two stock types
    lot = await connector.get_lot("LOT-1000-0019")
    split = [
        TargetQuantityInput(category=StockCategory.AVAILABLE, quantity=100),
        TargetQuantityInput(category=StockCategory.BLOCKED, quantity=20),
    ]
    await connector.change_lot_disposition(
        lot.lot_id,
        LotDispositionChange(
            disposition=LotDisposition.RELEASED, reason="Within limits", quantities=split
        ),
        actor=_ACTOR,
        expected_version=lot.version,
    )
    # transfer postings (unrestricted -> blocked, then scrapping) with reason codes
    lot = await connector.get_lot("LOT-1000-0009")
    blocked = await connector.change_lot_disposition(
        lot.lot_id,
        LotDispositionChange(disposition=LotDisposition.BLOCKED, reason="Customer complaint"),
        actor=_ACTOR,
        expected_version=lot.version,
    )
    rejected = await connector.change_lot_disposition(
        lot.lot_id,
        LotDispositionChange(disposition=LotDisposition.REJECTED, reason="Confirmed defect"),
        actor=_ACTOR,
        expected_version=blocked.version,
    )
    await connector.change_lot_disposition(
        lot.lot_id,
        LotDispositionChange(disposition=LotDisposition.SCRAPPED, reason="Scrap"),
        actor=_ACTOR,
        expected_version=rejected.version,
    )
    await connector.issue_goods(
        "LOT-1000-0019",
        GoodsIssueCreate(category=StockCategory.AVAILABLE, quantity=3),
        actor=_ACTOR,
    )
    await connector.set_purchasing_block(
        "SUP-0001",
        PurchasingBlockChange(
            functions=[BlockedFunction.RFQ, BlockedFunction.GOODS_RECEIPT], reason="8D overdue"
        ),
        actor=_ACTOR,
    )
    await connector.set_purchasing_block(
        "SUP-0001", PurchasingBlockChange(functions=[], reason="8D closed"), actor=_ACTOR
    )
    # answers SAP refuses: their error bodies are checked too
    with pytest.raises(BackendRejected):
        await connector.post_goods_receipt(
            GoodsReceiptCreate(po_id="PO-4500000210", line_no=10, quantity=100_000), actor=_ACTOR
        )
    with pytest.raises(NotFound):
        await connector.get_plant("9999")
    await connector.aclose()
    await _qm_workload(simulator)
    return simulator.exchanges


async def _qm_workload(simulator: S4HanaSimulator) -> None:
    """The QM connector's calls: inspection lots read and created, results recorded and
    corrected (PATCH with the result's ETag), a usage decision, and calls SAP refuses."""
    qms = simulator_qms_connector(S4HanaSettings(), simulator)
    page = PageRequest(limit=200)
    await qms.ping()
    listed = await qms.list_inspections(InspectionFilter(plant_id="1000"), page)
    await qms.get_inspection(listed.items[0].inspection_id)
    plan = next(i for i in listed.items if i.results)
    created = await qms.create_inspection(
        InspectionCreate(
            origin=InspectionOrigin.GOODS_RECEIPT,
            lot_id="LOT-1000-0019",
            item_id=plan.item_id,
            plant_id="1000",
            quantity=20,
            supplier_id=plan.supplier_id,
            goods_receipt_id="GR-FIDELITY-1",
        ),
        actor=_ACTOR,
    )
    first, *rest = created.results
    wrong = Measurement(characteristic_id=first.characteristic_id, measured_value=-1e6)
    qualitative = Measurement(characteristic_id=first.characteristic_id, conforming=False)
    partial = await qms.record_results(
        created.inspection_id,
        ResultsRecord(results=[wrong if _quantitative(simulator, created, first) else qualitative]),
        actor=_ACTOR,
    )
    every = [_passing(simulator, partial, r.characteristic_id) for r in (first, *rest)]
    recorded = await qms.record_results(
        created.inspection_id, ResultsRecord(results=every), actor=_ACTOR
    )
    await qms.record_usage_decision(
        created.inspection_id,
        UsageDecisionCreate(decision=DispositionCode.RELEASE, reason="Fine", decided_by=_ACTOR),
        actor=_ACTOR,
        expected_version=recorded.version,
    )
    with pytest.raises(BackendRejected):  # a second decision
        await qms.record_usage_decision(
            created.inspection_id,
            UsageDecisionCreate(decision=DispositionCode.BLOCK, reason="No", decided_by=_ACTOR),
            actor=_ACTOR,
        )
    with pytest.raises(BackendRejected):  # a material SAP does not know
        await qms.create_inspection(
            InspectionCreate(
                origin=InspectionOrigin.OTHER,
                lot_id="LOT-1000-0019",
                item_id="NO-SUCH-MAT",
                plant_id="1000",
                quantity=1,
            ),
            actor=_ACTOR,
        )
    with pytest.raises(NotFound):
        await qms.get_inspection("999999999999")
    await qms.aclose()


def _characteristic(simulator: S4HanaSimulator, lot: str, characteristic: str) -> dict[str, Any]:
    rows = simulator.state.where("A_InspectionCharacteristic", InspectionLot=lot)
    return next(r for r in rows if str(r.get("InspectionSpecification") or "") == characteristic)


def _quantitative(simulator: S4HanaSimulator, inspection: Inspection, result: Any) -> bool:
    row = _characteristic(simulator, inspection.inspection_id, result.characteristic_id)
    return bool(row["InspSpecIsQuantitative"])


def _passing(
    simulator: S4HanaSimulator, inspection: Inspection, characteristic: str
) -> Measurement:
    row = _characteristic(simulator, inspection.inspection_id, characteristic)
    if not row["InspSpecIsQuantitative"]:
        return Measurement(characteristic_id=characteristic, conforming=True)
    # SAP sends a limit it does not have as 0 with its "has" flag blank
    inside = (
        row["InspSpecTargetValue"]
        if row["InspSpecHasTargetValue"]
        else row["InspSpecLowerLimit"]
        if row["InspSpecHasLowerLimit"]
        else row["InspSpecUpperLimit"]
    )
    return Measurement(characteristic_id=characteristic, measured_value=float(inside))


@pytest.fixture(scope="module")
def exchanges() -> list[Exchange]:
    return asyncio.run(_workload())


# --- SAP's definitions --------------------------------------------------------------------------


@cache
def _openapi_spec(service: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((FIXTURES / f"{service}.openapi.json").read_text())
    return spec


@cache
def openapi_for(service: str) -> OpenAPI:
    """openapi-core over SAP's OpenAPI file of ``service``, as the simulator serves it."""
    spec = copy.deepcopy(_openapi_spec(service))
    spec["servers"] = [{"url": f"{SIMULATOR_URL}{ROOT}{service}"}]
    # openapi-core checks no OAuth 2.0 scheme; basic is the other one the files allow (the
    # connector's authentication itself is tested in tests/integration/s4hana/test_auth.py).
    spec["security"] = [{"BasicAuth": []}]
    for name, keys in SERVER_ASSIGNED_KEYS.items():
        schema = spec["components"]["schemas"].get(name)
        if schema is not None:
            required = [k for k in schema.get("required", []) if k not in keys]
            if required:
                schema["required"] = required
            else:
                schema.pop("required", None)
    return OpenAPI.from_dict(spec)


@dataclass(frozen=True)
class EdmProperty:
    type: str
    nullable: bool
    max_length: int | None
    creatable: bool
    updatable: bool


@dataclass(frozen=True)
class EdmType:
    properties: dict[str, EdmProperty]
    navigations: dict[str, str]
    """Navigation property -> the entity type it leads to."""


@dataclass(frozen=True)
class Edmx:
    types: dict[str, EdmType]
    sets: dict[str, str]
    """Entity set -> its entity type."""


_SAP: Final = "{http://www.sap.com/Protocols/SAPData}"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


@cache
def _edmx(service: str) -> Edmx:
    root = ET.parse(FIXTURES / f"{service}.edmx").getroot()
    ends: dict[tuple[str, str], str] = {}
    for element in root.iter():
        if _local(element.tag) == "Association":
            for end in element:
                if _local(end.tag) == "End":
                    ends[(element.get("Name", ""), end.get("Role", ""))] = end.get(
                        "Type", ""
                    ).rsplit(".", 1)[-1]
    types: dict[str, EdmType] = {}
    sets: dict[str, str] = {}
    for element in root.iter():
        if _local(element.tag) == "EntityType":
            properties = {
                p.get("Name", ""): EdmProperty(
                    type=p.get("Type", ""),
                    nullable=p.get("Nullable", "true") != "false",
                    max_length=int(p.get("MaxLength", "0")) or None,
                    creatable=p.get(f"{_SAP}creatable") != "false",
                    updatable=p.get(f"{_SAP}updatable") != "false",
                )
                for p in element
                if _local(p.tag) == "Property"
            }
            navigations = {
                n.get("Name", ""): ends[
                    (n.get("Relationship", "").rsplit(".", 1)[-1], n.get("ToRole", ""))
                ]
                for n in element
                if _local(n.tag) == "NavigationProperty"
            }
            types[element.get("Name", "")] = EdmType(properties, navigations)
        elif _local(element.tag) == "EntitySet":
            sets[element.get("Name", "")] = element.get("EntityType", "").rsplit(".", 1)[-1]
    return Edmx(types, sets)


# --- walking entities -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    path: tuple[str, ...]
    """Navigation properties leading to it, then its name."""
    value: Any
    navigation: bool


def _fields(entity: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[Field]:
    """Every property of an OData v2 entity (and of expanded entities), without annotations."""
    for name, value in entity.items():
        if name.startswith("__"):
            continue
        here = (*path, name)
        if isinstance(value, dict) and "__deferred" in value:
            yield Field(here, None, navigation=True)
        elif isinstance(value, dict) and isinstance(value.get("results"), list):
            yield Field(here, None, navigation=True)
            for row in value["results"]:
                yield from _fields(row, here)
        elif isinstance(value, dict):
            yield Field(here, None, navigation=True)
            yield from _fields(value, here)
        else:
            yield Field(here, value, navigation=False)


def _strip(value: Any) -> Any:
    """The JSON without OData v2 annotations (``__metadata``, ``__deferred`` links)."""
    if isinstance(value, list):
        return [_strip(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k: _strip(v)
        for k, v in value.items()
        if k != "__metadata" and not (isinstance(v, dict) and "__deferred" in v)
    }


def _entities(exchange: Exchange) -> Iterator[tuple[str, dict[str, Any]]]:
    """("request" | "response", entity) of an exchange."""
    if isinstance(exchange.request, dict):
        yield "request", exchange.request
    body = exchange.response
    if isinstance(body, dict) and isinstance(body.get("d"), dict):
        inner = body["d"]
        for row in inner["results"] if isinstance(inner.get("results"), list) else [inner]:
            yield "response", row


def _query_paths(exchange: Exchange) -> Iterator[tuple[str, ...]]:
    """``$filter`` fields and ``$expand`` paths (navigation, then navigation …)."""
    for field in _FILTER_FIELD.findall(exchange.query.get("$filter", "")):
        yield (field,)
    for expand in filter(None, exchange.query.get("$expand", "").split(",")):
        yield tuple(expand.split("/"))


# --- the name check (both kinds of definition) ----------------------------------------------------


def _openapi_schema(service: str, name: str) -> dict[str, Any]:
    schema: dict[str, Any] = _openapi_spec(service)["components"]["schemas"][name]
    return schema


def _openapi_names(service: str, schema_name: str, path: tuple[str, ...]) -> set[str] | None:
    schema = _openapi_schema(service, schema_name)
    for step in path:
        found = schema.get("properties", {}).get(step)
        if found is None:
            return None
        ref = found.get("$ref") or found.get("properties", {}).get("results", {}).get(
            "items", {}
        ).get("$ref")
        if ref is None:
            return None
        schema = _openapi_schema(service, ref.rsplit("/", 1)[-1])
    return set(schema.get("properties", {}))


def _edmx_type(service: str, entity_set: str, path: tuple[str, ...]) -> EdmType | None:
    edmx = _edmx(service)
    current = edmx.types[edmx.sets[entity_set]]
    for step in path:
        target = current.navigations.get(step)
        if target is None:
            return None
        current = edmx.types[target]
    return current


def _known(service: str, entity_set: str, side: str, method: str, path: tuple[str, ...]) -> bool:
    *through, name = path
    if service in EDMX_SERVICES:
        entity_type = _edmx_type(service, entity_set, tuple(through))
        return entity_type is not None and (
            name in entity_type.properties or name in entity_type.navigations
        )
    prefix = {"POST": "Create", "PATCH": "Update"}.get(method, "") if side == "request" else ""
    names = _openapi_names(service, prefix + entity_set, tuple(through))
    return names is not None and name in names


def unknown_fields(exchanges: list[Exchange]) -> list[str]:
    """Every field sent or read that SAP's definition of its entity set does not have."""
    problems: list[str] = []
    for exchange in exchanges:
        if exchange.entity_set is None:
            continue
        where = f"{exchange.method} {exchange.service}/{exchange.resource}"
        for side, entity in _entities(exchange):
            # an answer read through a navigation property is an entity of its target
            through = (exchange.navigation,) if side == "response" and exchange.navigation else ()
            for field in _fields(entity):
                path = (*through, *field.path)
                if not _known(exchange.service, exchange.entity_set, side, exchange.method, path):
                    problems.append(f"{where}: {side} field {'/'.join(field.path)}")
        for path in _query_paths(exchange):
            if not _known(exchange.service, exchange.entity_set, "response", "GET", path):
                problems.append(f"{where}: query names {'/'.join(path)}")
    return sorted(set(problems))


# --- the tests ------------------------------------------------------------------------------------


def test_the_workload_reaches_every_entity_set_the_connector_uses(
    exchanges: list[Exchange],
) -> None:
    reached = {(e.service, e.entity_set) for e in exchanges if e.entity_set is not None}
    assert reached == USED
    writes = {(e.method, e.entity_set) for e in exchanges if e.method != "GET" and e.status < 300}
    assert writes == {
        ("POST", "A_MaterialDocumentHeader"),
        ("POST", "A_InspLotUsageDecision"),
        ("POST", "A_InspLotMatlDocItem"),
        ("PATCH", "A_Supplier"),
        ("PATCH", "A_SupplierPurchasingOrg"),
        ("POST", "A_InspectionLot"),
        ("POST", "A_InspectionResult"),
        ("PATCH", "A_InspectionResult"),
    }
    assert {e.status for e in exchanges} >= {200, 201, 204, 400, 404}
    # server-driven paging was followed
    assert any("$skiptoken" in e.query for e in exchanges)


def test_no_field_sent_or_read_is_missing_from_sap_definitions(exchanges: list[Exchange]) -> None:
    assert unknown_fields(exchanges) == []


def test_the_name_check_finds_an_invented_field() -> None:
    invented = Exchange(
        method="POST",
        service="API_MATERIAL_DOCUMENT_SRV",
        resource="A_MaterialDocumentHeader",
        entity_set="A_MaterialDocumentHeader",
        keyed=False,
        navigation=None,
        query={"$filter": "SupplierLotNumber eq 'X'"},
        request={"to_MaterialDocumentItem": {"results": [{"SupplierBatch": "L-1"}]}},
        status=201,
        response={"d": {"QgateNote": "v2", "to_MaterialDocumentItem": {"results": []}}},
    )

    assert unknown_fields([invented]) == [
        "POST API_MATERIAL_DOCUMENT_SRV/A_MaterialDocumentHeader: query names SupplierLotNumber",
        "POST API_MATERIAL_DOCUMENT_SRV/A_MaterialDocumentHeader: request field "
        "to_MaterialDocumentItem/SupplierBatch",
        "POST API_MATERIAL_DOCUMENT_SRV/A_MaterialDocumentHeader: response field QgateNote",
    ]


def openapi_exchange(exchange: Exchange) -> tuple[MockRequest, MockResponse]:
    """The request and answer of ``exchange`` as openapi-core reads them."""
    body = exchange.request
    if exchange.method == "PATCH" and body is not None:
        body = {"d": body}  # the files wrap update bodies; SAP reads the bare form too
    request = MockRequest(
        SIMULATOR_URL,
        exchange.method.lower(),
        f"{ROOT}{exchange.service}/{exchange.resource}",
        args=exchange.query,
        headers={"Authorization": _BASIC},
        data=None if body is None else json.dumps(body).encode(),
    )
    answer = b"" if exchange.response is None else json.dumps(_strip(exchange.response)).encode()
    return request, MockResponse(answer, status_code=exchange.status)


def test_openapi_services_requests_and_responses_validate(exchanges: list[Exchange]) -> None:
    checked = 0
    problems: list[str] = []
    for exchange in exchanges:
        if exchange.service not in OPENAPI_SERVICES or exchange.entity_set is None:
            continue
        openapi = openapi_for(exchange.service)
        request, response = openapi_exchange(exchange)
        try:
            openapi.validate_request(request)
            openapi.validate_response(request, response)
        except Exception as exc:
            cause = exc.__cause__ or exc
            problems.append(f"{exchange.method} {exchange.resource} {exchange.status}: {cause}")
        checked += 1
    assert problems == []
    assert checked > 50


def test_an_openapi_violation_is_reported() -> None:
    too_long = Exchange(
        method="POST",
        service="API_INSPECTIONLOT_SRV",
        resource="A_InspLotUsageDecision",
        entity_set="A_InspLotUsageDecision",
        keyed=False,
        navigation=None,
        query={},
        request={"InspectionLot": "1", "InspectionLotUsageDecisionCode": "TOO-LONG"},
        status=201,
        response={"d": {"InspectionLot": "1"}},
    )
    request, _ = openapi_exchange(too_long)

    with pytest.raises(Exception, match="body") as caught:
        openapi_for("API_INSPECTIONLOT_SRV").validate_request(request)
    assert "is too long" in str(caught.value.__cause__)

    number_for_decimal = Exchange(
        method="GET",
        service="API_INSPECTIONLOT_SRV",
        resource="A_InspectionLot",
        entity_set="A_InspectionLot",
        keyed=False,
        navigation=None,
        query={"$top": "5"},
        request=None,
        status=200,
        response={"d": {"results": [{"InspectionLot": "1", "InspLotQtyToFree": 12}]}},
    )
    request, response = openapi_exchange(number_for_decimal)
    with pytest.raises(Exception, match="12 is not of type 'string'"):
        openapi_for("API_INSPECTIONLOT_SRV").validate_response(request, response)


def _edm_value_problem(prop: EdmProperty, value: Any) -> str | None:
    if value is None:
        return None if prop.nullable else "null for a non-nullable property"
    kind = prop.type
    if kind == "Edm.Boolean":
        return None if isinstance(value, bool) else f"{value!r} is not a boolean"
    if not isinstance(value, str):
        return f"{value!r} is not a string ({kind})"
    if kind == "Edm.String" and prop.max_length is not None and len(value) > prop.max_length:
        return f"{value!r} is longer than {prop.max_length}"
    if kind == "Edm.Decimal" and not re.fullmatch(r"-?\d+(\.\d+)?", value):
        return f"{value!r} is not an Edm.Decimal"
    if kind in ("Edm.DateTime", "Edm.DateTimeOffset") and not re.fullmatch(
        r"/Date\(-?\d+([+-]\d{4})?\)/", value
    ):
        return f"{value!r} is not an OData v2 date"
    if kind == "Edm.Time" and not re.fullmatch(r"PT\d+H\d+M\d+S", value):
        return f"{value!r} is not an Edm.Time"
    return None


def test_edmx_services_values_match_their_property_types(exchanges: list[Exchange]) -> None:
    checked = 0
    problems: list[str] = []
    for exchange in exchanges:
        if exchange.service not in EDMX_SERVICES or exchange.entity_set is None:
            continue
        if exchange.status >= 400:
            error = exchange.response["error"]
            assert isinstance(error["code"], str)
            assert set(error["message"]) == {"lang", "value"}
            continue
        for side, entity in _entities(exchange):
            for field in _fields(entity):
                entity_type = _edmx_type(exchange.service, exchange.entity_set, field.path[:-1])
                assert entity_type is not None
                if field.navigation:
                    continue
                prop = entity_type.properties[field.path[-1]]
                where = f"{exchange.method} {exchange.resource} {side} {'/'.join(field.path)}"
                problem = _edm_value_problem(prop, field.value)
                if problem:
                    problems.append(f"{where}: {problem}")
                if side == "request" and exchange.method == "POST" and not prop.creatable:
                    problems.append(f"{where}: not creatable")
                if side == "request" and exchange.method == "PATCH" and not prop.updatable:
                    problems.append(f"{where}: not updatable")
                checked += 1
    assert problems == []
    assert checked > 500
