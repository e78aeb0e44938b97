"""The chat widget without a browser: its script, its page, its form and its poll, as a
visitor's browser sees them (httpx with cookies), on both databases."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from limits import parse
from sqlalchemy import select

from channelhub.experience.app import create_app
from channelhub.experience.web import chat
from channelhub.hub import Hub
from channelhub.process.helpdesk.models import TicketMessage
from tests.experience.web.conftest import page
from tests.fixtures.helpdesk import BUYER, Desk
from tests.fixtures.hub import TenantKeys, http_client

ANA = {"name": "Ana Silva", "email": "ana@example.com"}


def cookie_header(response: httpx.Response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))


async def send(
    visitor: httpx.AsyncClient,
    tenant: TenantKeys,
    text: str,
    *,
    csrf: bool = True,
    **fields: str,
) -> httpx.Response:
    """Open the chat page and send its form, as a visitor would."""
    form = page(await visitor.get(f"/chat/{tenant.slug}"))
    data = {**ANA, **fields, "text": text}
    if csrf:
        data["csrf_token"] = form.csrf
    return await visitor.post(f"/chat/{tenant.slug}/messages", data=data)


async def shown(visitor: httpx.AsyncClient, tenant: TenantKeys) -> list[dict[str, Any]]:
    """What the page's poll gets: the conversation's messages."""
    answer = await visitor.get(f"/chat/{tenant.slug}/messages")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    messages: list[dict[str, Any]] = answer.json()["messages"]
    return messages


async def tickets(desk: Desk) -> list[dict[str, Any]]:
    answer = await desk.client.get("/v1/tickets")
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()["data"]
    return found


async def thread_of(hub: Hub, message_id: str) -> str:
    async with hub.db.reader() as session:
        thread = await session.scalar(
            select(TicketMessage.message_id).where(TicketMessage.id == message_id)
        )
    assert thread is not None
    return thread


@pytest.fixture
async def visitor(hub: Hub) -> Any:
    """A shop visitor's English browser: no API key, keeps cookies."""
    async with http_client(hub) as client:
        client.headers["Accept-Language"] = "en-GB,en;q=0.8"
        yield client


async def test_the_page_renders_and_may_be_framed_by_any_site(
    tenant: TenantKeys, visitor: httpx.AsyncClient
) -> None:
    answer = await visitor.get(f"/chat/{tenant.slug}")
    shown_page = page(answer)

    assert answer.status_code == 200
    assert shown_page.text("shop-name") == f"Tenant {tenant.slug}"
    assert shown_page.first("h1").text == "Chat with us"
    form = shown_page.by_id("write").attrs
    assert (form["method"], form["action"]) == ("post", f"/chat/{tenant.slug}/messages")
    assert [e.attrs["name"] for e in shown_page.all("input")] == ["csrf_token", "name", "email"]
    assert shown_page.by_id("text").tag == "textarea"
    assert not shown_page.has("conversation-link")
    assert "data-poll" not in shown_page.by_id("conversation").attrs, "nothing to poll yet"
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors *" in policy
    assert "script-src 'self'" in policy
    assert "x-frame-options" not in answer.headers
    assert answer.headers["cache-control"] == "no-store"
    nonce = cookie_header(answer, "chw_csrf")
    assert f"Path=/chat/{tenant.slug}" in nonce
    assert "HttpOnly" in nonce
    portal = await visitor.get(f"/portal/{tenant.slug}")
    assert "frame-ancestors 'none'" in portal.headers["content-security-policy"], "only /chat"


