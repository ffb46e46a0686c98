"""What every store qgate keeps state in has in common: a readiness probe and a close.

The idempotency store, the audit trail and the process layer's disposition store each come in a
memory and a Redis implementation; the app checks them in ``/health/ready`` (:meth:`Store.ping`)
and closes them at shutdown (:meth:`Store.aclose`). Each can also be used as an ``async with``
block, which closes it on exit.
"""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self

__all__ = ["Store"]


class Store(abc.ABC):
    """A backend-held resource with a readiness probe and an idempotent close."""

    @abc.abstractmethod
    async def ping(self) -> None:
        """Return if the store is usable; raise otherwise (for readiness probes)."""

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Release the store's resources; it must not be used afterwards. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
