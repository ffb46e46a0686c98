"""Verifying the hash chain: the pure checker both trails use, and its exact rules.

The checker reads the records in log order (positions 1, 2, …), with one record of lookahead,
and reports the *first* break. Record ``x`` *follows* record ``w`` when
``x.seq == w.seq + 1 and x.prev_hash == w.hash``; the record at position 1 must follow the
genesis (seq 0, hash :data:`~shared.audit._model.GENESIS_HASH`). At position ``p``, with ``L``
the record accepted at ``p - 1`` and ``y`` the record after ``x`` (when it exists and is
intact):

1. **altered at p**: ``x`` is not a well-formed record stored exactly as the trail writes
   it, or its hash does not match its content (it was changed in place).
2. ``x`` follows ``L``: accepted, on to ``p + 1``. Otherwise the chain breaks before ``x``
   and the rules below, in this order, say where and how.
3. **inserted at p**: ``y`` follows ``L`` (``x`` sits inside an intact link), or ``x`` is the
   last record and the head ends the trail at ``L``: ``x`` was slipped in.
4. ``x.seq < p`` (``x`` claims a place already taken): **inserted at x.seq** when
   ``x.seq >= 1`` and ``y`` follows ``x`` (or ``x`` is last and the head's hash is ``x``'s):
   ``x`` is genuine and the records at positions ``x.seq … p - 1`` were slipped in before it
   (the usual forgery: a well-hashed record whose seq and prev_hash continue the chain).
   **Inserted at p** otherwise (``x`` is a copy or a forgery with a stale number).
5. **removed at p**: ``x.seq > p``: records ``p … x.seq - 1`` are missing.
6. ``x.seq == p`` but ``x.prev_hash`` is not ``L``'s hash: **inserted at 1** when ``p`` is 1
   (record 1 must follow the genesis); else **altered at p - 1**: ``x`` was chained to another
   record ``p - 1``, so the one in the log was replaced, or changed and re-hashed.

When every record follows its predecessor, the head ``(c, h)`` (count and last hash, written
atomically with every append) is compared with the ``n`` records of the log:

7. **removed at n + 1**: ``c > n``; the last record(s) were deleted (only the head shows it).
8. **inserted at c + 1**: ``c < n``; records were appended behind the trail's back (a missing
   head counts as ``c = 0``).
9. **altered at n**: ``c == n >= 1`` but ``h`` is not the last record's hash: record ``n``
   is there but is not the one the head was written for (replaced, or changed and
   re-hashed), just as rule 6 reads a successor's ``prev_hash``.

A lookahead ``y`` that fails rule 1 is not intact: the clauses about ``y`` do not apply (the
break before it is decided without it).

``head=None`` (an exported copy without its head) skips 7 to 9 and the head clauses of 3 and 4.
A failed :class:`Verification` has ``records = seq - 1`` (the intact prefix) and ``head_hash``
the hash of record ``seq - 1``. The checker keeps O(1) state, so a trail of any length is
verified in one streaming pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, NamedTuple

from shared.audit._model import (
    GENESIS_HASH,
    AuditRecord,
    Verification,
    VerificationProblem,
    content_hash,
)

__all__ = ["ChainChecker", "verify_chain"]

_Kind = Literal["altered", "inserted", "removed"]


class _Link(NamedTuple):
    seq: int
    hash: str
    prev_hash: str


_GENESIS = _Link(0, GENESIS_HASH, "")


def _follows(record: AuditRecord, link: _Link | AuditRecord) -> bool:
    return record.seq == link.seq + 1 and record.prev_hash == link.hash


def _intact(record: AuditRecord | None) -> AuditRecord | None:
    return record if record is not None and content_hash(record) == record.hash else None


def _broken(kind: _Kind, seq: int, hash_before: str | None, detail: str) -> Verification:
    return Verification(
        ok=False,
        records=seq - 1,
        head_hash=hash_before if seq > 1 else None,
        problem=VerificationProblem(kind=kind, seq=seq, detail=detail),
    )


_INSERTED = ("a record was inserted at position {}", "records were inserted at positions {} to {}")
_REMOVED = ("record {} was removed", "records {} to {} were removed")
_REPLACED = "(it was replaced, or changed and re-hashed)"


def _span(first: int, last: int, wording: tuple[str, str]) -> str:
    one, many = wording
    return one.format(first) if first == last else many.format(first, last)


class ChainChecker:
    """Push-based checker: :meth:`feed` the stored records in log order, then :meth:`finish`.

    ``feed`` takes ``None`` for an entry that is not a record as the trail stores it (rule 1).
    It returns the failed :class:`Verification` as soon as a break is decided (the caller may
    stop reading); :meth:`finish` returns the final result.
    """

    def __init__(self, head: tuple[int, str] | None) -> None:
        self._head = head
        self._last = _GENESIS
        self._position = 0
        self._pending: AuditRecord | None = None  # x that broke the chain, waiting for y
        self._hash_at_head_count: str | None = None  # for rule 8
        self._result: Verification | None = None

    def feed(self, stored: AuditRecord | None) -> Verification | None:
        if self._result is not None:
            return self._result
        self._position += 1
        if self._pending is not None:
            self._result = self._classify(self._pending, _intact(stored), at_end=False)
            return self._result
        record = _intact(stored)
        if record is None:
            p = self._position
            what = "its hash does not match its content" if stored else "it is not a stored record"
            self._result = _broken("altered", p, self._last.hash, f"record {p} was altered: {what}")
            return self._result
        if _follows(record, self._last):
            self._last = _Link(record.seq, record.hash, record.prev_hash)
            if self._head is not None and record.seq == self._head[0]:
                self._hash_at_head_count = record.hash
            return None
        self._pending = record
        return None

    def finish(self) -> Verification:
        if self._result is None:
            if self._pending is not None:
                self._result = self._classify(self._pending, None, at_end=True)
            else:
                self._result = self._check_head()
        return self._result

    def _classify(self, x: AuditRecord, y: AuditRecord | None, *, at_end: bool) -> Verification:
        """Rules 3 to 6 for ``x``, which does not follow the last accepted record."""
        last, head = self._last, self._head
        p = last.seq + 1  # x's position: every accepted record sits at its own seq
        if (y is not None and _follows(y, last)) or (at_end and head == (last.seq, last.hash)):
            where = "the record after it does" if y is not None else "the head ends the trail there"
            detail = f"it does not follow record {p - 1}, but {where}"
            return _broken("inserted", p, last.hash, f"{_span(p, p, _INSERTED)}: {detail}")
        if x.seq < p:
            genuine = (y is not None and _follows(y, x)) or (
                at_end and head is not None and head[1] == x.hash
            )
            if genuine and x.seq >= 1:
                detail = (
                    f"the record at position {p} is the record {x.seq} the chain continues from"
                )
                what = _span(x.seq, p - 1, _INSERTED)
                return _broken("inserted", x.seq, x.prev_hash, f"{what}: {detail}")
            detail = f"it repeats seq {x.seq} and does not follow record {p - 1}"
            return _broken("inserted", p, last.hash, f"{_span(p, p, _INSERTED)}: {detail}")
        if x.seq > p:
            detail = f"the record at position {p} is record {x.seq}"
            return _broken("removed", p, last.hash, f"{_span(p, x.seq - 1, _REMOVED)}: {detail}")
        if p == 1:
            detail = "it names a predecessor although it is the first"
            return _broken("inserted", 1, None, f"{_span(1, 1, _INSERTED)}: {detail}")
        detail = f"record {p} was chained to another record {p - 1} {_REPLACED}"
        return _broken("altered", p - 1, last.prev_hash, f"record {p - 1} was altered: {detail}")

    def _check_head(self) -> Verification:
        """Rules 7 to 9: the log, intact as a chain, against the head."""
        last, n = self._last, self._last.seq
        intact = Verification(ok=True, records=n, head_hash=last.hash if n else None)
        if self._head is None:
            return intact
        count, head_hash = self._head
        if count > n:
            detail = f"the head counts {count} records but the log ends at record {n}"
            return _broken(
                "removed", n + 1, last.hash, f"{_span(n + 1, count, _REMOVED)}: {detail}"
            )
        if count < n:
            what = _span(count + 1, n, _INSERTED)
            detail = f"the head counts {count} records but the log holds {n}"
            return _broken("inserted", count + 1, self._hash_at_head_count, f"{what}: {detail}")
        if n and head_hash != last.hash:
            detail = f"the head was written for another record {n} {_REPLACED}"
            return _broken("altered", n, last.prev_hash, f"record {n} was altered: {detail}")
        return intact


def verify_chain(records: Iterable[AuditRecord], *, head: tuple[int, str] | None) -> Verification:
    """Check ``records`` (in log order) against ``head`` (count, last hash) by the module's rules.

    ``head=None`` checks the chain alone, e.g. of an export whose head was not kept.
    """
    checker = ChainChecker(head)
    for record in records:
        if checker.feed(record) is not None:
            break
    return checker.finish()
