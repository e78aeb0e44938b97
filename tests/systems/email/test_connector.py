"""E-mail through the hub: received by the built-in SMTP server, stored in the inbox,
parsed into tickets; replies sent threaded; bad mail kept, never lost."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import pytest
from standardwebhooks import Webhook

from channelhub.systems.email.replies import send_replies
from tests.fixtures.connections import Connected, connect
from tests.fixtures.helpdesk import BUYER, Desk
from tests.fixtures.hub import http_client, new_tenant
from tests.fixtures.notifications import Mailbox, mail_settings, text_of

SECRET = "whsec_" + base64.b64encode(b"email-test-secret-0123456789").decode()


@pytest.fixture
def settings_overrides(mailbox: Mailbox) -> dict[str, Any]:
    return mail_settings(mailbox) | {"helpdesk_max_attachment_bytes": 1000}


async def _mailbox(desk: Desk, client: httpx.AsyncClient | None = None) -> tuple[Connected, str]:
    client = client or desk.client
    connection = await connect(desk.hub, client, "email", SECRET)
    address = f"care@{connection.id.lower()}.example"
    response = await client.post(
        "/v1/helpdesk/mailboxes", json={"address": address, "connection_id": connection.id}
    )
    assert response.status_code == 201, response.text
    return connection, address


async def _smtp(desk: Desk) -> int:
    if desk.hub.smtp_server._server is None:
        await desk.hub.smtp_server.start("127.0.0.1", 0)
    return desk.hub.smtp_server.port


async def _received(desk: Desk) -> None:
    while await desk.hub.inbox.process_due():
        pass


async def _tickets(desk: Desk, client: httpx.AsyncClient | None = None) -> list[dict[str, Any]]:
    response = await (client or desk.client).get("/v1/tickets")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]
    return found


async def test_an_agents_reply_is_threaded_and_the_answer_comes_back(
    desk: Desk, mailbox: Mailbox
) -> None:
    _, address = await _mailbox(desk)
    port = await _smtp(desk)
    question = EmailMessage()
    question["From"] = f"Ana <{BUYER}>"
    question["To"] = address
    question["Subject"] = "Gift wrapping"
    question["Message-ID"] = "<q1@mail.example.com>"
    question.set_content("Can you gift-wrap the lamp I am about to order?")
    await aiosmtplib.send(question, hostname="127.0.0.1", port=port)
    await _received(desk)
    (ticket,) = await _tickets(desk)

    reply = await desk.client.post(
        f"/v1/tickets/{ticket['id']}/replies", json={"text": "Yes, for free!"}
    )
    assert reply.json()["send_status"] == "pending"
    assert await send_replies(desk.hub.db, desk.hub._outgoing_smtp) >= 1

    sent = next(m for m in mailbox.messages if str(m["To"]) == BUYER)
    assert str(sent["In-Reply-To"]) == "<q1@mail.example.com>"
    assert "<q1@mail.example.com>" in str(sent["References"])
    assert str(sent["Subject"]) == "Re: Gift wrapping"
    assert address in str(sent["From"])
    assert "Yes, for free!" in text_of(sent)
    view = await desk.ticket(ticket["id"])
    assert view["messages"][-1]["send_status"] == "sent"

    answer = EmailMessage()
    answer["From"] = BUYER
    answer["To"] = address
    answer["Subject"] = "Re: Gift wrapping"
    answer["Message-ID"] = "<q2@mail.example.com>"
    answer["In-Reply-To"] = str(sent["Message-ID"])
    answer.set_content("Great, thanks!\n\nOn Monday Shop wrote:\n> Yes, for free!")
    await aiosmtplib.send(answer, hostname="127.0.0.1", port=port)
    await _received(desk)

    assert [t["id"] for t in await _tickets(desk)] == [ticket["id"]]
    assert len((await desk.ticket(ticket["id"]))["messages"]) == 3


async def test_malformed_mail_with_a_huge_attachment_is_kept(desk: Desk) -> None:
    connection, address = await _mailbox(desk)
    raw = (
        f"From: Ana <{BUYER}>\r\nTo: {address}\r\nSubject: =?x-unknown?Q?Fotos?=\r\n"
        "Message-ID: <broken@mail.example.com>\r\n"
        'Content-Type: multipart/mixed; boundary="nope"\r\n\r\n'
        "--real\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\n"
        "The lamp arrived broken, photos attached.\r\n"
        "--real\r\nContent-Type: image/jpeg\r\nContent-Disposition: attachment; "
        'filename="lamp.jpg"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.encodebytes(b"\xff\xd8" + b"x" * 5000).decode().replace("\n", "\r\n")
        + "\r\n--real--\r\n"
    ).encode()
    port = await _smtp(desk)
    await aiosmtplib.send(raw, sender=BUYER, recipients=[address], hostname="127.0.0.1", port=port)
    await _received(desk)

    (ticket,) = await _tickets(desk)
    (message,) = (await desk.ticket(ticket["id"]))["messages"]
    assert "arrived broken" in message["text"]
    assert message["defects"]
    (attachment,) = message["attachments"]
    assert attachment["filename"] == "lamp.jpg"
    assert attachment["too_large"] is True
    assert (await connection.inbox())[0]["status"] == "processed"


async def test_mail_to_an_unknown_address_is_refused(desk: Desk) -> None:
    port = await _smtp(desk)
    message = EmailMessage()
    message["From"] = BUYER
    message["To"] = "nobody@nowhere.example"
    message["Subject"] = "hello"
    message.set_content("hi")

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port)

    assert refused.value.recipients[0].code == 550


async def test_another_tenants_customer_is_never_linked(desk: Desk) -> None:
    order = await desk.shipped_order()
    other = await new_tenant(desk.hub, "other")
    async with http_client(desk.hub, other.admin_key) as client:
        _, address = await _mailbox(desk, client)
        port = await _smtp(desk)
        spoof = EmailMessage()
        spoof["From"] = BUYER
        spoof["To"] = address
        spoof["Subject"] = f"Where is order {order['number']}?"
        spoof.set_content(f"Where is my order {order['number']}? Send me the tracking.")
        await aiosmtplib.send(spoof, hostname="127.0.0.1", port=port)
        await _received(desk)
        (ticket,) = await _tickets(desk, client)

    assert ticket["order_id"] is None, "the order is the first tenant's, the mailbox the second's"
    assert ticket["customer_id"] is None
    assert ticket["order_verified"] is False


async def test_a_sender_failing_dmarc_is_not_trusted_as_the_buyer(desk: Desk) -> None:
    order = await desk.shipped_order()
    queue = await desk.queue("Auto", auto_answer_wismo=True)
    await desk.rule("all", queue_id=queue["id"])
    connection, address = await _mailbox(desk)
    body = (
        f"Authentication-Results: mx.shop.example; spf=fail smtp.mailfrom={BUYER}; "
        "dmarc=fail header.from=example.com\r\n"
        f"From: {BUYER}\r\nTo: {address}\r\nSubject: Order {order['number']}\r\n"
        "Message-ID: <spoof@evil.example>\r\n\r\n"
        f"Where is my order {order['number']}? Please send the tracking number.\r\n"
    ).encode()
    sent = await connection.send(
        body, {**_signed("spoof-1", body), "content-type": "message/rfc822"}
    )
    assert sent.status_code in (200, 202), sent.text
    await _received(desk)

    (ticket,) = await _tickets(desk)
    view = await desk.ticket(ticket["id"])
    assert view["ticket"]["order_id"] == order["id"]
    assert view["ticket"]["order_verified"] is False
    assert [m["kind"] for m in view["messages"]] == ["message"], "no auto-answer"


def _signed(delivery: str, body: bytes) -> dict[str, str]:
    now = datetime.now(UTC)
    return {
        "webhook-id": delivery,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(SECRET).sign(delivery, now, body.decode()),
    }


async def test_an_attachment_downloads_as_received(desk: Desk) -> None:
    _, address = await _mailbox(desk)
    port = await _smtp(desk)
    mail = EmailMessage()
    mail["From"] = BUYER
    mail["To"] = address
    mail["Subject"] = "Invoice please"
    mail.set_content("Please correct the VAT number on the attached invoice.")
    mail.add_attachment(b"%PDF-1.4 tiny", maintype="application", subtype="pdf", filename="f.pdf")
    await aiosmtplib.send(mail, hostname="127.0.0.1", port=port)
    await _received(desk)
    (ticket,) = await _tickets(desk)
    (attachment,) = (await desk.ticket(ticket["id"]))["messages"][0]["attachments"]

    response = await desk.client.get(f"/v1/tickets/{ticket['id']}/attachments/{attachment['id']}")
    elsewhere = await desk.client.get(f"/v1/tickets/tkt_other/attachments/{attachment['id']}")

    assert response.status_code == 200
    assert response.content == b"%PDF-1.4 tiny"
    assert response.headers["content-type"] == "application/octet-stream"
    assert response.headers["content-disposition"] == "attachment; filename*=UTF-8''f.pdf"
    assert elsewhere.status_code == 404