async def test_a_message_opens_a_chat_ticket_and_the_next_one_joins_it(
    hub: Hub, desk: Desk, tenant: TenantKeys, visitor: httpx.AsyncClient
) -> None:
    first = await send(visitor, tenant, "Do you ship to Madeira?")
    second = await send(visitor, tenant, "And to the Azores?")

    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == f"/chat/{tenant.slug}"
    cookie = cookie_header(first, "chw_conversation")
    assert f"Path=/chat/{tenant.slug}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie  # plain http here: browsers refuse None without Secure
    assert f"Max-Age={30 * 24 * 3600}" in cookie
    (ticket,) = await tickets(desk)
    assert ticket["channel"] == "chat"
    assert ticket["requester"]["name"] == "Ana Silva"
    assert ticket["requester"]["email"] == "ana@example.com"
    view = await desk.ticket(ticket["id"])
    texts = [(m["direction"], m["channel"], m["text"]) for m in view["messages"]]
    assert texts == [
        ("in", "chat", "Do you ship to Madeira?"),
        ("in", "chat", "And to the Azores?"),
    ]
    threads = {await thread_of(hub, m["id"]) for m in view["messages"]}
    assert len(threads) == 1
    (thread,) = threads
    assert thread.startswith("chat:")
    again = page(await visitor.get(f"/chat/{tenant.slug}"))
    assert again.text("conversation-link").endswith(f"Conversation {thread[5:13]}")
    assert again.by_id("name").attrs["value"] == "Ana Silva", "the form remembers who wrote"
    assert again.by_id("email").attrs["value"] == "ana@example.com"
    assert again.text(f"m-{view['messages'][0]['id']}").startswith("You Do you ship to Madeira?")


async def test_a_json_post_gets_the_conversation_id(
    hub: Hub, tenant: TenantKeys, visitor: httpx.AsyncClient
) -> None:
    form = page(await visitor.get(f"/chat/{tenant.slug}"))

    answer = await visitor.post(
        f"/chat/{tenant.slug}/messages",
        json={**ANA, "text": "Hello from a script", "csrf_token": form.csrf},
    )

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert await thread_of(hub, body["message_id"]) == f"chat:{body['conversation']}"
    assert body["link"].startswith(f"/chat/{tenant.slug}?conversation=")
    assert [m["text"] for m in await shown(visitor, tenant)] == ["Hello from a script"]
    refused = await visitor.post(
        f"/chat/{tenant.slug}/messages",
        json={**ANA, "email": "nobody", "text": "Again", "csrf_token": body["csrf_token"]},
    )
    stale = await visitor.post(
        f"/chat/{tenant.slug}/messages", json={**ANA, "text": "Again", "csrf_token": form.csrf}
    )
    assert stale.status_code == 403, "the first token was bound to no conversation"
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["errors"] == [
        {"detail": "Enter an e-mail address such as name@example.com.", "pointer": "#/email"}
    ]


async def test_the_visitor_sees_the_agents_reply_and_never_a_note_nor_another_conversation(
    hub: Hub, desk: Desk, tenant: TenantKeys, visitor: httpx.AsyncClient
) -> None:
    await send(visitor, tenant, "Is the tent waterproof?")
    (ticket,) = await tickets(desk)
    replied = await desk.client.post(
        f"/v1/tickets/{ticket['id']}/replies", json={"text": "Yes, up to 3000 mm."}
    )
    noted = await desk.client.post(
        f"/v1/tickets/{ticket['id']}/notes", json={"text": "Internal: check the supplier."}
    )
    assert (replied.status_code, noted.status_code) == (201, 201)

    messages = await shown(visitor, tenant)

    assert [(m["from"], m["text"]) for m in messages] == [
        ("you", "Is the tent waterproof?"),
        ("shop", "Yes, up to 3000 mm."),
    ]
    assert messages[1]["id"] == replied.json()["id"]
    on_page = page(await visitor.get(f"/chat/{tenant.slug}"))
    assert on_page.text(f"m-{replied.json()['id']}").startswith(
        f"Tenant {tenant.slug} Yes, up to 3000 mm."
    )
    assert "supplier" not in on_page.by_id("conversation").text
    async with http_client(hub) as stranger:
        assert await shown(stranger, tenant) == []
        stranger.cookies.set(
            "chw_conversation", "forged.token", domain="hub.test", path=f"/chat/{tenant.slug}"
        )
        assert await shown(stranger, tenant) == []
        await send(stranger, tenant, "Hi, I am someone else", email="eve@example.org")
        assert [m["text"] for m in await shown(stranger, tenant)] == ["Hi, I am someone else"]
    assert [m["text"] for m in await shown(visitor, tenant)] == [
        "Is the tent waterproof?",
        "Yes, up to 3000 mm.",
    ]


