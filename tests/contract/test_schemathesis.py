"""Schemathesis against every committed contract, served by the all-in-one app.

Each contract in ``openapi/`` is loaded from its FILE (what clients get), pointed at the
all-in-one composition (issuer and three layers, in-process) and fuzzed with every default check
(server errors, status/content-type/header/schema conformance, positive and negative data,
missing headers, unsupported methods, ignored auth, ...) under three kinds of caller:

- no token: every operation must answer 401 problem+json;
- a valid token of a client without the operation's scopes: 403 (or 2xx where the client does
  hold the read scope, as ``readonly-auditor`` on the system and process surfaces);
- a token holding the surface's scopes: the operations run, through every layer below.

Two things about the set-up:

- Schemathesis runs the app's ASGI lifespan and ends it after every test. A real server runs
  it once, and a layer app does not restart (its lifespan closes its HTTP clients), so every
  test gets a fresh gateway: :class:`Gateway` forwards to the app built for the current test.
- ETags: any quoted string matches ``If-Match``'s schema, but only the record's current ETag
  passes; the documented 412 is accepted for a request that sent one.
- Opaque list cursors: any string matches a ``cursor``'s schema, but only the ones a list
  issued are valid; the documented 400 ``invalid-cursor`` is accepted for a request that sent
  one (see :func:`positive_data_acceptance_unless_key_reused`).
- Idempotent POSTs: Schemathesis may send an ``Idempotency-Key`` again with another body. The
  contract documents the answer (422 ``idempotency-key-reused``), but the
  ``positive_data_acceptance`` check counts any 422 to schema-valid data as a failure; so that
  check runs here except for that documented problem, and :class:`IdempotencyLedger` asserts
  the 422 comes only for a key that did succeed before with another request (and that a replay
  comes only for the same request).

Stateful phase: it chains operations through the contracts' OpenAPI links (create -> get ->
update with the ETag just read, on the system contracts). The surfaces without links (only the
diagnostics so far) are confirmed to have none, so the state machine runs as soon as they gain
some.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, NamedTuple, cast

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.errors import NoLinksFound
from schemathesis.specs.openapi.checks import positive_data_acceptance

from shared.asgitypes import Receive, Scope, Send
from shared.auth import DevIssuer
from shared.composition import PrefixDispatcher, create_all_in_one
from shared.settings import RateLimitSettings, Settings
from tests.contract._checks import REUSED, positive_data_acceptance_unless_key_reused, problem_type

CONTRACTS_DIR: Final = Path(__file__).resolve().parents[2] / "openapi"
MAX_EXAMPLES: Final = 40
"""Fuzzing examples per operation and caller (the examples and coverage phases add theirs)."""


def _settings() -> Settings:
    # Fuzzing sends thousands of requests a minute from one client: no tier may trip 429 here.
    tiers = dict.fromkeys(RateLimitSettings().tiers, "100000/minute")
    return Settings(rate_limit=RateLimitSettings(tiers=tiers))


class Surface(NamedTuple):
    name: str
    contract: str
    weak: tuple[str, ...]
    """Clients lacking (some of) the surface's scopes."""
    full: str
    """A client holding every scope the surface's operations declare."""


SURFACES: Final = (
    Surface("erp", "system_apis/erp.v1.yaml", ("readonly-auditor", "plant-app"), "operations"),
    Surface("qms", "system_apis/qms.v1.yaml", ("readonly-auditor", "plant-app"), "operations"),
    Surface(
        "quality",
        "process_apis/quality.v1.yaml",
        ("readonly-auditor", "supplier-portal-sup-0001"),
        "operations",
    ),
    Surface("operations", "process_apis/operations.v1.yaml", ("quality-engineer",), "operations"),
    Surface(
        "partner", "experience_apis/partner.v1.yaml", ("plant-app",), "supplier-portal-sup-0001"
    ),
    Surface("plant", "experience_apis/plant.v1.yaml", ("supplier-portal-sup-0001",), "plant-app"),
)


class IdempotencyLedger:
    """What the gateway must have stored per (client, Idempotency-Key): the first success."""

    def __init__(self) -> None:
        self._first: dict[tuple[str, str], str] = {}

    @staticmethod
    def _key(raw: str) -> str:
        value = raw.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':  # the sf-string form, as the server
            value = value[1:-1]
        return value

    def observe(self, client_id: str, case: Any, response: Any) -> None:
        raw = case.headers.get("Idempotency-Key") if case.headers else None
        if raw is None or case.method != "POST":
            return
        key = (client_id, self._key(str(raw)))
        body = case.body if isinstance(case.body, (dict, list, str, int, float, bool)) else None
        request = json.dumps(
            [case.formatted_path, sorted((case.query or {}).items()), body],
            sort_keys=True,
            default=str,
        )
        replayed = response.headers.get("idempotent-replayed") == ["true"]
        if response.status_code == 422 and problem_type(response) == REUSED:
            assert key in self._first, f"422 reused for a key never used before: {key}"
            assert self._first[key] != request, "422 reused for the same request"
        elif replayed:
            assert self._first.get(key) == request, f"replayed another request for {key}"
        elif 200 <= response.status_code < 300:
            assert key not in self._first, f"{key} ran twice instead of replaying"
            self._first[key] = request


