"""Benchmark (b): lot dispositions per second end to end, with p50 and p99 latency.

``POST /process/v1/lot-dispositions`` under load, in two deployments, every server process a
granian worker pinned to core 0:

- **all-in-one**: ``shared.asgi:all_in_one``, memory stores (the layers call each other in
  process, through ``httpx.ASGITransport``);
- **split with Redis** (``--redis URL``): issuer, system and process layer as three granian
  processes on loopback, ``QGATE_STORE=redis``; the load goes to the process layer directly.

The load generator is this process, pinned to core 1: ``--concurrency`` asyncio workers on one
httpx client, each owning distinct lots (one request in flight per worker, so a lot never has
two dispositions at once). Each worker walks its lots round-robin and sends the lot's next
decision of the cycle QUARANTINE -> RELEASED -> BLOCKED -> QUARANTINE (RELEASE, BLOCK,
QUARANTINE) with a fresh ``Idempotency-Key``. BLOCKED -> RELEASED is avoided (four eyes).
A warm-up (default 2 s) precedes the measured window; only answers completed inside the
window count. Anything but 201 is an error, reported by status with a sample body.

    uv run --frozen python -m benchmarks.dispositions [--duration 15] [--concurrency 16] \
        [--redis redis://127.0.0.1:6379/6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import redis

from benchmarks._servers import (
    UNLIMITED_TIERS,
    CoreTimes,
    Server,
    add_quiet_load_arguments,
    cpu_seconds,
    flush_redis,
    free_port,
    machine_facts,
    process_tree,
    start_granian,
    wait_for_quiet,
)

NEXT_DECISION = {"QUARANTINE": "RELEASE", "RELEASED": "BLOCK", "BLOCKED": "QUARANTINE"}
AFTER = {"RELEASE": "RELEASED", "BLOCK": "BLOCKED", "QUARANTINE": "QUARANTINE"}
PATH = "/process/v1/lot-dispositions"
SERVER_CORE, CLIENT_CORE = 0, 1


@dataclass
class Deployment:
    """Where the load goes and where tokens and lots come from."""

    name: str
    servers: list[Server]
    token_url: str
    system_url: str
    process_url: str

    def stop(self) -> None:
        for server in reversed(self.servers):
            server.stop()


@dataclass
class Result:
    name: str
    load_before: str
    completed: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    finished_at: list[float] = field(default_factory=list)
    errors: Counter[int] = field(default_factory=Counter)
    samples: dict[int, str] = field(default_factory=dict)
    warmup_errors: Counter[int] = field(default_factory=Counter)
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    server_cpu_by_name: dict[str, float] = field(default_factory=dict)
    core_busy: dict[int, float] = field(default_factory=dict)
    lots: int = 0
    workers: int = 0
    checks: list[str] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)
    log_dir: str = ""
    round_trips: str = ""

    @property
    def rate(self) -> float:
        return self.completed / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    def rate_between(self, start: float, end: float) -> float:
        done = sum(1 for t in self.finished_at if start <= t < end)
        return done / (end - start) if end > start else 0.0


def _token(url: str, client: str, scope: str) -> str:
    answer = httpx.post(
        url,
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client, f"{client}-secret"),
        timeout=10,
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def _lots(deployment: Deployment, token: str) -> dict[str, str]:
    """lotId -> disposition, for the lots whose disposition is on the 3-cycle."""
    answer = httpx.get(
        f"{deployment.system_url}/system/erp/v1/lots",
        params={"limit": 200},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    answer.raise_for_status()
    return {
        lot["lotId"]: lot["disposition"]
        for lot in answer.json()["items"]
        if lot["disposition"] in NEXT_DECISION
    }


async def _load(
    deployment: Deployment,
    token: str,
    lots: dict[str, str],
    concurrency: int,
    warmup: float,
    duration: float,
    result: Result,
) -> None:
    run = uuid.uuid4().hex[:8]
    owned: list[list[str]] = [[] for _ in range(concurrency)]
    for index, lot_id in enumerate(sorted(lots)):
        owned[index % concurrency].append(lot_id)
    state = dict(lots)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.perf_counter()
    window_start, window_end = started + warmup, started + warmup + duration

    async def worker(number: int, client: httpx.AsyncClient) -> None:
        mine = list(owned[number])
        sent = 0
        while mine and time.perf_counter() < window_end:
            lot_id = mine[sent % len(mine)]
            decision = NEXT_DECISION[state[lot_id]]
            body = {"lotId": lot_id, "decision": decision, "reason": "benchmark (b) cycle"}
            key = f"bench-{run}-{number}-{sent}"
            sent += 1
            begin = time.perf_counter()
            try:
                answer = await client.post(
                    PATH, json=body, headers={**headers, "Idempotency-Key": key}
                )
                status, text = answer.status_code, answer.text
            except httpx.HTTPError as exc:
                status, text = 0, f"{type(exc).__name__}: {exc}"
            done = time.perf_counter()
            measured = window_start <= begin and done <= window_end
            if status == 201:
                state[lot_id] = AFTER[decision]
                if measured:
                    result.latencies.append(done - begin)
                    result.finished_at.append(done - window_start)
            else:
                # Leave the lot alone from now on: its state is no longer known for sure.
                mine.remove(lot_id)
                (result.errors if measured else result.warmup_errors)[status] += 1
                result.samples.setdefault(status, f"{decision} {lot_id}: {text[:400]}")
            if measured:
                result.completed += 1

    async with httpx.AsyncClient(
        base_url=deployment.process_url, limits=limits, timeout=30
    ) as client:
        tasks = [asyncio.create_task(worker(n, client)) for n in range(concurrency)]
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        usage0, cores0 = resource.getrusage(resource.RUSAGE_SELF), CoreTimes.now()
        trees = {s.name: process_tree([s.proc.pid]) for s in deployment.servers}
        server0 = {name: cpu_seconds(pids) for name, pids in trees.items()}
        wall0 = time.perf_counter()
        await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
        usage1, cores1 = resource.getrusage(resource.RUSAGE_SELF), CoreTimes.now()
        server1 = {name: cpu_seconds(pids) for name, pids in trees.items()}
        wall1 = time.perf_counter()
        await asyncio.gather(*tasks)
    result.seconds = wall1 - wall0
    result.client_cpu = (usage1.ru_utime + usage1.ru_stime) - (usage0.ru_utime + usage0.ru_stime)
    result.server_cpu_by_name = {name: server1[name] - server0[name] for name in trees}
    result.server_cpu = sum(result.server_cpu_by_name.values())
    result.core_busy = {core: cores1.busy_since(cores0, core) for core in (0, 1)}


def _after_checks(deployment: Deployment, token: str) -> list[str]:
    """What the process layer says once the load stopped: nothing left pending or failed, and
    the audit trail's hash chain intact."""
    headers = {"Authorization": f"Bearer {token}"}
    checks = []
    with httpx.Client(base_url=deployment.process_url, headers=headers, timeout=120) as client:
        for status in ("PENDING_QMS", "PENDING_ERP", "PENDING_APPROVAL", "FAILED"):
            answer = client.get(PATH, params={"status": status, "limit": 200})
            count = len(answer.json().get("items", [])) if answer.status_code == 200 else -1
            if count:
                checks.append(f"{status}: {count if count >= 0 else answer.status_code}")
        answer = client.get("/process/v1/audit/verification")
        checks.append(f"audit verification {answer.status_code}: {answer.text[:200]}")
    return checks


