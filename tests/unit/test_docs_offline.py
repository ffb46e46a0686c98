"""Each layer's docs UI works without internet: every script, style sheet and icon of the page
is served by the layer itself (swagger-ui from the ``swagger-ui-bundle`` package), none from a
CDN. The browser test (tests/e2e/test_console.py) loads the pages and watches the network."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any, cast

import httpx
import pytest

from shared.composition import create_all_in_one
from shared.settings import Settings
from tests.integration.test_pipeline import lifespan

LAYERS = ("system", "process", "experience")


class _Links(HTMLParser):
    """Every ``src`` and ``href`` of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [value for name, value in attrs if name in {"src", "href"} and value]


def links_of(page: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    return parser.links


@pytest.fixture
async def gateway() -> Any:
    app = create_all_in_one(Settings())
    transport = httpx.ASGITransport(app=cast("Any", app))
    async with (
        lifespan(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
    ):
        yield http


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("page", ["", "/swagger"])
async def test_the_docs_page_loads_nothing_from_another_host(
    gateway: httpx.AsyncClient, layer: str, page: str
) -> None:
    answer = await gateway.get(f"/{layer}/_openapi{page}")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    links = links_of(answer.text)
    assert len(links) == 4, links  # the icon, the style sheet, swagger-ui and its preset
    for link in links:
        assert link.startswith(f"/{layer}/_openapi/assets/"), link
        asset = await gateway.get(link)
        assert asset.status_code == 200, link
        assert asset.content
        assert "max-age=86400" in asset.headers["cache-control"]
    assert "cdn." not in answer.text


async def test_the_assets_have_their_media_types(gateway: httpx.AsyncClient) -> None:
    base = "/process/_openapi/assets"
    expected = {
        "swagger-ui-bundle.js": "text/javascript",
        "swagger-ui.css": "text/css",
        "favicon-32x32.png": "image/png",
    }
    for name, media in expected.items():
        answer = await gateway.get(f"{base}/{name}")
        assert answer.headers["content-type"].split(";")[0] == media


async def test_only_the_docs_ui_files_are_served(gateway: httpx.AsyncClient) -> None:
    for name in ("index.html", "swagger-initializer.js", "..%2F..%2Fpyproject.toml"):
        answer = await gateway.get(f"/process/_openapi/assets/{name}")
        assert answer.status_code == 404, name
        assert answer.headers["content-type"] == "application/problem+json"


async def test_the_document_is_served_next_to_the_page(gateway: httpx.AsyncClient) -> None:
    for layer in LAYERS:
        document = await gateway.get(f"/{layer}/_openapi/openapi.json")
        assert document.status_code == 200
        assert document.json()["info"]["title"] == f"qgate {layer} layer"
        assert (await gateway.get(f"/{layer}/_openapi/openapi.yaml")).status_code == 200
