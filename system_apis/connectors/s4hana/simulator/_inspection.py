"""Quality inspection in S/4HANA QM: an inspection plan gives each inspection lot its
characteristics, a result is recorded per characteristic and valuated against the
characteristic's limits, and the lot's statuses (``A_InspectionLotWithStatus``) follow.

Errors are raised as SAP raises them (message class and number, text) before anything changes.
Flags SAP's definitions type as one-character strings (``InspSpecHasLowerLimit``, the lot
statuses, ``InspectionResultHasMeanValue`` …) are ``"X"`` when set and ``""`` when not, as SAP
sends them.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Final

from system_apis.connectors.s4hana.simulator._query import edm_decimal
from system_apis.connectors.s4hana.simulator._state import KEYS, Plan, SapError, State

__all__ = [
    "RESULT_UPDATABLE",
    "cancel_inspection_lot",
    "change_inspection_result",
    "create_api_inspection_lot",
    "lot_defaults",
    "mark_inspection_completed",
    "open_inspection_lot",
    "plan_characteristic",
    "plan_of",
    "record_inspection_result",
]

Entity = dict[str, Any]

SET: Final = "X"
"""SAP's value of a set one-character flag (an unset one is ``""``)."""
OPEN: Final = "1"
"""``InspectionCharacteristicStatus`` of a characteristic awaiting its result."""
RECORDED: Final = "5"
"""Results record status (and characteristic status) once the result is recorded."""
API_ORIGIN: Final = "89"
"""The only inspection lot origin SAP lets its API create ("other"); the others come from their
business processes (origin 01: goods receipt)."""
VALUATIONS: Final = frozenset({"A", "R"})

_STATUS_FLAGS: Final = (
    "InspectionLotStatusCreated",
    "InspectionLotStatusReleased",
    "InspectionLotStatusSkip",
    "InspLotStatusRsltsConfirmed",
    "InspLotStsDefectsRecorded",
    "InspLotStsShrtTrmInspCmpltd",
    "InspLotStatusInspCompleted",
    "InspLotStatusCanceled",
    "InspLotStatusRepair",
)
_LOT_TEXTS: Final = {
    "InspectionLotOrigin": 2,
    "InspectionLotType": 8,
    "Material": 40,
    "Plant": 4,
    "InspectionLotQuantityUnit": 3,
    "Batch": 10,
    "Supplier": 10,
    "InspectionLotText": 40,
    "InspLotExternalNumber": 30,
    "PurchasingDocument": 10,
    "PurchasingDocumentItem": 5,
    "MaterialDocumentYear": 4,
    "MaterialDocument": 10,
    "MaterialDocumentItem": 4,
    "BillOfOperationsGroup": 8,
    "BillOfOperationsVariant": 2,
}
"""What ``POST A_InspectionLot`` reads besides ``InspectionLotQuantity`` (name -> max length)."""
_RESULT_TEXTS: Final = {
    "InspectionValuationResult": 1,
    "InspResultFrmtdMeanValue": 22,
    "InspectionResultText": 40,
    "Inspector": 12,
    "InspectionResultStatus": 1,
}
"""What ``POST`` / ``PATCH A_InspectionResult`` read besides the keys (name -> max length)."""
RESULT_UPDATABLE: Final = frozenset(_RESULT_TEXTS)


def _text(body: Entity, name: str, max_length: int) -> str:
    value = body.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SapError(400, "/IWBEP/CM_MGW_RT/001", f"Property '{name}' must be an Edm.String")
    if len(value) > max_length:
        raise SapError(
            400,
            "/IWBEP/CM_MGW_RT/001",
            f"Value of property '{name}' exceeds its maximum length of {max_length}",
        )
    return value


def _only(body: Entity, known: set[str] | frozenset[str], entity_set: str) -> None:
    """SAP Gateway refuses a property its entity type lacks; the simulator also refuses one it
    would silently ignore, so a client sending more than the simulator reads finds out."""
    for name in body:
        if name not in known:
            raise SapError(
                400,
                "/IWBEP/CM_MGW_RT/004",
                f"Property '{name}' is invalid or not creatable for '{entity_set}' in this "
                "simulator",
            )


