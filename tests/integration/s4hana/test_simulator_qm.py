"""The simulator's SAP QM over HTTP, as a client of SAP Gateway sees it: inspection lots with the
characteristics of their inspection plan (made by a goods receipt, or through the API with
origin 89), results valuated against the limits, recorded once and then changed with their ETag,
frozen by the usage decision; and the seeded lots saying what the demo's inspections say.

Every exchange with API_INSPECTIONLOT_SRV in these tests is also checked against SAP's
definition of the service (openapi-core, and every property name by name) when the test ends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any, Final

import httpx
import pytest

from shared.models import (
    CharacteristicValuation,
    InspectionOrigin,
    InspectionResult,
    InspectionStatus,
)
from shared.models.qms import Inspection
from shared.settings import S4HanaSettings
from system_apis.connectors.reference import build_demo
from system_apis.connectors.s4hana.simulator import (
    Exchange,
    S4HanaSimulator,
    build_simulator,
    plan_of,
)
from tests.contract.test_s4hana_fidelity import openapi_exchange, openapi_for, unknown_fields

BASE: Final = "http://s4hana-sim"
SERVICE: Final = "API_INSPECTIONLOT_SRV"
QM: Final = f"/sap/opu/odata/sap/{SERVICE}"
DOC: Final = "/sap/opu/odata/sap/API_MATERIAL_DOCUMENT_SRV"
AUTH: Final = ("QGATE_COMM", "qgate-s4hana-dev")
OP: Final = "00000001"

Entity = dict[str, Any]


# --- SAP's definition of the service (the fidelity checks' own) -----------------------------------


def _problems(exchanges: list[Exchange]) -> list[str]:
    """What SAP's definition of the service says is wrong with these exchanges. Requests SAP
    refuses are sometimes wrong on purpose here: only their answers are checked."""
    checked = [e if e.status < 400 else replace(e, request=None) for e in exchanges]
    problems = unknown_fields(checked)
    openapi = openapi_for(SERVICE)
    for exchange in exchanges:
        request, response = openapi_exchange(exchange)
        try:
            if exchange.status < 400:
                openapi.validate_request(request)
            openapi.validate_response(request, response)
        except Exception as exc:  # every kind of violation is reported
            cause = exc.__cause__ or exc
            problems.append(f"{exchange.method} {exchange.resource} {exchange.status}: {cause}")
    return problems


# --- a client -------------------------------------------------------------------------------------


@dataclass
class Sap:
    """HTTP to one seeded simulator; the CSRF token fetched before the first write and reused."""

    sim: S4HanaSimulator
    http: httpx.AsyncClient
    token: str = field(default="")

    async def get(self, resource: str, **query: str) -> Any:
        response = await self.http.get(f"{QM}/{resource}", params=query)
        assert response.status_code == 200, response.text
        return response.json()["d"]

    async def rows(self, entity_set: str, **query: str) -> list[Entity]:
        found: list[Entity] = (await self.get(entity_set, **query))["results"]
        return found

    async def write(
        self,
        method: str,
        resource: str,
        body: Entity,
        *,
        service: str = QM,
        if_match: str | None = None,
    ) -> httpx.Response:
        if not self.token:
            fetched = await self.http.get(f"{QM}/", headers={"X-CSRF-Token": "Fetch"})
            self.token = fetched.headers["x-csrf-token"]
        headers = {"X-CSRF-Token": self.token}
        if if_match is not None:
            headers["If-Match"] = if_match
        return await self.http.request(method, f"{service}/{resource}", json=body, headers=headers)

    async def create(self, entity_set: str, body: Entity) -> Entity:
        response = await self.write("POST", entity_set, body)
        assert response.status_code == 201, response.text
        created: Entity = response.json()["d"]
        return created


@pytest.fixture
async def sap() -> AsyncIterator[Sap]:
    sim = build_simulator(S4HanaSettings())
    transport = httpx.ASGITransport(app=sim)
    async with httpx.AsyncClient(transport=transport, base_url=BASE, auth=AUTH) as http:
        yield Sap(sim, http)
    ours = [e for e in sim.exchanges if e.service == SERVICE and e.entity_set is not None]
    assert _problems(ours) == [], "answers SAP's definition of the service does not allow"


def _refused(response: httpx.Response, status: int, code: str) -> str:
    """The SAP error body's message, once its status and code are as expected."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]["lang"] == "en"
    assert error["innererror"]["errordetails"][0]["code"] == code
    message: str = error["message"]["value"]
    return message


