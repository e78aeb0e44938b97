"""A shopper's browser without JavaScript (httpx with cookies), the hub served over real
HTTP, a real browser (Debian's Chromium driven by Playwright) for the browser tests, and
the steps a shopper takes (tests/fixtures/html.py reads the pages)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright

from channelhub.experience.app import create_app
from channelhub.hub import Hub
from tests.fixtures.html import page
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.orders import Orders
from tests.fixtures.outside import free_port
from tests.fixtures.services import service_missing

CHROMIUM = Path("/usr/bin/chromium")
HAVE_CHROMIUM = CHROMIUM.exists()
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"


@pytest.fixture
async def browser(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    """A shopper's English browser: no API key, keeps cookies, does not follow redirects."""
    async with http_client(hub) as client:
        client.headers["Accept-Language"] = "en-GB,en;q=0.8"
        yield client


async def ready_pickup_order(orders: Orders) -> dict[str, Any]:
    """NW-1001: one tent to collect at the Porto store, ready there (the warehouse has
    more, so it could also be shipped)."""
    await orders.shop.stock(TENT_1__ST_PORTO=3, TENT_1__WH=10)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    group = order["groups"][0]["id"]
    await orders.post(f"/v1/orders/{order['id']}/groups/{group}/ready-for-pickup")
    return order


async def find_order(
    browser: httpx.AsyncClient,
    tenant: TenantKeys,
    number: str = "NW-1001",
    email: str = "ana@example.com",
    **headers: str,
) -> httpx.Response:
    """Fill in and send the find-my-order form, as a shopper would."""
    form = page(await browser.get(f"/portal/{tenant.slug}", headers=headers))
    return await browser.post(
        f"/portal/{tenant.slug}/lookup",
        data={"csrf_token": form.csrf, "number": number, "email": email},
        headers=headers,
    )


@pytest.fixture
async def served(hub: Hub) -> AsyncIterator[str]:
    """The hub's app over real HTTP on a loopback port (for a browser, and for streams),
    served by uvicorn in the test's own event loop so it shares the hub's database
    connections; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(hub, run_background=False),
        host="127.0.0.1",
        port=port,
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "uvicorn stopped before it started"
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving


@pytest.fixture(scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """Debian's Chromium (Playwright never downloads one). Without it the browser tests
    skip, or fail with CI=true."""
    if not HAVE_CHROMIUM:
        service_missing(f"Chromium at {CHROMIUM}", FileNotFoundError(CHROMIUM))
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        await browser.close()


async def screenshot(page: Page, request: pytest.FixtureRequest, name: str) -> None:
    """The page as it looks now, saved under test-artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    case = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    await page.screenshot(path=SCREENSHOTS / f"{case}-{name}.png", full_page=True)
