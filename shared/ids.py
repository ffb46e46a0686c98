"""Time-ordered record ids: ``<PREFIX>-`` + 12 hex digits of milliseconds since the epoch + 8
hex digits, random where the clock moved on.

Ids made by one process always sort in the order they were made: within one millisecond (a
fast path makes several) the next id is the last one plus one instead of a random draw, which
could sort before it. Ids of different replicas within one millisecond sort in no set order,
which no one can observe anyway.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

__all__ = ["time_ordered_id"]

_lock = threading.Lock()
_last = 0


def time_ordered_id(prefix: str, *, clock: Callable[[], int] = time.time_ns) -> str:
    """A new id (``clock``: nanoseconds since the epoch, for tests)."""
    global _last  # noqa: PLW0603 - the one counter of this process, guarded by the lock
    value = ((clock() // 1_000_000) << 32) | int.from_bytes(os.urandom(4), "big")
    with _lock:
        value = max(value, _last + 1)
        _last = value
    return f"{prefix}-{value:020X}"