def _lot_body(material: str = "HSG-A100", **extra: str) -> Entity:
    return {
        "Material": material,
        "Plant": "1000",
        "Batch": "0019",
        "InspectionLotOrigin": "89",
        "InspectionLotQuantity": "20",
        **extra,
    }


def _result_path(lot: str, characteristic: str) -> str:
    return (
        f"A_InspectionResult(InspectionLot='{lot}',InspPlanOperationInternalID='{OP}',"
        f"InspectionCharacteristic='{characteristic}')"
    )


def _result(lot: str, characteristic: str, **values: str) -> Entity:
    return {
        "InspectionLot": lot,
        "InspPlanOperationInternalID": OP,
        "InspectionCharacteristic": characteristic,
        **values,
    }


def _by_lot(lot: str) -> dict[str, str]:
    return {"$filter": f"InspectionLot eq '{lot}'"}


async def _count(sap: Sap, entity_set: str) -> int:
    return int((await sap.get(entity_set, **{"$inlinecount": "allpages", "$top": "0"}))["__count"])


# --- inspection lots and their plans --------------------------------------------------------------


async def test_a_goods_receipt_into_qi_stock_makes_a_lot_with_its_plans_characteristics(
    sap: Sap,
) -> None:
    receipt = await sap.write(
        "POST",
        "A_MaterialDocumentHeader",
        {
            "GoodsMovementCode": "01",
            "to_MaterialDocumentItem": {
                "results": [
                    {
                        "GoodsMovementType": "101",
                        "PurchaseOrder": "4500000210",
                        "PurchaseOrderItem": "00010",
                        "Plant": "1000",
                        "QuantityInEntryUnit": "20",
                    }
                ]
            },
        },
        service=DOC,
    )
    assert receipt.status_code == 201, receipt.text
    document = receipt.json()["d"]["MaterialDocument"]

    (lot,) = await sap.rows(
        "A_InspectionLot",
        **{
            "$filter": f"MaterialDocument eq '{document}' and Material eq 'HSG-A100'",
            "$expand": "to_InspectionLotWithStatus",
        },
    )
    number = lot["InspectionLot"]
    chars = await sap.rows("A_InspectionCharacteristic", **_by_lot(number))

    plan = plan_of(sap.sim.state, "HSG-A100", "1000")
    assert plan is not None
    assert (lot["InspectionLotOrigin"], lot["InspLotQtyToBePosted"]) == ("01", "20.000")
    assert {k: lot[k] for k in plan.header()} == {
        "BillOfOperationsType": "Q",
        "BillOfOperationsGroup": plan.BillOfOperationsGroup,
        "BillOfOperationsVariant": "1",
        "BillOfOperationsUsage": "5",
        "BillOfOperationsChangeStateID": "2",  # the demo specification's current version
    }
    assert {k for k, v in lot["to_InspectionLotWithStatus"].items() if v == "X"} == {
        "InspectionLotStatusCreated",
        "InspectionLotStatusReleased",
    }
    assert [(c["InspectionCharacteristic"], c["InspectionSpecification"]) for c in chars] == [
        ("0010", "C010"),
        ("0020", "C020"),
        ("0030", "C030"),
        ("0040", "C040"),
    ]
    seat, flatness, porosity, _ = chars
    assert seat["InspectionSpecificationText"] == "Bearing seat diameter"
    assert (seat["InspSpecLowerLimit"], seat["InspSpecUpperLimit"]) == (61.99, 62.02)
    assert (seat["InspSpecHasLowerLimit"], seat["InspSpecIsMeasuredValueRqd"]) == ("X", "X")
    assert (seat["InspSpecFrmtdUpperLimit"], seat["InspectionSpecificationUnit"]) == (
        "62.020",
        "mm",
    )
    assert (seat["InspSpecImportanceCode"], flatness["InspSpecImportanceCode"]) == ("01", "01")
    assert porosity["InspSpecIsQuantitative"] is False
    assert porosity["InspSpecImportanceCode"] == "03"
    assert (porosity["InspSpecHasLowerLimit"], porosity["InspSpecLowerLimit"]) == ("", 0.0)
    assert {c["InspectionCharacteristicStatus"] for c in chars} == {"1"}
    assert {c["InspectionSpecificationPlant"] for c in chars} == {"1000"}


