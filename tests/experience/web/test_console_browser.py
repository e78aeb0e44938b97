"""The agent console in a real browser (Debian's Chromium driven by Playwright) over real
HTTP: an agent signs in, finds a "where is my order?" chat in the inbox, answers it from
the order panel and the draft, and sees the reply in the conversation.

Each step is saved as a screenshot under test-artifacts/screenshots/. Without Chromium the
test skips, or fails with CI=true.
"""

from __future__ import annotations

import pytest
from playwright.async_api import Browser, expect

from tests.experience.web.conftest import screenshot
from tests.fixtures.helpdesk import Desk
from tests.fixtures.hub import TenantKeys

DESK = {"width": 1280, "height": 900}
"""Agents work at a desk: the console is driven, and photographed, at a laptop's size."""


async def test_an_agent_answers_a_wismo_chat_from_the_order_panel(
    chromium: Browser,
    served: str,
    desk: Desk,
    tenant: TenantKeys,
    request: pytest.FixtureRequest,
) -> None:
    order = await desk.shipped_order()
    queue = await desk.queue("Orders", first_response_minutes=60, resolution_minutes=480)
    await desk.rule("WISMO", conditions={"intents": ["where_is_my_order"]}, queue_id=queue["id"])
    accepted = await desk.chat(f"Hi, where is my order {order['number']}? It has not arrived.")
    ticket = (await desk.ticket(accepted["ticket_id"]))["ticket"]
    key = await tenant.make_key("helpdesk:write")
    context = await chromium.new_context(locale="en-GB", viewport=DESK)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    await page.goto(f"{served}/console")
    assert page.url.startswith(f"{served}/console/login")
    await page.get_by_label("API key").fill(key)
    await screenshot(page, request, "1-sign-in")
    await page.get_by_role("button", name="Sign in").click()

    await expect(page.locator("h1")).to_have_text("Inbox")
    row = page.locator(f"#ticket-{ticket['id']}")
    await expect(row.locator("td.order")).to_have_text(order["number"])
    await expect(row.locator("td.intent")).to_contain_text("where is my order")
    await expect(row.locator("[data-clock=first_response]")).to_contain_text("left")
    await expect(page.locator(f"#queue-{queue['id']}")).to_contain_text("1 open")
    await screenshot(page, request, "2-inbox")
    await row.get_by_role("link").click()

    panel = page.locator("#order")
    await expect(panel.locator("#order-number")).to_have_text(order["number"])
    await expect(panel.locator(".tracking-number")).to_have_text("1Z999")
    await expect(page.locator("#reply-label")).to_have_text(
        "Draft \N{EM DASH} review before sending"
    )
    reply_box = page.get_by_label("Draft \N{EM DASH} review before sending")
    await expect(reply_box).to_have_value(ticket["draft"])
    assert "1Z999" in ticket["draft"]
    await screenshot(page, request, "3-ticket")
    await reply_box.fill(f"{ticket['draft']}\nAnything else, just ask.")
    await page.get_by_role("button", name="Reply", exact=True).click()

    await expect(page.locator("#done")).to_have_text("Reply sent.")
    sent = page.locator("#timeline li.message-out").last
    await expect(sent.locator(".body")).to_contain_text("Anything else, just ask.")
    await expect(sent.locator(".body")).to_contain_text("1Z999")
    await expect(page.locator("#status-value")).to_have_text("pending")
    await screenshot(page, request, "4-replied")
    view = await desk.ticket(ticket["id"])
    assert [m["direction"] for m in view["messages"]] == ["in", "out"]
    assert view["messages"][-1]["text"] == f"{ticket['draft']}\nAnything else, just ask."
    assert errors == []
    await context.close()
