"""``qgate contracts lint``: qgate's governance policy, checked on one contract.

Rules (stable ids):

- ``operation-id-missing``, ``operation-id-duplicate``: every operation has a unique operationId;
- ``tags-missing``, ``tag-undeclared``: every operation has tags, declared at the top;
- ``security-document-level``: no document-level ``security`` (it adds to every operation's);
- ``security-requirement-count``: exactly one security requirement per operation;
- ``security-scopes-missing``, ``security-scope-undeclared``: that requirement names scopes, all
  declared by its (declared) scheme;
- ``problem-json-missing``: every 4xx/5xx response is ``application/problem+json`` only;
- ``rate-limit-undocumented``: a 429 with ``Retry-After``, ``RateLimit`` and ``RateLimit-Policy``;
- ``idempotency-key-missing``: every POST/PUT/PATCH/DELETE takes a required ``Idempotency-Key``
  header, unless it opts out with ``x-qgate-idempotency: {required: false, reason: "..."}``
  (``idempotency-opt-out-unexplained`` when the reason is missing);
- ``request-body-open``: every object schema in a request body has ``additionalProperties: false``;
- ``example-missing``: each request body and each 2xx JSON response has an example (on the media
  type, on the schema, or on every required property; an enum names its own values, an array is
  exemplified by its items);
- ``version-mismatch``: every path's ``/vN`` segment and ``info.version``'s major are the N of the
  file name (``erp.v1.yaml``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import msgspec

from shared.governance._load import Contract
from shared.governance._schema import _merge

__all__ = ["LINT_RULES", "Finding", "lint_contract"]

PROBLEM_JSON: Final = "application/problem+json"
UNSAFE: Final = frozenset({"post", "put", "patch", "delete"})
OPT_OUT: Final = "x-qgate-idempotency"
LINT_RULES: Final = (
    "operation-id-missing",
    "operation-id-duplicate",
    "tags-missing",
    "tag-undeclared",
    "security-document-level",
    "security-requirement-count",
    "security-scopes-missing",
    "security-scope-undeclared",
    "problem-json-missing",
    "rate-limit-undocumented",
    "idempotency-key-missing",
    "idempotency-opt-out-unexplained",
    "request-body-open",
    "example-missing",
    "version-mismatch",
)
_FILE_VERSION: Final = re.compile(r"\.v(\d+)\.(?:ya?ml|json)$")
_PATH_VERSION: Final = re.compile(r"/v(\d+)(?=/|$)")


class Finding(msgspec.Struct, frozen=True, kw_only=True):
    rule: str
    contract: str
    operation: str
    message: str


class _Linter:
    def __init__(self, contract: Contract, name: str) -> None:
        self.c = contract
        self.name = name
        self.findings: list[Finding] = []
        self.op = ""

    def add(self, rule_id: str, message: str) -> None:
        assert rule_id in LINT_RULES
        self.findings.append(
            Finding(rule=rule_id, contract=self.name, operation=self.op, message=message)
        )

    def run(self) -> list[Finding]:
        if "security" in self.c.document:
            self.add("security-document-level", "document-level security adds to every operation")
        self._version()
        declared_tags = {t.get("name") for t in self.c.document.get("tags") or []}
        seen_ids: dict[str, str] = {}
        for path, method, operation in self.c.operations():
            self.op = f"{method.upper()} {path}"
            op_id = operation.get("operationId")
            if not op_id:
                self.add("operation-id-missing", "no operationId")
            elif op_id in seen_ids:
                self.add("operation-id-duplicate", f"{op_id} is also {seen_ids[op_id]}")
            else:
                seen_ids[op_id] = self.op
            tags = operation.get("tags") or []
            if not tags:
                self.add("tags-missing", "no tags")
            for tag in tags:
                if tag not in declared_tags:
                    self.add("tag-undeclared", f"tag {tag!r} is not declared in `tags`")
            self._security(operation)
            self._responses(operation)
            if method in UNSAFE:
                self._idempotency(path, operation)
            self._request_body(operation)
            self._examples(operation)
        return self.findings

    def _version(self) -> None:
        match = _FILE_VERSION.search(self.name)
        if match is None:
            return
        major = match.group(1)
        info_version = str((self.c.document.get("info") or {}).get("version", ""))
        if info_version.split(".", maxsplit=1)[0].lstrip("v") != major:
            self.add("version-mismatch", f"info.version {info_version!r} is not major {major}")
        for path in self.c.paths:
            found = _PATH_VERSION.findall(path)
            if found != [major]:
                self.op = str(path)
                self.add("version-mismatch", f"path {path} is not under /v{major}")
        self.op = ""

    def _security(self, operation: Mapping[str, Any]) -> None:
        requirements = operation.get("security")
        if not isinstance(requirements, list) or len(requirements) != 1:
            count = len(requirements) if isinstance(requirements, list) else 0
            self.add("security-requirement-count", f"{count} security requirements, not 1")
            return
        schemes = self.c.security_schemes()
        for scheme_name, scopes in (requirements[0] or {}).items():
            if not scopes:
                self.add("security-scopes-missing", f"{scheme_name} requirement names no scope")
            scheme = schemes.get(scheme_name)
            if scheme is None:
                self.add("security-scope-undeclared", f"scheme {scheme_name} is not declared")
                continue
            declared = {
                scope
                for flow in (scheme.get("flows") or {}).values()
                for scope in (flow or {}).get("scopes") or {}
            }
            for scope in scopes or []:
                if declared and scope not in declared:
                    self.add("security-scope-undeclared", f"scope {scope} not in {scheme_name}")
        if not requirements[0]:
            self.add("security-scopes-missing", "the requirement is empty (anonymous access)")

    def _responses(self, operation: Mapping[str, Any]) -> None:
        responses = {
            str(k): self.c.resolve(v) for k, v in (operation.get("responses") or {}).items()
        }
        for status, response in responses.items():
            if status[:1] in ("4", "5") or status == "default":
                content = set((response or {}).get("content") or {})
                if content != {PROBLEM_JSON}:
                    self.add("problem-json-missing", f"{status} is {sorted(content) or 'empty'}")
        headers = {k.lower() for k in ((responses.get("429") or {}).get("headers") or {})}
        missing = {"retry-after", "ratelimit", "ratelimit-policy"} - headers
        if "429" not in responses:
            self.add("rate-limit-undocumented", "no 429 response")
        elif missing:
            self.add("rate-limit-undocumented", f"429 lacks {', '.join(sorted(missing))}")

    def _idempotency(self, path: str, operation: Mapping[str, Any]) -> None:
        opt_out = operation.get(OPT_OUT)
        if isinstance(opt_out, Mapping) and opt_out.get("required") is False:
            if not str(opt_out.get("reason") or "").strip():
                self.add("idempotency-opt-out-unexplained", f"{OPT_OUT} without a reason")
            return
        for parameter in self.c.parameters(path, operation):
            if parameter["in"] == "header" and str(parameter["name"]).lower() == "idempotency-key":
                if parameter.get("required") is True:
                    return
                self.add("idempotency-key-missing", "Idempotency-Key is not required")
                return
        self.add("idempotency-key-missing", "unsafe operation without an Idempotency-Key header")

    def _request_body(self, operation: Mapping[str, Any]) -> None:
        body = self.c.resolve(operation.get("requestBody"))
        for media, content in ((body or {}).get("content") or {}).items():
            for where, schema in self._objects((content or {}).get("schema"), "", set()):
                if schema.get("additionalProperties") is not False:
                    self.add("request-body-open", f"{media} {where or '(body)'} is not closed")

    def _objects(
        self, node: Any, where: str, seen: set[str], *, alternative: bool = False
    ) -> Iterator[tuple[str, Any]]:
        if isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
            if node["$ref"] in seen:
                return
            seen = {*seen, node["$ref"]}
        node = self.c.resolve(node)
        if not isinstance(node, Mapping):
            return
        if alternative and "type" not in node and "$ref" not in node:
            # A typeless alternative only constrains the object it belongs to (e.g. anyOf:
            # "at least one of these properties"); it describes no object of its own.
            return
        if node.get("type") == "object" or "properties" in node:
            yield where, node
        for name, child in (node.get("properties") or {}).items():
            yield from self._objects(child, f"{where}.{name}".lstrip("."), seen)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), Mapping):
                yield from self._objects(node[key], f"{where}[]", seen)
        for key in ("oneOf", "anyOf", "allOf"):
            for child in node.get(key) or []:
                yield from self._objects(child, where, seen, alternative=True)

    def _examples(self, operation: Mapping[str, Any]) -> None:
        body = self.c.resolve(operation.get("requestBody"))
        for media, content in ((body or {}).get("content") or {}).items():
            if not self._exemplified(content or {}):
                self.add("example-missing", f"request body {media} has no example")
        for status, raw in (operation.get("responses") or {}).items():
            if not str(status).startswith("2"):
                continue
            for media, content in ((self.c.resolve(raw) or {}).get("content") or {}).items():
                if _json(media) and not self._exemplified(content or {}):
                    self.add("example-missing", f"response {status} {media} has no example")

    def _exemplified(self, content: Mapping[str, Any]) -> bool:
        if content.get("example") is not None or content.get("examples"):
            return True
        return self._schema_exemplified(content.get("schema"), set())

    def _schema_exemplified(self, raw: Any, seen: set[str]) -> bool:
        """An example on the schema, or one implied by it: an enum or const names its values,
        an array is exemplified by its items, an alternative by any alternative, an object by
        its required properties (all of them when none is required)."""
        ref = raw.get("$ref") if isinstance(raw, Mapping) else None
        if ref in seen:
            return False
        seen = {*seen, ref} if ref else seen
        node = self.c.resolve(raw)
        if not isinstance(node, Mapping):
            return False
        flat = _merge(self.c, node)
        if flat.get("example") is not None or flat.get("examples"):
            return True
        if flat.get("enum") or "const" in flat:
            return True
        if isinstance(flat.get("items"), Mapping):
            return self._schema_exemplified(flat["items"], seen)
        alternatives = [
            alt
            for alt in flat.get("oneOf") or flat.get("anyOf") or []
            if self.c.resolve(alt) != {"type": "null"}
            # A typeless alternative of an object only constrains it (see ``_objects``).
            and not (isinstance(alt, Mapping) and "type" not in alt and "$ref" not in alt)
        ]
        if alternatives:
            return any(self._schema_exemplified(alt, seen) for alt in alternatives)
        properties = flat.get("properties") or {}
        names = list(flat.get("required") or []) or list(properties)
        if not names or any(name not in properties for name in names):
            return False
        return all(self._schema_exemplified(properties[name], seen) for name in names)


def _json(media: str) -> bool:
    return media == "application/json" or media.endswith("+json")


def lint_contract(contract: Contract, name: str | None = None) -> list[Finding]:
    """Every governance finding in ``contract``; ``name`` (default its source) names the file."""
    return _Linter(contract, name or Path(contract.source).as_posix()).run()
