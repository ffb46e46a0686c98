"""Loading contracts: YAML or JSON, OpenAPI 3.0 or 3.1, local ``$ref`` resolution.

Every problem with a file (unreadable, not YAML, not OpenAPI 3.x, a ``$ref`` that leads nowhere)
is a :class:`ContractError` with a message naming the file, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import yaml

__all__ = ["METHODS", "Contract", "ContractError", "load_contract", "parse_contract"]

METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class ContractError(Exception):
    """A contract (or waiver) file that cannot be used; the message says which and why."""


class Contract:
    """One parsed OpenAPI document, named by where it came from."""

    def __init__(self, document: dict[str, Any], source: str) -> None:
        self.document = document
        self.source = source
        version = str(document.get("openapi", ""))
        self.version = "3.0" if version.startswith("3.0") else "3.1"

    @property
    def paths(self) -> Mapping[str, Any]:
        paths: Mapping[str, Any] = self.document.get("paths") or {}
        return paths

    def resolve(self, node: Any) -> Any:
        """``node`` with its (chain of) local ``$ref`` followed."""
        seen: set[str] = set()
        while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            ref: str = node["$ref"]
            if ref in seen:
                raise ContractError(f"{self.source}: $ref cycle at {ref}")
            seen.add(ref)
            node = self.pointer(ref)
        return node

    def pointer(self, ref: str) -> Any:
        if not ref.startswith("#"):
            raise ContractError(f"{self.source}: only local $refs are supported, not {ref!r}")
        target: Any = self.document
        for raw in ref[1:].split("/")[1:]:
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(target, Mapping) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise ContractError(f"{self.source}: $ref {ref!r} points to nothing")
        return target

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(path, method, operation) of every operation, path items' ``$ref`` followed."""
        for path, raw_item in self.paths.items():
            item = self.resolve(raw_item)
            if not isinstance(item, Mapping):
                continue
            for method in METHODS:
                operation = item.get(method)
                if isinstance(operation, dict):
                    yield str(path), method, operation

    def parameters(self, path: str, operation: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The operation's parameters, path-level ones included (the operation's win)."""
        item = self.resolve(self.paths.get(path, {}))
        merged: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
            parameter = self.resolve(raw)
            if isinstance(parameter, dict) and "name" in parameter and "in" in parameter:
                name = str(parameter["name"])
                where = str(parameter["in"])
                merged[(where, name.lower() if where == "header" else name)] = parameter
        return list(merged.values())

    def security(self, operation: Mapping[str, Any]) -> list[dict[str, list[str]]]:
        """The operation's security requirements (the document's when it declares none)."""
        requirements = operation.get("security", self.document.get("security", []))
        return [dict(r) for r in requirements or [] if isinstance(r, Mapping)]

    def security_schemes(self) -> Mapping[str, Any]:
        schemes: Mapping[str, Any] = (self.document.get("components") or {}).get(
            "securitySchemes"
        ) or {}
        return {name: self.resolve(scheme) for name, scheme in schemes.items()}


def parse_contract(text: str, source: str) -> Contract:
    """Parse a contract's text; :class:`ContractError` when it is not an OpenAPI 3.x document."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ContractError(f"{source}: not valid YAML or JSON{where}") from exc
    if not isinstance(document, dict):
        raise ContractError(f"{source}: not an OpenAPI document (no mapping at the top)")
    version = str(document.get("openapi", ""))
    if not version.startswith(("3.0", "3.1")):
        found = repr(version) if version else "no `openapi` field"
        raise ContractError(f"{source}: OpenAPI 3.0 or 3.1 expected, found {found}")
    if not isinstance(document.get("paths", {}), dict):
        raise ContractError(f"{source}: `paths` must be a mapping")
    contract = Contract(document, source)
    for ref in _refs(document):
        contract.pointer(ref)  # a dangling $ref is reported now, not when first followed
    return contract


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def load_contract(path: Path) -> Contract:
    """Read and parse the contract at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ContractError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: cannot be read ({exc.__class__.__name__})") from exc
    return parse_contract(text, str(path))