class Gateway:
    """An ASGI app forwarding to the all-in-one composition built for the current test."""

    def __init__(self) -> None:
        self._app: PrefixDispatcher | None = None
        self._issuer: DevIssuer | None = None
        self._tokens: dict[str, str] = {}
        self.ledger = IdempotencyLedger()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self._app is not None, "the fresh_gateway fixture builds the app"
        await self._app(scope, receive, send)

    def reset(self) -> None:
        """A new gateway: new issuer (keys), new tokens, fresh demo data."""
        settings = _settings()
        self._issuer = DevIssuer(
            issuer=settings.auth.issuer,
            audience=settings.auth.audience,
            clients=settings.dev_issuer.clients,
        )
        self.restart()
        self._tokens = {}

    def restart(self) -> None:
        """Fresh demo data and stores, same issuer: tokens already issued stay valid."""
        self._app = create_all_in_one(_settings(), issuer=self._issuer)
        self.ledger = IdempotencyLedger()

    def token(self, client_id: str) -> str:
        """A token from the app's dev issuer (client credentials, HTTP Basic)."""
        if client_id not in self._tokens:
            self._tokens[client_id] = asyncio.run(self._fetch_token(client_id))
        return self._tokens[client_id]

    async def _fetch_token(self, client_id: str) -> str:
        # The issuer needs no lifespan; the layers' lifespan runs in Schemathesis' event loop.
        transport = httpx.ASGITransport(app=self)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client_id, f"{client_id}-secret"),
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token


GATEWAY: Final = Gateway()


@pytest.fixture
def fresh_gateway() -> None:
    GATEWAY.reset()


def _config() -> schemathesis.Config:
    # A missing required If-Match answers 428 Precondition Required (RFC 6585), as the issue
    # and the contract say, besides the statuses Schemathesis expects by default.
    missing_header = ["400", "401", "403", "406", "415", "422", "428"]
    return schemathesis.Config.from_dict(
        {"checks": {"missing_required_header": {"expected-statuses": missing_header}}}
    )


def _load(surface: Surface) -> Any:
    schema = schemathesis.openapi.from_path(CONTRACTS_DIR / surface.contract, config=_config())
    schema.app = GATEWAY
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True, database="none")
    return schema


def _fuzz(surface: Surface, client_id: str | None) -> Callable[..., None]:
    schema = _load(surface)

    def test(case: Any) -> None:
        headers = {}
        if client_id is not None:
            headers["Authorization"] = f"Bearer {GATEWAY.token(client_id)}"
        response = case.call_and_validate(
            headers=headers,
            excluded_checks=[positive_data_acceptance],
            additional_checks=[positive_data_acceptance_unless_key_reused],
        )
        if client_id is not None:
            GATEWAY.ledger.observe(client_id, case, response)

    parametrized = pytest.mark.usefixtures("fresh_gateway")(schema.parametrize()(test))
    return cast("Callable[..., None]", parametrized)


for _surface in SURFACES:
    globals()[f"test_{_surface.name}_without_token"] = _fuzz(_surface, None)
    for _client in _surface.weak:
        _name = _client.replace("-", "_")
        globals()[f"test_{_surface.name}_with_weak_scopes_of_{_name}"] = _fuzz(_surface, _client)
    globals()[f"test_{_surface.name}_with_full_scopes"] = _fuzz(_surface, _surface.full)


@pytest.mark.usefixtures("fresh_gateway")
@pytest.mark.parametrize("surface", SURFACES, ids=[surface.name for surface in SURFACES])
def test_stateful_phase(surface: Surface) -> None:
    """Chains of linked operations with the full token, once a contract has links."""
    schema = _load(surface)
    machine = schema.as_state_machine()  # also infers the links it can from the schema
    token = GATEWAY.token(surface.full)

    class Stateful(machine):  # type: ignore[misc,valid-type]
        def setup(self) -> None:
            # Each scenario starts from the same demo data, so Hypothesis can replay one.
            GATEWAY.restart()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": {"Authorization": f"Bearer {token}"}}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            # The same checks as the fuzzing tests, with the same documented exceptions.
            case.validate_response(
                response,
                excluded_checks=[positive_data_acceptance],
                additional_checks=[
                    *(additional_checks or ()),
                    positive_data_acceptance_unless_key_reused,
                ],
                transport_kwargs=kwargs,
            )

    settings = hypothesis.settings(
        max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None
    )
    if schema.operations_with_incoming_links():
        Stateful.run(settings=settings)
    else:
        # None of the diagnostics operations takes an id another one returns: nothing to chain.
        with pytest.raises(NoLinksFound, match="contains no link definitions"):
            Stateful.run(settings=settings)