# --- plans ----------------------------------------------------------------------------------------


def plan_of(state: State, material: str, plant: str) -> Plan | None:
    """The inspection plan of ``material`` at ``plant`` (its current change state)."""
    return state.plans.get((material, plant))


def _double(value: float | None) -> float:
    """An ``Edm.Double`` SAP sends: never null, its initial value 0 when not set (the
    ``…Has…`` flag beside it says whether it is)."""
    return 0.0 if value is None else value


def _formatted(value: float | None, places: int) -> str:
    return "" if value is None else f"{value:.{places}f}"


def plan_characteristic(
    index: int,
    *,
    master: str,
    plant: str,
    text: str,
    quantitative: bool,
    lower: float | None = None,
    upper: float | None = None,
    target: float | None = None,
    unit: str = "",
    critical: bool = False,
    places: int = 3,
) -> Entity:
    """The ``A_InspectionCharacteristic`` template of the plan's ``index``-th (0-based)
    characteristic, copied from master inspection characteristic ``master`` (version 1).

    ``critical`` is SAP's characteristic weighting: "01" (critical) or "03" (minor); which
    codes count as critical is customizing the connector is configured with."""
    return {
        "InspPlanOperationInternalID": "00000001",
        "InspectionCharacteristic": f"{(index + 1) * 10:04d}",
        "InspectionSpecification": master,
        "InspectionSpecificationPlant": plant,
        "InspectionSpecificationVersion": "000001",
        "InspectionSpecificationText": text[:40],
        "InspSpecIsQuantitative": quantitative,
        "InspSpecIsMeasuredValueRqd": SET if quantitative else "",
        "InspSpecLowerLimit": _double(lower),
        "InspSpecFrmtdLowerLimit": _formatted(lower, places),
        "InspSpecHasLowerLimit": SET if lower is not None else "",
        "InspSpecUpperLimit": _double(upper),
        "InspSpecFrmtdUpperLimit": _formatted(upper, places),
        "InspSpecHasUpperLimit": SET if upper is not None else "",
        "InspSpecTargetValue": _double(target),
        "InspSpecFrmtdTargetValue": _formatted(target, places),
        "InspSpecHasTargetValue": SET if target is not None else "",
        "InspectionSpecificationUnit": unit,
        "InspSpecDecimalPlaces": places,
        "InspSpecImportanceCode": "01" if critical else "03",
        "InspCharcIsNotPlanned": False,
        "InspectionCharacteristicStatus": OPEN,
    }


# --- inspection lots ------------------------------------------------------------------------------


def lot_defaults(state: State, number: str, user: str) -> Entity:
    """Every property the simulator keeps on an inspection lot, initial (SAP's empty values)."""
    now = state.clock()
    return {
        "InspectionLot": number,
        "Material": "",
        "Batch": "",
        "Plant": "",
        "InspectionLotOrigin": "",
        "InspectionLotType": "",
        "InspectionLotText": "",
        "InspLotExternalNumber": "",
        "InspectionLotQuantity": "0.000",
        "InspectionLotActualQuantity": "0.000",
        "InspectionLotQuantityUnit": "",
        "InspLotQtyToBePosted": "0.000",
        "InspLotQtyToFree": "0.000",
        "InspLotQtyToBlocked": "0.000",
        "InspLotQtyToScrap": "0.000",
        "InspLotQtyReturnedToSupplier": "0.000",
        "InspLotQtyToSpecialStock": "0.000",
        "InspectionLotHasQuantity": False,
        "InspectionLotHasUsageDecision": False,
        "InspLotIsStockPostingCompleted": False,
        "InspLotIsTaskListRequired": True,
        "Supplier": "",
        "PurchasingDocument": "",
        "PurchasingDocumentItem": "",
        "MaterialDocumentYear": "",
        "MaterialDocument": "",
        "MaterialDocumentItem": "",
        "GoodsMovementType": "",
        "InspectionLotStorageLocation": "",
        "BatchStorageLocation": "",
        "InspectionLotCreatedBy": user,
        "InspectionLotCreatedOn": now,
        "InspLotCreatedOnLocalDate": now,
        "ChangedDateTime": now,
    }


