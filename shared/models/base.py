"""The base Structs: every wire type is frozen, keyword-only and camelCase on the wire.

Inbound request bodies derive from :class:`RequestStruct`, which forbids unknown fields; the
contract export marks those schemas ``additionalProperties: false`` (Litestar does not), so the
contract says what the code enforces.
"""

from __future__ import annotations

import msgspec

__all__ = ["QgateStruct", "RequestStruct", "request_struct_names"]


class QgateStruct(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=False):
    """Base of every qgate wire and canonical Struct."""


class RequestStruct(QgateStruct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of inbound request bodies: an unknown field is a 422, not silently dropped."""


def request_struct_names() -> set[str]:
    """Names of every RequestStruct subclass defined so far (for the contract export)."""
    found: set[str] = set()
    pending: list[type[RequestStruct]] = [RequestStruct]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found.add(sub.__name__)
            pending.append(sub)
    return found
