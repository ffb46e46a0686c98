"""The ``qgate`` command: serve, token, contracts, audit, metrics, tryton.

::

    qgate serve [all|system|process|experience|issuer] [--host H] [--port P]
                [--server uvicorn|granian] [--workers N] [--erp KIND] [--qms KIND]
    qgate token --client NAME [--scope "a b"] [--url http://127.0.0.1:8000]
    qgate token --list
    qgate contracts export [--dir openapi]
    qgate contracts check  [--dir openapi]
    qgate contracts diff   [BASE REVISION | --base-ref REF [CONTRACT...]]
                           [--format text|markdown|json] [--fail-on error|warning]
                           [--waivers FILE] [--today YYYY-MM-DD]
    qgate contracts lint   [CONTRACT...]
    qgate contracts rules  [--format text|markdown]
    qgate audit verify     [--redis-url URL] [--format text|json]
    qgate metrics rules    [--output FILE]
    qgate tryton init-demo [--dir DIR] [--database NAME] [--force]

``contracts diff`` and ``lint`` exit 0 when the gate passes, 1 when it fails, 2 on a usage error
or a file they cannot use. ``audit verify`` checks the hash chain of the audit trail on Redis
(``--redis-url``, else ``QGATE_REDIS_URL`` when ``QGATE_STORE=redis``): exit 0 when it is
intact, 1 when it is broken (the first altered, inserted or removed record), 2 when Redis
cannot be reached or the store is memory (that trail lives inside the running process).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import msgspec
import redis.asyncio as aioredis

from shared.audit import AuditTrailError, RedisAuditTrail, Verification
from shared.composition import SURFACES, create_layer, load_factory
from shared.contracts import CONTRACTS_DIR, check_contracts, export_contracts
from shared.governance import add_governance_commands
from shared.observability import render_rules
from shared.settings import ErpKind, QmsKind, Settings, SettingsError, StoreKind, load_settings

__all__ = ["main"]

_TARGETS = ("all", "system", "process", "experience", "issuer")


def _serve(args: argparse.Namespace) -> int:
    # The server's factory reads the environment again (in each worker): the options override
    # the settings there.
    if args.erp:
        os.environ["QGATE_ERP"] = args.erp
    if args.qms:
        os.environ["QGATE_QMS"] = args.qms
    # Fail fast, with every settings problem of this deployment shape, before a server starts.
    settings = load_settings(layer=args.target)
    host = args.host or settings.host
    port = args.port or settings.port
    factory = "shared.asgi:" + ("all_in_one" if args.target == "all" else args.target)
    if args.target != "all":
        os.environ.setdefault("QGATE_PORT", str(port))
    if args.server == "granian":
        from granian import Granian  # noqa: PLC0415 - optional server, imported when chosen
        from granian.constants import Interfaces  # noqa: PLC0415

        Granian(
            factory,
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            factory=True,
            workers=args.workers,
        ).serve()
        return 0
    import uvicorn  # noqa: PLC0415

    uvicorn.run(
        factory,
        factory=True,
        host=host,
        port=port,
        workers=args.workers,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
    return 0


def _token(args: argparse.Namespace) -> int:
    settings = load_settings()
    clients = {client.client_id: client for client in settings.dev_issuer.clients}
    if args.list:
        for client in clients.values():
            claims = []
            if client.supplier_id:
                claims.append(f"supplier_id={client.supplier_id}")
            if client.plants:
                claims.append(f"plants={','.join(client.plants)}")
            if client.users:
                claims.append(f"users={','.join(client.users)}")
            print(f"{client.client_id:28} {' '.join(client.scopes)}  {' '.join(claims)}")
        return 0
    if not args.client:
        print("qgate token: --client NAME or --list (see: qgate token --list)", file=sys.stderr)
        return 2
    chosen = clients.get(args.client)
    if chosen is None:
        print(
            f"qgate token: unknown client {args.client!r} (see: qgate token --list)",
            file=sys.stderr,
        )
        return 2
    url = (args.url or f"http://{settings.host}:{settings.port}").rstrip("/") + "/oauth/token"
    form = {"grant_type": "client_credentials"}
    if args.scope:
        form["scope"] = args.scope
    if args.subject:
        form["subject"] = args.subject
    try:
        response = httpx.post(
            url, data=form, auth=(chosen.client_id, chosen.client_secret), timeout=10.0
        )
    except httpx.TransportError as exc:
        print(
            f"qgate token: cannot reach {url} ({exc}); is `qgate serve` running?", file=sys.stderr
        )
        return 1
    if response.status_code != 200:
        print(f"qgate token: {response.status_code} {response.text}", file=sys.stderr)
        return 1
    print(response.json()["access_token"])
    return 0


def contract_apps(settings: Settings | None = None) -> list[tuple[Any, Sequence[Any]]]:
    """Every layer app with its surfaces, built with default dev settings (no connections)."""
    settings = settings or Settings()
    return [
        (create_layer(name, settings), load_factory(SURFACES[name]))
        for name in ("system", "process", "experience")
    ]


def _contracts(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    if args.action == "export":
        for path in export_contracts(contract_apps(), directory):
            print(f"wrote {path}")
        return 0
    drifts = check_contracts(contract_apps(), directory)
    for drift in drifts:
        print(f"{drift.contract} differs from the code:\n{drift.diff}", file=sys.stderr)
    if drifts:
        print("run `qgate contracts export` and commit the result", file=sys.stderr)
        return 1
    print("contracts match the code")
    return 0


def _redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at:
        return url
    user = credentials.partition(":")[0]
    return f"{scheme}://{user + ':' if user else ''}***@{host}"


async def _verify_audit(url: str) -> Verification:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=5.0, socket_timeout=60.0)
    try:
        return await RedisAuditTrail(client).verify()
    finally:
        await client.aclose()


def _audit(args: argparse.Namespace) -> int:
    settings = load_settings()
    url = args.redis_url or (settings.redis_url if settings.store is StoreKind.REDIS else None)
    if url is None:
        print(
            "qgate audit verify: the store is memory (QGATE_STORE), and the memory audit trail "
            "lives inside the running qgate process; verify a trail on Redis with --redis-url "
            "URL or QGATE_STORE=redis",
            file=sys.stderr,
        )
        return 2
    try:
        result = asyncio.run(_verify_audit(url))
    except ValueError as exc:  # redis-py's answer to a URL it cannot use
        print(f"qgate audit verify: {exc}", file=sys.stderr)
        return 2
    except (aioredis.RedisError, OSError) as exc:
        print(
            f"qgate audit verify: cannot reach Redis at {_redacted(url)} ({exc})", file=sys.stderr
        )
        return 2
    except AuditTrailError as exc:
        print(f"qgate audit verify: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(msgspec.json.encode(result).decode())
    elif result.problem is None:
        head = f", head {result.head_hash}" if result.head_hash else ""
        print(f"audit trail intact: {result.records} records{head}")
    else:
        problem = result.problem
        intact = {0: "", 1: " (record 1 intact)"}.get(
            result.records, f" (records 1 to {result.records} intact)"
        )
        print(f"audit trail BROKEN: {problem.kind} at record {problem.seq}{intact}")
        print(problem.detail)
    return 0 if result.ok else 1


def _metrics_rules(args: argparse.Namespace) -> int:
    rules = render_rules(load_settings().observability)
    if args.output:
        Path(args.output).write_text(rules, encoding="utf-8")
    else:
        print(rules, end="")
    return 0


def _tryton_init_demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    directory = Path(args.dir)
    # By import string, as the layers are: shared imports no layer.
    init_demo = load_factory("system_apis.connectors.tryton:init_demo")
    trytond_env = load_factory("system_apis.connectors.tryton:trytond_env")
    print(f"creating and seeding {directory / args.database}.sqlite (about a minute) ...")
    try:
        path = init_demo(directory, args.database, settings.tryton.password, force=args.force)
    except FileExistsError as exc:
        print(f"qgate tryton init-demo: {exc} exists (--force replaces it)", file=sys.stderr)
        return 2
    listen = settings.tryton.url.partition("://")[2].rstrip("/") or "127.0.0.1:8080"
    env = " ".join(f"{k}={v}" for k, v in trytond_env(directory, listen).items())
    print(
        f"wrote {path}\n\nstart Tryton on it:\n  {env} uv run --frozen trytond -d {args.database}"
    )
    print(
        "\nthen qgate over it (QGATE_TRYTON_URL / _DATABASE / _PASSWORD if not the defaults):\n"
        f"  QGATE_TRYTON_DATABASE={args.database} uv run --frozen qgate serve --erp tryton "
        "--qms tryton"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qgate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run qgate (all-in-one by default)")
    serve.add_argument("target", nargs="?", default="all", choices=_TARGETS)
    serve.add_argument("--host", default=None, help="default QGATE_HOST or 127.0.0.1")
    serve.add_argument("--port", type=int, default=None, help="default QGATE_PORT or 8000")
    serve.add_argument("--server", choices=("uvicorn", "granian"), default="uvicorn")
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--erp", choices=[kind.value for kind in ErpKind], help="the ERP connector (QGATE_ERP)"
    )
    serve.add_argument(
        "--qms", choices=[kind.value for kind in QmsKind], help="the QMS connector (QGATE_QMS)"
    )
    serve.set_defaults(run=_serve)

    token = commands.add_parser("token", help="get a token from the development issuer")
    token.add_argument("--client", help="client id (see --list)")
    token.add_argument("--scope", help="space-separated subset of the client's scopes")
    token.add_argument(
        "--subject", help="the person using the app (one of its users, see --list); default: none"
    )
    token.add_argument("--url", help="where qgate serves /oauth/token (default QGATE_HOST:PORT)")
    token.add_argument("--list", action="store_true", help="list the clients and their scopes")
    token.set_defaults(run=_token)

    contracts = commands.add_parser(
        "contracts", help="export, check, diff and lint the OpenAPI contracts"
    )
    actions = contracts.add_subparsers(dest="action", required=True)
    for action, text in (
        ("export", "write the contracts from the code"),
        ("check", "fail when the committed contracts differ from the code"),
    ):
        generated = actions.add_parser(action, help=text)
        generated.add_argument("--dir", default=str(CONTRACTS_DIR))
        generated.set_defaults(run=_contracts)
    add_governance_commands(actions)

    audit = commands.add_parser("audit", help="check the tamper-evident audit trail")
    audit_actions = audit.add_subparsers(dest="action", required=True)
    verify = audit_actions.add_parser(
        "verify", help="check the hash chain of the audit trail on Redis"
    )
    verify.add_argument("--redis-url", help="default QGATE_REDIS_URL when QGATE_STORE=redis")
    verify.add_argument("--format", choices=("text", "json"), default="text")
    verify.set_defaults(run=_audit)

    metrics = commands.add_parser("metrics", help="Prometheus alerting rules for qgate")
    metrics_actions = metrics.add_subparsers(dest="action", required=True)
    rules = metrics_actions.add_parser(
        "rules", help="print the alerting rules, thresholds from QGATE_OBSERVABILITY_*"
    )
    rules.add_argument("--output", help="write them to this file instead of stdout")
    rules.set_defaults(run=_metrics_rules)

    tryton = commands.add_parser("tryton", help="the Tryton connectors' demo database")
    tryton_actions = tryton.add_subparsers(dest="action", required=True)
    init = tryton_actions.add_parser(
        "init-demo", help="create and seed a demo Tryton database (SQLite) with trytond-admin"
    )
    init.add_argument("--dir", default="tryton-demo", help="where the database file goes")
    init.add_argument(
        "--database", default="qgate", help="the database name (QGATE_TRYTON_DATABASE)"
    )
    init.add_argument("--force", action="store_true", help="replace an existing database")
    init.set_defaults(run=_tryton_init_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except SettingsError as exc:
        print(f"qgate: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
