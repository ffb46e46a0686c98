"""The split deployment, end to end: every layer its own process, sharing one Redis.

One module-scoped cluster (started in parallel, once) serves every test:

- ``issuer``: the development token issuer;
- ``system`` and ``system-2``: two system-layer replicas (the process layer calls ``system``);
- ``process``: the process layer;
- ``experience`` and ``experience-2``: two experience-layer replicas.

The rate-limit test keeps to its own client (``readonly-auditor``) on a tier of its own, so its
small limit touches no other test.
"""

from __future__ import annotations

import asyncio
import re
import signal
import uuid
from collections.abc import Iterator
from typing import Any, Final

import httpx
import pytest

from tests.e2e._servers import Cluster, LogLine, split_cluster

RATE_LIMIT: Final = 5
# A tier name of this module's own: rate-limit windows are keyed by tier and client in Redis.
BURST_TIER: Final = f"e2e-burst-{uuid.uuid4().hex[:8]}"
LIMITED_CLIENT: Final = "readonly-auditor"
PROBLEM_JSON: Final = "application/problem+json"
CHECK_RECORDED: Final = "connectivity_check_recorded"


@pytest.fixture(scope="module")
def cluster(redis_proc: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    redis_url = f"redis://{redis_proc.host}:{redis_proc.port}/0"
    tiers = (
        '{"standard": "600/minute", "operations": "3000/minute", "anonymous": "600/minute", '
        f'"{BURST_TIER}": "{RATE_LIMIT}/minute"}}'
    )
    with split_cluster(
        redis_url,
        experience_replicas=2,
        system_replicas=2,
        env={
            "QGATE_RATE_LIMIT_TIERS": tiers,
            "QGATE_RATE_LIMIT_CLIENT_TIERS": f'{{"{LIMITED_CLIENT}": "{BURST_TIER}"}}',
        },
        # A deadline, not a wait: generous because other test runs may share the machine.
        startup_timeout=90.0,
        log_dir=tmp_path_factory.mktemp("split-logs"),
    ) as started:
        started.start()
        yield started


async def get_token(http: httpx.AsyncClient, cluster: Cluster, client_id: str) -> str:
    """What a newcomer does first: client credentials (HTTP Basic) against the issuer."""
    response = await http.post(
        cluster.url("issuer") + "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client_id, f"{client_id}-secret"),
    )
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert isinstance(token, str)
    return token


def bearer(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **extra}


def chain(hop: dict[str, Any]) -> tuple[str, list[str]]:
    """(client this hop saw, the clients it acted on behalf of, original caller first)."""
    caller = hop["caller"]
    return caller["clientId"], [ref["clientId"] for ref in caller["onBehalfOf"]]


def recorded_checks(cluster: Cluster, correlation_ids: set[str]) -> dict[str, list[LogLine]]:
    """Every ``connectivity_check_recorded`` event under these correlation ids, by layer,
    counted across every process of every service (all replicas, all restarts)."""
    found: dict[str, list[LogLine]] = {}
    for service in cluster:
        for entry in service.logs():
            if entry.get("event") == CHECK_RECORDED and entry.get("correlationId") in (
                correlation_ids
            ):
                assert entry["layer"] == service.target, (service.name, entry)
                found.setdefault(service.target, []).append(entry)
    return found


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].endswith("/" + slug), problem
    return problem