async def test_a_lot_links_its_statuses_and_defers_them_unless_expanded(sap: Sap) -> None:
    (lot,) = await sap.rows("A_InspectionLot", **{"$filter": "Batch eq '0022'"})
    number = lot["InspectionLot"]

    linked = await sap.get(f"A_InspectionLot('{number}')/to_InspectionLotWithStatus")
    direct = await sap.get(f"A_InspectionLotWithStatus('{number}')")

    assert lot["to_InspectionLotWithStatus"] == {
        "__deferred": {"uri": f"{BASE}{QM}/A_InspectionLot('{number}')/to_InspectionLotWithStatus"}
    }
    assert linked == direct
    status = openapi_for(SERVICE).spec / "components" / "schemas" / "A_InspectionLotWithStatus"
    assert set((status / "properties").keys()) <= set(direct)  # every flag SAP defines
    assert direct["InspectionLotStatusCreated"] == "X"


async def test_filters_and_top_select_lots_characteristics_and_results(sap: Sap) -> None:
    every = await sap.rows("A_InspectionLot")
    numbers = sorted(lot["InspectionLot"] for lot in every)

    later = await sap.rows("A_InspectionLot", **{"$filter": f"InspectionLot gt '{numbers[-3]}'"})
    bearings = await sap.rows(
        "A_InspectionLot", **{"$filter": "Material eq 'BRG-6308' and Plant eq '2000'"}
    )
    by_batch = await sap.rows(
        "A_InspectionLot", **{"$filter": "Plant eq '1000' and Batch eq '0019'"}
    )
    by_supplier = await sap.rows("A_InspectionLot", **{"$filter": "Supplier eq 'SUP-0005'"})
    other = await sap.rows("A_InspectionLot", **{"$filter": "InspectionLotOrigin eq '89'"})
    two = await sap.rows("A_InspectionLot", **{"$top": "2"})
    chars = await sap.rows("A_InspectionCharacteristic", **_by_lot(numbers[0]), **{"$top": "2"})
    results = await sap.rows(
        "A_InspectionResult",
        **{"$filter": f"InspectionLot eq '{numbers[0]}' and InspectionCharacteristic eq '0020'"},
    )

    assert [lot["InspectionLot"] for lot in later] == numbers[-2:]
    assert [(b["Material"], b["Plant"], b["Batch"]) for b in bearings] == [
        ("BRG-6308", "2000", "0010")
    ]
    assert [lot["Material"] for lot in by_batch] == ["HSG-A100"]
    assert {lot["Material"] for lot in by_supplier} == {"SHF-3012"}
    assert len(by_supplier) == 3
    assert [(lot["Material"], lot["Batch"]) for lot in other] == [("SEL-040", "0008")]
    assert [lot["InspectionLot"] for lot in two] == numbers[:2]
    assert [c["InspectionCharacteristic"] for c in chars] == ["0010", "0020"]
    assert [(r["InspectionCharacteristic"], r["InspectionLot"]) for r in results] == [
        ("0020", numbers[0])
    ]


