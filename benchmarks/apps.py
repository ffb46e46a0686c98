"""ASGI factories for the platform-overhead benchmark.

``bare`` serves the same read handler as the ERP ``whoami`` (same response Struct, same
principal shape) on bare Litestar: no auth, no rate limit, no correlation, no problem details.
``full`` is qgate all-in-one, where the request goes through the whole platform pipeline.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from litestar import Litestar, get

from shared.asgi import all_in_one
from shared.auth import Principal
from shared.diagnostics import WhoAmI, caller_view, own_hop

_PRINCIPAL = Principal(
    client_id="operations",
    subject="operations",
    scopes=frozenset({"erp.read"}),
    expires_at=int(time.time()) + 3600,
)


@get("/system/erp/v1/whoami", sync_to_thread=False)
def whoami() -> WhoAmI:
    return WhoAmI(caller=caller_view(_PRINCIPAL), hops=[own_hop("system", "erp", _PRINCIPAL)])


def bare() -> Any:
    app = Litestar([whoami], openapi_config=None, logging_config=None)
    gc.collect()
    gc.freeze()
    return app


def full() -> Any:
    return all_in_one()
