"""The audit record's canonical form and hash, and every rule of the chain checker."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest

from shared.audit import (
    GENESIS_HASH,
    AuditCaller,
    AuditEntry,
    AuditRecord,
    MemoryAuditTrail,
    RedisAuditTrail,
    Verification,
    build_audit_trail,
    verify_chain,
)
from shared.audit._model import (
    content_hash,
    decode_stored,
    encode_stored,
    load_stored,
    normalise,
    seal,
)
from shared.audit._verify import ChainChecker
from shared.auth import Caller, Principal
from shared.settings import Settings, StoreKind

T0 = datetime(2025, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
ACTOR = AuditCaller(client_id="process-service", subject="process-service")


def entry(n: int = 0, **fields: Any) -> AuditEntry:
    return AuditEntry(
        action="lot.disposition-changed",
        entity_type="Lot",
        entity_id=f"LOT-{n}",
        actor=ACTOR,
        **fields,
    )


def chain(count: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    prev_hash = GENESIS_HASH
    for n in range(1, count + 1):
        record = seal(entry(n), seq=n, prev_hash=prev_hash, occurred_at=T0 + timedelta(seconds=n))
        records.append(record)
        prev_hash = record.hash
    return records


def head(records: list[AuditRecord]) -> tuple[int, str]:
    return (len(records), records[-1].hash) if records else (0, GENESIS_HASH)


def forged(after: AuditRecord, *, seq: int | None = None) -> AuditRecord:
    """A correctly hashed record claiming to follow ``after`` (at ``seq``, by default next)."""
    number = after.seq + 1 if seq is None else seq
    return seal(entry(99, reason="forged"), seq=number, prev_hash=after.hash, occurred_at=T0)


def problem(result: Verification) -> tuple[str, int]:
    assert not result.ok
    assert result.problem is not None
    return result.problem.kind, result.problem.seq


def rehashed(record: AuditRecord, **changes: Any) -> AuditRecord:
    changed = msgspec.structs.replace(record, **changes)
    return msgspec.structs.replace(changed, hash=content_hash(changed))


# --- the canonical form -------------------------------------------------------------------------


def test_hash_is_sha256_of_the_sorted_camel_case_json_without_hash() -> None:
    record = seal(
        entry(
            7,
            on_behalf_of=[AuditCaller(client_id="plant-app", subject="u-1", plants=["1000"])],
            reason="Prüfung",
            after={"b": 1.5, "a": {"z": None, "y": [1, "ü"]}},
            correlation_id="corr-1",
            signature_meaning="approval",
        ),
        seq=3,
        prev_hash="ab" * 32,
        occurred_at=T0,
    )
    canonical = (
        '{"action":"lot.disposition-changed",'
        '"actor":{"clientId":"process-service","plants":[],"subject":"process-service",'
        '"supplierId":null},'
        '"after":{"a":{"y":[1,"ü"],"z":null},"b":1.5},'
        '"before":null,"correlationId":"corr-1","entityId":"LOT-7","entityType":"Lot",'
        '"occurredAt":"2025-01-02T03:04:05.678000Z",'
        '"onBehalfOf":[{"clientId":"plant-app","plants":["1000"],"subject":"u-1",'
        '"supplierId":null}],'
        f'"prevHash":"{"ab" * 32}","reason":"Prüfung","seq":3,"signatureMeaning":"approval"}}'
    ).encode()

    assert record.hash == hashlib.sha256(canonical).hexdigest()
    assert (
        encode_stored(record)
        == canonical[:-1].replace(
            b'"entityType":"Lot",', f'"entityType":"Lot","hash":"{record.hash}",'.encode()
        )
        + b"}"
    )


def test_stored_form_round_trips_exactly() -> None:
    record = chain(1)[0]
    raw = encode_stored(record)

    assert decode_stored(raw) == record
    assert load_stored(raw) == record
    assert load_stored(raw.replace(b'{"action"', b'{ "action"')) is None  # not as written
    assert load_stored(raw[:-1] + b',"x":1}') is None  # a field the trail never writes
    assert load_stored(b"not json") is None
    assert load_stored(raw.replace(b'"seq":1', b'"seq":"1"')) is None  # wrong type


def test_normalise_stores_before_and_after_as_json() -> None:
    when = datetime(2025, 1, 1, tzinfo=UTC)
    before = {"when": when, "pair": (1, 2), "nan": float("nan"), "n": {"b": 1, "a": 2}}
    normalised = normalise(entry(before=before))

    assert normalised.before == {
        "when": "2025-01-01T00:00:00Z",
        "pair": [1, 2],
        "nan": None,
        "n": {"a": 2, "b": 1},
    }
    assert normalised.before is not before


def test_audit_caller_of_a_principal_and_of_a_delegating_caller() -> None:
    upstream = Caller(client_id="plant-app", subject="u-1", plants=("1000", "2000"))
    principal = Principal(
        client_id="supplier-portal",
        subject="s-9",
        scopes=frozenset({"qms.read"}),
        supplier_id="SUP-0003",
        expires_at=0,
        on_behalf_of=(upstream,),
    )

    assert AuditCaller.of(principal) == AuditCaller(
        client_id="supplier-portal", subject="s-9", supplier_id="SUP-0003", plants=[]
    )
    assert AuditCaller.of(upstream) == AuditCaller(
        client_id="plant-app", subject="u-1", plants=["1000", "2000"]
    )


async def test_build_audit_trail_follows_the_store_setting() -> None:
    memory = build_audit_trail(Settings())
    redis = build_audit_trail(Settings(store=StoreKind.REDIS, redis_url="redis://127.0.0.1:1/0"))
    try:
        assert isinstance(memory, MemoryAuditTrail)
        assert isinstance(redis, RedisAuditTrail)
        assert redis.log_key == "qgate:audit:{log}"
    finally:
        await memory.aclose()
        await redis.aclose()  # never connected


# --- the checker: intact chains -----------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 1, 5])
def test_an_intact_chain_verifies(count: int) -> None:
    records = chain(count)
    expected_head = records[-1].hash if records else None

    assert verify_chain(records, head=head(records)) == Verification(
        ok=True, records=count, head_hash=expected_head
    )
    assert verify_chain(records, head=None).ok


def test_without_a_head_a_prefix_verifies() -> None:
    records = chain(5)

    assert verify_chain(records[:3], head=None) == Verification(
        ok=True, records=3, head_hash=records[2].hash
    )


# --- rule 1: altered in place -------------------------------------------------------------------


def test_rule_1_content_changed_without_rehash() -> None:
    records = chain(5)
    records[2] = msgspec.structs.replace(records[2], reason="changed")

    result = verify_chain(records, head=head(chain(5)))
    assert problem(result) == ("altered", 3)
    assert (result.records, result.head_hash) == (2, records[1].hash)
    assert result.problem is not None
    assert result.problem.detail == "record 3 was altered: its hash does not match its content"


def test_rule_1_hash_changed() -> None:
    records = chain(3)
    records[0] = msgspec.structs.replace(records[0], hash="f" * 64)

    result = verify_chain(records, head=None)
    assert problem(result) == ("altered", 1)
    assert (result.records, result.head_hash) == (0, None)


def test_rule_1_an_entry_that_is_not_a_record() -> None:
    records = chain(3)
    checker = ChainChecker(head(records))
    assert checker.feed(records[0]) is None

    result = checker.feed(None)

    assert result is not None
    assert problem(result) == ("altered", 2)
    assert result.problem is not None
    assert result.problem.detail == "record 2 was altered: it is not a stored record"
    assert checker.feed(records[2]) is result  # decided: later records change nothing
    assert checker.finish() is result


# --- rules 3 and 4: inserted --------------------------------------------------------------------


def test_rule_3_odd_record_between_two_linked_ones() -> None:
    records = chain(5)
    tampered = [*records[:3], forged(records[0], seq=77), *records[3:]]

    result = verify_chain(tampered, head=head(records))
    assert problem(result) == ("inserted", 4)
    assert (result.records, result.head_hash) == (3, records[2].hash)


def test_rule_3_odd_record_after_the_head() -> None:
    records = chain(3)
    tampered = [*records, forged(records[0], seq=77)]

    assert problem(verify_chain(tampered, head=head(records))) == ("inserted", 4)
    # Without a head nothing says where the trail ends: the number 77 suggests a gap.
    assert problem(verify_chain(tampered, head=None)) == ("removed", 4)


def test_rule_4_plausible_forgery_is_pinned_where_it_was_slipped_in() -> None:
    records = chain(5)
    tampered = [*records[:2], forged(records[1]), *records[2:]]  # claims to be record 3

    result = verify_chain(tampered, head=head(records))
    assert problem(result) == ("inserted", 3)
    assert (result.records, result.head_hash) == (2, records[1].hash)


def test_rule_4_two_chained_forgeries_are_pinned_at_the_first() -> None:
    records = chain(5)
    first = forged(records[1])
    second = forged(first)
    tampered = [*records[:2], first, second, *records[2:]]

    result = verify_chain(tampered, head=head(records))
    assert problem(result) == ("inserted", 3)
    assert result.problem is not None
    assert result.problem.detail.startswith("records were inserted at positions 3 to 4")


def test_rule_4_forgery_before_the_last_record_is_resolved_by_the_head() -> None:
    records = chain(4)
    tampered = [*records[:3], forged(records[2]), records[3]]

    assert problem(verify_chain(tampered, head=head(records))) == ("inserted", 4)
    # Without a head the forgery is the record that continues the chain.
    assert problem(verify_chain(tampered, head=None)) == ("inserted", 5)


def test_rule_4_stale_copy_is_inserted_where_it_stands() -> None:
    records = chain(4)
    tampered = [*records[:3], records[1], records[3]]

    assert problem(verify_chain(tampered, head=head(records))) == ("inserted", 4)


# --- rule 5: removed ----------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "last"), [(1, 1), (3, 3), (2, 4)])
def test_rule_5_removed_records_leave_a_gap(first: int, last: int) -> None:
    records = chain(6)
    tampered = records[: first - 1] + records[last:]

    result = verify_chain(tampered, head=head(records))
    assert problem(result) == ("removed", first)
    assert result.records == first - 1
    assert result.problem is not None
    assert result.problem.detail.endswith(f"the record at position {first} is record {last + 1}")


# --- rule 6: right number, wrong predecessor ----------------------------------------------------


def test_rule_6_first_record_must_follow_the_genesis() -> None:
    records = chain(3)
    tampered = [rehashed(records[0], prev_hash="1" * 64), *records[1:]]

    assert problem(verify_chain(tampered, head=None)) == ("inserted", 1)


def test_rule_6_replaced_record_shows_at_its_successor() -> None:
    records = chain(5)
    tampered = [*records[:2], rehashed(records[2], reason="rewritten"), *records[3:]]

    result = verify_chain(tampered, head=head(records))
    assert problem(result) == ("altered", 3)
    assert (result.records, result.head_hash) == (2, records[1].hash)


# --- rules 7 to 9: the head ---------------------------------------------------------------------


@pytest.mark.parametrize("removed", [1, 2])
def test_rule_7_records_removed_at_the_end_show_through_the_head(removed: int) -> None:
    records = chain(5)

    result = verify_chain(records[:-removed], head=head(records))
    assert problem(result) == ("removed", 6 - removed)
    assert (result.records, result.head_hash) == (5 - removed, records[4 - removed].hash)


def test_rule_7_every_record_removed() -> None:
    result = verify_chain([], head=head(chain(3)))

    assert problem(result) == ("removed", 1)
    assert result.problem is not None
    assert result.problem.detail.startswith("records 1 to 3 were removed")


def test_rule_8_records_appended_behind_the_trails_back() -> None:
    records = chain(5)

    result = verify_chain(records, head=head(records[:3]))
    assert problem(result) == ("inserted", 4)
    assert (result.records, result.head_hash) == (3, records[2].hash)
    assert problem(verify_chain(records, head=(0, GENESIS_HASH))) == ("inserted", 1)


def test_rule_9_last_record_replaced() -> None:
    records = chain(4)
    tampered = [*records[:3], rehashed(records[3], reason="rewritten")]

    result = verify_chain(tampered, head=head(records))
    assert problem(result) == ("altered", 4)
    assert (result.records, result.head_hash) == (3, records[2].hash)


# --- streaming ----------------------------------------------------------------------------------


def test_the_first_break_wins_and_reading_stops_after_the_lookahead() -> None:
    records = chain(6)
    consumed: list[int] = []

    def stream() -> Iterator[AuditRecord]:
        for record in [records[0], records[2], records[3], records[4], records[5]]:
            consumed.append(record.seq)
            yield record

    assert problem(verify_chain(stream(), head=head(records))) == ("removed", 2)
    assert consumed == [1, 3, 4]  # record 3 breaks the chain, record 4 is the lookahead