def _count_round_trips(
    redis_url: str, deployment: Deployment, token: str, lots: dict[str, str], n: int = 10
) -> str:
    """Redis commands sent by the servers (not those run inside Lua scripts) per disposition,
    from MONITOR while ``n`` dispositions run one after another, after the measured run."""
    ours = redis.Redis.from_url(redis_url)
    marker = f"bench-monitor-{uuid.uuid4().hex[:8]}"
    seen: Counter[str] = Counter()
    ready = threading.Event()

    def watch() -> None:
        with ours.monitor() as monitor:
            ready.set()
            while True:
                command = monitor.next_command()
                text = str(command.get("command", ""))
                if marker in text:
                    return
                if command.get("client_type") != "lua":
                    seen[text.split(" ", 1)[0].upper()] += 1

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(5)
    time.sleep(0.2)
    headers = {"Authorization": f"Bearer {token}"}
    state = dict(lots)
    done = 0
    with httpx.Client(base_url=deployment.process_url, headers=headers, timeout=30) as client:
        for lot_id in sorted(state)[:n]:
            decision = NEXT_DECISION[state[lot_id]]
            answer = client.post(
                PATH,
                json={"lotId": lot_id, "decision": decision, "reason": "benchmark (b) count"},
                headers={"Idempotency-Key": f"bench-count-{uuid.uuid4().hex}"},
            )
            done += answer.status_code == 201
    redis.Redis.from_url(redis_url).echo(marker)
    thread.join(10)
    ours.close()
    if not done:
        return "no disposition succeeded while counting"
    total = sum(seen.values())
    parts = ", ".join(f"{name} {count / done:.1f}" for name, count in seen.most_common())
    return f"{total / done:.1f} Redis commands per disposition over {done} ({parts})"


