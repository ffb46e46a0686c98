"""The audit record types and their canonical form, the one thing every hash is computed over.

A record's ``hash`` is ``sha256(canonical)`` in lower-case hex, where ``canonical`` is
``msgspec.json.encode`` of every field of the record except ``hash`` itself, under its wire
(camelCase) name, with ``order="sorted"``: keys sorted at every level, no whitespace, UTF-8,
``occurredAt`` as RFC 3339 with ``Z``, absent optional values as ``null``. ``prevHash`` is
inside the hashed content, which is what chains each record to its predecessor.

The stored form of a record is ``msgspec.json.encode(record, order="sorted")`` (the same, with
``hash`` in its sorted place). Entries are normalised through one JSON round trip before they
are sealed, so what :func:`seal` returns equals what is later read back, field for field and
byte for byte; a stored record whose bytes differ from the canonical encoding of what they
decode to was not written by the trail (see :func:`load_stored`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Final, Literal
from urllib.parse import quote

import msgspec

from shared.auth import Caller, Principal
from shared.models.base import QgateStruct

__all__ = [
    "GENESIS_HASH",
    "AuditCaller",
    "AuditEntry",
    "AuditRecord",
    "Verification",
    "VerificationProblem",
    "action_index",
    "content_hash",
    "decode_stored",
    "encode_stored",
    "entity_index",
    "filter_indexes",
    "id_index",
    "index_names",
    "load_stored",
    "normalise",
    "seal",
]

GENESIS_HASH: Final = "0" * 64
"""The ``prev_hash`` of record 1: there is no record before it."""


class AuditCaller(QgateStruct, frozen=True, kw_only=True):
    """An authenticated caller as the trail records it (identity and tenancy, no scopes)."""

    client_id: str
    subject: str
    supplier_id: str | None = None
    plants: list[str] = msgspec.field(default_factory=list)

    @classmethod
    def of(cls, caller: Caller | Principal) -> AuditCaller:
        """The audit view of a verified principal or of one of its on-behalf-of callers."""
        return cls(
            client_id=caller.client_id,
            subject=caller.subject,
            supplier_id=caller.supplier_id,
            plants=list(caller.plants),
        )


class AuditEntry(QgateStruct, frozen=True, kw_only=True):
    """What a caller appends: who, on behalf of whom, did what to which entity, and why."""

    action: str
    """What happened, e.g. ``lot-disposition.requested`` or ``lot.disposition-changed``."""
    entity_type: str
    """The kind of thing changed, e.g. ``LotDisposition``, ``Lot``, ``Inspection``."""
    entity_id: str
    actor: AuditCaller
    """The authenticated client that made the change."""
    on_behalf_of: list[AuditCaller] = msgspec.field(default_factory=list)
    """The callers further up the delegation chain, the original caller first."""
    reason: str | None = None
    before: dict[str, Any] | None = None
    """The state before the change; JSON values only (anything else is stored as its JSON)."""
    after: dict[str, Any] | None = None
    correlation_id: str | None = None
    """Filled by ``append`` from the current request's correlation id when not given."""
    signature_meaning: str | None = None
    """What an electronic signature on this change means (21 CFR 11.50), e.g. ``approval``."""


class AuditRecord(AuditEntry, frozen=True, kw_only=True):
    """An entry as the trail holds it: numbered, timestamped and chained by hashes."""

    seq: int
    """1, 2, 3 … without gaps, in append order."""
    occurred_at: datetime
    """UTC, set by the trail when it appended the record (the appending replica's clock)."""
    prev_hash: str
    """``hash`` of the record before; :data:`GENESIS_HASH` for record 1."""
    hash: str
    """Hex SHA-256 of the canonical JSON of every other field (``prev_hash`` included)."""


class VerificationProblem(QgateStruct, frozen=True, kw_only=True):
    """The first place where the chain breaks (see :mod:`shared.audit._verify` for the rules)."""

    kind: Literal["altered", "inserted", "removed"]
    seq: int
    """The position (1-based) where the chain first breaks."""
    detail: str
    """One sentence for a human, e.g. ``record 7 was altered: its hash does not match …``."""


