"""The helpdesk's promise, end to end: three messages about one order -- an e-mail sent by
a real SMTP client to the built-in server, a chat message and a marketplace message --
become one ticket, linked to the order, classified where_is_my_order, routed to the right
queue with its SLA running, with a drafted reply that carries the live tracking status."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from email.message import EmailMessage

import aiosmtplib
import pytest
from standardwebhooks import Webhook

from tests.fixtures.connections import connect
from tests.fixtures.helpdesk import BUYER, Desk

MARKETPLACE_SECRET = "whsec_" + base64.b64encode(b"marketplace-test-secret-0123").decode()


@pytest.fixture
async def smtp_port(desk: Desk) -> int:
    await desk.hub.smtp_server.start("127.0.0.1", 0)
    return desk.hub.smtp_server.port


async def _process_inbox(desk: Desk) -> None:
    while await desk.hub.inbox.process_due():
        pass


async def test_three_channels_one_order_one_ticket(desk: Desk, smtp_port: int) -> None:
    await desk.orders.shop.stock(TENT_1__WH=10)
    order = await desk.orders.place(
        ("TENT-1", 1), external_ids=[{"system": "amazon", "id": "402-1234567-7654321"}]
    )
    shipment = await desk.orders.ship(order)
    await desk.orders.scan(shipment["id"], "out_for_delivery", "2026-11-28T08:00:00Z")
    queue = await desk.queue("Where is my order", first_response_minutes=120)
    await desk.rule("WISMO", conditions={"intents": ["where_is_my_order"]}, queue_id=queue["id"])
    email = await connect(desk.hub, desk.client, "email", MARKETPLACE_SECRET)
    address = f"support@{email.id.lower()}.example"
    mailbox = await desk.client.post(
        "/v1/helpdesk/mailboxes", json={"address": address, "connection_id": email.id}
    )
    assert mailbox.status_code == 201, mailbox.text
    marketplace = await connect(desk.hub, desk.client, "marketplace", MARKETPLACE_SECRET)

    mail = EmailMessage()
    mail["From"] = f"Ana Silva <{BUYER}>"
    mail["To"] = address
    mail["Subject"] = f"Order {order['number']}"
    mail["Message-ID"] = "<first@mail.example.com>"
    mail.set_content("Hello, where is my parcel? It should have arrived by now.\n\nAna")
    await aiosmtplib.send(mail, hostname="127.0.0.1", port=smtp_port)
    await _process_inbox(desk)
    chat = await desk.chat(f"Any news about my order {order['number']}? Still waiting.")
    body = json.dumps(
        {
            "external_id": "amz-msg-1",
            "marketplace": "amazon",
            "requester": {"buyer_id": "A2BUYER", "name": "Ana"},
            "text": "Where is my package? Tracking shows nothing new.",
            "order": {"system": "amazon", "id": "402-1234567-7654321"},
        }
    )
    now = datetime.now(UTC)
    sent = await marketplace.send(
        body.encode(),
        {
            "webhook-id": "amz-delivery-1",
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(MARKETPLACE_SECRET).sign("amz-delivery-1", now, body),
            "content-type": "application/json",
        },
    )
    assert sent.status_code in (200, 202), sent.text
    await _process_inbox(desk)

    tickets = (await desk.client.get("/v1/tickets", params={"order_id": order["id"]})).json()
    live = [t for t in tickets["data"] if t["status"] != "merged"]
    assert len(live) == 1, live
    view = await desk.ticket(live[0]["id"])
    ticket = view["ticket"]
    assert chat["ticket_id"] == ticket["id"]
    assert sorted(m["channel"] for m in view["messages"]) == ["chat", "email", "marketplace"]
    assert ticket["order_id"] == order["id"]
    assert ticket["order_verified"]
    assert ticket["intent"] == "where_is_my_order"
    assert ticket["queue_id"] == queue["id"]
    assert ticket["first_response_due"] is not None
    assert "1Z999" in ticket["draft"]
    assert view["order"]["shipments"][0]["status"] == "out_for_delivery"
    assert view["order"]["shipments"][0]["status_text"] in ticket["draft"]
    assert len([m for m in view["merges"] if m["undone_at"] is None]) == 2
