"""Tryton's JSON-RPC over httpx: login, session reuse, context, encodings, error mapping.

``POST /<database>/rpc/`` with ``{"id", "method", "params"}``; the context is always the last
parameter and carries the user's preferences (``company`` above all). The session token from
``common.db.login`` is reused for every call and renewed once when Tryton answers 401 (expired).

Tryton answers errors as HTTP 200 with ``error``; they are translated here, once:

==================================== ==============================================
Tryton                               qgate
==================================== ==============================================
``UserError`` (validation, access)   :class:`~shared.errors.BackendRejected` (409)
``UserWarning`` named in the policy  acknowledged (``res.user.warning``) and retried
``UserWarning`` otherwise            :class:`~shared.errors.BackendRejected` (409)
``ConcurrencyException``             :class:`~shared.errors.PreconditionFailed` (412)
any other exception                  :class:`~shared.errors.DownstreamRejected` (502)
connection refused, 5xx, 429, 503    :class:`~shared.errors.DownstreamUnavailable`
timeout                              :class:`~shared.errors.DownstreamTimeout`
login refused                        :class:`~shared.errors.DownstreamRejected`
==================================== ==============================================

A Tryton exception's text is never shown for a 5xx (it may hold a traceback); a ``UserError``'s
message is the business reason and becomes the 409's detail.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import fnmatch
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

import httpx

from shared.errors import (
    BackendRejected,
    DownstreamRejected,
    DownstreamTimeout,
    DownstreamUnavailable,
    PreconditionFailed,
)
from shared.http import build_http_client

__all__ = ["TrytonClient", "TrytonSession", "decode", "encode"]

_log = logging.getLogger("qgate.connectors.tryton")
_MAX_ACKNOWLEDGEMENTS: Final = 5
_PREFERENCE_KEYS: Final = ("company", "employee", "language", "company_filter")


def _default(value: object) -> object:
    if isinstance(value, Decimal):
        return {"__class__": "Decimal", "decimal": str(value)}
    if isinstance(value, dt.datetime):
        return {
            "__class__": "datetime",
            "year": value.year,
            "month": value.month,
            "day": value.day,
            "hour": value.hour,
            "minute": value.minute,
            "second": value.second,
            "microsecond": value.microsecond,
        }
    if isinstance(value, dt.date):
        return {"__class__": "date", "year": value.year, "month": value.month, "day": value.day}
    if isinstance(value, bytes):
        return {"__class__": "bytes", "base64": base64.b64encode(value).decode()}
    raise TypeError(f"cannot send {type(value).__name__} to Tryton")


def _hook(obj: dict[str, Any]) -> Any:
    kind = obj.get("__class__")
    if kind == "Decimal":
        return Decimal(obj["decimal"])
    if kind == "datetime":
        fields = {k: obj[k] for k in ("year", "month", "day", "hour", "minute", "second")}
        return dt.datetime(**fields, microsecond=obj.get("microsecond", 0))
    if kind == "date":
        return dt.date(obj["year"], obj["month"], obj["day"])
    if kind == "time":
        return dt.time(obj["hour"], obj["minute"], obj["second"], obj.get("microsecond", 0))
    if kind == "timedelta":
        return dt.timedelta(seconds=obj["seconds"])
    if kind == "bytes":
        return base64.b64decode(obj["base64"])
    return obj


def encode(payload: object) -> bytes:
    """JSON as Tryton's JSON-RPC reads it (``Decimal``, ``date``, ``datetime`` tagged)."""
    return json.dumps(payload, default=_default, separators=(",", ":")).encode()


def decode(raw: bytes) -> Any:
    """Tryton's JSON-RPC answer with its tagged values turned back into Python values."""
    return json.loads(raw, object_hook=_hook)


class TrytonSession:
    """A logged-in session: the ``Authorization`` header and the user's context."""

    def __init__(self, *, login: str, user_id: int, token: str, context: Mapping[str, Any]) -> None:
        self.user_id = user_id
        self.token = token
        self.context = dict(context)
        raw = f"{login}:{user_id}:{token}".encode()
        self.authorization = "Session " + base64.b64encode(raw).decode()


