"""Agents' replies: threading headers, and sending them to a real SMTP server (the hub's own
inbound one, which keeps the exact bytes it received)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest

from channelhub.process.notifications.transport import DeliveryError
from channelhub.systems.email.mime import parse
from channelhub.systems.email.outbound import compose_reply, reply_subject, send
from channelhub.systems.email.smtp import Envelope, InboundSmtp
from channelhub.systems.notify import SmtpServer


def reply(**overrides: object) -> EmailMessage:
    fields: dict[str, object] = {
        "from_address": "help@shop.example",
        "from_name": "Northwind Help, Porto",
        "to": "ana@example.com",
        "subject": "Where is my order?",
        "text": "Hello Ana,\nit ships today.\n",
        "html": "<p>Hello Ana,<br>it ships today.</p>",
        "in_reply_to": "<m2@example.com>",
        "references": ["<m0@example.com>", "<r1@shop.example>"],
        "message_id": "<tkt_1.r2@shop.example>",
        **overrides,
    }
    return compose_reply(**fields)  # type: ignore[arg-type]


def test_a_reply_is_threaded_under_the_message_it_answers() -> None:
    message = reply()

    assert message["From"] == '"Northwind Help, Porto" <help@shop.example>'
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Re: Where is my order?"
    assert message["Message-ID"] == "<tkt_1.r2@shop.example>"
    assert message["In-Reply-To"] == "<m2@example.com>"
    assert message["References"] == "<m0@example.com> <r1@shop.example> <m2@example.com>"
    date = message["Date"].datetime
    assert datetime.now(UTC) - timedelta(minutes=1) < date <= datetime.now(UTC)
    assert message.get_content_type() == "multipart/alternative"
    plain, html = (part.get_content() for part in message.iter_parts())
    assert (plain, html) == (
        "Hello Ana,\nit ships today.\n",
        "<p>Hello Ana,<br>it ships today.</p>\n",
    )


def test_a_reply_without_html_is_plain_text() -> None:
    message = reply(html=None)

    assert message.get_content_type() == "text/plain"
    assert message.get_content() == "Hello Ana,\nit ships today.\n"


def test_the_first_message_of_a_thread_starts_its_references() -> None:
    message = reply(references=[], in_reply_to="<m1@example.com>")

    assert (message["In-Reply-To"], message["References"]) == (
        "<m1@example.com>",
        "<m1@example.com>",
    )


def test_a_reply_to_nothing_has_no_threading_headers() -> None:
    message = reply(references=[], in_reply_to="")

    assert (message["In-Reply-To"], message["References"]) == (None, None)


def test_a_long_thread_keeps_its_first_and_latest_references() -> None:
    references = [f"<m{n}@example.com>" for n in range(30)]

    message = reply(references=references, in_reply_to="<m30@example.com>")

    kept = message["References"].split()
    assert kept == ["<m0@example.com>"] + [f"<m{n}@example.com>" for n in range(12, 31)]


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        pytest.param("Where is my order?", "Re: Where is my order?", id="plain"),
        pytest.param("Re: Where is my order?", "Re: Where is my order?", id="re"),
        pytest.param("RE: Where", "RE: Where", id="outlook-re"),
        pytest.param("AW: Bestellung", "AW: Bestellung", id="german"),
        pytest.param("Odp: Objednávka", "Odp: Objednávka", id="czech"),
        pytest.param("SV: Ordre", "SV: Ordre", id="nordic"),
        pytest.param("Fwd: Invoice", "Fwd: Invoice", id="forward"),
        pytest.param("re[2]: Where", "re[2]: Where", id="counted"),
        pytest.param("Reunion: tickets", "Re: Reunion: tickets", id="a-word-starting-with-re"),
        pytest.param("Where\r\n is it", "Re: Where is it", id="folded"),
        pytest.param("", "Re:", id="empty"),
    ],
)
def test_reply_subjects(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("to", "ana@example.com, eve@example.com", id="two-recipients"),
        pytest.param("from_address", "Help <help@shop.example>", id="display-name"),
        pytest.param("message_id", "tkt_1@shop.example", id="id-without-brackets"),
        pytest.param("in_reply_to", "<m2@example.com>\r\nBcc: eve@example.com", id="injection"),
    ],
)
def test_malformed_addresses_and_ids_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match="is not a"):
        reply(**{field: value})


class Received:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.fail = False

    async def accepts(self, address: str) -> bool:
        return True

    async def deliver(self, envelope: Envelope) -> None:
        if self.fail:
            raise RuntimeError("disk full")
        self.envelopes.append(envelope)


@pytest.fixture
async def relay() -> AsyncIterator[tuple[SmtpServer, Received]]:
    received = Received()
    server = InboundSmtp(
        received.accepts, received.deliver, hostname="relay.example", max_message_bytes=100_000
    )
    await server.start("127.0.0.1", 0)
    yield SmtpServer.from_url(f"smtp://127.0.0.1:{server.port}", timeout_s=5), received
    await server.stop()


async def test_a_reply_is_sent_and_arrives_threaded(
    relay: tuple[SmtpServer, Received],
) -> None:
    smtp, received = relay

    answer = await send(smtp, reply(subject="Objednávka č. 42"))

    assert answer == "2.0.0 OK"
    (envelope,) = received.envelopes
    assert (envelope.mail_from, envelope.rcpt_tos) == ("help@shop.example", ["ana@example.com"])
    arrived = parse(envelope.raw, max_attachment_bytes=1_000)
    assert (arrived.subject, arrived.message_id, arrived.in_reply_to, arrived.references) == (
        "Re: Objednávka č. 42",
        "<tkt_1.r2@shop.example>",
        "<m2@example.com>",
        ["<m0@example.com>", "<r1@shop.example>", "<m2@example.com>"],
    )
    assert (arrived.from_name, arrived.text) == (
        "Northwind Help, Porto",
        "Hello Ana,\nit ships today.",
    )


async def test_a_refused_reply_says_it_may_be_retried(relay: tuple[SmtpServer, Received]) -> None:
    smtp, received = relay
    received.fail = True

    with pytest.raises(DeliveryError) as caught:
        await send(smtp, reply())

    assert (caught.value.reason, caught.value.retry) == (
        "the SMTP server answered 451 4.3.0 try again later",
        True,
    )
