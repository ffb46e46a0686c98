"""Fixtures shared by every test: a private redis-server per test session (pytest-redis)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def redis_url(redis_proc: Any, redisdb: Any) -> str:
    """URL of the private redis-server; ``redisdb`` flushes it after each test."""
    return f"redis://{redis_proc.host}:{redis_proc.port}/0"
