"""Deprecated operations: declared once on the handler, published in the contract, and announced
on every response.

::

    @get(
        "/plant/v1/lots",
        operation_id="listPlantLots",
        **deprecated(
            since=date(2025, 7, 1),
            sunset=date(2026, 6, 30),
            successor="/plant/v2/lots",
            opt=IDEMPOTENT,  # the handler's own opt, if any, goes here
        ),
    )

The operation is marked ``deprecated: true`` in the contract with ``x-deprecated-since``,
``x-sunset`` and ``x-successor``; ``qgate contracts diff`` accepts its removal once the sunset
date has passed. The request pipeline adds to every response of the operation (errors
included): ``Deprecation: @<unix seconds>`` (RFC 9745), ``Sunset: <HTTP-date>`` (RFC 8594) and
``Link: <successor>; rel="successor-version"`` (RFC 5829).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from email.utils import format_datetime
from typing import Any, Final, cast

import msgspec
from litestar.openapi.spec import Operation

__all__ = ["DEPRECATION_OPT", "Deprecation", "deprecated", "deprecation_headers"]

DEPRECATION_OPT: Final = "deprecation"
"""Key of the :class:`Deprecation` in a handler's ``opt``."""


class Deprecation(msgspec.Struct, frozen=True, kw_only=True):
    since: dt.date
    """When the operation was (or will be) deprecated."""
    sunset: dt.date
    """From this day (00:00 UTC) on the operation may be removed."""
    successor: str | None = None
    link_rel: str = "successor-version"

    def headers(self) -> list[tuple[str, str]]:
        """The response headers announcing the deprecation."""
        since = dt.datetime.combine(self.since, dt.time(), tzinfo=dt.UTC)
        sunset = dt.datetime.combine(self.sunset, dt.time(), tzinfo=dt.UTC)
        headers = [
            ("Deprecation", f"@{int(since.timestamp())}"),
            ("Sunset", format_datetime(sunset, usegmt=True)),
        ]
        if self.successor:
            headers.append(("Link", f'<{self.successor}>; rel="{self.link_rel}"'))
        return headers

    def extensions(self) -> dict[str, str]:
        """The contract's vendor extensions for the operation."""
        found = {"x-deprecated-since": self.since.isoformat(), "x-sunset": self.sunset.isoformat()}
        if self.successor:
            found["x-successor"] = self.successor
        return found


def _operation_class(deprecation: Deprecation) -> type[Operation]:
    # Litestar builds each operation from the handler's ``operation_class``; fields with an
    # ``alias`` are emitted under that name, so the extensions land in the generated contract.
    fields = [
        (
            key.removeprefix("x-").replace("-", "_") + "_extension",
            str,
            dataclasses.field(default=value, metadata={"alias": key}),
        )
        for key, value in deprecation.extensions().items()
    ]
    made = dataclasses.make_dataclass("DeprecatedOperation", fields, bases=(Operation,))
    return cast("type[Operation]", made)


def deprecated(
    *,
    since: dt.date,
    sunset: dt.date,
    successor: str | None = None,
    link_rel: str = "successor-version",
    opt: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Route-decorator keyword arguments that deprecate an operation (merge the handler's ``opt``).

    Raises ValueError when the sunset is not after the deprecation date.
    """
    if sunset <= since:
        raise ValueError(f"sunset {sunset} must come after the deprecation date {since}")
    deprecation = Deprecation(since=since, sunset=sunset, successor=successor, link_rel=link_rel)
    return {
        "deprecated": True,
        "opt": {**(opt or {}), DEPRECATION_OPT: deprecation},
        "operation_class": _operation_class(deprecation),
    }


def deprecation_headers(opt: Mapping[str, Any]) -> list[tuple[bytes, bytes]]:
    """Raw ASGI headers for a handler's ``opt`` (none unless it was declared :func:`deprecated`)."""
    deprecation = opt.get(DEPRECATION_OPT)
    if not isinstance(deprecation, Deprecation):
        return []
    return [
        (name.lower().encode("latin-1"), value.encode("latin-1"))
        for name, value in deprecation.headers()
    ]
