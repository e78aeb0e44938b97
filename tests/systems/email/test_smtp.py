"""The inbound SMTP server, on the test's own event loop, spoken to by a real SMTP client."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
import pytest
from structlog.testing import capture_logs

from channelhub.systems.email.smtp import Envelope, InboundSmtp
from tests.fixtures.tls import self_signed

MAILBOXES = {"help@shop.example", "returns@shop.example"}
LIMIT = 4_096

MESSAGE = (
    b"From: Ana <ana@example.com>\r\n"
    b"To: help@shop.example\r\n"
    b"Subject: Where is my order?\r\n"
    b"Message-ID: <m1@example.com>\r\n"
    b"\r\n"
    b"Hello,\r\n"
    b".a line that starts with a dot survives dot-stuffing\r\n"
    b"\xc5\xbelu\xc5\xa5ou\xc4\x8dk\xc3\xbd 8-bit text\r\n"
)


@dataclass
class Hub:
    """What the hub's callbacks saw; ``fail`` makes ``deliver`` raise."""

    delivered: list[Envelope] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    fail: bool = False

    async def accepts(self, address: str) -> bool:
        self.asked.append(address)
        return address.lower() in MAILBOXES

    async def deliver(self, envelope: Envelope) -> None:
        if self.fail:
            raise RuntimeError("the database is down")
        self.delivered.append(envelope)


@pytest.fixture
def hub() -> Hub:
    return Hub()


@pytest.fixture
async def server(hub: Hub) -> AsyncIterator[InboundSmtp]:
    smtp = InboundSmtp(
        hub.accepts, hub.deliver, hostname="mx.shop.example", max_message_bytes=LIMIT
    )
    await smtp.start("127.0.0.1", 0)
    yield smtp
    await smtp.stop()


async def send(server: InboundSmtp, message: bytes, recipients: list[str]) -> str:
    _, reply = await aiosmtplib.send(
        message,
        sender="ana@example.com",
        recipients=recipients,
        hostname="127.0.0.1",
        port=server.port,
        timeout=5,
    )
    return reply


async def test_a_message_is_delivered_exactly_as_sent(server: InboundSmtp, hub: Hub) -> None:
    reply = await send(server, MESSAGE, ["help@shop.example", "Returns@Shop.example"])

    assert reply == "2.0.0 OK"
    assert hub.delivered == [
        Envelope(
            mail_from="ana@example.com",
            rcpt_tos=["help@shop.example", "Returns@Shop.example"],
            raw=MESSAGE,
            peer="127.0.0.1",
        )
    ]


async def test_an_unknown_recipient_is_refused(server: InboundSmtp, hub: Hub) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await send(server, MESSAGE, ["nobody@shop.example"])

    ((code, message),) = [(r.code, r.message) for r in refused.value.recipients]
    assert (code, message) == (550, "5.1.1 mailbox unknown")
    assert hub.asked == ["nobody@shop.example"]
    assert hub.delivered == []


async def test_only_known_recipients_get_the_message(server: InboundSmtp, hub: Hub) -> None:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, timeout=5) as client:
        errors, _ = await client.sendmail(
            "ana@example.com", ["nobody@shop.example", "help@shop.example"], MESSAGE
        )

    assert {address: error.code for address, error in errors.items()} == {
        "nobody@shop.example": 550
    }
    assert [envelope.rcpt_tos for envelope in hub.delivered] == [["help@shop.example"]]


async def test_a_failed_delivery_is_answered_451_so_the_sender_retries(
    server: InboundSmtp, hub: Hub
) -> None:
    hub.fail = True

    with capture_logs() as logs, pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(server, MESSAGE, ["help@shop.example"])

    assert (refused.value.code, refused.value.message) == (451, "4.3.0 try again later")
    assert [(e["event"], e["log_level"], e["rcpt_tos"]) for e in logs] == [
        ("email.smtp.deliver_failed", "error", ["help@shop.example"])
    ]

    hub.fail = False
    assert await send(server, MESSAGE, ["help@shop.example"]) == "2.0.0 OK"
    assert [envelope.raw for envelope in hub.delivered] == [MESSAGE]


async def test_an_oversized_message_is_refused_with_552(server: InboundSmtp, hub: Hub) -> None:
    big = MESSAGE + b"x" * 70 + b"\r\n"
    big *= LIMIT // len(big) + 1
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=server.port, timeout=5) as client:
        # Without declaring its size in MAIL FROM: refused once the data passes the limit.
        await client.mail("ana@example.com")
        await client.rcpt("help@shop.example")
        with pytest.raises(aiosmtplib.SMTPDataError) as at_data:
            await client.data(big)
        # Declaring it (as clients do when the server advertises SIZE): refused up front.
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as at_mail:
            await client.sendmail("ana@example.com", ["help@shop.example"], big)

    assert (at_data.value.code, at_mail.value.code) == (552, 552)
    assert hub.delivered == []


async def test_stop_closes_open_sessions_and_the_port(hub: Hub) -> None:
    server = InboundSmtp(
        hub.accepts, hub.deliver, hostname="mx.shop.example", max_message_bytes=LIMIT
    )
    await server.start("127.0.0.1", 0)
    port = server.port
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5)
    await client.connect()
    await client.ehlo()

    await server.stop()

    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await client.noop()
    with pytest.raises(OSError, match="Connect call failed"):
        await asyncio.open_connection("127.0.0.1", port)
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.port


async def test_starttls_is_offered_with_a_tls_context(hub: Hub, tmp_path: Path) -> None:
    server = InboundSmtp(
        hub.accepts,
        hub.deliver,
        hostname="mx.shop.example",
        max_message_bytes=LIMIT,
        tls_context=self_signed(tmp_path, "mx.shop.example"),
    )
    await server.start("127.0.0.1", 0)
    trusting = ssl.create_default_context(cafile=tmp_path / "cert.pem")
    trusting.check_hostname = False  # the certificate names mx.shop.example, not 127.0.0.1
    try:
        async with aiosmtplib.SMTP(
            hostname="127.0.0.1",
            port=server.port,
            start_tls=True,
            tls_context=trusting,
            timeout=5,
        ) as client:
            assert client.get_transport_info("peercert")["subject"] == (
                (("commonName", "mx.shop.example"),),
            )
            await client.sendmail("ana@example.com", ["help@shop.example"], MESSAGE)
    finally:
        await server.stop()

    assert [envelope.raw for envelope in hub.delivered] == [MESSAGE]