def open_inspection_lot(state: State, lot: Entity, plan: Plan | None) -> Entity:
    """Book a new lot with the plan's change state valid now: its task-list fields, one
    characteristic per planned one, and its statuses (created; released when it has a plan,
    as a lot without a task list waits for one)."""
    now = state.clock()
    current = plan.at(now) if plan is not None else None
    lot.update(
        current.header()
        if current is not None
        else dict.fromkeys(
            (
                "BillOfOperationsType",
                "BillOfOperationsGroup",
                "BillOfOperationsVariant",
                "BillOfOperationsUsage",
                "BillOfOperationsChangeStateID",
            ),
            "",
        )
    )
    state.put("A_InspectionLot", lot)
    for template in current.characteristics if current is not None else ():
        state.put(
            "A_InspectionCharacteristic",
            {**template, "InspectionLot": lot["InspectionLot"], "ChangedDateTime": now},
        )
    status = dict.fromkeys(_STATUS_FLAGS, "")
    status["InspectionLotStatusCreated"] = SET
    status["InspectionLotStatusReleased"] = SET if current is not None else ""
    state.put("A_InspectionLotWithStatus", {"InspectionLot": lot["InspectionLot"], **status})
    return lot


def _explicit_plan(state: State, material: str, plant: str, group: str, variant: str) -> Plan:
    plan = plan_of(state, material, plant)
    if (
        plan is None
        or group != plan.BillOfOperationsGroup
        or (variant or plan.BillOfOperationsVariant) != plan.BillOfOperationsVariant
    ):
        raise SapError(
            400,
            "QP/012",
            f"Task list Q {group or '-'} {variant or '-'} not found for material {material} "
            f"in plant {plant}",
        )
    return plan


def create_api_inspection_lot(state: State, body: Entity, user: str) -> Entity:
    """``POST A_InspectionLot``: a lot of origin 89 ("other"), inspected by its material's
    plan at the plant (or the plan named in the body, which must be that one). It is not
    stock-relevant: no stock to post, so the ERP side's open-lot lookup never finds it."""
    _only(body, {*_LOT_TEXTS, "InspectionLotQuantity"}, "A_InspectionLot")
    texts = {name: _text(body, name, length) for name, length in _LOT_TEXTS.items()}
    origin = texts["InspectionLotOrigin"] or API_ORIGIN
    if origin != API_ORIGIN:
        raise SapError(
            400,
            "QA/011",
            f"Inspection lots of origin {origin} are created by their business process; "
            f"only origin {API_ORIGIN} can be created with this API",
        )
    material, plant = texts["Material"], texts["Plant"]
    if not material or not plant:
        raise SapError(400, "QA/013", "Enter a material and a plant for the inspection lot")
    product = state.get("A_Product", (material,))
    if product is None or state.get("A_ProductPlant", (material, plant)) is None:
        raise SapError(400, "M3/305", f"Material {material} does not exist in plant {plant}")
    if "InspectionLotQuantity" not in body:
        raise SapError(400, "QA/015", "Enter an inspection lot quantity greater than zero")
    quantity = edm_decimal(body["InspectionLotQuantity"], "InspectionLotQuantity")
    if quantity <= 0:
        raise SapError(400, "QA/015", "Enter an inspection lot quantity greater than zero")
    # The batch is taken as given: SAP checks that it exists, but callers (the connector
    # conformance suite) inspect batches no ERP received, and no stock moves on an 89 lot.
    supplier = texts["Supplier"]
    if supplier and state.get("A_Supplier", (supplier,)) is None:
        raise SapError(400, "QA/018", f"Supplier {supplier} does not exist")
    group, variant = texts["BillOfOperationsGroup"], texts["BillOfOperationsVariant"]
    plan = (
        _explicit_plan(state, material, plant, group, variant)
        if group or variant
        else plan_of(state, material, plant)
    )
    if plan is None:
        raise SapError(
            400,
            "QA/086",
            f"No inspection plan for material {material} in plant {plant}: inspection type "
            f"{API_ORIGIN} requires a task list",
        )
    number = f"{state.next_number('insplot', 10000000001):012d}"
    lot = lot_defaults(state, number, user)
    lot.update(
        {
            name: texts[name]
            for name in (
                "Material",
                "Plant",
                "Batch",
                "Supplier",
                "InspectionLotText",
                "InspLotExternalNumber",
                "PurchasingDocument",
                "PurchasingDocumentItem",
                "MaterialDocumentYear",
                "MaterialDocument",
                "MaterialDocumentItem",
            )
        }
    )
    lot.update(
        InspectionLotOrigin=API_ORIGIN,
        InspectionLotType=texts["InspectionLotType"] or API_ORIGIN,
        InspectionLotQuantity=str(quantity),
        InspectionLotActualQuantity=str(quantity),
        InspectionLotQuantityUnit=texts["InspectionLotQuantityUnit"] or str(product["BaseUnit"]),
        InspectionLotHasQuantity=False,
        InspLotIsStockPostingCompleted=True,
    )
    return open_inspection_lot(state, lot, plan)


