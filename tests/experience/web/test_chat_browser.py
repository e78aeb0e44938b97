"""The chat widget in a real browser (Debian's Chromium driven by Playwright) over real
HTTP: a shop's page loads the widget script, a visitor opens the chat, writes, and sees
the agent's reply arrive by the page's poll.

The shop's page is served (by Playwright) from another site than the hub, so the chat is
a third-party frame whose plain-http cookies the browser does not send: the conversation
carries on in the frame's address. From the same site, the cookie keeps it. Each case is
saved as a screenshot under test-artifacts/screenshots/. Without Chromium the test skips,
or fails with CI=true.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, Route, expect

from tests.experience.web.conftest import screenshot
from tests.fixtures.helpdesk import Desk
from tests.fixtures.hub import TenantKeys

SHOP_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Northwind outdoor</title>
<style>
  /* The shop's own styles must not reach the widget. */
  button { background: #ff0000 !important; font-size: 40px !important; }
  iframe { display: none !important; }
</style>
</head>
<body>
<h1>Northwind outdoor</h1>
<p>Tents, stoves and everything else for a night outside.</p>
<script src="{widget}" async></script>
</body>
</html>
"""


@pytest.mark.parametrize(
    "shop_origin",
    [
        pytest.param("http://localhost:9", id="another-site"),
        pytest.param("http://127.0.0.1:9", id="same-site"),
    ],
)
async def test_a_visitor_chats_from_the_shops_page_and_sees_the_reply(
    chromium: Browser,
    served: str,
    desk: Desk,
    tenant: TenantKeys,
    request: pytest.FixtureRequest,
    shop_origin: str,
) -> None:
    widget = f"{served}/chat/{tenant.slug}/widget.js"
    context = await chromium.new_context(locale="en-GB", viewport={"width": 900, "height": 760})
    # The shop's page comes from Playwright, not from a loopback address: Chromium asks
    # before such a page reaches the loopback hub (Local Network Access), as it would ask
    # a shopper whose shop embeds a hub on their own machine.
    await context.grant_permissions(["local-network-access"])
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    async def shop(route: Route) -> None:
        await route.fulfill(
            status=200, content_type="text/html", body=SHOP_PAGE.replace("{widget}", widget)
        )

    await page.route(f"{shop_origin}/", shop)
    await page.goto(f"{shop_origin}/")
    launcher = page.get_by_role("button", name="Chat with us")
    await expect(launcher).to_be_visible()
    colour = await launcher.evaluate("button => getComputedStyle(button).backgroundColor")
    assert colour == "rgb(11, 79, 138)", "the shop's button style does not reach the widget"
    assert await page.evaluate("Object.keys(window.channelhubChat)") == ["open", "close", "toggle"]
    await launcher.click()

    chat = page.frame_locator("iframe[title='Chat with us']")
    await expect(chat.locator("h1")).to_have_text("Chat with us")
    await expect(page.get_by_role("button", name="Close the chat")).to_have_attribute(
        "aria-expanded", "true"
    )
    await chat.get_by_label("Your name").fill("Ana Silva")
    await chat.get_by_label("E-mail address").fill("ana@example.com")
    await chat.get_by_label("Message").fill("Do you ship to Madeira?")
    await chat.get_by_role("button", name="Send").click()
    mine = chat.locator("#conversation li.mine .text")
    await expect(mine).to_have_text("Do you ship to Madeira?")
    await expect(chat.locator("#conversation-link a")).to_contain_text("Conversation ")

    listed = await desk.client.get("/v1/tickets")
    (ticket,) = listed.json()["data"]
    assert ticket["channel"] == "chat"
    replied = await desk.client.post(
        f"/v1/tickets/{ticket['id']}/replies",
        json={"text": "Yes, we ship to Madeira in 3 to 5 days."},
    )
    assert replied.status_code == 201, replied.text

    theirs = chat.locator("#conversation li.theirs .text")
    await expect(theirs).to_have_text("Yes, we ship to Madeira in 3 to 5 days.", timeout=15_000)
    await expect(chat.locator("#conversation li")).to_have_count(2)
    await screenshot(page, request, "replied")
    frame = next(f for f in page.frames if f.url.startswith(f"{served}/chat/"))
    query = urlsplit(frame.url).query
    if shop_origin == "http://localhost:9":
        assert "conversation=" in query, "no cookie in a third-party frame: the address keeps it"
    else:
        assert "conversation=" not in query, "same site: the cookie keeps the conversation"
    assert errors == []
    await context.close()
