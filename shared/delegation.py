"""On-behalf-of context: which caller a layer acts for when it calls the layer below.

A layer calls down with its own service token and names the original caller (and every layer in
between) in the ``Qgate-On-Behalf-Of`` header: base64url of a JSON list of callers, original
caller first. The receiving layer accepts the header only from a client holding the
``qgate.delegate`` scope (see :mod:`shared.platform`), so an ordinary client cannot claim to act
for someone else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Final

import msgspec

from shared.auth import Caller, Principal
from shared.errors import BadRequest

__all__ = [
    "DELEGATE_SCOPE",
    "ON_BEHALF_OF_HEADER",
    "chain_for",
    "decode_chain",
    "derive_key",
    "encode_chain",
]

ON_BEHALF_OF_HEADER: Final = "Qgate-On-Behalf-Of"
DELEGATE_SCOPE: Final = "qgate.delegate"
_MAX_HEADER: Final = 4096
_MAX_CHAIN: Final = 8


def encode_chain(chain: Sequence[Caller]) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(list(chain))).decode("ascii").rstrip("=")


def decode_chain(value: str) -> tuple[Caller, ...]:
    """Parse the header; a malformed or oversized one is a 400, never a 500."""
    if len(value) > _MAX_HEADER:
        raise BadRequest(f"{ON_BEHALF_OF_HEADER} is too long")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        chain = msgspec.json.decode(raw, type=list[Caller])
    except (binascii.Error, ValueError, msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise BadRequest(f"{ON_BEHALF_OF_HEADER} is not a valid on-behalf-of context") from exc
    if not chain or len(chain) > _MAX_CHAIN:
        raise BadRequest(f"{ON_BEHALF_OF_HEADER} must name 1 to {_MAX_CHAIN} callers")
    return tuple(chain)


def chain_for(principal: Principal) -> tuple[Caller, ...]:
    """The on-behalf-of chain to send down: who we act for, then the client that called us."""
    return (*principal.on_behalf_of, principal.as_caller())


def derive_key(principal: Principal, incoming_key: str, target: str) -> str:
    """The deterministic Idempotency-Key for a downstream call made for ``incoming_key``.

    Same caller, same incoming key, same target: same downstream key, so a retried request
    never performs the downstream operation twice.
    """
    material = f"{principal.client_id}\n{incoming_key}\n{target}".encode()
    return "qgate-" + hashlib.sha256(material).hexdigest()[:48]