def _status_row(state: State, number: str) -> Entity | None:
    return state.get("A_InspectionLotWithStatus", (number,))


def mark_inspection_completed(state: State, number: str) -> None:
    """A usage decision completes the inspection (SAP's status ICCO)."""
    status = _status_row(state, number)
    if status is not None:
        status["InspLotStatusInspCompleted"] = SET
        state.touch(status)


def cancel_inspection_lot(state: State, number: str) -> Entity:
    """Cancel a lot (SAP's status LTCA; done in the QM app, not through the API)."""
    lot = state.require("A_InspectionLot", (number,))
    status = state.require("A_InspectionLotWithStatus", (number,))
    status["InspLotStatusCanceled"] = SET
    state.touch(status)
    state.touch(lot)
    return lot


# --- results --------------------------------------------------------------------------------------


def _open_for_results(state: State, lot: Entity) -> None:
    number = lot["InspectionLot"]
    if lot["InspectionLotHasUsageDecision"]:
        raise SapError(
            400,
            "QE/030",
            f"Usage decision already made for inspection lot {number}: results can no longer "
            "be changed",
        )
    status = _status_row(state, number)
    if status is not None and status.get("InspLotStatusCanceled") == SET:
        raise SapError(400, "QE/032", f"Inspection lot {number} is cancelled")


