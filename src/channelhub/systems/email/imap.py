"""Fetching the helpdesk's mail from an IMAP mailbox, for installations that do not receive
it over SMTP themselves (a Gmail, Microsoft 365 or hosting provider's mailbox).

The poller asks for the UNSEEN messages and handles them one at a time: it fetches the
full message without marking it (``BODY.PEEK[]``), hands it to ``deliver``, and only when
``deliver`` returned (the message is stored) sets ``\\Seen``. A crash in between means the
message is fetched again next time, so ``deliver`` must be idempotent (on Message-ID). A
message ``deliver`` fails on is left unseen and retried at the next poll, without holding
back the messages after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import aioimaplib
import structlog

log = structlog.get_logger(__name__)

SCHEMES = {"imap": (143, False), "imaps": (993, True)}
"""URL scheme -> (default port, TLS)."""


class ImapError(Exception):
    """The server refused a command (a wrong password, a mailbox that does not exist)."""


@dataclass(frozen=True)
class ImapMailbox:
    host: str
    port: int
    username: str
    password: str
    use_tls: bool
    mailbox: str

    @classmethod
    def from_url(cls, url: str) -> ImapMailbox:
        """``imaps://user:password@host:port/mailbox`` (TLS) or ``imap://…`` (no TLS: for a
        server on the same host or network only); the mailbox defaults to INBOX."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError("use imaps://user:password@host:port/mailbox or imap://…")
        if not parts.username or not parts.password:
            raise ValueError("the IMAP URL needs a user name and a password")
        port, use_tls = SCHEMES[parts.scheme]
        return cls(
            host=parts.hostname,
            port=parts.port or port,
            username=unquote(parts.username),
            password=unquote(parts.password),
            use_tls=use_tls,
            mailbox=unquote(parts.path.lstrip("/")) or "INBOX",
        )


class ImapPoller:
    """``ssl_context`` replaces the system's trust store for ``imaps://`` (a private CA);
    ``timeout_s`` bounds each IMAP command, fetching a message included."""

    def __init__(
        self,
        url: str,
        deliver: Callable[[bytes], Awaitable[None]],
        *,
        interval_s: float,
        timeout_s: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.mailbox = ImapMailbox.from_url(url)
        self.deliver = deliver
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context

    async def run(self) -> None:
        """Poll every ``interval_s`` until cancelled; a failed poll is logged and the next
        one tries again."""
        while True:
            try:
                await self.poll_once()
            except Exception:
                log.exception("email.imap.poll_failed", host=self.mailbox.host)
            await asyncio.sleep(self.interval_s)

    async def poll_once(self) -> int:
        """Deliver the mailbox's unseen messages; returns how many were delivered."""
        box = self.mailbox
        if box.use_tls:
            client: aioimaplib.IMAP4 = aioimaplib.IMAP4_SSL(
                box.host, box.port, timeout=self.timeout_s, ssl_context=self.ssl_context
            )
        else:
            client = aioimaplib.IMAP4(box.host, box.port, timeout=self.timeout_s)
        try:
            await client.wait_hello_from_server()
            _check("LOGIN", await client.login(_quoted(box.username), box.password))
            _check("SELECT", await client.select(_quoted(box.mailbox)))
            found = _check("SEARCH", await client.uid_search("UNSEEN", charset=None))
            uids = [uid for line in found[:-1] for uid in line.decode().split() if uid.isdigit()]
            delivered = 0
            for uid in uids:
                if await self._handle(client, uid):
                    delivered += 1
            with contextlib.suppress(Exception):  # all is delivered: a failed goodbye is moot
                await client.logout()
            return delivered
        finally:
            _close(client)

    async def _handle(self, client: aioimaplib.IMAP4, uid: str) -> bool:
        raw = _literal(_check("FETCH", await client.uid("fetch", uid, "(BODY.PEEK[])")))
        if raw is None:
            return False  # expunged by another client meanwhile
        try:
            await self.deliver(raw)
        except Exception:
            log.exception("email.imap.deliver_failed", host=self.mailbox.host, uid=uid)
            return False
        async with asyncio.timeout(self.timeout_s):  # aioimaplib sets none on UID STORE
            _check("STORE", await client.uid("store", uid, "+FLAGS.SILENT", r"(\Seen)"))
        return True


def _check(command: str, response: aioimaplib.Response) -> list[bytes]:
    """The response's lines, or ImapError when the server did not answer OK."""
    lines: list[bytes] = list(response.lines)
    if response.result != "OK":
        reason = bytes(lines[-1]).decode(errors="replace") if lines else ""
        raise ImapError(f"the IMAP server refused {command}: {response.result} {reason}")
    return lines


_BODY_LITERAL = re.compile(rb"BODY\[\] \{\d+\}$")


def _literal(lines: list[bytes]) -> bytes | None:
    """The message in a FETCH response: the literal that follows ``BODY[] {size}``."""
    for line, following in itertools.pairwise(lines):
        if isinstance(following, bytearray) and _BODY_LITERAL.search(bytes(line)):
            return bytes(following)
    return None


def _quoted(value: str) -> str:
    """An IMAP quoted string (aioimaplib sends the user name and mailbox as they are)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _close(client: aioimaplib.IMAP4) -> None:
    """Close the connection, whatever state LOGOUT (or a failure) left it in."""
    transport = client.protocol.transport  # None when it never connected
    if transport is not None and not transport.is_closing():
        transport.close()
