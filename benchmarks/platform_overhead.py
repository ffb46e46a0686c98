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
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass
class Result:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(factory: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        "taskset",
        "-c",
        "0",
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "asgi",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-ws",
        "--log-level",
        "warning",
        factory,
    ]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/system/erp/v1/whoami", timeout=1).status_code:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{factory} did not start")


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
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, p50, p99, int(non.group(1)) if non else 0


def run(name: str, factory: str, env: dict[str, str], duration: int, token: bool) -> Result:
    port = _free_port()
    proc = _start(factory, port, env)
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
        rps, p50, p99, non = _wrk(url, headers, duration)
        return Result(name, rps, p50, p99, non)
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--redis", default=None, help="also measure with QGATE_STORE=redis")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is required: apt-get install wrk")
    base = {
        **os.environ,
        "QGATE_LOG_LEVEL": "WARNING",
        "QGATE_DEV_ISSUER_TOKEN_TTL_SECONDS": "3600",
        "QGATE_RATE_LIMIT_TIERS": '{"standard":"100000000/minute","operations":'
        '"100000000/minute","anonymous":"100000000/minute"}',
    }
    results = [
        run("bare Litestar", "benchmarks.apps:bare", base, args.duration, token=False),
        run("qgate, memory stores", "benchmarks.apps:full", base, args.duration, token=True),
    ]
    if args.redis:
        redis_env = {**base, "QGATE_STORE": "redis", "QGATE_REDIS_URL": args.redis}
        results.append(
            run("qgate, Redis stores", "benchmarks.apps:full", redis_env, args.duration, True)
        )
    bare = results[0]
    print(f"{'variant':24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'cost':>6}")
    for result in results:
        print(
            f"{result.name:24} {result.rps:9.0f} {result.p50_ms:8.2f} {result.p99_ms:8.2f} "
            f"{result.non_2xx:8d} {bare.rps / result.rps:5.1f}x"
        )


if __name__ == "__main__":
    main()
