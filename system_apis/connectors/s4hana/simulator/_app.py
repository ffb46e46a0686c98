"""The simulator as an ASGI app: SAP Gateway's URL shapes, authentication, CSRF tokens, ETags,
server-driven paging and error bodies, over :class:`State` and the posting rules.

Fault hooks (:class:`Faults`) let tests make it answer 503s, stall, or expire CSRF tokens, and
:attr:`S4HanaSimulator.exchanges` keeps every request and answer for the fidelity checks.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlencode

from system_apis.connectors.s4hana.simulator._inspection import (
    RESULT_UPDATABLE,
    change_inspection_result,
    create_api_inspection_lot,
    record_inspection_result,
)
from system_apis.connectors.s4hana.simulator._postings import (
    post_material_document,
    post_ud_stock,
    record_usage_decision,
)
from system_apis.connectors.s4hana.simulator._query import compile_filter, from_wire, to_wire
from system_apis.connectors.s4hana.simulator._state import (
    KEYS,
    NAVIGATIONS,
    SERVICES,
    SapError,
    State,
)

__all__ = ["Exchange", "Faults", "S4HanaSimulator"]

Entity = dict[str, Any]
Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

ROOT: Final = "/sap/opu/odata/sap/"
TOKEN_PATH: Final = "/sap/bc/sec/oauth2/token"  # noqa: S105 - a URL path, not a secret
SESSION_COOKIE: Final = "SAP_SESSIONID_S4H_100"
_RESOURCE: Final = re.compile(r"^(?P<set>[A-Za-z_]+)(?:\((?P<keys>[^)]*)\))?(?:/(?P<nav>\w+))?$")
_KEY_PART: Final = re.compile(r"(?:(?P<name>\w+)=)?'(?P<value>(?:[^']|'')*)'")
_UPDATABLE: Final = {
    "A_Supplier": {
        "PurchasingIsBlocked",
        "PaymentIsBlockedForSupplier",
        "SupplierProcurementBlock",
    },
    "A_SupplierPurchasingOrg": {"PurchasingIsBlockedForSupplier"},
    "QualityInProcurement": {"ProcurementBlock", "BlockReason"},
    "A_InspectionResult": set(RESULT_UPDATABLE),
}


@dataclass(frozen=True)
class Exchange:
    """One request the simulator answered (for the fidelity checks)."""

    method: str
    service: str
    resource: str
    """``A_Set``, ``A_Set(keys)`` or ``A_Set(keys)/nav``."""
    entity_set: str | None
    keyed: bool
    navigation: str | None
    query: dict[str, str]
    request: Any
    status: int
    response: Any


@dataclass
class Faults:
    """What the simulator does wrong on purpose."""

    fail_next: list[int] = field(default_factory=list)
    """Statuses to answer the next requests with (503, 500, …), one per request."""
    delay_seconds: float = 0.0
    """How long each answer waits (timeouts)."""
    fail_path: str | None = None
    """Only requests whose path contains this fail (None: any)."""
    fail_method: str | None = None
    """Only requests of this method fail (None: any)."""
    refuse_csrf: int = 0
    """How many of the next writes are refused as if their CSRF token had expired (403
    ``X-CSRF-Token: Required``), whatever token they carry."""

    def expire_csrf(self, simulator: S4HanaSimulator) -> None:
        """Every CSRF token issued so far stops being valid (a session timeout)."""
        simulator.csrf_tokens.clear()


@dataclass
class S4HanaSimulator:
    """ASGI app serving SAP's OData v2 service subsets under ``/sap/opu/odata/sap/``."""

    state: State
    user: str = "QGATE_COMM"
    password: str = "qgate-s4hana-dev"  # noqa: S105 - the simulator's development default
    oauth_clients: dict[str, str] = field(default_factory=dict)
    server_page_size: int = 100
    faults: Faults = field(default_factory=Faults)
    exchanges: list[Exchange] = field(default_factory=list)
    csrf_tokens: dict[str, str] = field(default_factory=dict)
    """Session cookie -> its CSRF token."""
    bearer_tokens: set[str] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
        status, out_headers, payload = await self._handle(scope, headers, body)
        raw = (
            b""
            if payload is None
            else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        )
        if payload is not None and "content-type" not in out_headers:
            out_headers["content-type"] = "application/json"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in out_headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": raw})

    async def _handle(
        self, scope: Scope, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], Any]:
        path: str = scope["path"]
        if self.faults.delay_seconds:
            await asyncio.sleep(self.faults.delay_seconds)
        if (
            self.faults.fail_next
            and (self.faults.fail_path is None or self.faults.fail_path in path)
            and (self.faults.fail_method in (None, scope["method"]))
        ):
            status = self.faults.fail_next.pop(0)
            return (
                status,
                {},
                _error_body(status, "/IWFND/CM_BEC/026", "Service temporarily unavailable", ""),
            )
        if path == TOKEN_PATH and scope["method"] == "POST":
            return self._token(headers, body)
        if not path.startswith(ROOT):
            return (
                404,
                {},
                _error_body(
                    404, "/IWFND/MED/170", f"No service found for namespace for {path}", ""
                ),
            )
        service, _, resource = path[len(ROOT) :].partition("/")
        if service not in SERVICES:
            return (
                404,
                {},
                _error_body(404, "/IWFND/MED/170", f"No service found for {service}", service),
            )
        if not self._authenticated(headers):
            return (
                401,
                {"www-authenticate": 'Basic realm="SAP NetWeaver Application Server [S4H/100]"'},
                b"",
            )
        query = dict(parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True))
        match = _RESOURCE.match(unquote(resource)) if resource else None
        request_json: Any = None
        try:
            if body:
                request_json = json.loads(body)
            async with self.lock:
                status, out_headers, payload = self._dispatch(
                    scope, headers, service, resource, match, query, request_json
                )
        except SapError as exc:
            status, out_headers, payload = (
                exc.status,
                {},
                _error_body(exc.status, exc.code, exc.message, service),
            )
        except json.JSONDecodeError:
            status, out_headers, payload = (
                400,
                {},
                _error_body(400, "/IWBEP/CM_MGW_RT/001", "Malformed JSON", service),
            )
        self.exchanges.append(
            Exchange(
                method=scope["method"],
                service=service,
                resource=unquote(resource),
                entity_set=match["set"] if match else None,
                keyed=bool(match and match["keys"] is not None),
                navigation=match["nav"] if match else None,
                query=query,
                request=request_json,
                status=status,
                response=payload if not isinstance(payload, bytes) else None,
            )
        )
        return status, out_headers, payload

    def _token(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], Any]:
        client_id, secret = _basic(headers.get("authorization", ""))
        form = dict(parse_qsl(body.decode()))
        if (
            form.get("grant_type") != "client_credentials"
            or self.oauth_clients.get(client_id or "") != secret
        ):
            return 401, {}, {"error": "invalid_client"}
        token = secrets.token_urlsafe(24)
        self.bearer_tokens.add(token)
        return 200, {}, {"access_token": token, "token_type": "bearer", "expires_in": 3600}

    def _authenticated(self, headers: dict[str, str]) -> bool:
        authorization = headers.get("authorization", "")
        if authorization.lower().startswith("bearer "):
            return authorization[7:].strip() in self.bearer_tokens
        return _basic(authorization) == (self.user, self.password)

    def _csrf(self, scope: Scope, headers: dict[str, str]) -> tuple[dict[str, str], bool]:
        """Issue a token on ``X-CSRF-Token: Fetch``; say whether a write carries a valid one."""
        cookies = dict(
            part.strip().split("=", 1)
            for part in headers.get("cookie", "").split(";")
            if "=" in part
        )
        session = cookies.get(SESSION_COOKIE)
        out: dict[str, str] = {}
        if headers.get("x-csrf-token", "").lower() == "fetch" and scope["method"] == "GET":
            if session is None:
                session = secrets.token_urlsafe(16)
                out["set-cookie"] = f"{SESSION_COOKIE}={session}; path=/; HttpOnly"
            token = self.csrf_tokens.setdefault(session, secrets.token_urlsafe(16))
            out["x-csrf-token"] = token
        valid = session is not None and self.csrf_tokens.get(session) == headers.get("x-csrf-token")
        return out, valid

    def _dispatch(
        self,
        scope: Scope,
        headers: dict[str, str],
        service: str,
        resource: str,
        match: re.Match[str] | None,
        query: dict[str, str],
        body: Any,
    ) -> tuple[int, dict[str, str], Any]:
        method = scope["method"]
        csrf_headers, csrf_valid = self._csrf(scope, headers)
        if method in ("POST", "PATCH", "MERGE", "PUT", "DELETE") and self.faults.refuse_csrf:
            self.faults.refuse_csrf -= 1
            csrf_valid = False
        if method in ("POST", "PATCH", "MERGE", "PUT", "DELETE") and not csrf_valid:
            return (
                403,
                {"x-csrf-token": "Required", "content-type": "text/plain"},
                b"CSRF token validation failed",
            )
        if not resource:
            if method != "GET":
                raise SapError(
                    405, "/IWBEP/CM_MGW_RT/021", "Method not allowed on the service document"
                )
            return 200, csrf_headers, {"d": {"EntitySets": list(SERVICES[service])}}
        if match is None or match["set"] not in SERVICES[service]:
            raise SapError(
                404, "/IWBEP/CM_MGW_RT/020", f"Resource not found for segment '{resource}'"
            )
        entity_set = match["set"]
        key = _parse_keys(entity_set, match["keys"]) if match["keys"] is not None else None
        base = f"{_origin(scope, headers)}{ROOT}{service}/"
        if method == "GET":
            return self._get(entity_set, key, match["nav"], query, base, csrf_headers)
        if method == "POST" and key is None:
            created = self._create(entity_set, body, service)
            return (
                201,
                {"location": base + _entity_path(entity_set, created), **_etag(created)},
                {"d": self._wire(entity_set, created, base, ["to_MaterialDocumentItem"])},
            )
        if method in ("PATCH", "MERGE") and key is not None and match["nav"] is None:
            self._update(entity_set, key, body, headers.get("if-match"))
            return 204, {}, None
        raise SapError(
            405, "/IWBEP/CM_MGW_RT/021", f"Method '{method}' not supported for '{entity_set}'"
        )

    def _get(
        self,
        entity_set: str,
        key: tuple[str, ...] | None,
        nav: str | None,
        query: dict[str, str],
        base: str,
        headers: dict[str, str],
    ) -> tuple[int, dict[str, str], Any]:
        expand = [part for part in query.get("$expand", "").split(",") if part]
        if key is not None:
            entity = self.state.require(entity_set, key)
            if nav is None:
                return (
                    200,
                    {**headers, **_etag(entity)},
                    {"d": self._wire(entity_set, entity, base, expand)},
                )
            if (entity_set, nav) not in NAVIGATIONS:
                raise SapError(404, "/IWBEP/CM_MGW_RT/020", f"Navigation '{nav}' not found")
            target = NAVIGATIONS[(entity_set, nav)]
            related = self.state.navigate(entity_set, entity, nav)
            if not target.many:
                return (
                    200,
                    headers,
                    {
                        "d": None
                        if not isinstance(related, dict)
                        else self._wire(target.target, related, base, expand)
                    },
                )
            rows = related if isinstance(related, list) else []
            return self._page(
                target.target,
                rows,
                query,
                base,
                expand,
                headers,
                f"{_entity_path(entity_set, entity)}/{nav}",
            )
        rows = list(self.state.rows(entity_set))
        return self._page(entity_set, rows, query, base, expand, headers, entity_set)

    def _page(
        self,
        entity_set: str,
        rows: list[Entity],
        query: dict[str, str],
        base: str,
        expand: list[str],
        headers: dict[str, str],
        resource: str,
    ) -> tuple[int, dict[str, str], Any]:
        if query.get("$filter"):
            predicate = compile_filter(query["$filter"])
            rows = [row for row in rows if predicate(row)]
        rows.sort(key=lambda row: self.state.key_of(entity_set, row))
        total = len(rows)
        skip = _int(query.get("$skiptoken") or "0") + _int(query.get("$skip") or "0")
        top = _int(query["$top"]) if "$top" in query else None
        window = rows[skip:]
        if top is not None:
            window = window[:top]
        page = window[: self.server_page_size]
        payload: Entity = {"results": [self._wire(entity_set, row, base, expand) for row in page]}
        if query.get("$inlinecount") == "allpages":
            payload["__count"] = str(total)
        if len(window) > len(page):
            following = {k: v for k, v in query.items() if k not in ("$skiptoken", "$skip", "$top")}
            following["$skiptoken"] = str(skip + len(page))
            if top is not None:
                following["$top"] = str(top - len(page))
            payload["__next"] = f"{base}{resource}?{urlencode(following)}"
        return 200, headers, {"d": payload}

    def _wire(self, entity_set: str, entity: Entity, base: str, expand: list[str]) -> Entity:
        uri = base + _entity_path(entity_set, entity)
        out = to_wire(entity)
        meta = {"id": uri, "uri": uri, "type": f"{entity_set}Type"}
        etag = _etag(entity).get("etag")
        if etag:
            meta["etag"] = etag
        out = {"__metadata": meta, **out}
        for (source, nav), target in NAVIGATIONS.items():
            if source != entity_set:
                continue
            nested = [e.split("/", 1)[1] for e in expand if e.startswith(nav + "/")]
            if nav in expand or nested:
                related = self.state.navigate(entity_set, entity, nav)
                if target.many:
                    rows = related if isinstance(related, list) else []
                    out[nav] = {
                        "results": [self._wire(target.target, r, base, nested) for r in rows]
                    }
                else:
                    out[nav] = (
                        self._wire(target.target, related, base, nested)
                        if isinstance(related, dict)
                        else None
                    )
            else:
                out[nav] = {"__deferred": {"uri": f"{uri}/{nav}"}}
        return out

    def _create(self, entity_set: str, body: Any, service: str) -> Entity:
        if not isinstance(body, dict):
            raise SapError(400, "/IWBEP/CM_MGW_RT/001", "The request body must be a JSON object")
        values = from_wire(body)
        if entity_set == "A_MaterialDocumentHeader":
            return post_material_document(self.state, values, self.user)
        if entity_set == "A_InspLotUsageDecision":
            return record_usage_decision(self.state, values, self.user)
        if entity_set == "A_InspLotMatlDocItem":
            return post_ud_stock(self.state, values, self.user)
        if entity_set == "A_InspectionLot":
            return create_api_inspection_lot(self.state, values, self.user)
        if entity_set == "A_InspectionResult":
            return record_inspection_result(self.state, values, self.user)
        raise SapError(
            405,
            "/IWBEP/CM_MGW_RT/021",
            f"Creating '{entity_set}' is not offered by {service} in this simulator",
        )

    def _update(
        self, entity_set: str, key: tuple[str, ...], body: Any, if_match: str | None
    ) -> None:
        entity = self.state.require(entity_set, key)
        allowed = _UPDATABLE.get(entity_set)
        if allowed is None:
            raise SapError(
                405,
                "/IWBEP/CM_MGW_RT/021",
                f"Updating '{entity_set}' is not offered in this simulator",
            )
        if if_match is None:
            raise SapError(
                428,
                "/IWBEP/CM_MGW_RT/160",
                "Precondition required: send If-Match with the entity's ETag",
            )
        if if_match != "*" and if_match != _etag(entity).get("etag"):
            raise SapError(
                412,
                "/IWBEP/CM_MGW_RT/161",
                "Precondition failed: the entity was changed by someone else",
            )
        if not isinstance(body, dict):
            raise SapError(400, "/IWBEP/CM_MGW_RT/001", "The request body must be a JSON object")
        values = body.get("d", body) if isinstance(body.get("d"), dict) else body
        for name in values:
            if name not in allowed and name not in KEYS[entity_set]:
                raise SapError(
                    400, "/IWBEP/CM_MGW_RT/004", f"Property '{name}' is invalid or not updatable"
                )
        changes = {name: value for name, value in values.items() if name in allowed}
        if entity_set == "A_InspectionResult":
            # valuated again, and refused once the lot has its usage decision
            change_inspection_result(self.state, entity, changes, self.user)
            return
        entity.update(changes)
        self.state.touch(entity)


