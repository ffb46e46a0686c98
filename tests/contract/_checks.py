"""Schemathesis checks shared by the in-process fuzzing tests and the CLI runs."""

from __future__ import annotations

import json
from typing import Any, Final

from schemathesis.specs.openapi.checks import positive_data_acceptance

from shared.errors import PROBLEM_TYPE_BASE

__all__ = ["REUSED", "positive_data_acceptance_unless_key_reused", "problem_type"]

REUSED: Final = PROBLEM_TYPE_BASE + "idempotency-key-reused"
INVALID_CURSOR: Final = PROBLEM_TYPE_BASE + "invalid-cursor"
STALE_ETAG: Final = PROBLEM_TYPE_BASE + "precondition-failed"


def problem_type(response: Any) -> str | None:
    try:
        value = json.loads(response.content)
    except ValueError:
        return None
    return value.get("type") if isinstance(value, dict) else None


def positive_data_acceptance_unless_key_reused(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance``, except three documented answers no schema can rule out:
    422 for a reused Idempotency-Key, 400 for a list ``cursor`` the list never issued (cursors
    are opaque: any string matches their schema), and 412 for an ``If-Match`` that is not the
    record's current ETag (only a read tells which one is)."""
    if response.status_code == 422 and problem_type(response) == REUSED:
        return None
    if (
        response.status_code == 400
        and problem_type(response) == INVALID_CURSOR
        and "cursor" in (case.query or {})
    ):
        return None
    if (
        response.status_code == 412
        and problem_type(response) == STALE_ETAG
        and "If-Match" in (case.headers or {})
    ):
        return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result
