"""The IMAP poller against a stand-in IMAP server.

aioimaplib's own test server needs pytz and cannot search for UNSEEN messages, so the
stand-in below is written from RFC 3501: just LOGIN, SELECT, UID SEARCH UNSEEN, UID FETCH,
UID STORE and LOGOUT, with the behaviour the poller relies on (a FETCH of ``BODY[]`` sets
``\\Seen``, one of ``BODY.PEEK[]`` does not).
"""

from __future__ import annotations

import asyncio
import re
import shlex
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from channelhub.systems.email.imap import ImapError, ImapMailbox, ImapPoller
from tests.fixtures.tls import self_signed

USER = "help@shop.example"
PASSWORD = 'p@ss "word"'
URL_CREDENTIALS = "help%40shop.example:p%40ss%20%22word%22"


def message(number: int) -> bytes:
    return (
        f"From: ana@example.com\r\nMessage-ID: <m{number}@example.com>\r\n"
        f"Subject: Order {number}\r\n\r\nWhere is order {number}?\r\n"
    ).encode()


@dataclass
class Stored:
    uid: int
    raw: bytes
    seen: bool = False


@dataclass
class StandIn:
    messages: list[Stored] = field(default_factory=list)
    mailbox: str = "INBOX"
    refuse_logins: int = 0
    vanished: set[int] = field(default_factory=set)
    """UIDs found by SEARCH but expunged by another client before they are fetched."""
    commands: list[str] = field(default_factory=list)
    port: int = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"* OK IMAP4rev1 stand-in ready\r\n")
        while line := await reader.readline():
            tag, _, command = line.decode().rstrip("\r\n").partition(" ")
            self.commands.append(command.split(" ")[0] if command.startswith("LOGIN") else command)
            writer.write(self.answer(tag, command))
            await writer.drain()
            if command == "LOGOUT":
                break
        writer.close()

    def answer(self, tag: str, command: str) -> bytes:
        verb, _, rest = command.partition(" ")
        ok = f"{tag} OK {verb} completed\r\n".encode()
        if verb == "CAPABILITY":
            return b"* CAPABILITY IMAP4rev1\r\n" + ok
        if verb == "LOGIN":
            if shlex.split(rest) != [USER, PASSWORD] or self.refuse_logins:
                self.refuse_logins = max(0, self.refuse_logins - 1)
                return f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials\r\n".encode()
            return ok
        if verb == "SELECT":
            if shlex.split(rest) != [self.mailbox]:
                return f"{tag} NO Mailbox does not exist\r\n".encode()
            return (
                f"* {len(self.messages)} EXISTS\r\n* OK [UIDVALIDITY 7] UIDs valid\r\n".encode()
                + ok
            )
        if verb == "LOGOUT":
            return b"* BYE logging out\r\n" + ok
        if command == "UID SEARCH UNSEEN":
            unseen = "".join(f" {m.uid}" for m in self.messages if not m.seen)
            return f"* SEARCH{unseen}\r\n".encode() + ok
        fetch = re.fullmatch(r"UID FETCH (\d+) \((BODY(?:\.PEEK)?)\[\]\)", command)
        if fetch:
            return self.fetched(int(fetch.group(1)), peek=fetch.group(2) == "BODY.PEEK") + ok
        if re.fullmatch(r"UID STORE \d+ \+FLAGS\.SILENT \(\\Seen\)", command):
            for stored in self.messages:
                stored.seen |= stored.uid == int(command.split()[2])
            return ok
        return f"{tag} BAD unknown command\r\n".encode()

    def fetched(self, uid: int, *, peek: bool) -> bytes:
        for number, stored in enumerate(self.messages, start=1):
            if stored.uid == uid and uid not in self.vanished:
                stored.seen |= not peek
                head = f"* {number} FETCH (UID {uid} BODY[] {{{len(stored.raw)}}}\r\n"
                return head.encode() + stored.raw + b")\r\n"
        return b""  # expunged meanwhile: no FETCH data, just OK

    def unseen(self) -> list[int]:
        return [m.uid for m in self.messages if not m.seen]


@pytest.fixture
async def stand_in() -> AsyncIterator[StandIn]:
    imap = StandIn(messages=[Stored(3, message(3)), Stored(5, message(5), seen=True)])
    imap.messages.append(Stored(8, message(8)))
    server = await asyncio.start_server(imap.serve, "127.0.0.1", 0)
    imap.port = server.sockets[0].getsockname()[1]
    yield imap
    server.close()
    await server.wait_closed()


@dataclass
class Inbox:
    """The hub's side: what was delivered; ``fail_on`` makes delivering those raise."""

    delivered: list[bytes] = field(default_factory=list)
    fail_on: set[bytes] = field(default_factory=set)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def deliver(self, raw: bytes) -> None:
        if raw in self.fail_on:
            raise RuntimeError("the database is down")
        self.delivered.append(raw)
        self.arrived.set()


def poller(stand_in: StandIn, inbox: Inbox, *, path: str = "") -> ImapPoller:
    url = f"imap://{URL_CREDENTIALS}@127.0.0.1:{stand_in.port}{path}"
    return ImapPoller(url, inbox.deliver, interval_s=0.01, timeout_s=5)


