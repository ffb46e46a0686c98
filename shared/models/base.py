"""The base Structs: every wire type is frozen, keyword-only and camelCase on the wire.

Inbound request bodies derive from :class:`RequestStruct`, which forbids unknown fields; the
contract export marks those schemas ``additionalProperties: false`` (Litestar does not), so the
contract says what the code enforces.
"""

from __future__ import annotations

import msgspec

__all__ = ["QgateStruct", "RequestStruct", "request_struct_names", "struct_classes"]


class QgateStruct(msgspec.Struct, frozen=True, kw_only=True, rename="camel", omit_defaults=False):
    """Base of every qgate wire and canonical Struct."""


class RequestStruct(QgateStruct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of inbound request bodies: an unknown field is a 422, not silently dropped."""


def struct_classes(base: type[QgateStruct] = QgateStruct) -> dict[str, type[QgateStruct]]:
    """Every subclass of ``base`` defined so far, by class name (for the contract export)."""
    found: dict[str, type[QgateStruct]] = {}
    pending: list[type[QgateStruct]] = [base]
    while pending:
        cls = pending.pop()
        for sub in cls.__subclasses__():
            found.setdefault(sub.__name__, sub)
            pending.append(sub)
    return found


def request_struct_names() -> set[str]:
    """Names of every RequestStruct subclass defined so far (for the contract export)."""
    return set(struct_classes(RequestStruct))
