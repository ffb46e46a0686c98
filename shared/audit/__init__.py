"""The tamper-evident audit trail (21 CFR 11.10(e), EU GMP Annex 11 §9).

Append-only, hash-chained records of who (``actor``), on behalf of whom, did what to which
entity, when, why, the state before and after, the correlation id and the meaning of a
signature. The process layer writes one record per change::

    trail = build_audit_trail(settings)          # Redis when QGATE_STORE=redis, else memory
    record = await trail.append(
        AuditEntry(
            action="lot.disposition-changed",
            entity_type="Lot",
            entity_id=lot_id,
            actor=AuditCaller.of(principal),
            on_behalf_of=[AuditCaller.of(c) for c in principal.on_behalf_of],
            reason=command.reason,
            before={"disposition": "QUARANTINE"},
            after={"disposition": "RELEASED"},
            signature_meaning="approval",
        )
    )
    page = await trail.list(entity_type="Lot", entity_id=lot_id, after_seq=0, limit=50)
    result = await trail.verify()                # also: `qgate audit verify`

Each record's ``hash`` is the SHA-256 of its canonical JSON, which includes ``prev_hash``, the
hash of the record before (see :mod:`shared.audit._model`); :func:`verify_chain` reports the
first record that was altered, inserted or removed (rules in :mod:`shared.audit._verify`).
"""

from __future__ import annotations

from shared.audit._base import MAX_LIMIT, AuditTrail, AuditTrailError
from shared.audit._factory import build_audit_trail
from shared.audit._memory import MemoryAuditTrail
from shared.audit._model import (
    GENESIS_HASH,
    AuditCaller,
    AuditEntry,
    AuditRecord,
    Verification,
    VerificationProblem,
)
from shared.audit._redis import DEFAULT_PREFIX, RedisAuditTrail
from shared.audit._verify import verify_chain

__all__ = [
    "DEFAULT_PREFIX",
    "GENESIS_HASH",
    "MAX_LIMIT",
    "AuditCaller",
    "AuditEntry",
    "AuditRecord",
    "AuditTrail",
    "AuditTrailError",
    "MemoryAuditTrail",
    "RedisAuditTrail",
    "Verification",
    "VerificationProblem",
    "build_audit_trail",
    "verify_chain",
]
