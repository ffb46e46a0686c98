"""The retry worker: applies the dispositions a system could not take when they were requested.

Every replica of the process layer may run one (``QGATE_PROCESS_WORKER_ENABLED``). Each round it
asks the store which dispositions are due (``nextAttemptAt`` passed) and advances each one it can
lease; a lease held by another replica means that replica is on it. A crash leaves the lease to
expire and the disposition due, so another replica (or this one, restarted) goes on where the
crashed one stopped. A failing round (Redis unreachable, say) is logged and the worker carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from process_apis.dispositions.service import DispositionService

__all__ = ["RetryWorker"]

_log = logging.getLogger("qgate.process.worker")
_BATCH = 50


class RetryWorker:
    """Started and stopped with the app (its lifespan)."""

    def __init__(
        self,
        service: DispositionService,
        *,
        interval: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._service = service
        self._interval = interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="qgate-disposition-worker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_once(self) -> int:
        """One round: advance every due disposition this replica can lease; how many it tried."""
        due = await self._service.store.due(self._clock(), limit=_BATCH)
        for disposition_id in due:
            try:
                result = await self._service.advance(disposition_id)
            except Exception:
                _log.exception("advancing disposition %s failed", disposition_id)
                continue
            _log.info(
                "disposition %s is %s after attempt %d",
                disposition_id,
                result.status.value,
                result.attempts,
            )
        return len(due)

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                _log.error("disposition worker round failed: %s", type(exc).__name__)
            await asyncio.sleep(self._interval)