async def test_an_origin_89_lot_is_created_with_its_plan_and_not_stock_relevant(sap: Sap) -> None:
    highest = max(lot["InspectionLot"] for lot in await sap.rows("A_InspectionLot"))
    plan = plan_of(sap.sim.state, "HSG-A100", "1000")
    assert plan is not None

    response = await sap.write(
        "POST", "A_InspectionLot", _lot_body(InspectionLotText="Customer complaint re-check")
    )
    explicit = await sap.create(
        "A_InspectionLot",
        _lot_body(BillOfOperationsGroup=plan.BillOfOperationsGroup, BillOfOperationsVariant="1"),
    )

    assert response.status_code == 201, response.text
    lot = response.json()["d"]
    number = lot["InspectionLot"]
    assert number > highest  # the goods-receipt lots' number range
    assert response.headers["location"] == f"{BASE}{QM}/A_InspectionLot('{number}')"
    assert response.headers["etag"]
    assert {
        k: lot[k]
        for k in (
            "InspectionLotOrigin",
            "InspectionLotType",
            "InspectionLotQuantity",
            "InspectionLotQuantityUnit",
            "InspectionLotHasQuantity",
            "InspLotIsStockPostingCompleted",
            "InspLotQtyToBePosted",
            "InspectionLotHasUsageDecision",
            "InspectionLotCreatedBy",
            "InspectionLotText",
            "BillOfOperationsGroup",
            "BillOfOperationsChangeStateID",
        )
    } == {
        "InspectionLotOrigin": "89",
        "InspectionLotType": "89",
        "InspectionLotQuantity": "20.000",
        "InspectionLotQuantityUnit": "PC",  # the product's base unit
        "InspectionLotHasQuantity": False,
        "InspLotIsStockPostingCompleted": True,
        "InspLotQtyToBePosted": "0.000",
        "InspectionLotHasUsageDecision": False,
        "InspectionLotCreatedBy": "QGATE_COMM",
        "InspectionLotText": "Customer complaint re-check",
        "BillOfOperationsGroup": plan.BillOfOperationsGroup,
        "BillOfOperationsChangeStateID": "2",
    }
    chars = await sap.rows("A_InspectionCharacteristic", **_by_lot(number))
    assert [c["InspectionSpecification"] for c in chars] == ["C010", "C020", "C030", "C040"]
    status = await sap.get(f"A_InspectionLotWithStatus('{number}')")
    assert (status["InspectionLotStatusReleased"], status["InspLotStatusCanceled"]) == ("X", "")
    assert explicit["BillOfOperationsGroup"] == plan.BillOfOperationsGroup
    # the ERP side looks for the batch's lot with stock still to post: only the GR lot
    open_lots = await sap.rows(
        "A_InspectionLot",
        **{
            "$filter": "Material eq 'HSG-A100' and Plant eq '1000' and Batch eq '0019' "
            "and InspLotIsStockPostingCompleted eq false"
        },
    )
    assert [lot["InspectionLotOrigin"] for lot in open_lots] == ["01"]


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (_lot_body("NOPE-1"), "M3/305", "Material NOPE-1 does not exist in plant 1000"),
        (
            _lot_body(BillOfOperationsGroup="50000001", BillOfOperationsVariant="1"),
            "QP/012",
            "Task list Q 50000001 1 not found for material HSG-A100 in plant 1000",
        ),
        (
            _lot_body(InspectionLotOrigin="01"),
            "QA/011",
            "Inspection lots of origin 01 are created by their business process",
        ),
        (_lot_body(InspectionLotQuantity="0"), "QA/015", "quantity greater than zero"),
        (_lot_body(Supplier="SUP-9999"), "QA/018", "Supplier SUP-9999 does not exist"),
        (
            {**_lot_body(), "InspectionLotHasUsageDecision": True},
            "/IWBEP/CM_MGW_RT/004",
            "Property 'InspectionLotHasUsageDecision' is invalid",
        ),
    ],
    ids=["unknown-material", "another-plan", "origin-01", "no-quantity", "supplier", "field"],
)
async def test_sap_refuses_lots_it_cannot_create_and_creates_nothing(
    sap: Sap, body: Entity, code: str, message: str
) -> None:
    sets = ("A_InspectionLot", "A_InspectionCharacteristic", "A_InspectionLotWithStatus")
    before = [await _count(sap, name) for name in sets]

    refused = await sap.write("POST", "A_InspectionLot", body)

    assert message in _refused(refused, 400, code)
    assert [await _count(sap, name) for name in sets] == before


async def test_a_material_without_a_plan_at_the_plant_gets_no_api_lot(sap: Sap) -> None:
    del sap.sim.state.plans[("HSG-A100", "1000")]

    refused = await sap.write("POST", "A_InspectionLot", _lot_body())

    assert "No inspection plan for material HSG-A100 in plant 1000" in _refused(
        refused, 400, "QA/086"
    )


# --- results --------------------------------------------------------------------------------------


async def _new_lot(sap: Sap, material: str = "HSG-A100") -> str:
    number: str = (await sap.create("A_InspectionLot", _lot_body(material)))["InspectionLot"]
    return number


