"""The agent console without a browser: signing in, the inbox with its SLA clocks, the
ticket page and every form on it, as an agent's browser sees them, on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from channelhub.experience.app import create_app
from channelhub.experience.web import console
from channelhub.hub import Hub
from channelhub.platform.auth import service as auth
from channelhub.platform.clock import utc_now
from channelhub.process.helpdesk.models import Ticket, TicketMessage
from tests.fixtures.helpdesk import Desk
from tests.fixtures.html import Page, page
from tests.fixtures.hub import TenantKeys, http_client

EXPIRED = (
    "This form had expired or did not come from the console; nothing was changed. "
    "Please send it again."
)


def cookie_header(response: httpx.Response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))


@dataclass
class Agent:
    """An agent's browser on the console: keeps cookies, does not follow redirects."""

    client: httpx.AsyncClient

    async def sign_in(self, key: str, next_url: str = "/console") -> httpx.Response:
        form = page(await self.client.get("/console/login"))
        return await self.client.post(
            "/console/login",
            data={"csrf_token": form.csrf, "api_key": key, "next": next_url},
        )

    async def ticket(self, ticket_id: str, **params: str) -> Page:
        response = await self.client.get(f"/console/tickets/{ticket_id}", params=params)
        assert response.status_code == 200, response.text
        return page(response)

    async def act(self, ticket_id: str, path: str, **fields: str) -> httpx.Response:
        """Send one of the ticket page's forms, with the page's CSRF token."""
        shown = await self.ticket(ticket_id)
        return await self.client.post(
            f"/console/tickets/{ticket_id}/{path}", data={"csrf_token": shown.csrf, **fields}
        )


@pytest.fixture
async def agent(hub: Hub) -> AsyncIterator[Agent]:
    async with http_client(hub) as client:
        yield Agent(client)


@pytest.fixture
async def writer_key(tenant: TenantKeys) -> str:
    return await tenant.make_key("helpdesk:write")


@pytest.fixture
async def signed_in(agent: Agent, writer_key: str) -> Agent:
    answer = await agent.sign_in(writer_key)
    assert answer.status_code == 303, answer.text
    return agent