class TrytonClient:
    """One Tryton database over JSON-RPC (thread of calls share one session).

    ``acknowledge`` lists the ``UserWarning`` names (glob patterns) qgate may acknowledge on the
    user's behalf; any other warning is a refusal. ``company`` selects the company (its id) when
    the user has several; None keeps the user's own.
    """

    def __init__(
        self,
        *,
        url: str,
        database: str,
        login: str,
        password: str,
        company: int | None = None,
        timeout_seconds: float = 30.0,
        acknowledge: Iterable[str] = (),
        language: str = "en",
        transport: httpx.AsyncBaseTransport | None = None,
        session: TrytonSession | None = None,
    ) -> None:
        self.database = database
        self._login = login
        self._password = password
        self._company = company
        self._language = language
        self._acknowledge = tuple(acknowledge)
        self._http = build_http_client(
            base_url=url.rstrip("/"), transport=transport, timeout=timeout_seconds
        )
        self._session = session
        self._login_lock = asyncio.Lock()
        self._ids = 0

    @property
    def session(self) -> TrytonSession | None:
        return self._session

    async def aclose(self) -> None:
        await self._http.aclose()

    def forget_session(self) -> None:
        """Log in again on the next call (e.g. after the user's company changed)."""
        self._session = None

    async def execute(
        self, model: str, method: str, *params: Any, context: Mapping[str, Any] | None = None
    ) -> Any:
        """``model.<model>.<method>(*params, context)``: the session's context plus ``context``.

        Raises the ``shared.errors`` the module docstring lists."""
        return await self.call(f"model.{model}.{method}", *params, context=context)

    async def call(
        self, method: str, *params: Any, context: Mapping[str, Any] | None = None
    ) -> Any:
        acknowledged: list[str] = []
        for _ in range(_MAX_ACKNOWLEDGEMENTS + 1):
            session = await self._current_session()
            full = {**session.context, **(context or {})}
            try:
                return await self._post_authenticated(session, method, [*params, full])
            except _Warning as warning:
                if warning.name in acknowledged or not self._may_acknowledge(warning.name):
                    raise BackendRejected(
                        f"Tryton asks to confirm: {warning.message} (warning {warning.name}, "
                        "not in the acknowledgement policy)"
                    ) from None
                _log.info("acknowledging Tryton warning %s", warning.name)
                await self._post_authenticated(
                    session,
                    "model.res.user.warning.create",
                    [[{"user": session.user_id, "name": warning.name, "always": False}], full],
                )
                acknowledged.append(warning.name)
        raise BackendRejected("Tryton kept asking for confirmations")  # pragma: no cover

    def _may_acknowledge(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self._acknowledge)

    async def _current_session(self) -> TrytonSession:
        if self._session is not None:
            return self._session
        async with self._login_lock:
            if self._session is None:
                self._session = await self._open_session()
            return self._session

    async def _open_session(self) -> TrytonSession:
        answer = await self._post(
            None, "common.db.login", [self._login, {"password": self._password}, self._language]
        )
        if not isinstance(answer, list) or len(answer) < 2:
            raise DownstreamRejected("Tryton answered the login with no session")
        user_id, token = int(answer[0]), str(answer[1])
        bare = TrytonSession(login=self._login, user_id=user_id, token=token, context={})
        preferences = await self._post(
            bare.authorization, "model.res.user.get_preferences", [True, {}]
        )
        context = {k: preferences[k] for k in _PREFERENCE_KEYS if k in preferences}
        if self._company is not None:
            context["company"] = self._company
        return TrytonSession(login=self._login, user_id=user_id, token=token, context=context)

    async def _post_authenticated(
        self, session: TrytonSession, method: str, params: Sequence[Any]
    ) -> Any:
        try:
            return await self._post(session.authorization, method, params)
        except _Expired:
            async with self._login_lock:
                if self._session is session:
                    self._session = await self._open_session()
            renewed = await self._current_session()
            try:
                return await self._post(renewed.authorization, method, params)
            except _Expired:
                raise DownstreamRejected(
                    "Tryton refused qgate's session right after login"
                ) from None

    async def _post(self, authorization: str | None, method: str, params: Sequence[Any]) -> Any:
        self._ids += 1
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        body = encode({"id": self._ids, "method": method, "params": list(params)})
        try:
            response = await self._http.post(
                f"/{self.database}/rpc/", content=body, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise DownstreamTimeout("Tryton did not answer in time") from exc
        except httpx.HTTPError as exc:
            raise DownstreamUnavailable("Tryton is unavailable") from exc
        return self._answer(method, authorization, response)

    def _answer(self, method: str, authorization: str | None, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 401 and authorization is not None:
            raise _Expired
        if status == 401:
            raise DownstreamRejected("Tryton refused qgate's login (401)")
        if status == 403:
            raise DownstreamRejected(f"Tryton does not allow {method} to qgate's user (403)")
        if status == 429 or status >= 500:
            raise DownstreamUnavailable(f"Tryton answered {status}")
        if status != 200:
            raise DownstreamRejected(f"Tryton answered {status} to {method}")
        try:
            payload = decode(response.content)
        except ValueError as exc:
            raise DownstreamRejected("Tryton answered with something that is not JSON") from exc
        if not isinstance(payload, dict):
            raise DownstreamRejected("Tryton answered with an unexpected JSON-RPC payload")
        if "error" in payload and payload["error"] is not None:
            raise _translate(method, payload["error"])
        return payload.get("result")


class _Expired(Exception):
    """401 on an authenticated call: the session expired (log in again once)."""


class _Warning(Exception):
    def __init__(self, name: str, message: str) -> None:
        super().__init__(name)
        self.name = name
        self.message = message


def _translate(method: str, error: Any) -> Exception:
    if isinstance(error, list) and len(error) == 2 and isinstance(error[0], str):
        kind = error[0]
        args = list(error[1]) if isinstance(error[1], list | tuple) else [error[1]]
        if kind == "UserError":
            message = str(args[0]) if args else "refused"
            description = str(args[1]) if len(args) > 1 and args[1] else ""
            return BackendRejected(
                f"Tryton: {message}" + (f" {description}" if description else "")
            )
        if kind == "UserWarning":
            name = str(args[0]) if args else ""
            message = str(args[1]) if len(args) > 1 else name
            return _Warning(name, message)
        if kind == "ConcurrencyException":
            return PreconditionFailed(
                "The record was changed in Tryton since it was read; read it again and retry."
            )
        if kind == "RateLimitException":
            return DownstreamUnavailable("Tryton is rate limiting qgate's logins")
        if kind == "LoginException":
            return DownstreamRejected("Tryton asks for more than a password to log in")
    # An unexpected server-side exception: its text may be a traceback, never shown.
    _log.warning("Tryton failed on %s: %.500s", method, error)
    return DownstreamRejected(f"Tryton failed on {method.rsplit('.', maxsplit=1)[-1]}")
