"""``qgate tryton init-demo``: a demo Tryton database on disk, ready for ``trytond``.

Creates ``<directory>/<database>.sqlite`` with ``trytond-admin``, starts ``trytond`` on a free
loopback port just long enough to seed it through the connectors, and stops it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import httpx

from system_apis.connectors.tryton._demo import create_database, seed
from system_apis.connectors.tryton._rpc import TrytonClient

__all__ = ["init_demo", "trytond_env"]

_ACKNOWLEDGE: Final = ("*.check_move_quantity",)


def trytond_env(directory: Path, listen: str) -> dict[str, str]:
    """The environment ``trytond`` needs to serve the SQLite databases in ``directory``."""
    return {
        "TRYTOND_DATABASE__URI": "sqlite://",
        "TRYTOND_DATABASE__PATH": str(directory.resolve()),
        "TRYTOND_WEB__LISTEN": listen,
    }


@contextlib.contextmanager
def _trytond(directory: Path, database: str) -> Iterator[str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **trytond_env(directory, f"127.0.0.1:{port}")}
    with (directory / "trytond-init.log").open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter's trytond
            [str(Path(sys.executable).with_name("trytond")), "-d", database],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"trytond exited; see {directory / 'trytond-init.log'}")
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(url + "/", timeout=1)
                break
            if time.monotonic() > deadline:
                raise RuntimeError("trytond did not start within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _seed(url: str, database: str, password: str) -> None:
    client = TrytonClient(
        url=url, database=database, login="admin", password=password, acknowledge=_ACKNOWLEDGE
    )
    try:
        await seed(client)
    finally:
        await client.aclose()


def init_demo(directory: Path, database: str, password: str, *, force: bool = False) -> Path:
    """Create and seed ``<directory>/<database>.sqlite`` (admin user ``admin`` / ``password``).

    Refuses (FileExistsError) to replace an existing database unless ``force``."""
    path = directory / f"{database}.sqlite"
    if path.exists():
        if not force:
            raise FileExistsError(path)
        path.unlink()
    create_database(directory, database, admin_password=password, email="admin@qgate.example")
    with _trytond(directory, database) as url:
        asyncio.run(_seed(url, database, password))
    return path
