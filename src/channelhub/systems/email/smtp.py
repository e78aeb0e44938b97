"""The hub's own inbound SMTP server (a receiving MX for the helpdesk's addresses).

It runs on the hub's event loop (``loop.create_server`` with aiosmtpd's protocol, not
aiosmtpd's threaded ``Controller``), so it starts and stops with the hub. There is no AUTH:
it only receives mail for the addresses ``accepts`` names, as any MX does.

A message is acknowledged (``250``) only after ``deliver`` returned, because ``deliver``
stores it durably: until then the sending server still holds it, and a ``451`` (``deliver``
failed) or a dropped connection makes it try again later, so a crash or a database outage
loses nothing. The price is a possible repeat (stored, then the connection lost before the
``250`` arrived), which the consumer absorbs by de-duplicating on Message-ID.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiosmtpd.smtp
import structlog

log = structlog.get_logger(__name__)

UNKNOWN_MAILBOX = "550 5.1.1 mailbox unknown"
TRY_AGAIN = "451 4.3.0 try again later"


@dataclass(frozen=True)
class Envelope:
    mail_from: str
    """The SMTP sender ("" for a bounce)."""
    rcpt_tos: list[str]
    """The recipients ``accepts`` took, as the client wrote them."""
    raw: bytes
    """The message exactly as received (dot-unstuffed, CRLF line ends)."""
    peer: str
    """The sending server's IP address."""


@dataclass(frozen=True)
class _Handler:
    """aiosmtpd's hooks (found by their ``handle_*`` names)."""

    accepts: Callable[[str], Awaitable[bool]]
    deliver: Callable[[Envelope], Awaitable[None]]

    async def handle_RCPT(
        self,
        server: aiosmtpd.smtp.SMTP,
        session: aiosmtpd.smtp.Session,
        envelope: aiosmtpd.smtp.Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        try:
            known = await self.accepts(address)
        except Exception:
            log.exception("email.smtp.accepts_failed", rcpt=address)
            return TRY_AGAIN
        if not known:
            return UNKNOWN_MAILBOX
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(
        self,
        server: aiosmtpd.smtp.SMTP,
        session: aiosmtpd.smtp.Session,
        envelope: aiosmtpd.smtp.Envelope,
    ) -> str:
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        mail = Envelope(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            raw=envelope.original_content or b"",
            peer=peer,
        )
        try:
            await self.deliver(mail)
        except Exception:
            log.exception("email.smtp.deliver_failed", peer=peer, rcpt_tos=mail.rcpt_tos)
            return TRY_AGAIN
        return "250 2.0.0 OK"


class InboundSmtp:
    """``max_message_bytes`` bounds a message (larger ones are refused with ``552``);
    ``tls_context``, when given, offers STARTTLS with its certificate."""

    def __init__(
        self,
        accepts: Callable[[str], Awaitable[bool]],
        deliver: Callable[[Envelope], Awaitable[None]],
        *,
        hostname: str,
        max_message_bytes: int,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self._handler = _Handler(accepts, deliver)
        self.hostname = hostname
        self.max_message_bytes = max_message_bytes
        self.tls_context = tls_context
        self._server: asyncio.Server | None = None
        self._connections: weakref.WeakSet[aiosmtpd.smtp.SMTP] = weakref.WeakSet()

    @property
    def port(self) -> int:
        """The port it listens on (the one the system chose when started on port 0)."""
        if self._server is None:
            raise RuntimeError("the SMTP server is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        # SO_REUSEPORT: every process of `serve --workers` (and a `worker --relay` beside
        # them) listens on the one port, and the kernel spreads the connections.
        self._server = await loop.create_server(
            lambda: self._connection(loop), host, port, reuse_port=hasattr(socket, "SO_REUSEPORT")
        )
        log.info("email.smtp.started", host=host, port=self.port)

    async def stop(self) -> None:
        """Stop listening and close every open session: a message whose DATA was not yet
        acknowledged stays with its sender, which sends it again later."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.close()
        await server.wait_closed()

    def _connection(self, loop: asyncio.AbstractEventLoop) -> aiosmtpd.smtp.SMTP:
        connection = aiosmtpd.smtp.SMTP(
            self._handler,
            data_size_limit=self.max_message_bytes,
            enable_SMTPUTF8=True,
            hostname=self.hostname,
            tls_context=self.tls_context,
            loop=loop,
        )
        self._connections.add(connection)
        return connection
