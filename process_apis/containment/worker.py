"""The containment worker: drives due cases, sends due webhook deliveries, syncs CAPA and NC.

Every replica may run one (``QGATE_CONTAINMENT_WORKER_ENABLED``); leases keep two replicas off
one case or delivery. Each round advances the cases whose next look is due (a step to retry, a
disposition to follow), sends the webhook deliveries whose retry time has come, and every
``sync_interval_seconds`` reads the nonconformance and CAPA of every CONTAINED case. A failing
round is logged and the worker carries on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from process_apis.containment.service import ContainmentService
from process_apis.webhooks.service import WebhookService

__all__ = ["ContainmentWorker"]

_log = logging.getLogger("qgate.process.containment.worker")
_BATCH = 50


class ContainmentWorker:
    def __init__(
        self,
        containment: ContainmentService,
        webhooks: WebhookService,
        *,
        interval: float,
        sync_interval: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._containment = containment
        self._webhooks = webhooks
        self._interval = interval
        self._sync_interval = sync_interval
        self._clock = clock
        self._last_sync: float | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="qgate-containment-worker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def run_once(self) -> int:
        """One round; how many cases and deliveries were due."""
        due = await self._containment.store.due(self._clock(), limit=_BATCH)
        for containment_id in due:
            try:
                case = await self._containment.advance(containment_id)
            except Exception:
                _log.exception("advancing containment %s failed", containment_id)
                continue
            _log.info("containment %s is %s", containment_id, case.status.value)
        sent = await self._webhooks.run_due()
        now = asyncio.get_running_loop().time()
        if self._last_sync is None or now - self._last_sync >= self._sync_interval:
            self._last_sync = now
            await self._containment.sync_contained()
        return len(due) + sent

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:
                _log.error("containment worker round failed: %s", type(exc).__name__)
            await asyncio.sleep(self._interval)