async def wismo_ticket(desk: Desk) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(order, queue, ticket view): a shipped order, a queue with a one-hour first-response
    SLA that WISMO tickets go to, and the buyer asking about the order by chat."""
    order = await desk.shipped_order()
    queue = await desk.queue("Orders", first_response_minutes=60, resolution_minutes=480)
    await desk.rule("WISMO", conditions={"intents": ["where_is_my_order"]}, queue_id=queue["id"])
    accepted = await desk.chat(f"Hi, where is my order {order['number']}? It has not arrived.")
    return order, queue, await desk.ticket(accepted["ticket_id"])


# --- signing in ------------------------------------------------------------------------


async def test_a_bad_key_is_refused_and_keeps_no_session(agent: Agent, tenant: TenantKeys) -> None:
    orders_only = await tenant.make_key("orders:read")

    unknown = await agent.sign_in("chk_not-a-key")
    lacking = await agent.sign_in(orders_only)
    inbox = await agent.client.get("/console")

    assert unknown.status_code == 401
    assert page(unknown).text("notice") == "That API key is unknown or revoked."
    assert "chk_not-a-key" not in unknown.text, "a refused key is never echoed back"
    assert lacking.status_code == 403
    assert page(lacking).text("notice") == "That API key lacks the helpdesk:read scope."
    assert orders_only not in lacking.text
    assert "chc_session" not in str(agent.client.cookies)
    assert inbox.status_code == 303
    assert inbox.headers["location"] == "/console/login?next=%2Fconsole"


async def test_signing_in_keeps_the_key_sealed_in_a_strict_cookie(
    agent: Agent, writer_key: str
) -> None:
    answer = await agent.sign_in(writer_key, next_url="/console?status=open")

    cookie = cookie_header(answer, "chc_session")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console?status=open"
    assert writer_key not in answer.headers["location"]
    assert writer_key not in cookie, "the key is sealed, not readable in the cookie"
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain http here; https pages set it
    assert (await agent.client.get("/console")).status_code == 200


async def test_after_signing_in_only_console_pages_are_next(agent: Agent, writer_key: str) -> None:
    elsewhere = await agent.sign_in(writer_key, next_url="https://evil.example/console")

    assert elsewhere.status_code == 303
    assert elsewhere.headers["location"] == "/console"


async def test_a_login_without_its_csrf_token_is_refused(agent: Agent, writer_key: str) -> None:
    await agent.client.get("/console/login")

    answer = await agent.client.post("/console/login", data={"api_key": writer_key})

    assert answer.status_code == 403
    assert page(answer).text("notice") == EXPIRED
    assert "chc_session" not in answer.headers.get("set-cookie", "")


async def test_a_revoked_key_ends_the_session(hub: Hub, signed_in: Agent, writer_key: str) -> None:
    async with hub.db.transaction() as session:
        principal = await auth.authenticate(session, writer_key)
        assert principal.key_id is not None
        await auth.revoke_key(session, principal.tenant_id, principal.key_id)

    answer = await signed_in.client.get("/console/tickets/tkt_x?x=1")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Ftickets%2Ftkt_x%3Fx%3D1"


async def test_signing_out_forgets_the_session(signed_in: Agent) -> None:
    shown = page(await signed_in.client.get("/console"))

    out = await signed_in.client.post("/console/logout", data={"csrf_token": shown.csrf})
    again = await signed_in.client.get("/console")

    assert out.status_code == 303
    assert out.headers["location"] == "/console/login"
    assert again.status_code == 303


async def test_over_https_the_console_cookies_are_secure(hub: Hub, writer_key: str) -> None:
    transport = httpx.ASGITransport(app=create_app(hub, run_background=False))
    async with httpx.AsyncClient(transport=transport, base_url="https://hub.test") as client:
        form = await client.get("/console/login")
        answer = await client.post(
            "/console/login", data={"csrf_token": page(form).csrf, "api_key": writer_key}
        )
        again = await client.get("/console/login")

    for response, name in ((form, "chc_csrf"), (answer, "chc_session")):
        assert "Secure" in cookie_header(response, name)
        assert "HttpOnly" in cookie_header(response, name)
        assert "SameSite=strict" in cookie_header(response, name)
    assert again.status_code == 303, "signed in already: on to the console"
    assert again.headers["location"] == "/console"


# --- the inbox -------------------------------------------------------------------------


async def test_the_inbox_lists_a_ticket_with_its_sla_clock(desk: Desk, signed_in: Agent) -> None:
    order, queue, view = await wismo_ticket(desk)
    ticket = view["ticket"]

    shown = page(await signed_in.client.get("/console"))

    row = f"ticket-{ticket['id']}"
    cells = {e.attrs["class"]: " ".join(e.text.split()) for e in shown.all("td")}
    assert shown.has(row)
    assert cells["subject"].startswith(ticket["subject"] or "(no subject)")
    assert cells["requester"] == "Ana Silva <ana@example.com>"
    assert cells["channel"] == "chat"
    confidence = round(ticket["intent_confidence"] * 100)
    assert cells["intent"] == f"where is my order ({confidence}%)"
    assert cells["language"] == "en"
    assert cells["priority"] == ticket["priority"]
    assert cells["queue"] == "Orders"
    assert cells["order"] == order["number"]
    clocks = shown.all("li", **{"data-clock": "first_response"})
    assert [c.attrs["data-state"] for c in clocks] == ["running"]
    assert " ".join(clocks[0].text.split()).startswith("First response: 1 h 00 min left")
    assert shown.text(f"queue-{queue['id']}") == "Orders 1 open"


async def test_an_overdue_clock_is_highlighted(desk: Desk, signed_in: Agent) -> None:
    _, _, view = await wismo_ticket(desk)
    async with desk.hub.db.transaction() as session:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == view["ticket"]["id"])
            .values(
                first_response_due=utc_now() - timedelta(minutes=90, seconds=10),
                sla_breached=["first_response"],
            )
        )

    shown = page(await signed_in.client.get("/console?status=open"))

    (clock,) = shown.all("li", **{"data-clock": "first_response"})
    assert clock.attrs["class"] == "sla sla-breached"
    assert " ".join(clock.text.split()).startswith("First response: overdue by 1 h 30 min")


async def test_the_inbox_pages_and_filters(
    desk: Desk, signed_in: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "PER_PAGE", 1)
    older = await desk.chat("Do you ship to Madeira?")
    newer = await desk.chat("Do you have the tent in green?")

    first = await signed_in.client.get("/console")
    link = page(first).by_id("next-page").attrs["href"]
    second = page(await signed_in.client.get(link))
    pending = page(await signed_in.client.get("/console?status=pending"))
    unknown = await signed_in.client.get("/console?status=lost")
    bad_cursor = await signed_in.client.get("/console?cursor=nonsense")

    assert page(first).has(f"ticket-{newer['ticket_id']}")
    assert not page(first).has(f"ticket-{older['ticket_id']}")
    assert second.has(f"ticket-{older['ticket_id']}")
    assert not second.has("next-page")
    assert pending.has("empty")
    assert unknown.status_code == 422
    assert bad_cursor.status_code == 422
    assert page(bad_cursor).text("notice") == "cursor is not one this API issued"


# --- the ticket page -------------------------------------------------------------------


async def test_the_ticket_page_shows_the_order_panel_and_the_draft(
    desk: Desk, signed_in: Agent
) -> None:
    order, _, view = await wismo_ticket(desk)
    ticket = view["ticket"]

    shown = await signed_in.ticket(ticket["id"])

    assert shown.text("order-number") == order["number"]
    assert shown.text("order-headline") == view["order"]["headline"]
    assert "TENT-1" in shown.text("order-items")
    (shipment,) = view["order"]["shipments"]
    shipped = shown.text(f"shipment-{shipment['id']}")
    assert shipped.startswith("UPS")
    assert f"· 1Z999 · {shipment['status_text']}" in shipped
    assert shown.has("order-timeline")
    assert shown.text("reply-label") == "Draft \N{EM DASH} review before sending"
    assert shown.by_id("reply-text").text == ticket["draft"]
    assert "1Z999" in ticket["draft"]
    assert shown.text("intent").startswith("where is my order")
    first_response = shown.all("li", **{"data-clock": "first_response"})
    assert [c.attrs["data-state"] for c in first_response] == ["running"]
    rating = shown.all("input", **{"aria-label": "The customer's rating link"})[0]
    assert rating.attrs["value"].startswith("http://127.0.0.1:8000/helpdesk/rate/")


async def test_a_reply_is_sent_and_appears_in_the_timeline(desk: Desk, signed_in: Agent) -> None:
    _, _, view = await wismo_ticket(desk)
    ticket_id = view["ticket"]["id"]

    sent = await signed_in.act(ticket_id, "reply", text="It is on its way: UPS 1Z999.")
    shown = await signed_in.ticket(ticket_id, done="replied")

    assert sent.status_code == 303
    assert sent.headers["location"] == f"/console/tickets/{ticket_id}?done=replied"
    after = await desk.ticket(ticket_id)
    reply = after["messages"][-1]
    assert (reply["direction"], reply["kind"], reply["text"]) == (
        "out",
        "message",
        "It is on its way: UPS 1Z999.",
    )
    assert reply["send_status"] == "published"
    assert after["ticket"]["status"] == "pending"
    assert shown.text("done") == "Reply sent."
    assert shown.text(f"msg-{reply['id']}").endswith("It is on its way: UPS 1Z999.")
    assert shown.text("status-value") == "pending"
    assert (shown.text("reply-label"), shown.by_id("reply-text").text) == ("Reply", "")
    assert shown.has("draft-hint"), "a draft already answered is not offered again"


async def test_reply_and_resolve_carries_the_rating_link(desk: Desk, signed_in: Agent) -> None:
    _, _, view = await wismo_ticket(desk)
    ticket_id = view["ticket"]["id"]

    sent = await signed_in.act(ticket_id, "reply", text="Delivered today.", action="resolve")

    assert sent.headers["location"] == f"/console/tickets/{ticket_id}?done=resolved"
    after = await desk.ticket(ticket_id)
    assert after["ticket"]["status"] == "resolved"
    text = after["messages"][-1]["text"]
    assert text.startswith(
        "Delivered today.\n\nHow did we do? 1: http://127.0.0.1:8000/helpdesk/rate/"
    )


async def test_a_template_fills_the_reply_box_and_sends_nothing(
    desk: Desk, signed_in: Agent
) -> None:
    _, _, view = await wismo_ticket(desk)
    ticket_id = view["ticket"]["id"]
    shown = await signed_in.ticket(ticket_id)

    filled = await signed_in.client.post(
        f"/console/tickets/{ticket_id}/template",
        data={"csrf_token": shown.csrf, "template": "acknowledgement", "text": "typed"},
    )
    rendered = await desk.client.post(
        f"/v1/tickets/{ticket_id}/templates/acknowledgement/render", json={}
    )
    unknown = await signed_in.client.post(
        f"/console/tickets/{ticket_id}/template",
        data={"csrf_token": shown.csrf, "template": "nope", "text": "typed"},
    )

    assert filled.status_code == 200
    assert page(filled).by_id("reply-text").text == rendered.json()["text"]
    assert page(filled).text("reply-label") == (
        "Template \N{LEFT DOUBLE QUOTATION MARK}acknowledgement\N{RIGHT DOUBLE QUOTATION MARK}"
        " \N{EM DASH} review before sending"
    )
    assert unknown.status_code == 422
    assert page(unknown).text("notice") == "Not done: no template 'nope'"
    assert page(unknown).by_id("reply-text").text == "typed"
    assert len((await desk.ticket(ticket_id))["messages"]) == 1


async def test_notes_assignment_and_status(desk: Desk, signed_in: Agent) -> None:
    rita = await desk.agent("Rita")
    accepted = await desk.chat("Do you ship to Madeira?")
    ticket_id = accepted["ticket_id"]

    noted = await signed_in.act(ticket_id, "note", note="Check with the carrier first.")
    assigned = await signed_in.act(ticket_id, "assign", assignee_id=rita["id"])
    resolved = await signed_in.act(ticket_id, "status", status="resolved")
    merged_status = await signed_in.act(ticket_id, "status", status="merged")
    shown = await signed_in.ticket(ticket_id)

    assert [a.status_code for a in (noted, assigned, resolved)] == [303, 303, 303]
    assert merged_status.status_code == 422
    view = await desk.ticket(ticket_id)
    note = view["messages"][-1]
    assert (note["kind"], note["text"]) == ("note", "Check with the carrier first.")
    assert (view["ticket"]["assignee_id"], view["ticket"]["status"]) == (rita["id"], "resolved")
    assert shown.text("assignee") == "Rita"
    assert shown.text(f"msg-{note['id']}").startswith("Internal note")


async def test_merge_and_undo_through_the_console(desk: Desk, signed_in: Agent) -> None:
    target = (await desk.chat("Do you ship to Madeira?"))["ticket_id"]
    source = (await desk.chat("And to the Azores?", email="rui@example.com"))["ticket_id"]

    merged = await signed_in.act(target, "merge", source_id=source)
    after_merge = await signed_in.ticket(target)
    (merge,) = (await desk.ticket(target))["merges"]
    undone = await signed_in.act(target, f"merges/{merge['id']}/undo")
    after_undo = await signed_in.ticket(target)

    assert merged.status_code == 303
    assert merged.headers["location"] == f"/console/tickets/{target}?done=merged"
    assert after_merge.by_id(f"merge-{merge['id']}").attrs["class"] == "active"
    assert len(after_merge.all("li", **{"class": "message message-in kind-message"})) == 2
    assert undone.status_code == 303
    assert undone.headers["location"] == f"/console/tickets/{target}?done=unmerged"
    assert after_undo.by_id(f"merge-{merge['id']}").attrs["class"] == "undone"
    assert len(after_undo.all("li", **{"class": "message message-in kind-message"})) == 1
    split = await desk.ticket(source)
    assert split["ticket"]["status"] == "open"
    assert split["messages"][0]["text"] == "And to the Azores?"


async def test_a_refusal_is_shown_with_its_reason_never_a_500(desk: Desk, signed_in: Agent) -> None:
    accepted = await desk.chat("Do you ship to Madeira?")
    ticket_id = accepted["ticket_id"]

    unknown = await signed_in.act(ticket_id, "merge", source_id="tkt_nope")
    itself = await signed_in.act(ticket_id, "merge", source_id=ticket_id)
    empty = await signed_in.act(ticket_id, "reply", text="   ")
    missing = await signed_in.client.get("/console/tickets/tkt_nope")

    assert unknown.status_code == 404
    assert page(unknown).text("notice") == "Not done: no ticket 'tkt_nope'"
    assert itself.status_code == 422
    assert page(itself).text("notice") == "Not done: a ticket cannot be merged into itself"
    assert empty.status_code == 422
    assert page(empty).text("notice").startswith("Not done: text: ")
    assert missing.status_code == 404
    assert page(missing).text("notice") == "no ticket 'tkt_nope'"
    assert len((await desk.ticket(ticket_id))["messages"]) == 1


async def test_a_read_only_key_sees_but_cannot_answer(
    desk: Desk, agent: Agent, tenant: TenantKeys
) -> None:
    accepted = await desk.chat("Do you ship to Madeira?")
    await agent.sign_in(await tenant.make_key("helpdesk:read"))

    refused = await agent.act(accepted["ticket_id"], "reply", text="Yes we do.")

    assert refused.status_code == 403
    shown = page(refused)
    assert shown.text("notice") == "Not done: this API key lacks the 'helpdesk:write' scope"
    assert shown.by_id("reply-text").text == "Yes we do."
    assert shown.has("read-only")
    assert len((await desk.ticket(accepted["ticket_id"]))["messages"]) == 1


async def test_a_post_without_a_valid_csrf_token_changes_nothing(
    desk: Desk, signed_in: Agent, writer_key: str
) -> None:
    accepted = await desk.chat("Do you ship to Madeira?")
    ticket_id = accepted["ticket_id"]
    reply = f"/console/tickets/{ticket_id}/reply"
    old_token = (await signed_in.ticket(ticket_id)).csrf
    signed_in.client.cookies.delete("chc_session")
    await signed_in.sign_in(writer_key)  # a new session (same nonce): tokens are bound to it

    missing = await signed_in.client.post(reply, data={"text": "Yes."})
    forged = await signed_in.client.post(reply, data={"text": "Yes.", "csrf_token": "0" * 64})
    stale = await signed_in.client.post(reply, data={"text": "Yes.", "csrf_token": old_token})

    assert [r.status_code for r in (missing, forged, stale)] == [403, 403, 403]
    assert page(missing).text("notice") == EXPIRED
    assert page(forged).by_id("reply-text").text == "Yes."
    assert len((await desk.ticket(ticket_id))["messages"]) == 1


async def test_a_script_in_a_message_is_shown_as_text_never_run(
    desk: Desk, signed_in: Agent
) -> None:
    script = '<script>alert("x")</script><img src=x onerror="alert(1)">'
    accepted = await desk.chat(f"Hello {script}")
    async with desk.hub.db.transaction() as session:
        await session.execute(
            update(TicketMessage)
            .where(TicketMessage.ticket_id == accepted["ticket_id"])
            .values(html=f"<p>Hello</p>{script}")
        )

    answer = await signed_in.client.get(f"/console/tickets/{accepted['ticket_id']}")

    html = answer.text
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    (frame,) = page(answer).all("iframe")
    assert frame.attrs["sandbox"] == ""
    assert frame.attrs["srcdoc"] == f"<p>Hello</p>{script}", "inert text for the sandbox"
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    (body,) = page(answer).all("div", **{"class": "body"})
    assert body.text == f"Hello {script}"