def _mean(char: Entity, raw: str) -> Decimal | None:
    """The mean value at the characteristic's decimal places (SAP rounds the input to them)."""
    if not raw.strip():
        return None
    if not char.get("InspSpecIsQuantitative"):
        raise SapError(
            400,
            "QE/045",
            f"Characteristic {char['InspectionCharacteristic']} is qualitative: it takes a "
            "valuation, not a measured value",
        )
    try:
        value = Decimal(raw.strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite():
        raise SapError(400, "QE/043", f"'{raw}' is not a valid measured value")
    places = int(char.get("InspSpecDecimalPlaces") or 0)
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _limit(char: Entity, name: str) -> float | None:
    value = char.get(f"InspSpec{name}")
    return float(value) if char.get(f"InspSpecHas{name}") == SET and value is not None else None


def _valuation(char: Entity, mean: Decimal | None, given: str) -> str:
    """The inspector's valuation if given, else SAP's: accept within the limits (inclusive, a
    missing limit open), reject outside."""
    number = char["InspectionCharacteristic"]
    if given and given not in VALUATIONS:
        raise SapError(
            400, "QE/042", f"Valuation '{given}' is not allowed: enter A (accept) or R (reject)"
        )
    quantitative = bool(char.get("InspSpecIsQuantitative"))
    if quantitative and mean is None and char.get("InspSpecIsMeasuredValueRqd") == SET:
        raise SapError(400, "QE/040", f"Enter a measured value for characteristic {number}")
    if given:
        return given
    if mean is None:
        raise SapError(400, "QE/041", f"Enter a valuation (A or R) for characteristic {number}")
    lower, upper = _limit(char, "LowerLimit"), _limit(char, "UpperLimit")
    value = float(mean)
    within = (lower is None or value >= lower) and (upper is None or value <= upper)
    return "A" if within else "R"


def _result_values(char: Entity, values: Entity, user: str) -> Entity:
    """The result fields ``values`` give ``char``, valuated (SapError before any change)."""
    texts = {name: _text(values, name, length) for name, length in _RESULT_TEXTS.items()}
    mean = _mean(char, texts["InspResultFrmtdMeanValue"])
    return {
        "InspectionValuationResult": _valuation(char, mean, texts["InspectionValuationResult"]),
        "InspectionResultMeanValue": _double(None if mean is None else float(mean)),
        "InspResultFrmtdMeanValue": "" if mean is None else str(mean),
        "InspectionResultHasMeanValue": SET if mean is not None else "",
        "InspectionResultStatus": texts["InspectionResultStatus"] or RECORDED,
        "InspectionResultText": texts["InspectionResultText"],
        "Inspector": texts["Inspector"] or user,
    }


def _close_characteristic(state: State, lot: Entity, char: Entity, status: str) -> None:
    """The characteristic takes its result's status; once every one is recorded, the lot's
    results are confirmed (SAP's status RREC)."""
    char["InspectionCharacteristicStatus"] = status
    state.touch(char)
    characteristics = state.where("A_InspectionCharacteristic", InspectionLot=lot["InspectionLot"])
    row = _status_row(state, lot["InspectionLot"])
    if row is not None:
        complete = all(c["InspectionCharacteristicStatus"] == RECORDED for c in characteristics)
        row["InspLotStatusRsltsConfirmed"] = SET if complete else ""


def record_inspection_result(state: State, body: Entity, user: str) -> Entity:
    """``POST A_InspectionResult``: the (summarized) result of one characteristic of a lot."""
    keys = KEYS["A_InspectionResult"]
    _only(body, {*keys, *RESULT_UPDATABLE}, "A_InspectionResult")
    key = tuple(str(body.get(name) or "") for name in keys)
    lot_number, operation, number = key
    char = state.get("A_InspectionCharacteristic", key)
    lot = state.get("A_InspectionLot", (lot_number,))
    if char is None or lot is None:
        raise SapError(
            400,
            "QE/010",
            f"Characteristic {number} of operation {operation} does not exist for inspection "
            f"lot {lot_number}",
        )
    _open_for_results(state, lot)
    if state.get("A_InspectionResult", key) is not None:
        raise SapError(
            400,
            "QE/031",
            f"Result already exists for characteristic {number} of inspection lot "
            f"{lot_number}; change it",
        )
    values = _result_values(char, body, user)
    now = state.clock()
    result = state.put(
        "A_InspectionResult",
        {
            **dict(zip(keys, key, strict=True)),
            **values,
            "CreatedByUser": user,
            "CreationDate": now,
            "LastChangedByUser": user,
            "LastChangeDate": now,
            "ChangedDateTime": now,
        },
    )
    _close_characteristic(state, lot, char, values["InspectionResultStatus"])
    return result


def change_inspection_result(state: State, result: Entity, changes: Entity, user: str) -> None:
    """``PATCH A_InspectionResult``: changed fields, valuated again. A new mean value without a
    valuation is valuated by SAP afresh; otherwise the recorded valuation stands."""
    key = state.key_of("A_InspectionResult", result)
    char = state.require("A_InspectionCharacteristic", key)
    lot = state.require("A_InspectionLot", (key[0],))
    _open_for_results(state, lot)
    merged = {name: result.get(name) for name in RESULT_UPDATABLE} | changes
    if "InspResultFrmtdMeanValue" in changes and "InspectionValuationResult" not in changes:
        merged["InspectionValuationResult"] = ""
    values = _result_values(char, merged, user)
    result.update(values, LastChangedByUser=user, LastChangeDate=state.clock())
    state.touch(result)
    _close_characteristic(state, lot, char, values["InspectionResultStatus"])