async def test_results_are_valuated_against_the_limits_unless_the_inspector_valuates(
    sap: Sap,
) -> None:
    lot = await _new_lot(sap)  # HSG-A100: seat 61.990..62.020, flatness 0..0.05, porosity, wall

    seat = await sap.create(
        "A_InspectionResult", _result(lot, "0010", InspResultFrmtdMeanValue="62.02")
    )
    flatness = await sap.create(
        "A_InspectionResult",
        _result(lot, "0020", InspResultFrmtdMeanValue="0.06", InspectionResultText="Warped"),
    )
    porosity = await sap.create(
        "A_InspectionResult", _result(lot, "0030", InspectionValuationResult="R")
    )
    wall = await sap.create(
        "A_InspectionResult",
        _result(lot, "0040", InspResultFrmtdMeanValue="3.7", InspectionValuationResult="A"),
    )

    assert seat["InspectionValuationResult"] == "A"  # on the upper limit: inside
    assert (seat["InspectionResultMeanValue"], seat["InspResultFrmtdMeanValue"]) == (
        62.02,
        "62.020",
    )
    assert (seat["InspectionResultHasMeanValue"], seat["InspectionResultStatus"]) == ("X", "5")
    assert (seat["Inspector"], seat["CreatedByUser"]) == ("QGATE_COMM", "QGATE_COMM")
    assert flatness["InspectionValuationResult"] == "R"  # above 0.05
    assert flatness["InspectionResultText"] == "Warped"
    assert porosity["InspectionValuationResult"] == "R"
    assert (porosity["InspectionResultHasMeanValue"], porosity["InspectionResultMeanValue"]) == (
        "",
        0.0,
    )
    assert wall["InspectionValuationResult"] == "A"  # the inspector's valuation wins
    chars = await sap.rows("A_InspectionCharacteristic", **_by_lot(lot))
    assert {c["InspectionCharacteristicStatus"] for c in chars} == {"5"}
    status = await sap.get(f"A_InspectionLotWithStatus('{lot}')")
    assert status["InspLotStatusRsltsConfirmed"] == "X"  # every characteristic has its result


async def test_a_missing_limit_is_open_and_values_are_rounded_before_valuation(
    sap: Sap,
) -> None:
    lot = await _new_lot(sap, "GRS-LX2")  # dropping point: at least 250 degC, no upper limit

    hot = await sap.create(
        "A_InspectionResult", _result(lot, "0010", InspResultFrmtdMeanValue="900")
    )
    edge = await sap.write(
        "PATCH",
        _result_path(lot, "0010"),
        {"InspResultFrmtdMeanValue": "249.9996"},  # 250.000 at the 3 decimal places
        if_match="*",
    )
    rounded = await sap.get(_result_path(lot, "0010"))
    (char,) = await sap.rows(
        "A_InspectionCharacteristic",
        **{"$filter": f"InspectionLot eq '{lot}' and InspectionCharacteristic eq '0010'"},
    )

    assert hot["InspectionValuationResult"] == "A"
    assert edge.status_code == 204, edge.text
    assert (rounded["InspResultFrmtdMeanValue"], rounded["InspectionValuationResult"]) == (
        "250.000",
        "A",
    )
    assert (char["InspSpecHasUpperLimit"], char["InspectionSpecificationUnit"]) == ("", "°C")


@pytest.mark.parametrize(
    ("characteristic", "values", "code", "message"),
    [
        ("0010", {}, "QE/040", "Enter a measured value for characteristic 0010"),
        ("0010", {"InspectionValuationResult": "A"}, "QE/040", "Enter a measured value"),
        ("0030", {}, "QE/041", "Enter a valuation (A or R) for characteristic 0030"),
        ("0030", {"InspectionValuationResult": "X"}, "QE/042", "Valuation 'X' is not allowed"),
        ("0010", {"InspResultFrmtdMeanValue": "62,005"}, "QE/043", "'62,005' is not a valid"),
        ("0030", {"InspResultFrmtdMeanValue": "1"}, "QE/045", "0030 is qualitative"),
        ("0090", {"InspectionValuationResult": "A"}, "QE/010", "Characteristic 0090 of op"),
        (
            "0030",
            {"InspectionValuationResult": "A", "InspectionResultText": "x" * 41},
            "/IWBEP/CM_MGW_RT/001",
            "'InspectionResultText' exceeds its maximum length of 40",
        ),
    ],
    ids=[
        "no-mean",
        "valuation-without-mean",
        "no-valuation",
        "bad-valuation",
        "not-a-number",
        "mean-of-qualitative",
        "no-such-characteristic",
        "long-text",
    ],
)
async def test_results_sap_refuses_change_nothing(
    sap: Sap, characteristic: str, values: dict[str, str], code: str, message: str
) -> None:
    lot = await _new_lot(sap)

    refused = await sap.write("POST", "A_InspectionResult", _result(lot, characteristic, **values))

    assert message in _refused(refused, 400, code)
    assert await sap.rows("A_InspectionResult", **_by_lot(lot)) == []
    chars = await sap.rows("A_InspectionCharacteristic", **_by_lot(lot))
    assert {c["InspectionCharacteristicStatus"] for c in chars} == {"1"}