async def test_a_post_without_its_csrf_token_is_refused(
    desk: Desk, tenant: TenantKeys, visitor: httpx.AsyncClient
) -> None:
    answer = await send(visitor, tenant, "Hello?", csrf=False)

    assert answer.status_code == 403
    assert page(answer).text("notice") == "This form had expired. Please send it again."
    assert page(answer).by_id("text").text == "Hello?", "what was typed is kept"
    assert "chw_conversation" not in answer.headers.get("set-cookie", "")
    assert await tickets(desk) == []


async def test_without_cookies_only_the_page_itself_may_post_and_the_link_carries_on(
    desk: Desk, tenant: TenantKeys, visitor: httpx.AsyncClient
) -> None:
    """Cookies blocked in a third-party frame: the browser marks the page's own POST as
    same-origin, and the conversation continues in the page's address."""
    form = page(await visitor.get(f"/chat/{tenant.slug}"))
    visitor.cookies.clear()
    data = {**ANA, "text": "My browser keeps no cookies", "csrf_token": form.csrf}

    forged = await visitor.post(
        f"/chat/{tenant.slug}/messages", data=data, headers={"Sec-Fetch-Site": "cross-site"}
    )
    visitor.cookies.clear()  # the refusal's page set a nonce, which this browser drops
    own = await visitor.post(
        f"/chat/{tenant.slug}/messages", data=data, headers={"Sec-Fetch-Site": "same-origin"}
    )
    visitor.cookies.clear()
    location = own.headers["location"]
    followed = page(await visitor.get(location))

    assert forged.status_code == 403
    assert own.status_code == 303
    assert location.startswith(f"/chat/{tenant.slug}?conversation=")
    assert followed.by_id("write").attrs["action"] == location.replace(
        f"/chat/{tenant.slug}?", f"/chat/{tenant.slug}/messages?"
    )
    assert (
        followed.by_id("conversation").attrs["data-poll"] == followed.by_id("write").attrs["action"]
    )
    (line,) = followed.all("li")
    assert "My browser keeps no cookies" in line.text
    assert len(await tickets(desk)) == 1
    bad = await visitor.get(f"/chat/{tenant.slug}?conversation=not-a-token")
    assert bad.status_code == 404
    assert page(bad).text("message") == "This conversation link is not valid or has expired."


async def test_a_bad_email_is_named_on_the_page(
    desk: Desk, tenant: TenantKeys, visitor: httpx.AsyncClient
) -> None:
    answer = await send(visitor, tenant, "Hello", email="ana at example")
    shown_page = page(answer)

    assert answer.status_code == 422
    assert shown_page.text("email-error") == "Enter an e-mail address such as name@example.com."
    email = shown_page.by_id("email").attrs
    assert (email["value"], email["aria-invalid"]) == ("ana at example", "true")
    assert shown_page.text("error-summary") == (
        "Please check the form Enter an e-mail address such as name@example.com."
    )
    assert await tickets(desk) == []


@pytest.mark.parametrize(
    ("fields", "field", "error"),
    [
        pytest.param({"name": " "}, "name", "Enter your name.", id="no-name"),
        pytest.param({"text": "  "}, "text", "Write your message first.", id="no-text"),
        pytest.param(
            {"text": "x" * 5001},
            "text",
            "Keep your message under 5000 characters.",
            id="text-too-long",
        ),
    ],
)
async def test_each_field_at_fault_is_named(
    desk: Desk,
    tenant: TenantKeys,
    visitor: httpx.AsyncClient,
    fields: dict[str, str],
    field: str,
    error: str,
) -> None:
    typed = {"text": "Hello", **fields}

    answer = await send(visitor, tenant, **typed)

    assert answer.status_code == 422
    assert page(answer).text(f"{field}-error") == error
    assert await tickets(desk) == []


async def test_too_many_messages_from_one_address_are_refused(
    desk: Desk, tenant: TenantKeys, visitor: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chat, "CHAT_PER_CLIENT", parse("2/minute"))

    sent = [(await send(visitor, tenant, f"Message {n}")).status_code for n in (1, 2)]
    refused = await send(visitor, tenant, "Message 3")

    assert sent == [303, 303]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert (
        page(refused)
        .text("notice")
        .startswith("You have sent many messages in a short time. Please try again in ")
    )
    (ticket,) = await tickets(desk)
    view = await desk.ticket(ticket["id"])
    assert [m["text"] for m in view["messages"]] == ["Message 1", "Message 2"]