async def test_split_end_to_end_with_one_correlation_id(cluster: Cluster) -> None:
    correlation_id = str(uuid.uuid4())
    async with httpx.AsyncClient(timeout=30.0) as http:
        plant_token = await get_token(http, cluster, "plant-app")
        operations_token = await get_token(http, cluster, "operations")

        response = await http.get(
            cluster.url("experience") + "/plant/v1/whoami",
            headers=bearer(plant_token, **{"X-Correlation-ID": correlation_id}),
        )
        assert response.status_code == 200, response.text
        assert response.headers["x-correlation-id"] == correlation_id
        whoami = response.json()
        assert chain({"caller": whoami["caller"]}) == ("plant-app", [])
        hops = whoami["hops"]
        assert [(hop["layer"], hop["surface"]) for hop in hops] == [
            ("experience", "plant"),
            ("process", "quality"),
            ("system", "erp"),
        ]
        assert [chain(hop) for hop in hops] == [
            ("plant-app", []),
            ("experience-service", ["plant-app"]),
            ("process-service", ["plant-app", "experience-service"]),
        ]
        assert [hop["correlationId"] for hop in hops] == [correlation_id] * 3
        assert hops[0]["caller"]["plants"] == ["1000"]
        assert hops[2]["caller"]["onBehalfOf"][0]["plants"] == ["1000"]

        process = await http.get(
            cluster.url("process") + "/process/v1/whoami", headers=bearer(operations_token)
        )
        assert process.status_code == 200, process.text
        assert [(hop["layer"], *chain(hop)) for hop in process.json()["hops"]] == [
            ("process", "operations", []),
            ("system", "process-service", ["operations"]),
        ]

        system = await http.get(
            cluster.url("system") + "/system/erp/v1/whoami", headers=bearer(operations_token)
        )
        assert system.status_code == 200, system.text
        assert [(hop["layer"], *chain(hop)) for hop in system.json()["hops"]] == [
            ("system", "operations", []),
        ]

    # The id the client sent is in the JSON logs of every layer process the call went through
    # (each writes its access line just after answering, hence the bounded wait).
    expected_paths = {
        "experience": "/plant/v1/whoami",
        "process": "/process/v1/whoami",
        "system": "/system/erp/v1/whoami",
    }
    for name, path in expected_paths.items():
        lines = cluster.wait_for_logs(
            name,
            lambda entry: (
                entry.get("correlationId") == correlation_id and entry.get("event") == "request"
            ),
        )
        assert [(line["layer"], line["path"], line["status"]) for line in lines] == [
            (name, path, 200)
        ], cluster[name].stderr_tail()
    for name in ("experience-2", "system-2"):
        assert not [e for e in cluster.logs(name) if e.get("correlationId") == correlation_id]


async def test_idempotency_across_replicas_runs_the_operation_once(cluster: Cluster) -> None:
    replicas = [cluster.url(name) for name in cluster.names("experience")]
    assert len(replicas) == 2
    key = f"e2e-{uuid.uuid4()}"
    correlation_ids = [str(uuid.uuid4()) for _ in range(50)]
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as http:
        token = await get_token(http, cluster, "plant-app")

        async def create(n: int) -> httpx.Response:
            return await http.post(
                replicas[n % len(replicas)] + "/plant/v1/connectivity-checks",
                json={"note": "exactly once"},
                headers=bearer(
                    token,
                    **{"Idempotency-Key": key, "X-Correlation-ID": correlation_ids[n]},
                ),
            )

        responses = await asyncio.gather(*(create(n) for n in range(50)))

    fresh = [
        r for r in responses if r.status_code == 201 and "idempotent-replayed" not in r.headers
    ]
    replayed = [r for r in responses if r.status_code == 201 and r not in fresh]
    in_flight = [r for r in responses if r.status_code == 409]
    assert len(fresh) == 1, [(r.status_code, r.text[:200]) for r in responses]
    assert len(fresh) + len(replayed) + len(in_flight) == 50, [r.status_code for r in responses]
    original = fresh[0]
    check = original.json()
    for response in replayed:
        assert response.headers["idempotent-replayed"] == "true"
        assert response.json() == check
    for response in in_flight:
        assert_problem(response, 409, "idempotency-key-in-flight")

    # The operation ran once per layer: one event at experience, process, ERP and QMS, all under
    # the correlation id of the one request that ran it, whose ids are in the answer's hops.
    winner = original.headers["x-correlation-id"]
    assert winner in correlation_ids
    events = recorded_checks(cluster, set(correlation_ids))
    surfaces = {
        layer: sorted(entry["surface"] for entry in entries) for layer, entries in events.items()
    }
    assert surfaces == {"experience": ["plant"], "process": ["quality"], "system": ["erp", "qms"]}
    logged = {entry["surface"]: entry for entries in events.values() for entry in entries}
    assert {entry["correlationId"] for entry in logged.values()} == {winner}
    assert check["checkId"] == logged["plant"]["checkId"]
    assert [(hop["surface"], hop["reference"]) for hop in check["hops"]] == [
        (surface, logged[surface]["checkId"]) for surface in ("plant", "quality", "erp", "qms")
    ]
    assert [hop["correlationId"] for hop in check["hops"]] == [winner] * 4


