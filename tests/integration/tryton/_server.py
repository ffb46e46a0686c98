"""A real Tryton server for the tests: one per session, a fresh database per test.

The template database (``trytond-admin`` with qgate's modules, then :func:`seed`) is built once
and cached under ``~/.cache/qgate`` (``QGATE_TRYTON_CACHE``), keyed by the installed Tryton
versions and a hash of the connector's code (the seeding goes through it). The server runs on a
free loopback port with that one database preloaded (``trytond -d``), so no test pays for
loading Tryton's model pool; before a test uses it, the template is copied into the live
database with SQLite's backup API (a consistent write, WAL included) and Tryton's caches are
invalidated (``ir_cache`` timestamps, checked on every transaction with
``TRYTOND_CACHE__CLEAN_TIMEOUT=0``). The admin session made when the template was built is
reused, so tests do not log in (the connector still would, should it expire).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

import httpx

from system_apis.connectors.base import ErpCapability, QmsCapability
from system_apis.connectors.tryton import (
    ERP_CAPABILITIES,
    QMS_CAPABILITIES,
    TrytonClient,
    TrytonErpConnector,
    TrytonQmsConnector,
    TrytonSession,
)
from system_apis.connectors.tryton._demo import MODULES, create_database, seed

__all__ = ["DATABASE", "PASSWORD", "TRYTON", "TrytonServer"]

DATABASE: Final = "qgate"
LOGIN: Final = "admin"
PASSWORD: Final = "qgate-test-admin"
ACKNOWLEDGE: Final = ("*.check_move_quantity",)
_CONNECTOR_DIR: Final = Path(__file__).resolve().parents[3] / "system_apis/connectors/tryton"


def _cache_dir() -> Path:
    return Path(os.environ.get("QGATE_TRYTON_CACHE", Path.home() / ".cache" / "qgate"))


def _template_key() -> str:
    versions = "-".join(
        importlib.metadata.version(f"trytond-{m.replace('_', '-')}")
        if m != "trytond"
        else importlib.metadata.version("trytond")
        for m in ("trytond", *MODULES)
    )
    code = hashlib.sha256()
    for path in sorted(_CONNECTOR_DIR.glob("*.py")):
        code.update(path.read_bytes())
    return f"tryton-{hashlib.sha256(versions.encode()).hexdigest()[:10]}-{code.hexdigest()[:12]}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TrytonServer:
    """``trytond`` on loopback serving one SQLite database, restored from the template."""

    def __init__(self) -> None:
        self._workdir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._template: Path | None = None
        self._session: TrytonSession | None = None
        self._generation = 0
        self._restored = -1

    # -- lifecycle ----------------------------------------------------------------------------

    def _start(self, directory: Path) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "TRYTOND_DATABASE__URI": "sqlite://",
            "TRYTOND_DATABASE__PATH": str(directory),
            "TRYTOND_WEB__LISTEN": f"127.0.0.1:{port}",
            "TRYTOND_CACHE__CLEAN_TIMEOUT": "0",
        }
        with (directory / "trytond.log").open("wb") as log:
            self._process = subprocess.Popen(
                [str(Path(sys.executable).with_name("trytond")), "-d", DATABASE],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"trytond exited; see {directory / 'trytond.log'}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(self.url + "/", timeout=1)
                return
            time.sleep(0.1)
        raise RuntimeError("trytond did not start within 60 s")

    def _stop_process(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def stop(self) -> None:
        """Stop the server and remove its files (idempotent)."""
        self._stop_process()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def ensure_started(self) -> None:
        if self._process is not None:
            return
        self._template, self._session = self._ensure_template()
        self._workdir = Path(tempfile.mkdtemp(prefix="qgate-tryton-"))
        _copy(self._template, self._workdir / f"{DATABASE}.sqlite")
        self._start(self._workdir)
        self._restored = self._generation

    def _ensure_template(self) -> tuple[Path, TrytonSession]:
        cache = _cache_dir()
        key = _template_key()
        template = cache / f"{key}.sqlite"
        meta = cache / f"{key}.json"
        if not (template.exists() and meta.exists()):
            self._build_template(template, meta)
        session = json.loads(meta.read_text())
        return template, TrytonSession(
            login=LOGIN,
            user_id=session["user_id"],
            token=session["token"],
            context=session["context"],
        )

    def _build_template(self, template: Path, meta: Path) -> None:
        build = Path(tempfile.mkdtemp(prefix="qgate-tryton-build-"))
        try:
            create_database(build, DATABASE, admin_password=PASSWORD, email="admin@qgate.test")
            self._start(build)
            # The caller may be inside an event loop (an async fixture): seed on a thread.
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                session = pool.submit(lambda: asyncio.run(self._seed())).result()
            self._stop_process()
            template.parent.mkdir(parents=True, exist_ok=True)
            partial = template.with_suffix(".partial")
            _copy(build / f"{DATABASE}.sqlite", partial)
            partial.replace(template)
            for stale in template.parent.glob(f"{template.stem.rsplit('-', 1)[0]}-*"):
                if stale.stem != template.stem:
                    stale.unlink(missing_ok=True)
            meta.write_text(json.dumps({
                "user_id": session.user_id, "token": session.token, "context": session.context,
            }))  # fmt: skip
        finally:
            self._stop_process()
            shutil.rmtree(build, ignore_errors=True)

    async def _seed(self) -> TrytonSession:
        client = self._client(session=None)
        try:
            await seed(client)
            client.forget_session()
            await client.call("model.res.user.get_preferences", False)
            assert client.session is not None
            return client.session
        finally:
            await client.aclose()

    # -- per test -----------------------------------------------------------------------------

    def new_test(self) -> None:
        """The next connector built gets a fresh copy of the template."""
        self._generation += 1

    def _fresh(self) -> None:
        self.ensure_started()
        if self._restored == self._generation:
            return
        assert self._template is not None
        assert self._workdir is not None
        _restore(self._template, self._workdir / f"{DATABASE}.sqlite")
        self._restored = self._generation

    def _client(
        self,
        session: TrytonSession | None,
        *,
        password: str = PASSWORD,
        acknowledge: tuple[str, ...] = ACKNOWLEDGE,
    ) -> TrytonClient:
        return TrytonClient(
            url=self.url,
            database=DATABASE,
            login=LOGIN,
            password=password,
            acknowledge=acknowledge,
            session=session,
        )

    def client(
        self,
        *,
        logged_in: bool = True,
        password: str = PASSWORD,
        acknowledge: tuple[str, ...] = ACKNOWLEDGE,
    ) -> TrytonClient:
        """A client of the fresh database, on the template's session (``logged_in``) or one
        that logs in on its first call."""
        self._fresh()
        session = self._session if logged_in else None
        return self._client(session, password=password, acknowledge=acknowledge)

    def erp(self, capabilities: frozenset[ErpCapability] = ERP_CAPABILITIES) -> TrytonErpConnector:
        return TrytonErpConnector(self.client(), capabilities=capabilities)

    def qms(self, capabilities: frozenset[QmsCapability] = QMS_CAPABILITIES) -> TrytonQmsConnector:
        return TrytonQmsConnector(self.client(), capabilities=capabilities)


def _copy(source: Path, target: Path) -> None:
    with (
        contextlib.closing(sqlite3.connect(source)) as src,
        contextlib.closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def _restore(template: Path, live: Path) -> None:
    """The template's content into the live database, through SQLite (the server keeps it
    open), then every Tryton cache and the test session made current."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    with (
        contextlib.closing(sqlite3.connect(template)) as src,
        contextlib.closing(sqlite3.connect(live, timeout=30)) as dst,
    ):
        src.backup(dst)
        dst.execute("UPDATE ir_cache SET timestamp = ?", (now,))
        dst.execute("UPDATE ir_session SET create_date = ?, write_date = ?", (now, now))
        dst.commit()


TRYTON: Final = TrytonServer()
"""The session's Tryton server (started on first use; stopped by the fixtures that use it)."""
