"""The portal in a real browser (Debian's Chromium driven by Playwright) over real HTTP:
the closure story from the shopper's side, the language switch, and the store finder.

Each page is saved as a screenshot under test-artifacts/screenshots/. Without Chromium the
tests skip, or fail with CI=true.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, BrowserContext, expect

from tests.experience.web.conftest import ready_pickup_order, screenshot
from tests.fixtures.hub import TenantKeys
from tests.fixtures.orders import Orders

PHONE = {"width": 390, "height": 844}
"""Mobile first: every page is driven, and photographed, at a phone's width."""
LIVE_TIMEOUT_MS = 15_000
"""The page polls its order every two seconds; this leaves room on a busy machine."""


async def shopper(chromium: Browser, locale: str = "en-GB") -> BrowserContext:
    return await chromium.new_context(locale=locale, viewport=PHONE)


async def test_a_shopper_follows_the_closure_and_chooses_delivery_home(
    chromium: Browser,
    served: str,
    orders: Orders,
    tenant: TenantKeys,
    request: pytest.FixtureRequest,
) -> None:
    order = await ready_pickup_order(orders)
    context = await shopper(chromium)
    page = await context.new_page()
    main = page.locator("main")

    await page.goto(f"{served}/portal/{tenant.slug}")
    await page.get_by_label("Order number").fill("NW-1001")
    await page.get_by_label("E-mail address").fill("ana@example.com")
    await screenshot(page, request, "1-find")
    await page.get_by_role("button", name="Find my order").click()

    await expect(main).to_have_attribute("data-status-code", "ready_for_pickup")
    ready = await orders.status(order["id"], "en")
    await expect(page.locator("#headline")).to_have_text(ready["headline"])
    await expect(page.locator("#next-step")).to_have_text(ready["next_step"])
    assert page.url == f"{served}/portal/{tenant.slug}/order"
    await screenshot(page, request, "2-ready")

    await orders.close_store(orders.shop.store_id, "flooding")

    await expect(main).to_have_attribute(
        "data-status-code", "action_needed", timeout=LIVE_TIMEOUT_MS
    )
    closed = await orders.status(order["id"], "en")
    await expect(page.locator("#headline")).to_have_text(closed["headline"])
    await expect(page.locator("#announcer")).to_have_text(closed["headline"])
    await expect(page.locator("#pickup-state")).to_have_text("Temporarily closed")
    await screenshot(page, request, "3-choice")
    await page.get_by_label("Deliver to my home for free").check()
    await page.get_by_role("button", name="Confirm my choice").click()

    await expect(main).to_have_attribute("data-status-code", "confirmed")
    chosen = await orders.status(order["id"], "en")
    await expect(page.locator("#headline")).to_have_text(chosen["headline"])
    await expect(page.locator("#next-step")).to_have_text("We will tell you when it ships.")
    await screenshot(page, request, "4-chosen")
    group = (await orders.get(f"/v1/orders/{order['id']}"))["groups"][0]
    assert (group["method"], group["shipping_waived"]) == ("ship", True)
    await context.close()


async def test_the_language_follows_the_browser_and_the_shoppers_pick(
    chromium: Browser,
    served: str,
    tenant: TenantKeys,
    request: pytest.FixtureRequest,
) -> None:
    context = await shopper(chromium, locale="es-ES")
    page = await context.new_page()

    await page.goto(f"{served}/portal/{tenant.slug}")
    await expect(page.locator("html")).to_have_attribute("lang", "es")
    await expect(page.locator("h1")).to_have_text("Buscar mi pedido")
    await screenshot(page, request, "1-spanish")
    switch = page.get_by_role("link", name="Italiano")
    await switch.focus()
    await page.keyboard.press("Enter")

    await expect(page.locator("html")).to_have_attribute("lang", "it")
    await expect(page.locator("h1")).to_have_text("Trova il mio ordine")
    await expect(page.get_by_label("Numero d'ordine")).to_be_visible()
    await page.get_by_role("link", name="Negozi").click()
    await expect(page.locator("h1")).to_have_text("I nostri negozi")
    await screenshot(page, request, "2-italian-stores")
    await context.close()


async def test_the_store_finder_tells_which_stores_are_open(
    chromium: Browser,
    served: str,
    orders: Orders,
    tenant: TenantKeys,
    request: pytest.FixtureRequest,
) -> None:
    days = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    weekly = {day: [{"opens": "00:00", "closes": "24:00"}] for day in days}
    await orders.client.put(f"/v1/locations/{orders.other_store_id}/hours", json={"weekly": weekly})
    await orders.close_store(orders.shop.store_id, "flooding")
    context = await shopper(chromium)
    page = await context.new_page()

    await page.goto(f"{served}/portal/{tenant.slug}/stores")

    porto = page.locator("li.store", has_text="Porto store")
    gaia = page.locator("li.store", has_text="Gaia store")
    await expect(porto.locator(".state")).to_have_text("Temporarily closed")
    await expect(gaia.locator(".state")).to_contain_text("Open now")
    await expect(page.locator("li.store")).to_have_count(2)
    hours = gaia.locator("details")
    await hours.locator("summary").focus()
    await page.keyboard.press("Enter")
    await expect(hours.get_by_role("row", name="Monday")).to_contain_text("00:00\N{EN DASH}24:00")
    await screenshot(page, request, "stores")
    await context.close()