async def test_the_widget_script_is_javascript_cached_for_an_hour(
    tenant: TenantKeys, visitor: httpx.AsyncClient
) -> None:
    answer = await visitor.get(f"/chat/{tenant.slug}/widget.js")
    unknown = await visitor.get("/chat/no-such-shop/widget.js")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
    assert answer.headers["cache-control"] == "public, max-age=3600"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "window.channelhubChat = {" in answer.text
    assert '"en":{"open":"Chat with us","close":"Close the chat"}' in answer.text
    assert '"pt":{"open":"Fale connosco"' in answer.text
    assert "{/* labels */}" not in answer.text
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "text/javascript; charset=utf-8"


async def test_an_unknown_shop_gets_a_not_found_page(visitor: httpx.AsyncClient) -> None:
    answer = await visitor.get("/chat/no-such-shop")
    polled = await visitor.get("/chat/no-such-shop/messages")
    posted = await visitor.post("/chat/no-such-shop/messages", data={"text": "hi"})

    assert answer.status_code == 404
    assert page(answer).first("h1").text == "Shop not found"
    assert polled.status_code == 404
    assert posted.status_code == 404


async def test_over_https_the_cookies_work_in_a_third_party_frame(
    hub: Hub, tenant: TenantKeys
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(hub, run_background=False)),
        base_url="https://hub.test",
    ) as visitor:
        opened = await visitor.get(f"/chat/{tenant.slug}")
        form = page(opened)
        sent = await visitor.post(
            f"/chat/{tenant.slug}/messages",
            data={**ANA, "text": "Hello over TLS", "csrf_token": form.csrf},
        )

    assert sent.status_code == 303
    for cookie in (cookie_header(opened, "chw_csrf"), cookie_header(sent, "chw_conversation")):
        attributes = {part.strip() for part in cookie.split(";")}
        assert {"HttpOnly", "SameSite=none", "Secure", "Partitioned"} <= attributes


async def test_a_widget_visitor_typing_the_buyers_email_is_not_taken_for_the_buyer(
    desk: Desk, tenant: TenantKeys, visitor: httpx.AsyncClient
) -> None:
    """What a visitor types proves nothing: no auto-answer with the order's details, and
    the order link is unverified (the same message from a chat integration is trusted)."""
    order = await desk.shipped_order()
    queue = await desk.queue("Auto", auto_answer_wismo=True)
    await desk.rule("all", queue_id=queue["id"])

    answer = await send(
        visitor, tenant, f"Where is my order {order['number']}?", email=BUYER.upper()
    )

    assert answer.status_code == 303
    (ticket,) = await tickets(desk)
    view = await desk.ticket(ticket["id"])
    assert view["ticket"]["requester"]["email"] == BUYER
    assert view["ticket"]["order_id"] == order["id"]
    assert view["ticket"]["order_verified"] is False
    assert view["ticket"]["intent"] == "where_is_my_order"
    assert [m["kind"] for m in view["messages"]] == ["message"], "no auto-answer"
    assert view["ticket"]["deflected"] is False
    assert [m["from"] for m in await shown(visitor, tenant)] == ["you"]


async def test_a_visitor_typing_the_buyers_email_never_gets_the_buyers_replies(
    desk: Desk, tenant: TenantKeys, visitor: httpx.AsyncClient
) -> None:
    """An open ticket of the buyer about the same order: the visitor's is not merged into
    it (the merge would send the agent's reply to the buyer into the widget's thread)."""
    order = await desk.shipped_order()
    buyer = await desk.chat(f"I would like to return the tent of order {order['number']}, please")

    await send(visitor, tenant, f"Any news about {order['number']}?", email=BUYER)
    replied = await desk.client.post(
        f"/v1/tickets/{buyer['ticket_id']}/replies",
        json={"text": "Dear Ana, the refund goes to your card ending 4242."},
    )

    assert replied.status_code == 201
    assert [m["from"] for m in await shown(visitor, tenant)] == ["you"]
    widget_ticket = next(t for t in await tickets(desk) if t["id"] != buyer["ticket_id"])
    assert widget_ticket["status"] == "open", "not merged into the buyer's ticket"
    assert widget_ticket["order_verified"] is False
