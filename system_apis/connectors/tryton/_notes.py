"""What Tryton has no field for, kept on the Tryton record itself as an attachment.

A lot has no status, an inspection no lot or usage decision, a control no version, an alert no
severity: qgate keeps those in one attachment per record (``qgate-<kind>.json``,
``ir.attachment``, the JSON in its description), visible in the Tryton client among the
record's attachments (Tryton's notes cannot be edited once written, attachments can). It
also carries the record's canonical ``version``; writes replace it with Tryton's own
optimistic lock (``_timestamp`` in the context), so two writers that read the same version
cannot both win: the second gets
``ConcurrencyException``, i.e. :class:`~shared.errors.PreconditionFailed`.

Tryton checks the timestamp with a read before its write. On PostgreSQL both run in one
repeatable-read transaction, so the check holds across any number of qgate processes; on SQLite
the read runs before the write transaction begins, and two writes arriving together can both
pass it (CI saw both of two disposition changes win). So a process sends its replacements of
one note one at a time: the second then reads the first's timestamp and is refused.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = ["Note", "StateNotes"]

_MODEL: Final = "ir.attachment"
_LOCK_STRIPES: Final = 64


class Note:
    """A record's qgate note: its data and the Tryton timestamp a replacement must match."""

    def __init__(
        self, note_id: int, data: dict[str, Any], timestamp: str, written: dt.datetime
    ) -> None:
        self.note_id = note_id
        self.data = data
        self.timestamp = timestamp
        self.written = written

    @property
    def version(self) -> int:
        return int(self.data.get("version", 1))


class StateNotes:
    """The qgate notes of one kind of record (``lot``, ``inspection``, ``alert``, ``control``)."""

    def __init__(self, client: TrytonClient, kind: str) -> None:
        self._client = client
        self._kind = kind
        self._name = f"qgate-{kind}.json"
        # A fixed set of locks, a note's by its id: no per-note lock to grow without bound.
        self._locks = tuple(asyncio.Lock() for _ in range(_LOCK_STRIPES))

    async def of(self, model: str, ids: Iterable[int]) -> dict[int, Note]:
        """The note of each record that has one (the oldest, should two writers have raced)."""
        wanted = [f"{model},{i}" for i in ids]
        if not wanted:
            return {}
        rows = await self._client.execute(
            _MODEL,
            "search_read",
            [("resource", "in", wanted), ("name", "=", self._name)],
            0,
            None,
            [("id", "ASC")],
            ["resource", "description", "_timestamp", "write_date", "create_date"],
        )
        notes: dict[int, Note] = {}
        for row in rows:
            db_id = int(str(row["resource"]).rsplit(",", 1)[1])
            if db_id in notes:
                continue
            try:
                data = json.loads(row["description"] or "{}")
            except ValueError:
                continue
            written = row.get("write_date") or row["create_date"]
            notes[db_id] = Note(int(row["id"]), data, str(row["_timestamp"]), written)
        return notes

    async def one(self, model: str, db_id: int) -> Note | None:
        return (await self.of(model, [db_id])).get(db_id)

    async def create(self, model: str, db_id: int, data: Mapping[str, Any]) -> None:
        await self._client.execute(
            _MODEL,
            "create",
            [{"resource": f"{model},{db_id}", "name": self._name, "type": "data",
              **self._values(data)}],
        )  # fmt: skip

    async def forget(self, model: str, db_id: int) -> None:
        """Delete the record's note (before the record itself is deleted)."""
        found = await self._client.execute(
            _MODEL, "search", [("resource", "=", f"{model},{db_id}"), ("name", "=", self._name)]
        )
        if found:
            await self._client.execute(_MODEL, "delete", found)

    async def replace(self, note: Note, data: Mapping[str, Any]) -> None:
        """Replace the note's data, unless it changed since it was read (PreconditionFailed)."""
        async with self._locks[note.note_id % _LOCK_STRIPES]:
            await self._client.execute(
                _MODEL,
                "write",
                [note.note_id],
                self._values(data),
                context={"_timestamp": {f"{_MODEL},{note.note_id}": note.timestamp}},
            )

    def _values(self, data: Mapping[str, Any]) -> dict[str, Any]:
        # In the description, which lives in the database (attachment data goes to Tryton's
        # file store, outside the database's transactions).
        return {"description": json.dumps(dict(data), sort_keys=True, separators=(",", ":"))}