async def test_a_result_is_recorded_once_then_changed_only_with_its_current_etag(
    sap: Sap,
) -> None:
    lot = await _new_lot(sap)
    path = _result_path(lot, "0010")
    await sap.create("A_InspectionResult", _result(lot, "0010", InspResultFrmtdMeanValue="62.0"))
    read = await sap.http.get(f"{QM}/{path}")
    etag = read.headers["etag"]

    twice = await sap.write(
        "POST", "A_InspectionResult", _result(lot, "0010", InspResultFrmtdMeanValue="62.1")
    )
    unconditional = await sap.write("PATCH", path, {"InspResultFrmtdMeanValue": "62.1"})
    changed = await sap.write(
        "PATCH",
        path,
        {"InspResultFrmtdMeanValue": "62.1", "Inspector": "QA.MUELLER"},
        if_match=etag,
    )
    stale = await sap.write("PATCH", path, {"InspectionResultText": "late"}, if_match=etag)
    after = await sap.http.get(f"{QM}/{path}")
    annotated = await sap.write(
        "PATCH", path, {"InspectionResultText": "Re-measured"}, if_match=after.headers["etag"]
    )
    final = await sap.get(path)

    assert "Result already exists for characteristic 0010" in _refused(twice, 400, "QE/031")
    _refused(unconditional, 428, "/IWBEP/CM_MGW_RT/160")
    assert changed.status_code == 204, changed.text
    _refused(stale, 412, "/IWBEP/CM_MGW_RT/161")
    assert after.json()["d"]["InspectionValuationResult"] == "R"  # 62.1 > 62.02: valuated again
    assert annotated.status_code == 204, annotated.text
    assert (final["InspResultFrmtdMeanValue"], final["InspectionValuationResult"]) == (
        "62.100",
        "R",
    )
    assert (final["Inspector"], final["InspectionResultText"]) == ("QA.MUELLER", "Re-measured")
    assert after.headers["etag"] != etag


async def test_the_usage_decision_freezes_the_results(sap: Sap) -> None:
    lot = await _new_lot(sap)
    await sap.create("A_InspectionResult", _result(lot, "0010", InspResultFrmtdMeanValue="62.005"))
    etag = (await sap.http.get(f"{QM}/{_result_path(lot, '0010')}")).headers["etag"]

    await sap.create(
        "A_InspLotUsageDecision",
        {
            "InspectionLot": lot,
            "InspLotUsageDecisionCodeGroup": "QM",
            "InspectionLotUsageDecisionCode": "A1",
            "InspLotUsageDecisionValuation": "A",
        },
    )
    posted = await sap.write(
        "POST", "A_InspectionResult", _result(lot, "0030", InspectionValuationResult="A")
    )
    patched = await sap.write(
        "PATCH", _result_path(lot, "0010"), {"InspectionResultText": "late"}, if_match=etag
    )

    for refused in (posted, patched):
        assert "results can no longer be changed" in _refused(refused, 400, "QE/030")
    status = await sap.get(f"A_InspectionLotWithStatus('{lot}')")
    assert status["InspLotStatusInspCompleted"] == "X"
    assert len(await sap.rows("A_InspectionResult", **_by_lot(lot))) == 1


# --- the seeded lots ------------------------------------------------------------------------------


async def _sap_status(sap: Sap, lot: Entity) -> tuple[InspectionStatus, list[Entity], list[Entity]]:
    """What a client reads off SAP: the lot's status, its characteristics and results."""
    number = lot["InspectionLot"]
    chars = await sap.rows("A_InspectionCharacteristic", **_by_lot(number))
    results = await sap.rows("A_InspectionResult", **_by_lot(number))
    decisions = await sap.rows("A_InspLotUsageDecision", **_by_lot(number))
    if lot["to_InspectionLotWithStatus"]["InspLotStatusCanceled"] == "X":
        status = InspectionStatus.CANCELLED
    elif decisions:
        status = InspectionStatus.DECIDED
    elif len(results) == len(chars):
        status = InspectionStatus.RESULTS_RECORDED
    else:
        status = InspectionStatus.IN_PROGRESS if results else InspectionStatus.CREATED
    return status, chars, results


