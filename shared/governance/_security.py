"""Security changes: schemes and their scopes (document level), requirements (per operation).

Scopes are breaking both ways round: a scope removed from a scheme makes clients that request it
fail at the token endpoint, and a scope added to an operation's requirement refuses tokens that
worked yesterday (the common tools only inform about these).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["requirement_changes", "scheme_changes"]

Found = list[tuple[str, str, str]]
"""(rule id, location, message)"""


def requirement_changes(
    before: list[dict[str, list[str]]], after: list[dict[str, list[str]]]
) -> Found:
    """Changes of one operation's requirements (alternatives, OR; schemes in one, AND)."""
    before = [r for r in before if r]
    after = [r for r in after if r]
    if not before and not after:
        return []
    if not before:
        return [("security-requirement-added", "security", f"now requires {after}")]
    if not after:
        return [("security-requirement-removed", "security", f"no longer requires {before}")]
    found: Found = []
    for requirement in before:
        candidates = [r for r in after if set(r) == set(requirement)]
        if not candidates:
            found.append(("security-requirement-changed", "security", f"{requirement} -> {after}"))
            continue

        def extra(
            candidate: Mapping[str, list[str]], req: Mapping[str, Any] = requirement
        ) -> set[str]:
            return {s for name in req for s in candidate[name] if s not in req[name]}

        # The alternative closest to what the client satisfied before.
        best = min(candidates, key=lambda r: len(extra(r)))
        for scope in sorted(extra(best)):
            found.append(("security-scope-added", "security", f"scope {scope} now required"))
        for name, scopes in requirement.items():
            for scope in scopes:
                if scope not in best[name]:
                    found.append(("security-scope-removed", "security", f"scope {scope} dropped"))
    return found


def scheme_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> Found:
    """Changes of the declared security schemes."""
    found: Found = []
    for name, scheme in before.items():
        where = f"securitySchemes.{name}"
        if name not in after:
            found.append(("security-scheme-removed", where, "security scheme removed"))
            continue
        new = after[name]
        if _shape(scheme) != _shape(new):
            found.append(("security-scheme-changed", where, f"{_shape(scheme)} -> {_shape(new)}"))
        old_scopes, new_scopes = _scopes(scheme), _scopes(new)
        for scope in sorted(old_scopes - new_scopes):
            found.append(("security-scheme-scope-removed", where, f"scope {scope} removed"))
        for scope in sorted(new_scopes - old_scopes):
            found.append(("security-scheme-scope-added", where, f"scope {scope} added"))
    for name in after:
        if name not in before:
            found.append(("security-scheme-added", f"securitySchemes.{name}", "scheme added"))
    return found


def _shape(scheme: Mapping[str, Any]) -> tuple[Any, ...]:
    flows = scheme.get("flows") or {}
    return (
        scheme.get("type"),
        scheme.get("scheme"),
        scheme.get("in"),
        scheme.get("name"),
        tuple(sorted((kind, (flow or {}).get("tokenUrl")) for kind, flow in flows.items())),
    )


def _scopes(scheme: Mapping[str, Any]) -> set[str]:
    return {
        scope
        for flow in (scheme.get("flows") or {}).values()
        for scope in ((flow or {}).get("scopes") or {})
    }
