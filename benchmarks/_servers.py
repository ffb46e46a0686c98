"""What the benchmarks share: granian servers pinned to a core, CPU accounting, machine facts.

Servers run as ``taskset -c <core> python -m granian --factory <module:factory>`` on a free
loopback port, with their output in a log file (so errors under load can be read afterwards).
CPU time is read from ``/proc``: per process tree (granian runs its worker as a child process)
and per core (everything scheduled there, including other people's work on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import httpx
import redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TICK = os.sysconf("SC_CLK_TCK")

# The rate limiter stays on but never trips: every tier far above what one core can serve.
UNLIMITED_TIERS = (
    '{"standard":"10000000/minute","operations":"10000000/minute",'
    '"anonymous":"10000000/minute","service":"10000000/minute"}'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log_lines(
        self, pattern: str = r'"level":\s*"(WARNING|ERROR|CRITICAL)"|Traceback'
    ) -> list[str]:
        """Lines of the server's output matching ``pattern`` (warnings and errors by default)."""
        if not self.log.exists():
            return []
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if re.search(pattern, line)]


def start_granian(
    name: str,
    factory: str,
    env: Mapping[str, str],
    *,
    port: int | None = None,
    core: int = 0,
    ready_path: str = "/system/erp/v1/whoami",
    log_dir: str | None = None,
) -> Server:
    """Serve the ASGI ``factory`` with one granian worker pinned to ``core``; wait until it
    answers ``ready_path`` (any status: it is listening and its lifespan has run)."""
    port = port or free_port()
    command = [
        "taskset",
        "-c",
        str(core),
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
    directory = Path(log_dir or tempfile.mkdtemp(prefix="qgate-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT
        )
    server = Server(name, port, proc, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(f"{server.url}{ready_path}", timeout=1).status_code:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.stop()
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    raise SystemExit(f"{name} ({factory}) did not start:\n{tail}")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def process_tree(pids: Iterable[int]) -> list[int]:
    """The given processes and all their descendants."""
    tree = _children()
    found: list[int] = []
    todo = list(pids)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(tree.get(pid, []))
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """User + system CPU time of these processes (those gone are skipped)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _TICK


@dataclass
class CoreTimes:
    """Busy and total jiffies per core, from /proc/stat."""

    busy: dict[int, int] = field(default_factory=dict)
    total: dict[int, int] = field(default_factory=dict)

    @classmethod
    def now(cls) -> CoreTimes:
        times = cls()
        with open("/proc/stat") as stat:
            for line in stat:
                match = re.match(r"cpu(\d+)\s+(.*)", line)
                if not match:
                    continue
                values = [int(v) for v in match.group(2).split()]
                idle = values[3] + values[4]  # idle + iowait
                core = int(match.group(1))
                times.total[core] = sum(values[:8])
                times.busy[core] = times.total[core] - idle
        return times

    def busy_since(self, before: CoreTimes, core: int) -> float:
        """Fraction of the time ``core`` was busy between ``before`` and this snapshot."""
        total = self.total[core] - before.total[core]
        return (self.busy[core] - before.busy[core]) / total if total else 0.0


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}, {five:.2f}, {fifteen:.2f}"


def add_quiet_load_arguments(parser: argparse.ArgumentParser) -> None:
    """``--quiet-load`` and ``--max-wait``: how :func:`wait_for_quiet` is called."""
    parser.add_argument(
        "--quiet-load",
        type=float,
        default=0.5,
        help="before each variant, wait until the 1-minute load average is below this",
    )
    parser.add_argument("--max-wait", type=float, default=90, help="... but at most this long (s)")


def wait_for_quiet(threshold: float, max_wait: float) -> str:
    """Wait (at most ``max_wait`` s) until the 1-minute load average is below ``threshold``, so
    that a variant does not start in the wake of the previous one; return the load average."""
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] >= threshold and time.monotonic() < deadline:
        time.sleep(5)
    return load_average()


def machine_facts(redis_url: str | None = None) -> str:
    """One line: cores, Python, litestar, granian, httpx, redis-server (if a URL is given), and
    the commit measured."""
    facts = [
        f"{os.cpu_count()} cores",
        f"Python {platform.python_version()}",
        f"litestar {version('litestar')}",
        f"granian {version('granian')}",
        f"httpx {version('httpx')}",
    ]
    if redis_url:
        facts.append(f"redis-server {redis_server_version(redis_url)}")
    facts.append(f"code {code_version()}")
    return ", ".join(facts)


def code_version() -> str:
    """The commit measured, ``+changes`` when files outside benchmarks/ differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "--short=7", "HEAD")
        changed = git("status", "--porcelain", "--", ".", ":(exclude)benchmarks")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit}+changes" if changed else commit


def redis_server_version(url: str) -> str:
    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()


def flush_redis(url: str) -> None:
    """Empty the benchmark's Redis database (only the one the URL names)."""
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
