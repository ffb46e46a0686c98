"""Start, watch and stop qgate server processes for end-to-end tests.

Each service is ``python -m shared.cli serve <target>`` on a free loopback port, configured only
through ``QGATE_*`` environment variables, exactly as an operator would run a split deployment.
Its stderr (where qgate writes one JSON log object per line) goes to a file per process, so a
test can read what every process logged::

    with split_cluster(redis_url, experience_replicas=2) as cluster:
        cluster.start()                      # every process at once, then wait until ready
        cluster.url("experience")            # http://127.0.0.1:<port>
        cluster.logs("process")              # parsed JSON log lines of that service
        cluster.restart("experience")        # a new process for the same service

Services are started in parallel and awaited with one deadline; if a process exits or does not
become ready in time, the error names it and shows the tail of its stderr. Stopping sends
SIGTERM, then SIGKILL after a grace period, and always reaps the process.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx

__all__ = [
    "Cluster",
    "LogLine",
    "Service",
    "ServiceError",
    "free_port",
    "split_cluster",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TARGETS = ("issuer", "system", "process", "experience", "all")
LogLine = dict[str, Any]


class ServiceError(RuntimeError):
    """A service did not start, died, or did not become ready in time."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def _parse_log(path: Path) -> list[LogLine]:
    entries: list[LogLine] = []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return entries
    for raw in text.splitlines():
        line = raw.strip()
        if not line.startswith("{"):
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line still being written, or not a log record
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


class Service:
    """One named qgate server; it may run as several processes over time (restarts)."""

    def __init__(
        self,
        *,
        name: str,
        target: str,
        port: int,
        host: str,
        env: Mapping[str, str],
        ready_path: str | None,
        log_dir: Path,
    ) -> None:
        if target not in TARGETS:
            raise ValueError(f"unknown target {target!r} (one of {', '.join(TARGETS)})")
        self.name = name
        self.target = target
        self.port = port
        self.host = host
        self.env = dict(env)
        self.ready_path = ready_path
        self._log_dir = log_dir
        self._process: subprocess.Popen[bytes] | None = None
        self._incarnation = 0
        self.log_files: list[Path] = []
        """stderr of every process this service ran, oldest first."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def log_file(self) -> Path:
        """stderr of the current (or last) process."""
        if not self.log_files:
            raise ServiceError(f"{self.name} has not been started")
        return self.log_files[-1]

    def launch(self, env: Mapping[str, str]) -> None:
        """Start a process (does not wait for it); ``env`` is the complete environment."""
        if self.running:
            raise ServiceError(f"{self.name} is already running (pid {self.pid})")
        self._incarnation += 1
        stem = f"{self.name}.{self._incarnation}"
        stderr_path = self._log_dir / f"{stem}.stderr.log"
        stdout_path = self._log_dir / f"{stem}.stdout.log"
        command = [
            sys.executable,
            "-m",
            "shared.cli",
            "serve",
            self.target,
            "--host",
            self.host,
            "--port",
            str(self.port),
        ]
        with stderr_path.open("wb") as stderr, stdout_path.open("wb") as stdout:
            # The child holds its own descriptors; ours close when this block ends.
            self._process = subprocess.Popen(
                command,
                cwd=PROJECT_ROOT,
                env=dict(env),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
            )
        self.log_files.append(stderr_path)

    def check_alive(self) -> None:
        """Raise ServiceError (with the stderr tail) if the process has exited."""
        if self._process is None:
            raise ServiceError(f"{self.name} has not been started")
        code = self._process.poll()
        if code is not None:
            raise ServiceError(
                f"{self.name} ({self.target} on port {self.port}) exited with code {code}; "
                f"stderr tail:\n{_tail(self.log_file)}"
            )

    def wait_ready(self, client: httpx.Client, deadline: float) -> None:
        """Poll ``/health/live``, then ``ready_path``, until 200 or the deadline."""
        paths = ["/health/live"]
        if self.ready_path and self.ready_path not in paths:
            paths.append(self.ready_path)
        for path in paths:
            last = "no answer"
            while True:
                self.check_alive()
                try:
                    response = client.get(self.url + path, timeout=2.0)
                except httpx.TransportError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code == 200:
                        break
                    last = f"{response.status_code} {response.text[:300]}"
                if time.monotonic() > deadline:
                    raise ServiceError(
                        f"{self.name} ({self.target} on port {self.port}) was not ready in "
                        f"time: GET {path} -> {last}; stderr tail:\n{_tail(self.log_file)}"
                    )
                time.sleep(0.05)

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout``; reap the process. Returns its exit code."""
        process = self._process
        if process is None:
            return None
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        return process.returncode

    def logs(self, *, current_only: bool = False) -> list[LogLine]:
        """JSON log lines of every process this service ran (or only the latest), oldest first."""
        entries: list[LogLine] = []
        for path in self.log_files[-1:] if current_only else self.log_files:
            entries.extend(_parse_log(path))
        return entries

    def stderr_tail(self, lines: int = 40) -> str:
        return _tail(self.log_file, lines)


