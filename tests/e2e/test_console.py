"""The operations console in headless Chromium (Debian's ``chromium``, driven by Playwright,
which downloads no browser): qgate's embedded default served by uvicorn on a loopback port, an
event a consumer group fails on until its cause is fixed, the dead letter seen in the console,
replayed with its button and gone once processed. Also: each layer's docs UI renders with no
request leaving qgate.

The failing consumer is the one test-only piece: an ``export`` group on the quality stream
(like a downstream export whose target is down), subscribed next to the process layer's own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final, cast

import httpx
import msgspec
import pytest
import uvicorn
from litestar import Litestar
from playwright.async_api import Page, Request, async_playwright, expect

from process_apis._api import SUBSCRIPTIONS
from shared.asgitypes import ASGIApp
from shared.composition import PrefixDispatcher, build_issuer_app, create_layer
from shared.events import LOT_DISPOSITION_CHANGED, QUALITY_STREAM, CloudEvent, EventSubscription
from shared.settings import EventSettings, RateLimitSettings, Settings
from tests.e2e._servers import free_port

CHROMIUM: Final = shutil.which("chromium") or "/usr/bin/chromium"
LOT: Final = "LOT-1000-0022"
FAST: Final = EventSettings(
    max_deliveries=2,
    retry_base_seconds=0.01,
    retry_max_seconds=0.04,
    claim_idle_seconds=0.5,
    block_ms=20,
    outbox_interval_seconds=0.02,
)
SCREENSHOTS: Final = os.environ.get("QGATE_CONSOLE_SCREENSHOTS")
"""A folder to save the console's screenshots in (for a person to look at), if set."""


class Export:
    """A consumer group whose target is down until ``fixed``."""

    def __init__(self) -> None:
        self.fixed = False
        self.processed: Counter[str] = Counter()

    async def __call__(self, event: CloudEvent) -> None:
        if not self.fixed:
            raise ConnectionError("export target down")
        self.processed[event.id] += 1


def _in_process(app: Litestar) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=cast("ASGIApp", app))


def embedded(settings: Settings, export: Export) -> PrefixDispatcher:
    """``create_all_in_one`` with the process layer's consumers plus ``export``."""
    issuer, _ = build_issuer_app(settings)
    to_issuer = _in_process(issuer)
    system = create_layer("system", settings, issuer_transport=to_issuer)
    process = create_layer(
        "process",
        settings,
        issuer_transport=to_issuer,
        system_transport=_in_process(system),
        subscriptions=[
            *SUBSCRIPTIONS,
            EventSubscription(QUALITY_STREAM, "export", lambda _: export),
        ],
    )
    experience = create_layer(
        "experience",
        settings,
        issuer_transport=to_issuer,
        process_transport=_in_process(process),
    )
    return PrefixDispatcher(
        [
            ("/system/", system),
            ("/process/", process),
            ("/oauth/", issuer),
            ("/.well-known/", issuer),
        ],
        default=experience,
    )


@contextlib.asynccontextmanager
async def serving(export: Export) -> AsyncIterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    tiers = dict.fromkeys(RateLimitSettings().tiers, "1000000/minute")
    settings = Settings(
        port=port,
        events=FAST,
        rate_limit=RateLimitSettings(tiers=tiers),
        auth=msgspec.structs.replace(Settings().auth, issuer=base),
    )
    config = uvicorn.Config(
        embedded(settings, export),
        host="127.0.0.1",
        port=port,
        lifespan="on",
        ws="none",
        log_config=None,
        access_log=False,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:  # uvicorn announces nothing else
                assert not task.done(), "uvicorn stopped while starting"
                await asyncio.sleep(0.02)
        yield base
    finally:
        server.should_exit = True
        await task


async def block_lot(base: str) -> None:
    """A quality engineer blocks the lot: its ``lot.disposition-changed`` reaches ``export``."""
    async with httpx.AsyncClient(base_url=base) as http:
        issued = await http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=("quality-engineer", "quality-engineer-secret"),
        )
        token = issued.json()["access_token"]
        answer = await http.post(
            "/process/v1/lot-dispositions",
            json={"lotId": LOT, "decision": "BLOCK", "reason": "Crack found at incoming"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "console-e2e-1"},
        )
        assert answer.status_code == 201, answer.text