def _error_body(status: int, code: str, message: str, service: str) -> Entity:
    return {
        "error": {
            "code": code,
            "message": {"lang": "en", "value": message},
            "innererror": {
                "application": {
                    "component_id": "",
                    "service_namespace": "/SAP/",
                    "service_id": service,
                    "service_version": "0001",
                },
                "transactionid": secrets.token_hex(16).upper(),
                "timestamp": "",
                "errordetails": [
                    {
                        "code": code,
                        "message": message,
                        "propertyref": "",
                        "severity": "error",
                        "target": "",
                    }
                ],
            },
        }
    }


def _basic(authorization: str) -> tuple[str | None, str | None]:
    if not authorization.lower().startswith("basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user, password


def _parse_keys(entity_set: str, raw: str) -> tuple[str, ...]:
    names = KEYS[entity_set]
    found: dict[str, str] = {}
    for index, part in enumerate(_KEY_PART.finditer(raw)):
        name = part["name"] or (names[0] if index == 0 else "")
        found[name] = part["value"].replace("''", "'")
    if set(found) != set(names):
        raise SapError(
            400, "/IWBEP/CM_MGW_RT/014", f"Invalid key predicate '{raw}' for '{entity_set}'"
        )
    return tuple(found[name] for name in names)


def _entity_path(entity_set: str, entity: Entity) -> str:
    names = KEYS[entity_set]
    if len(names) == 1:
        return f"{entity_set}('{entity.get(names[0], '')}')"
    return f"{entity_set}(" + ",".join(f"{n}='{entity.get(n, '')}'" for n in names) + ")"


def _etag(entity: Entity) -> dict[str, str]:
    return {"etag": f"W/\"'{entity.get('_etag', 1)}'\""}


def _origin(scope: Scope, headers: dict[str, str]) -> str:
    return f"{scope.get('scheme', 'http')}://{headers.get('host', 's4hana-sim')}"


def _int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise SapError(400, "/IWBEP/CM_MGW_RT/006", f"Invalid number '{text}'") from None
    if value < 0:
        raise SapError(400, "/IWBEP/CM_MGW_RT/006", f"Invalid number '{text}'")
    return value
