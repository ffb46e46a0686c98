"""The abstract audit trail and what every implementation shares."""

from __future__ import annotations

import abc
import builtins
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Final

import msgspec

from shared.audit._model import AuditEntry, AuditRecord, Verification, decode_stored, normalise
from shared.correlation import current_correlation_id
from shared.stores import Store

__all__ = [
    "MAX_LIMIT",
    "AuditTrail",
    "AuditTrailError",
    "check_batch",
    "check_page",
    "damaged",
    "decode_entry",
    "prepare",
    "utc_now",
]

MAX_LIMIT: Final = 1000
"""The most records one :meth:`AuditTrail.list` call returns."""

_MAX_BATCH: Final = 10_000


class AuditTrailError(RuntimeError):
    """The trail cannot take or give records: it is damaged, or appends kept conflicting."""


def check_page(after_seq: int, limit: int) -> None:
    """Raise ``ValueError`` unless ``after_seq >= 0`` and ``1 <= limit <= MAX_LIMIT``."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit!r}")
    if after_seq < 0:
        raise ValueError(f"after_seq must be >= 0, got {after_seq!r}")


def check_batch(batch: int) -> None:
    if not 1 <= batch <= _MAX_BATCH:
        raise ValueError(f"batch must be between 1 and {_MAX_BATCH}, got {batch!r}")


def prepare(entry: AuditEntry) -> AuditEntry:
    """``entry`` normalised, with the current request's correlation id when it has none."""
    if entry.correlation_id is None:
        correlation_id = current_correlation_id()
        if correlation_id is not None:
            entry = msgspec.structs.replace(entry, correlation_id=correlation_id)
    return normalise(entry)


def utc_now() -> datetime:
    return datetime.now(UTC)


def decode_entry(position: int | None, raw: bytes) -> AuditRecord:
    """The record stored at ``position`` (if known); :class:`AuditTrailError` if it is not one."""
    try:
        return decode_stored(raw)
    except msgspec.DecodeError as exc:
        entry = "an entry" if position is None else f"entry {position}"
        raise AuditTrailError(
            f"{entry} of the audit log is not an audit record ({exc}): verify the trail"
        ) from None


def damaged(held: int, counted: int) -> AuditTrailError:
    """The error for a log whose length disagrees with its head: someone else wrote to it."""
    return AuditTrailError(
        f"the audit trail is damaged: the log holds {held} records but its head counts "
        f"{counted}; nothing more is appended until it is verified and repaired"
    )


class AuditTrail(Store):
    """An append-only, hash-chained log of changes (21 CFR 11.10(e), EU GMP Annex 11 §9).

    Every record says who (``actor``), on behalf of whom, did what (``action``) to which entity,
    when, why, the state before and after, the request's correlation id and what a signature
    meant. Records are numbered 1, 2, 3 … without gaps and each carries the hash of the one
    before, so any change, insertion or removal shows in :meth:`verify`. There is no update and
    no delete. The trail can also be used as an ``async with`` block (calls :meth:`aclose`).
    """

    @abc.abstractmethod
    async def append(self, entry: AuditEntry) -> AuditRecord:
        """Append ``entry`` as the next record and return it, sealed.

        The trail sets ``seq``, ``occurred_at`` (UTC now), ``prev_hash`` and ``hash``, and fills
        ``correlation_id`` from :func:`shared.correlation.current_correlation_id` when the
        entry has none. ``before``/``after`` are stored as JSON (see
        :func:`shared.audit._model.normalise`). Concurrent appends, from any number of
        instances sharing a backend, form one linear chain.

        Raises :class:`AuditTrailError` when the log and its head disagree (the trail was
        tampered with: nothing more is appended) or appends kept conflicting; backend errors
        propagate.
        """

    @abc.abstractmethod
    async def list(
        self,
        *,
        entity_type: str | None = None,
        entity_id: str | None = None,
        action: str | None = None,
        after_seq: int = 0,
        limit: int = 50,
    ) -> builtins.list[AuditRecord]:
        """Records with ``seq > after_seq`` matching every given filter, ascending, at most
        ``limit``. Page on by passing the last ``seq`` returned as ``after_seq``.

        ``entity_id`` alone matches that id under any entity type. Filters are served from
        indexes, not by scanning the log. Raises ``ValueError`` unless ``1 <= limit <= 1000``
        and ``after_seq >= 0``.
        """

    @abc.abstractmethod
    def records(self, *, batch: int = 500) -> AsyncIterator[AuditRecord]:
        """Every record in order, as of when the iteration starts (for export), read ``batch``
        at a time. Raises :class:`AuditTrailError` on an entry that is not a record."""

    @abc.abstractmethod
    async def verify(self) -> Verification:
        """Check the whole chain and its head; see :mod:`shared.audit._verify` for the rules."""