class Cluster:
    """Named qgate services sharing one set of ``QGATE_*`` settings; a context manager.

    ``env`` holds the settings every service gets (on top of ``os.environ`` without its
    ``QGATE_*`` variables, so the host's configuration never leaks in); each service may add
    its own. Ports are allocated when a service is added, so services can name each other's
    URLs before anything starts.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        startup_timeout: float = 20.0,
        stop_timeout: float = 10.0,
        log_dir: Path | None = None,
    ) -> None:
        self.env: dict[str, str] = {"QGATE_LOG_FORMAT": "json", **(env or {})}
        self.host = host
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if log_dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="qgate-e2e-")
            log_dir = Path(self._tempdir.name)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = log_dir
        self._services: dict[str, Service] = {}

    # --- building -------------------------------------------------------------------------

    def add(
        self,
        name: str,
        target: str,
        *,
        env: Mapping[str, str] | None = None,
        ready_path: str | None = "/health/ready",
        port: int | None = None,
    ) -> Service:
        """Declare a service (not started). ``ready_path=None`` waits for liveness only."""
        if name in self._services:
            raise ValueError(f"service {name!r} already exists")
        service = Service(
            name=name,
            target=target,
            port=port or free_port(self.host),
            host=self.host,
            env=env or {},
            ready_path=ready_path,
            log_dir=self.log_dir,
        )
        self._services[name] = service
        return service

    def add_issuer(self, name: str = "issuer") -> Service:
        """The development token issuer; every service then trusts it (``QGATE_AUTH_ISSUER``)."""
        service = self.add(name, "issuer")
        self.env["QGATE_AUTH_ISSUER"] = service.url
        return service

    # --- looking -------------------------------------------------------------------------

    def __getitem__(self, name: str) -> Service:
        try:
            return self._services[name]
        except KeyError:
            raise KeyError(f"no service {name!r} (have: {', '.join(self._services)})") from None

    def __iter__(self) -> Iterator[Service]:
        return iter(list(self._services.values()))

    def names(self, target: str | None = None) -> list[str]:
        """Service names, optionally only those serving ``target`` (every replica)."""
        return [s.name for s in self._services.values() if target is None or s.target == target]

    def url(self, name: str) -> str:
        return self[name].url

    def logs(self, name: str) -> list[LogLine]:
        """Parsed JSON log lines of one service (all its processes so far)."""
        return self[name].logs()

    def all_logs(self) -> dict[str, list[LogLine]]:
        """Parsed JSON log lines of every service, by service name."""
        return {name: service.logs() for name, service in self._services.items()}

    def wait_for_logs(
        self,
        name: str,
        predicate: Callable[[LogLine], bool],
        *,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[LogLine]:
        """Lines of ``name`` matching ``predicate``, once at least ``count`` are written.

        A process writes some lines (its access log) just after it answers, so a test that
        looks right after a response polls here instead of reading once.
        """
        deadline = time.monotonic() + timeout
        while True:
            found = [entry for entry in self.logs(name) if predicate(entry)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def environment(self, name: str) -> dict[str, str]:
        """The complete environment the service's process gets."""
        base = {k: v for k, v in os.environ.items() if not k.startswith("QGATE_")}
        return {**base, "PYTHONUNBUFFERED": "1", **self.env, **self[name].env}

    # --- running -------------------------------------------------------------------------

    def start(self, *names: str) -> None:
        """Start the named services (default: every one not running) at once; wait until ready.

        On failure every process this call started is stopped before the error propagates.
        """
        chosen = [self[n] for n in names] if names else [s for s in self if not s.running]
        started: list[Service] = []
        try:
            for service in chosen:
                service.launch(self.environment(service.name))
                started.append(service)
            deadline = time.monotonic() + self.startup_timeout
            with httpx.Client() as client:
                for service in chosen:
                    service.wait_ready(client, deadline)
        except BaseException:
            for service in started:
                service.stop(self.stop_timeout)
            raise

    def stop(self, name: str) -> int | None:
        """Stop one service's process (SIGTERM, then SIGKILL); returns its exit code."""
        return self[name].stop(self.stop_timeout)

    def restart(self, name: str) -> Service:
        """Stop the service and start a new process for it (same port, same settings)."""
        self.stop(name)
        self.start(name)
        return self[name]

    def close(self) -> None:
        """Stop every process (in reverse order of declaration) and remove temporary logs."""
        errors: list[BaseException] = []
        for service in reversed(list(self)):
            try:
                service.stop(self.stop_timeout)
            except Exception as exc:  # keep stopping the others
                errors.append(exc)
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None
        if errors:
            raise errors[0]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def split_cluster(
    redis_url: str,
    *,
    experience_replicas: int = 1,
    system_replicas: int = 1,
    env: Mapping[str, str] | None = None,
    startup_timeout: float = 20.0,
    log_dir: Path | None = None,
) -> Cluster:
    """A declared (not started) split deployment on one Redis: issuer, system, process, experience.

    Replicas after the first are named ``<layer>-2``, ``<layer>-3``…; the process layer calls
    the first system replica, and every experience replica calls the process layer.
    """
    cluster = Cluster(
        {"QGATE_STORE": "redis", "QGATE_REDIS_URL": redis_url, **(env or {})},
        startup_timeout=startup_timeout,
        log_dir=log_dir,
    )
    cluster.add_issuer()
    systems = [
        cluster.add("system" if n == 1 else f"system-{n}", "system")
        for n in range(1, system_replicas + 1)
    ]
    process = cluster.add("process", "process")
    cluster.env["QGATE_LAYERS_SYSTEM_URL"] = systems[0].url
    cluster.env["QGATE_LAYERS_PROCESS_URL"] = process.url
    for n in range(1, experience_replicas + 1):
        cluster.add("experience" if n == 1 else f"experience-{n}", "experience")
    return cluster