class Verification(QgateStruct, frozen=True, kw_only=True):
    """The result of checking a whole trail."""

    ok: bool
    records: int
    """How many records, from the first, were checked and form an intact chain (all when ok)."""
    head_hash: str | None
    """Hash of the last of those records; ``None`` when there is none."""
    problem: VerificationProblem | None = None


_stored_encoder: Final = msgspec.json.Encoder(order="sorted")
_stored_decoder: Final = msgspec.json.Decoder(AuditRecord)
_entry_decoder: Final = msgspec.json.Decoder(AuditEntry)


def normalise(entry: AuditEntry) -> AuditEntry:
    """``entry`` after one JSON round trip: tuples become lists, datetimes and decimals in
    ``before``/``after`` become strings, NaN becomes null. Sealing the result guarantees that a
    record read back from storage is equal to, and hashes exactly like, the one appended; it
    also copies every dict, so the caller cannot change a record through its own objects."""
    return _entry_decoder.decode(_stored_encoder.encode(entry))


def content_hash(record: AuditRecord) -> str:
    """Hex SHA-256 of the canonical JSON of every field of ``record`` except ``hash``."""
    content = msgspec.to_builtins(record)
    del content["hash"]
    return hashlib.sha256(_stored_encoder.encode(content)).hexdigest()


def seal(entry: AuditEntry, *, seq: int, prev_hash: str, occurred_at: datetime) -> AuditRecord:
    """The record for ``entry`` at ``seq`` after the record hashed ``prev_hash``.

    ``entry`` must already be normalised (see :func:`normalise`) for the record to read back
    equal to what is returned here; the hash is right either way.
    """
    unsealed = AuditRecord(
        **msgspec.structs.asdict(entry),
        seq=seq,
        occurred_at=occurred_at,
        prev_hash=prev_hash,
        hash="",
    )
    return msgspec.structs.replace(unsealed, hash=content_hash(unsealed))


def encode_stored(record: AuditRecord) -> bytes:
    """The stored form of ``record``: its canonical JSON with ``hash`` included."""
    return _stored_encoder.encode(record)


def decode_stored(raw: bytes) -> AuditRecord:
    """A stored record; raises ``msgspec.DecodeError`` (or ``ValidationError``) if it is not one."""
    return _stored_decoder.decode(raw)


def load_stored(raw: bytes) -> AuditRecord | None:
    """A stored record, or ``None`` when ``raw`` is not exactly what the trail writes.

    Stricter than :func:`decode_stored`: bytes that decode but differ from the canonical
    encoding of what they decode to (an added field, a reordered key, a changed escape) are
    rejected too, since the trail never writes them. Verification counts either as altered.
    """
    try:
        record = _stored_decoder.decode(raw)
    except msgspec.DecodeError:  # ValidationError is a DecodeError
        return None
    return record if _stored_encoder.encode(record) == raw else None


def _part(value: str) -> str:
    # Percent-encode everything but unreserved characters, so ":" inside a type or id cannot
    # make two different (type, id) pairs share an index, and "{}" cannot act as a hash tag.
    return quote(value, safe="")


def entity_index(entity_type: str, entity_id: str | None = None) -> str:
    """Name of the index of the records of one entity type, or of one entity."""
    if entity_id is None:
        return f"type:{_part(entity_type)}"
    return f"entity:{_part(entity_type)}:{_part(entity_id)}"


def id_index(entity_id: str) -> str:
    """Name of the index of the records of every entity with this id, whatever its type."""
    return f"id:{_part(entity_id)}"


def action_index(action: str) -> str:
    """Name of the index of the records of one action."""
    return f"action:{_part(action)}"


def index_names(entry: AuditEntry) -> list[str]:
    """Every index a record of ``entry`` is listed in (its seq is added to each)."""
    return [
        entity_index(entry.entity_type),
        entity_index(entry.entity_type, entry.entity_id),
        id_index(entry.entity_id),
        action_index(entry.action),
    ]


def filter_indexes(entity_type: str | None, entity_id: str | None, action: str | None) -> list[str]:
    """The indexes whose intersection holds the records matching every given filter."""
    names: list[str] = []
    if entity_type is not None:
        names.append(entity_index(entity_type, entity_id))
    elif entity_id is not None:
        names.append(id_index(entity_id))
    if action is not None:
        names.append(action_index(action))
    return names