async def test_rate_limit_is_shared_by_replicas(cluster: Cluster) -> None:
    replicas = [cluster.url(name) for name in cluster.names("system")]
    assert len(replicas) == 2
    total = RATE_LIMIT + 20
    async with httpx.AsyncClient(timeout=30.0) as http:
        token = await get_token(http, cluster, LIMITED_CLIENT)
        responses = await asyncio.gather(
            *(
                http.get(
                    replicas[n % len(replicas)] + "/system/erp/v1/whoami", headers=bearer(token)
                )
                for n in range(total)
            )
        )

    ok = [r for r in responses if r.status_code == 200]
    limited = [r for r in responses if r.status_code == 429]
    assert (len(ok), len(limited)) == (RATE_LIMIT, total - RATE_LIMIT), [
        (r.status_code, r.text[:200]) for r in responses
    ]
    policy = f'"{BURST_TIER}";q={RATE_LIMIT};w=60'
    for response in ok:
        assert response.json()["caller"]["clientId"] == LIMITED_CLIENT
        assert response.headers["ratelimit-policy"] == policy
        match = re.fullmatch(rf'"{BURST_TIER}";r=(\d+);t=(\d+)', response.headers["ratelimit"])
        assert match is not None, response.headers["ratelimit"]
        assert 0 <= int(match[1]) < RATE_LIMIT
    for response in limited:
        assert_problem(response, 429, "rate-limited")
        retry_after = int(response.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert response.headers["ratelimit-policy"] == policy
        assert response.headers["ratelimit"] == f'"{BURST_TIER}";r=0;t={retry_after}'
    # Each replica got at least 12 of the 25 and at most 5 were admitted in all: both refused.
    refused_by = {str(r.request.url.port) for r in limited}
    assert refused_by == {str(cluster[name].port) for name in cluster.names("system")}


async def test_idempotency_survives_a_replica_restart(cluster: Cluster) -> None:
    url = cluster.url("experience")
    key = f"e2e-{uuid.uuid4()}"
    body = {"note": "before the restart"}
    async with httpx.AsyncClient(timeout=30.0) as http:
        token = await get_token(http, cluster, "plant-app")
        first = await http.post(
            url + "/plant/v1/connectivity-checks",
            json=body,
            headers=bearer(token, **{"Idempotency-Key": key}),
        )
    assert first.status_code == 201, first.text
    assert "idempotent-replayed" not in first.headers

    old_pid = cluster["experience"].pid
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal (so not exit code 0).
    assert await asyncio.to_thread(cluster.stop, "experience") == -signal.SIGTERM
    assert "Application shutdown complete." in [
        line["message"] for line in cluster["experience"].logs(current_only=True)
    ]
    await asyncio.to_thread(cluster.start, "experience")
    assert cluster["experience"].pid != old_pid

    async with httpx.AsyncClient(timeout=30.0) as http:
        again = await http.post(
            url + "/plant/v1/connectivity-checks",
            json=body,
            headers=bearer(token, **{"Idempotency-Key": key}),
        )
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json()["checkId"] == first.json()["checkId"]
    assert again.json() == first.json()
    # The new process answered from Redis alone: it served the replay and recorded nothing.
    replay_id = again.headers["x-correlation-id"]
    served = cluster.wait_for_logs(
        "experience",
        lambda entry: entry.get("correlationId") == replay_id and entry.get("event") == "request",
    )
    assert [(line["path"], line["status"]) for line in served] == [
        ("/plant/v1/connectivity-checks", 201)
    ]
    new_process = cluster["experience"].logs(current_only=True)
    assert any(line.get("correlationId") == replay_id for line in new_process)
    assert not [line for line in new_process if line.get("event") == CHECK_RECORDED]
