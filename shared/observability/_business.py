"""Business figures computed from a store at scrape time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from shared.observability._metrics import (
    DISPOSITIONS_PENDING,
    DISPOSITIONS_PENDING_OLDEST_AGE,
    LayerMetrics,
)

__all__ = ["register_pending"]


class _Created(Protocol):
    @property
    def created_at(self) -> datetime: ...


_Status = TypeVar("_Status", bound=str)


def register_pending(
    metrics: LayerMetrics,
    statuses: Sequence[_Status],
    count: Callable[[_Status], Awaitable[int]],
    oldest: Callable[[_Status], Awaitable[_Created | None]],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> None:
    """``qgate_dispositions_pending{status}`` and ``…_oldest_age_seconds{status}`` for each of
    ``statuses``, from the store's ``count`` and ``oldest`` queries (one each per status and
    scrape). An age is 0 when nothing waits in that status, so an alert resolves."""

    async def counts() -> dict[tuple[str, ...], float]:
        return {(str(status),): float(await count(status)) for status in statuses}

    async def ages() -> dict[tuple[str, ...], float]:
        now = clock()
        found: dict[tuple[str, ...], float] = {}
        for status in statuses:
            first = await oldest(status)
            age = 0.0 if first is None else (now - first.created_at).total_seconds()
            found[(str(status),)] = max(0.0, age)
        return found

    metrics.register_gauge(DISPOSITIONS_PENDING, counts)
    metrics.register_gauge(DISPOSITIONS_PENDING_OLDEST_AGE, ages)