@contextlib.asynccontextmanager
async def browser_page(base: str) -> AsyncIterator[tuple[Page, list[str]]]:
    """A page of a fresh headless Chromium, and every URL it requested."""
    requested: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})

            def record(request: Request) -> None:
                requested.append(request.url)

            page.on("request", record)
            yield page, requested
        finally:
            await browser.close()


async def screenshot(page: Page, name: str) -> None:
    if SCREENSHOTS:
        # Playwright creates the folder.
        await page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"), full_page=True)


def only_from(base: str, requested: list[str]) -> None:
    assert requested
    strangers = [url for url in requested if not url.startswith(base + "/")]
    assert strangers == [], strangers


async def test_a_dead_letter_is_seen_replayed_and_processed_in_the_console() -> None:
    export = Export()
    async with serving(export) as base, browser_page(base) as (page, requested):
        await block_lot(base)

        await page.goto(f"{base}/process/console")
        # The embedded default is dev mode: the console fetched its own operations token.
        await expect(page.get_by_test_id("auth-state")).to_contain_text("Dev mode")
        letter = page.locator("#dead-letters tr[data-dead-letter]")
        # The event fails both deliveries, then waits as a dead letter (the page refreshes).
        await expect(letter).to_have_count(1, timeout=20_000)
        await expect(letter).to_contain_text("export")
        await expect(letter).to_contain_text(LOT_DISPOSITION_CHANGED)
        await expect(letter).to_contain_text("ConnectionError: export target down")
        dead = page.locator('[data-figure="Dead letters: quality"] .value')
        await expect(dead).to_have_text("1")
        # The other figures and lists are there too.
        await expect(page.locator('[data-figure="Pending ERP"] .value')).to_have_text("0")
        await expect(page.locator("#groups")).to_contain_text("sync-sla")
        await screenshot(page, "console-dead-letter")

        export.fixed = True  # the cause is fixed
        await letter.get_by_role("button", name="Replay").click()
        await expect(page.locator("#message")).to_contain_text("Replayed 1 event to export")
        await expect(letter).to_have_count(0, timeout=20_000)
        await expect(page.locator("#dead-letters")).to_contain_text("No dead letters")
        await expect(dead).to_have_text("0", timeout=20_000)
        await screenshot(page, "console-replayed")
        only_from(base, requested)

    # Processed exactly once, by the group that had failed it.
    assert list(export.processed.values()) == [1]


async def test_the_console_asks_for_a_token_where_none_is_handed_out() -> None:
    export = Export()
    async with serving(export) as base, browser_page(base) as (page, _):
        await page.route(
            f"{base}/process/console/dev-token",
            lambda route: route.fulfill(status=404, json={"title": "Not found"}),
        )
        await page.goto(f"{base}/process/console")
        await expect(page.get_by_test_id("auth-state")).to_have_text("Paste a token with qgate.ops")
        await page.fill("#token-input", "not-a-token")
        await page.click("#token-form button")
        await expect(page.locator("#message")).to_contain_text("401")
        assert await page.evaluate("sessionStorage.getItem('qgate.console.token')") is None

        async with httpx.AsyncClient(base_url=base) as http:
            issued = await http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=("operations", "operations-secret"),
            )
        await page.fill("#token-input", issued.json()["access_token"])
        await page.click("#token-form button")
        await expect(page.get_by_test_id("auth-state")).to_have_text("Using the pasted token")
        await expect(page.locator("#dead-letters")).to_contain_text("No dead letters")
        stored = await page.evaluate("sessionStorage.getItem('qgate.console.token')")
        assert stored == issued.json()["access_token"]


@pytest.mark.parametrize("layer", ["system", "process", "experience"])
async def test_the_docs_ui_renders_from_qgate_alone(layer: str) -> None:
    async with serving(Export()) as base, browser_page(base) as (page, requested):
        await page.goto(f"{base}/{layer}/_openapi")
        await expect(page.locator(".swagger-ui .info .title")).to_contain_text(
            f"qgate {layer} layer"
        )
        await expect(page.locator(".opblock").first).to_be_visible()
        await screenshot(page, f"docs-{layer}")
        only_from(base, requested)
