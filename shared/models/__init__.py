"""Canonical and wire Structs: one base class for the wire policy (frozen, camelCase)."""

from shared.models.base import QgateStruct, RequestStruct, request_struct_names

__all__ = ["QgateStruct", "RequestStruct", "request_struct_names"]