def _base_env() -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("QGATE_")},
        "QGATE_LOG_LEVEL": "WARNING",
        "QGATE_LOG_FORMAT": "json",
        "QGATE_DEV_ISSUER_TOKEN_TTL_SECONDS": "3600",
        "QGATE_RATE_LIMIT_TIERS": UNLIMITED_TIERS,
    }


def all_in_one() -> Deployment:
    env = {**_base_env(), "QGATE_STORE": "memory"}
    server = start_granian("all-in-one", "shared.asgi:all_in_one", env, core=SERVER_CORE)
    return Deployment(
        "all-in-one, memory", [server], f"{server.url}/oauth/token", server.url, server.url
    )


def split(redis_url: str) -> Deployment:
    flush_redis(redis_url)
    issuer, system, process = free_port(), free_port(), free_port()
    env = {
        **_base_env(),
        "QGATE_STORE": "redis",
        "QGATE_REDIS_URL": redis_url,
        "QGATE_AUTH_ISSUER": f"http://127.0.0.1:{issuer}",
        "QGATE_LAYERS_SYSTEM_URL": f"http://127.0.0.1:{system}",
    }
    servers: list[Server] = []
    log_dir = tempfile.mkdtemp(prefix="qgate-bench-split-")
    try:
        for name, port, ready in (
            ("issuer", issuer, "/.well-known/jwks.json"),
            ("system", system, "/system/erp/v1/whoami"),
            ("process", process, "/process/v1/openapi.json"),
        ):
            servers.append(
                start_granian(
                    name,
                    f"shared.asgi:{name}",
                    {**env, "QGATE_PORT": str(port)},
                    port=port,
                    core=SERVER_CORE,
                    ready_path=ready,
                    log_dir=log_dir,
                )
            )
    except BaseException:
        for server in servers:
            server.stop()
        raise
    return Deployment(
        "split, Redis", servers, f"{servers[0].url}/oauth/token", servers[1].url, servers[2].url
    )


def run(
    start: Callable[[], Deployment], args: argparse.Namespace, redis_url: str | None = None
) -> Result:
    load = wait_for_quiet(args.quiet_load, args.max_wait)
    deployment = start()
    result = Result(deployment.name, load_before=load)
    try:
        ops = _token(deployment.token_url, "operations", "erp.read quality.read quality.audit.read")
        engineer = _token(deployment.token_url, "quality-engineer", "quality.write")
        lots = _lots(deployment, ops)
        workers = min(args.concurrency, len(lots))
        result.lots, result.workers = len(lots), workers
        if workers < args.concurrency:
            print(f"only {len(lots)} lots on the cycle: {workers} workers")
        asyncio.run(
            _load(
                deployment,
                engineer,
                lots,
                workers,
                args.warmup,
                args.duration,
                result,
            )
        )
        result.checks = _after_checks(deployment, ops)
        if redis_url and args.count_round_trips:
            current = _lots(deployment, ops)
            result.round_trips = _count_round_trips(redis_url, deployment, engineer, current)
    finally:
        deployment.stop()
        result.log_dir = str(deployment.servers[0].log.parent)
        for server in deployment.servers:
            result.log_lines += [f"[{server.name}] {line}" for line in server.log_lines()]
    return result


