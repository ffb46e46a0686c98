"""Plain ASGI types for the wrappers that sit outside Litestar (dispatcher, correlation).

Litestar's own ``Scope``/``Receive``/``Send`` are unions of TypedDicts; httpx and servers speak
plain mappings. These aliases are what both accept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = ["ASGIApp", "Message", "Receive", "Scope", "Send"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
