"""The session's real Tryton server (``_server``): a fresh database per test that uses it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.tryton._server import TRYTON, TrytonServer


@pytest.fixture(scope="session")
def tryton_server() -> Iterator[TrytonServer]:
    TRYTON.ensure_started()
    yield TRYTON
    TRYTON.stop()


@pytest.fixture
def tryton(tryton_server: TrytonServer) -> TrytonServer:
    """The server, with the template copied in before this test's first connector."""
    tryton_server.new_test()
    return tryton_server