def report(results: list[Result], redis_url: str | None) -> None:
    print()
    print(
        f"{'variant':20} {'disp/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  "
        f"{'client µs/req':>13} {'core 1':>6}  {'server µs/disp':>14} {'core 0':>6}  load avg"
    )
    for r in results:
        per = max(r.completed, 1)
        print(
            f"{r.name:20} {r.rate:7.0f} {r.percentile(0.50):7.2f} {r.percentile(0.99):7.2f} "
            f"{sum(r.errors.values()):6d}  {r.client_cpu / per * 1e6:13.0f} "
            f"{r.core_busy.get(1, 0):6.0%}  {r.server_cpu / per * 1e6:14.0f} "
            f"{r.core_busy.get(0, 0):6.0%}  {r.load_before}"
        )
    print(machine_facts(redis_url))
    for r in results:
        print(f"\n{r.name}: {r.workers} workers on {r.lots} lots, {r.completed} in the window")
        third = r.seconds / 3
        print(
            f"  rate by third of the window: {r.rate_between(0, third):.0f} / "
            f"{r.rate_between(third, 2 * third):.0f} / {r.rate_between(2 * third, r.seconds):.0f}"
            " disp/s"
        )
        print(
            f"  client (core {CLIENT_CORE}) CPU: {r.client_cpu:.2f} s of {r.seconds:.1f} s "
            f"({r.client_cpu / r.seconds if r.seconds else 0:.0%} of a core); servers (core "
            f"{SERVER_CORE}) CPU: {r.server_cpu:.2f} s "
            f"({r.server_cpu / r.seconds if r.seconds else 0:.0%} of a core)"
        )
        if len(r.server_cpu_by_name) > 1:
            per = max(r.completed, 1)
            shares = ", ".join(
                f"{name} {cpu / per * 1e6:.0f}" for name, cpu in r.server_cpu_by_name.items()
            )
            print(f"  server CPU µs per disposition by process: {shares}")
        if r.errors or r.warmup_errors:
            print(f"  errors by status (0 = transport): {dict(r.errors)}")
            print(f"  errors during warm-up: {dict(r.warmup_errors)}")
            for status, sample in sorted(r.samples.items()):
                print(f"    {status}: {sample}")
        for check in r.checks:
            print(f"  after the run: {check}")
        if r.round_trips:
            print(f"  {r.round_trips}")
        print(f"  server logs in {r.log_dir}: {len(r.log_lines)} warning/error lines")
        if r.log_lines:
            for line in r.log_lines[:5]:
                print(f"    {line[:600]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=15)
    parser.add_argument("--warmup", type=float, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--redis", default=None, help="also run split with Redis (this db is flushed first)"
    )
    parser.add_argument(
        "--only", choices=["all-in-one", "split"], default=None, help="run one variant only"
    )
    add_quiet_load_arguments(parser)
    parser.add_argument(
        "--no-count-round-trips",
        dest="count_round_trips",
        action="store_false",
        help="skip counting Redis commands per disposition (MONITOR) after the split run",
    )
    args = parser.parse_args()
    if args.only == "split" and not args.redis:
        raise SystemExit("the split variant needs --redis URL")
    if len(os.sched_getaffinity(0)) < 2 or os.cpu_count() is None:
        raise SystemExit("needs two cores: the servers on core 0, the load on core 1")
    os.sched_setaffinity(0, {CLIENT_CORE})
    results = []
    if args.only in (None, "all-in-one"):
        results.append(run(all_in_one, args))
    if args.only in (None, "split") and args.redis:
        redis_url = args.redis
        results.append(run(lambda: split(redis_url), args, redis_url))
    report(results, args.redis)


if __name__ == "__main__":
    main()