def _overall(chars: list[Entity], results: list[Entity]) -> InspectionResult:
    """The inspection result under the demo plants' customizing: weighting 01 is critical."""
    if not chars or len(results) < len(chars):
        return InspectionResult.PENDING
    weighting = {c["InspectionCharacteristic"]: c["InspSpecImportanceCode"] for c in chars}
    rejected = [r for r in results if r["InspectionValuationResult"] == "R"]
    if not rejected:
        return InspectionResult.PASS
    if any(weighting[r["InspectionCharacteristic"]] == "01" for r in rejected):
        return InspectionResult.FAIL
    return InspectionResult.CONDITIONAL_PASS


async def _seeded_lot(sap: Sap, inspection: Inspection) -> Entity:
    plant, batch = inspection.lot_id.split("-")[1:]
    origin = "01" if inspection.origin is InspectionOrigin.GOODS_RECEIPT else "89"
    (lot,) = await sap.rows(
        "A_InspectionLot",
        **{
            "$filter": f"Plant eq '{plant}' and Batch eq '{batch}' and "
            f"InspectionLotOrigin eq '{origin}'",
            "$expand": "to_InspectionLotWithStatus",
        },
    )
    return lot


async def test_the_seeded_lots_say_what_the_demo_inspections_say(sap: Sap) -> None:
    _, qms = build_demo()
    seen: set[InspectionStatus] = set()

    for inspection in qms.inspections:
        lot = await _seeded_lot(sap, inspection)
        status, chars, results = await _sap_status(sap, lot)
        seen.add(status)

        assert status is inspection.status, inspection.inspection_id
        assert (lot["Material"], lot["Supplier"]) == (inspection.item_id, inspection.supplier_id)
        assert lot["BillOfOperationsChangeStateID"] == str(inspection.spec_version)
        masters = {c["InspectionCharacteristic"]: c["InspectionSpecification"] for c in chars}
        assert sorted(masters.values()) == [r.characteristic_id for r in inspection.results]
        recorded = {masters[r["InspectionCharacteristic"]]: r for r in results}
        for expected in inspection.results:
            got = recorded.get(expected.characteristic_id)
            if expected.valuation is CharacteristicValuation.NOT_EVALUATED:
                assert got is None
                continue
            assert got is not None
            assert got["InspectionValuationResult"] == expected.valuation.value[0]  # A / R
            if expected.measured_value is not None:
                assert got["InspectionResultMeanValue"] == expected.measured_value
        assert _overall(chars, results) is inspection.result, inspection.inspection_id
        flags = lot["to_InspectionLotWithStatus"]
        assert (flags["InspLotStatusRsltsConfirmed"] == "X") is (
            status is InspectionStatus.RESULTS_RECORDED
            or (status is InspectionStatus.DECIDED and len(results) == len(chars))
        )
        assert (flags["InspLotStatusInspCompleted"] == "X") is (status is InspectionStatus.DECIDED)

    assert seen == set(InspectionStatus)


async def test_the_cancelled_stock_check_is_an_origin_89_lot_of_the_batch(sap: Sap) -> None:
    (lot,) = await sap.rows(
        "A_InspectionLot",
        **{"$filter": "InspectionLotOrigin eq '89'", "$expand": "to_InspectionLotWithStatus"},
    )

    assert (lot["Material"], lot["Plant"], lot["Batch"]) == ("SEL-040", "1000", "0008")
    assert lot["InspectionLotQuantity"] == "3200.000"
    assert lot["to_InspectionLotWithStatus"]["InspLotStatusCanceled"] == "X"
    assert lot["InspLotIsStockPostingCompleted"] is True
    refused = await sap.write(
        "POST",
        "A_InspectionResult",
        _result(lot["InspectionLot"], "0030", InspectionValuationResult="A"),
    )
    assert f"Inspection lot {lot['InspectionLot']} is cancelled" in _refused(refused, 400, "QE/032")


def test_seeding_is_deterministic() -> None:
    first = build_simulator(S4HanaSettings()).state
    second = build_simulator(S4HanaSettings()).state

    for name in ("A_InspectionLot", "A_InspectionCharacteristic", "A_InspectionResult"):
        assert first.sets[name] == second.sets[name]
    assert first.plans == second.plans
