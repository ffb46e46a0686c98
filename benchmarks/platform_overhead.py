"""Benchmark (a): one read operation through the full platform stack vs bare Litestar.

Both served by granian on core 0 (taskset), load from wrk on core 1, 32 connections. Prints
requests/s, p50 and p99 per variant and the ratio full/bare. See benchmarks/README.md.

    uv run --frozen python -m benchmarks.platform_overhead [--duration 10] [--redis URL]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import httpx

from benchmarks._servers import (
    UNLIMITED_TIERS,
    add_quiet_load_arguments,
    flush_redis,
    machine_facts,
    start_granian,
    wait_for_quiet,
)


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    load: str


def _ms(value: str) -> float:
    number = float(re.sub(r"[a-z]+$", "", value))
    if value.endswith("us"):
        return number / 1000
    if value.endswith("ms"):
        return number
    return number * 1000


def _wrk(url: str, headers: dict[str, str], duration: int) -> tuple[float, float, float, int]:
    command = ["taskset", "-c", "1", "wrk", "-t1", "-c32", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Anchored to the latency distribution lines: "+/- Stdev" values like "68.50%" also match.
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p50, p99, int(non.group(1)) if non else 0


def run(
    name: str, factory: str, env: dict[str, str], args: argparse.Namespace, token: bool
) -> Result:
    load = wait_for_quiet(args.quiet_load, args.max_wait)
    server = start_granian(name, factory, env)
    port = server.port
    try:
        headers: dict[str, str] = {}
        if token:
            answer = httpx.post(
                f"http://127.0.0.1:{port}/oauth/token",
                data={"grant_type": "client_credentials", "scope": "erp.read"},
                auth=("operations", "operations-secret"),
            )
            answer.raise_for_status()
            headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        url = f"http://127.0.0.1:{port}/system/erp/v1/whoami"
        _wrk(url, headers, 2)  # warm-up
        rps, p50, p99, non = _wrk(url, headers, args.duration)
        return Result(name, rps, p50, p99, non, load)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--redis", default=None, help="also measure with QGATE_STORE=redis")
    add_quiet_load_arguments(parser)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is required: apt-get install wrk")
    base = {
        **os.environ,
        "QGATE_LOG_LEVEL": "WARNING",
        "QGATE_DEV_ISSUER_TOKEN_TTL_SECONDS": "3600",
        "QGATE_RATE_LIMIT_TIERS": UNLIMITED_TIERS,
    }
    results = [
        run("bare Litestar", "benchmarks.apps:bare", base, args, token=False),
        run("qgate, memory stores", "benchmarks.apps:full", base, args, token=True),
    ]
    if args.redis:
        flush_redis(args.redis)
        redis_env = {**base, "QGATE_STORE": "redis", "QGATE_REDIS_URL": args.redis}
        results.append(run("qgate, Redis stores", "benchmarks.apps:full", redis_env, args, True))
    bare = results[0]
    print(
        f"{'variant':24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'cost':>6}  "
        "load avg before"
    )
    for result in results:
        print(
            f"{result.name:24} {result.rps:9.0f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.non_2xx:8d} {bare.rps / result.rps:5.1f}x  {result.load}"
        )
    print(machine_facts(args.redis))


if __name__ == "__main__":
    main()
