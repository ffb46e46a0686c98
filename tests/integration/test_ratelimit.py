"""RateLimiter on process memory and on a real Redis (pytest-redis), including two replicas."""

from __future__ import annotations

import asyncio
import re
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from shared.ratelimit import RateLimitDecision, RateLimiter, RateLimitUnavailable

TIERS = {"standard": "5/minute", "premium": "12/minute", "anonymous": "3/minute"}

Factory = Callable[..., RateLimiter]


def _config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "tiers": TIERS,
        "client_tiers": {},
        "default_tier": "standard",
        "anonymous_tier": "anonymous",
    }
    config.update(overrides)
    return config


def _uid(label: str = "client") -> str:
    return f"{label}-{uuid.uuid4().hex}"


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_limiter(backend: str, request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    """Build limiters on the parametrised backend; each Redis one has its own pool (a replica)."""
    url = request.getfixturevalue("redis_url") if backend == "redis" else None
    made: list[RateLimiter] = []

    def factory(**overrides: Any) -> RateLimiter:
        config = _config(**overrides)
        limiter = RateLimiter.memory(**config) if url is None else RateLimiter.redis(url, **config)
        made.append(limiter)
        return limiter

    yield factory
    for limiter in made:
        await limiter.aclose()


# --- a strict parser for the draft's fields: an sf-list of sf-string items with sf-integer
# --- parameters (RFC 9651 §3.1, §3.1.2, §3.3.1, §3.3.3).
_ITEM = re.compile(
    r'"(?P<name>(?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"'
    r"(?P<params>(?:; *[a-z*][a-z0-9_.*-]*=-?[0-9]{1,15})*)"
)
_PARAM = re.compile(r"; *([a-z*][a-z0-9_.*-]*)=(-?[0-9]{1,15})")


def parse_sf_list(value: str) -> list[tuple[str, dict[str, int]]]:
    items: list[tuple[str, dict[str, int]]] = []
    for member in re.split(r"[ \t]*,[ \t]*", value):
        match = _ITEM.fullmatch(member)
        assert match, f"not an sf-string item with integer parameters: {member!r} in {value!r}"
        params = {key: int(number) for key, number in _PARAM.findall(match["params"])}
        items.append((re.sub(r"\\(.)", r"\1", match["name"]), params))
    return items


async def _hit_client(limiter: RateLimiter, client_id: str) -> RateLimitDecision:
    return await limiter.hit(client_id=client_id, remote_addr="192.0.2.1")


async def test_concurrent_hits_let_exactly_the_limit_through(make_limiter: Factory) -> None:
    limiter = make_limiter()
    client = _uid()
    decisions = await asyncio.gather(*(_hit_client(limiter, client) for _ in range(5 + 20)))
    assert sum(d.allowed for d in decisions) == 5
    assert all(d.remaining == 0 for d in decisions if not d.allowed)


async def test_two_redis_replicas_share_the_quota_exactly(redis_url: str) -> None:
    first = RateLimiter.redis(redis_url, **_config())
    second = RateLimiter.redis(redis_url, **_config())
    try:
        client = _uid()
        replicas = (first, second)
        decisions = await asyncio.gather(
            *(_hit_client(replicas[i % 2], client) for i in range(5 + 20))
        )
        assert sum(d.allowed for d in decisions) == 5
        # Both replicas took part and both refused callers once the shared window was full.
        assert {d.allowed for d in decisions[0::2]} == {True, False}
        assert {d.allowed for d in decisions[1::2]} == {True, False}
    finally:
        await first.aclose()
        await second.aclose()


async def test_remaining_counts_down_then_refuses(make_limiter: Factory) -> None:
    limiter = make_limiter()
    client = _uid()
    decisions = [await _hit_client(limiter, client) for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    for decision in decisions:
        assert (decision.policy, decision.limit, decision.window_seconds) == ("standard", 5, 60)
        assert 0 < decision.reset_seconds <= 60


async def test_headers_follow_the_draft_and_rejection_carries_retry_after(
    make_limiter: Factory,
) -> None:
    limiter = make_limiter()
    client = _uid()
    first = await _hit_client(limiter, client)
    for _ in range(4):
        await _hit_client(limiter, client)
    refused = await _hit_client(limiter, client)

    allowed_headers = first.headers()
    assert set(allowed_headers) == {"RateLimit-Policy", "RateLimit"}
    assert parse_sf_list(allowed_headers["RateLimit-Policy"]) == [("standard", {"q": 5, "w": 60})]
    [(name, params)] = parse_sf_list(allowed_headers["RateLimit"])
    assert name == "standard"
    assert set(params) == {"r", "t"}
    assert params["r"] == 4
    assert 1 <= params["t"] <= 60

    assert not refused.allowed
    headers = refused.headers()
    assert set(headers) == {"RateLimit-Policy", "RateLimit", "Retry-After"}
    assert re.fullmatch(r"[0-9]+", headers["Retry-After"])  # delay-seconds (RFC 9110)
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= 60
    [(name, params)] = parse_sf_list(headers["RateLimit"])
    assert name == "standard"
    assert params["r"] == 0
    # Retry-After must not point before the end of the effective window (draft §6).
    assert retry_after >= params["t"] >= 1


def test_headers_of_a_refusal_never_advertise_zero_retry_after() -> None:
    decision = RateLimitDecision(
        allowed=False, policy="p", limit=1, window_seconds=1, remaining=0, reset_seconds=0
    )
    assert decision.headers()["Retry-After"] == "1"


async def test_premium_client_gets_its_own_larger_quota(make_limiter: Factory) -> None:
    premium, standard = _uid("premium"), _uid("standard")
    limiter = make_limiter(client_tiers={premium: "premium"})

    premium_decisions = await asyncio.gather(*(_hit_client(limiter, premium) for _ in range(20)))
    standard_decisions = await asyncio.gather(*(_hit_client(limiter, standard) for _ in range(20)))

    assert sum(d.allowed for d in premium_decisions) == 12
    assert {(d.policy, d.limit) for d in premium_decisions} == {("premium", 12)}
    assert sum(d.allowed for d in standard_decisions) == 5
    assert {(d.policy, d.limit) for d in standard_decisions} == {("standard", 5)}
    assert parse_sf_list(premium_decisions[0].headers()["RateLimit-Policy"]) == [
        ("premium", {"q": 12, "w": 60})
    ]


async def test_clients_are_independent(make_limiter: Factory) -> None:
    limiter = make_limiter()
    exhausted, fresh = _uid(), _uid()
    for _ in range(5):
        assert (await _hit_client(limiter, exhausted)).allowed
    assert not (await _hit_client(limiter, exhausted)).allowed

    decision = await _hit_client(limiter, fresh)
    assert decision.allowed
    assert decision.remaining == 4


async def test_anonymous_callers_are_keyed_by_address(make_limiter: Factory) -> None:
    limiter = make_limiter()
    address, other_address = f"198.51.100.{uuid.uuid4().int % 250 + 1}", "2001:db8::1"

    same = [await limiter.hit(client_id=None, remote_addr=address) for _ in range(4)]
    assert [d.allowed for d in same] == [True, True, True, False]
    assert {(d.policy, d.limit) for d in same} == {("anonymous", 3)}

    other = await limiter.hit(client_id=None, remote_addr=other_address)
    assert other.allowed
    assert other.remaining == 2

    # A client whose id equals the exhausted address has its own quota and tier.
    as_client = await limiter.hit(client_id=address, remote_addr=address)
    assert as_client.allowed
    assert (as_client.policy, as_client.remaining) == ("standard", 4)


async def test_client_ids_with_separators_cannot_share_a_key(make_limiter: Factory) -> None:
    limiter = make_limiter(tiers={**TIERS, "standard": "1/minute"})
    base = _uid()
    assert (await _hit_client(limiter, base)).allowed
    assert not (await _hit_client(limiter, base)).allowed
    for lookalike in (f"{base}/1/1/minute", f"{base}%2F", f"{base}/"):
        assert (await _hit_client(limiter, lookalike)).allowed


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param(
            {"tiers": {**TIERS, "standard": "lots/minute"}},
            "'standard' has an invalid limit",
            id="bad-amount",
        ),
        pytest.param(
            {"tiers": {**TIERS, "standard": "5/fortnight"}},
            "'standard' has an invalid limit",
            id="bad-granularity",
        ),
        pytest.param(
            {"tiers": {**TIERS, "standard": "1/second;5/minute"}},
            "exactly one limit",
            id="two-limits",
        ),
        pytest.param(
            {"tiers": {**TIERS, "standard": "0/minute"}}, "at least 1 request", id="zero-quota"
        ),
        pytest.param(
            {"tiers": {**TIERS, 'bad"name': "5/minute"}}, "invalid tier name", id="bad-tier-name"
        ),
        pytest.param({"tiers": {}}, "at least one tier", id="no-tiers"),
        pytest.param(
            {"default_tier": "gold"},
            "default_tier 'gold' is not a defined tier",
            id="unknown-default",
        ),
        pytest.param(
            {"anonymous_tier": "guest"},
            "anonymous_tier 'guest' is not a defined tier",
            id="unknown-anonymous",
        ),
        pytest.param(
            {"client_tiers": {"acme": "platinum"}},
            r"client_tiers\['acme'\] = 'platinum'",
            id="unknown-client-tier",
        ),
    ],
)
def test_invalid_tier_configuration_is_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RateLimiter.memory(**_config(**overrides))


async def test_ping_succeeds_on_a_live_storage(make_limiter: Factory) -> None:
    limiter = make_limiter()
    await limiter.ping()
    assert (await _hit_client(limiter, _uid())).allowed


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_redis_raises_rate_limit_unavailable() -> None:
    limiter = RateLimiter.redis(f"redis://127.0.0.1:{_unused_port()}/0", **_config())
    try:
        with pytest.raises(RateLimitUnavailable) as raised:
            await _hit_client(limiter, _uid())
        assert "rate limit storage failed" in str(raised.value)
        assert raised.value.__cause__ is not None
        with pytest.raises(RateLimitUnavailable):
            await limiter.ping()
    finally:
        await limiter.aclose()
