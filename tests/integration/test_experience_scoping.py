"""Property: whatever the data, every experience list returns exactly the caller's records.

Hypothesis adds random data through the system layer (nonconformances of random suppliers at
random plants, goods receipts that create lots at both plants), then every tenant (four
supplier portals, two plant apps) walks every list to its end with a random page size and
filter. Each list must hold only records of the caller's supplier or plants, and all of them:
the expected set is the process layer's own unscoped list, filtered here by ownership.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Final

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration._experience import (
    PARTNER,
    PLANT,
    PLANT_CLIENTS,
    PROCESS,
    SUPPLIER_CLIENTS,
    Client,
    Qgate,
    running,
)

QMS: Final = "/system/qms/v1"
ERP: Final = "/system/erp/v1"
OPEN_PO_LINES: Final = (("PO-4500000110", 10), ("PO-4500000120", 10))
_receipts = itertools.count(1)

new_nc = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["SUPPLIER_NC", "NONCONFORMANCE", "COMPLAINT"]),
        "severity": st.sampled_from(["CRITICAL", "MAJOR", "MINOR"]),
        "title": st.just("Random finding"),
        "plantId": st.sampled_from(sorted(PLANT_CLIENTS)),
        "supplierId": st.sampled_from([*sorted(SUPPLIER_CLIENTS), "SUP-0005"]),
    }
)
new_receipt = st.tuples(st.sampled_from(OPEN_PO_LINES), st.integers(min_value=1, max_value=50))

# (list path, what the view calls the id, which filter to draw, the process list behind it)
PARTNER_LISTS: Final = (
    ("/lots", "lotId", ("disposition", ["QUARANTINE", "RELEASED", "BLOCKED"]), "/lots"),
    ("/inspections", "inspectionId", ("status", ["CREATED", "DECIDED"]), "/inspections"),
    ("/nonconformances", "ncId", ("severity", ["CRITICAL", "MAJOR"]), "/nonconformances"),
)
PLANT_LISTS: Final = (
    ("/lots", "lotId", ("disposition", ["QUARANTINE", "RELEASED", "BLOCKED"]), "/lots"),
    ("/inspections", "inspectionId", ("result", ["PASS", "FAIL", "PENDING"]), "/inspections"),
    ("/inspections", "inspectionId", ("pending", ["true"]), "/inspections"),
)
PENDING: Final = {"CREATED", "IN_PROGRESS", "RESULTS_RECORDED"}


def _matches(record: dict[str, Any], name: str, value: str) -> bool:
    if name == "pending":
        return record["status"] in PENDING
    return bool(record[name] == value)


async def _expected(
    ops: Client, process_path: str, key: str, owner: tuple[str, str], flt: tuple[str, str] | None
) -> set[str]:
    field, tenant = owner
    records = await ops.all(PROCESS + process_path, limit=200)
    return {
        record[key]
        for record in records
        if record.get(field) == tenant and (flt is None or _matches(record, *flt))
    }


async def _check(qgate: Qgate, limit: int, use_filter: bool, pick: int) -> None:
    ops = qgate.client("operations")
    tenants = [
        (PARTNER, client, ("supplierId", supplier), PARTNER_LISTS)
        for supplier, client in SUPPLIER_CLIENTS.items()
    ] + [
        (PLANT, client, ("plantId", plant), PLANT_LISTS) for plant, client in PLANT_CLIENTS.items()
    ]
    listed = 0
    for prefix, client_id, owner, lists in tenants:
        caller = qgate.client(client_id)
        for path, key, (name, values), process_path in lists:
            flt = (name, values[pick % len(values)]) if use_filter or name == "pending" else None
            params = {flt[0]: flt[1]} if flt else {}
            seen = await caller.all(prefix + path, limit=limit, **params)
            ids = [record[key] for record in seen]
            assert len(ids) == len(set(ids)), f"{client_id} {path}: a record listed twice"
            expected = await _expected(ops, process_path, key, owner, flt)
            assert set(ids) == expected, f"{client_id} {path} {params}"
            listed += len(ids)
    assert listed > 0, "the demo data lists something for some tenant"


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    ncs=st.lists(new_nc, max_size=6),
    receipts=st.lists(new_receipt, max_size=3),
    limit=st.integers(min_value=1, max_value=25),
    use_filter=st.booleans(),
    pick=st.integers(min_value=0, max_value=5),
)
def test_every_list_returns_exactly_the_callers_records(
    ncs: list[dict[str, str]],
    receipts: list[tuple[tuple[str, int], int]],
    limit: int,
    use_filter: bool,
    pick: int,
) -> None:
    async def example() -> None:
        async with running() as qgate:
            ops = qgate.client("operations")
            for nc in ncs:
                created = await ops.post(f"{QMS}/nonconformances", nc)
                assert created.status_code == 201, created.text
            for (po_id, line), quantity in receipts:
                receipt = {
                    "poId": po_id,
                    "lineNo": line,
                    "quantity": quantity,
                    "deliveryNote": f"DN-PROP-{next(_receipts)}",
                }
                created = await ops.post(f"{ERP}/goods-receipts", receipt)
                assert created.status_code == 201, created.text
            await _check(qgate, limit, use_filter, pick)

    asyncio.run(example())