async def test_unseen_messages_are_delivered_then_marked_seen(stand_in: StandIn) -> None:
    inbox = Inbox()

    delivered = await poller(stand_in, inbox).poll_once()

    assert delivered == 2
    assert inbox.delivered == [message(3), message(8)]
    assert stand_in.unseen() == []
    assert stand_in.commands == [
        "CAPABILITY",
        "LOGIN",
        'SELECT "INBOX"',
        "UID SEARCH UNSEEN",
        "UID FETCH 3 (BODY.PEEK[])",
        r"UID STORE 3 +FLAGS.SILENT (\Seen)",
        "UID FETCH 8 (BODY.PEEK[])",
        r"UID STORE 8 +FLAGS.SILENT (\Seen)",
        "LOGOUT",
    ]
    assert await poller(stand_in, inbox).poll_once() == 0
    assert inbox.delivered == [message(3), message(8)]


async def test_a_message_that_fails_to_deliver_stays_unseen_for_the_next_poll(
    stand_in: StandIn,
) -> None:
    inbox = Inbox(fail_on={message(3)})

    with capture_logs() as logs:
        delivered = await poller(stand_in, inbox).poll_once()

    assert delivered == 1
    assert inbox.delivered == [message(8)]
    assert stand_in.unseen() == [3]
    assert [(e["event"], e["uid"]) for e in logs] == [("email.imap.deliver_failed", "3")]

    inbox.fail_on.clear()
    assert await poller(stand_in, inbox).poll_once() == 1
    assert inbox.delivered == [message(8), message(3)]
    assert stand_in.unseen() == []


async def test_a_message_expunged_meanwhile_is_skipped(stand_in: StandIn) -> None:
    inbox = Inbox()
    stand_in.messages.append(Stored(9, message(9)))
    stand_in.vanished.add(9)

    assert await poller(stand_in, inbox).poll_once() == 2
    assert inbox.delivered == [message(3), message(8)]
    assert stand_in.unseen() == [9]


async def test_a_named_mailbox_is_selected(stand_in: StandIn) -> None:
    stand_in.mailbox = "Support/Orders 2025"
    inbox = Inbox()

    assert await poller(stand_in, inbox, path="/Support%2FOrders%202025").poll_once() == 2
    assert 'SELECT "Support/Orders 2025"' in stand_in.commands


async def test_a_refused_login_is_an_error_and_nothing_is_fetched(stand_in: StandIn) -> None:
    stand_in.refuse_logins = 1
    inbox = Inbox()

    with pytest.raises(ImapError, match="refused LOGIN: NO"):
        await poller(stand_in, inbox).poll_once()

    assert inbox.delivered == []
    assert stand_in.unseen() == [3, 8]


async def test_run_logs_a_failed_poll_and_tries_again(stand_in: StandIn) -> None:
    stand_in.refuse_logins = 2
    inbox = Inbox()

    with capture_logs() as logs:
        running = asyncio.create_task(poller(stand_in, inbox).run())
        try:
            async with asyncio.timeout(5):
                while len(inbox.delivered) < 2:
                    await inbox.arrived.wait()
                    inbox.arrived.clear()
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)

    assert [e["event"] for e in logs] == ["email.imap.poll_failed"] * 2
    assert inbox.delivered == [message(3), message(8)]
    assert running.cancelled()


async def test_an_unreachable_server_is_an_os_error() -> None:
    free = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = free.sockets[0].getsockname()[1]
    free.close()
    await free.wait_closed()
    imap = ImapPoller(f"imap://u:p@127.0.0.1:{port}", Inbox().deliver, interval_s=1, timeout_s=5)

    with pytest.raises(OSError, match="Connect call failed"):
        await imap.poll_once()


async def test_imaps_speaks_tls(stand_in: StandIn, tmp_path: Path) -> None:
    server = await asyncio.start_server(
        stand_in.serve, "127.0.0.1", 0, ssl=self_signed(tmp_path, "imap.shop.example")
    )
    port = server.sockets[0].getsockname()[1]
    trusting = ssl.create_default_context(cafile=tmp_path / "cert.pem")
    trusting.check_hostname = False  # the certificate names imap.shop.example, not 127.0.0.1
    inbox = Inbox()
    imap = ImapPoller(
        f"imaps://{URL_CREDENTIALS}@127.0.0.1:{port}",
        inbox.deliver,
        interval_s=1,
        timeout_s=5,
        ssl_context=trusting,
    )
    try:
        assert await imap.poll_once() == 2
    finally:
        server.close()
        await server.wait_closed()

    assert inbox.delivered == [message(3), message(8)]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param(
            "imaps://help%40shop.example:p%40ss@imap.example.com",
            ImapMailbox("imap.example.com", 993, "help@shop.example", "p@ss", True, "INBOX"),
            id="imaps-defaults",
        ),
        pytest.param(
            "imap://u:p@127.0.0.1:1143/Support",
            ImapMailbox("127.0.0.1", 1143, "u", "p", False, "Support"),
            id="imap-port-and-mailbox",
        ),
    ],
)
def test_imap_urls(url: str, expected: ImapMailbox) -> None:
    assert ImapMailbox.from_url(url) == expected


@pytest.mark.parametrize(
    ("url", "error"),
    [
        pytest.param("pop3://u:p@mail.example", "use imaps://", id="scheme"),
        pytest.param("imaps://mail.example", "needs a user name and a password", id="no-login"),
        pytest.param("imaps://u@mail.example", "needs a user name and a password", id="no-pw"),
    ],
)
def test_bad_imap_urls_are_refused(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        ImapMailbox.from_url(url)
