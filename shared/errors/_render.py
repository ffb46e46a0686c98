"""Render one problem+json response; the only place a Problem is built."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from litestar import Request, Response

from shared.correlation import current_correlation_id
from shared.errors._tree import (
    PROBLEM_JSON,
    PROBLEM_TYPE_BASE,
    FieldError,
    Problem,
    QgateError,
)

_log = logging.getLogger("qgate.errors")


def problem_response(
    request: Request[Any, Any, Any] | None,
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    errors: Sequence[FieldError] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[bytes]:
    """Render one problem+json response (used by every handler below)."""
    problem = Problem(
        type=PROBLEM_TYPE_BASE + slug,
        title=title,
        status=status,
        detail=detail,
        instance=request.url.path if request is not None else None,
        correlationId=current_correlation_id(),
        errors=list(errors) if errors else None,
    )
    return Response(
        content=msgspec.json.encode(problem),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers or {}),
    )


def render_error(request: Request[Any, Any, Any], exc: QgateError) -> Response[bytes]:
    """The problem+json response for one of qgate's own errors."""
    if exc.status >= 500 and not exc.public_detail:
        _log.error("request failed: %s", exc.title, exc_info=exc)
        # The class's own title only: a ServiceError's message may carry backend detail.
        return problem_response(
            request,
            status=exc.status,
            slug=exc.slug,
            title=exc.title,
            detail="See the server log under this correlation id.",
            headers=exc.headers,
        )
    return problem_response(
        request,
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )
