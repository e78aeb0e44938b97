"""Where received mail goes: into the inbox of the e-mail connection owning its mailbox.

The built-in SMTP server asks ``accepts`` at RCPT TO (an address that is no tenant's
mailbox is refused, so the sender gets a bounce) and hands the message to ``deliver`` at
DATA, which stores it raw, once per connection, before the server answers 250: a message
is acknowledged only once it is durable. IMAP polling stores what it fetches the same way
before marking it seen.
"""

from __future__ import annotations

import asyncio

import structlog
from sqlalchemy import select

from channelhub.platform.clock import utc_now
from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.database import Database
from channelhub.platform.inbox.store import Arrival, InboxWriter
from channelhub.process.connections import service as connections
from channelhub.process.connections.models import Connection
from channelhub.process.helpdesk.admin import mailbox_at
from channelhub.systems.email.connector import RECIPIENT_HEADER, delivery_of
from channelhub.systems.email.imap import ImapPoller
from channelhub.systems.email.smtp import Envelope

log = structlog.get_logger(__name__)

SYSTEM = "email"


class MailIngress:
    def __init__(self, db: Database, writer: InboxWriter, box: SecretBox) -> None:
        self.db = db
        self.writer = writer
        self.box = box

    async def accepts(self, address: str) -> bool:
        async with self.db.reader() as session:
            return await mailbox_at(session, address) is not None

    async def deliver(self, envelope: Envelope) -> None:
        """Store the message for every connection one of its recipients belongs to."""
        delivery = delivery_of(envelope.raw)
        stored: set[str] = set()
        for recipient in envelope.rcpt_tos:
            async with self.db.reader() as session:
                mailbox = await mailbox_at(session, recipient)
            if mailbox is None or mailbox.connection_id in stored:
                continue
            stored.add(mailbox.connection_id)
            arrival = Arrival(
                tenant_id=mailbox.tenant_id,
                connection_id=mailbox.connection_id,
                system=SYSTEM,
                delivery=delivery,
                headers={
                    RECIPIENT_HEADER: mailbox.address,
                    "x-channelhub-mail-from": envelope.mail_from,
                    "x-channelhub-peer": envelope.peer,
                },
                body=envelope.raw,
            )
            await self.writer.store(arrival, utc_now())

    async def poll_imap(self, db: Database, *, timeout_s: float = 120.0) -> int:
        """Poll every enabled e-mail connection that has an ``imap_url``; messages stored."""
        async with db.transaction() as session:
            ids = (
                await session.scalars(
                    select(Connection.id).where(
                        Connection.system == SYSTEM, Connection.enabled.is_(True)
                    )
                )
            ).all()
            contexts = [await connections.context(session, i, self.box) for i in ids]
        fetched = 0
        for ctx in contexts:
            url = ctx.credentials.get("imap_url")
            if not url:
                continue

            async def store(raw: bytes, tenant_id: str = ctx.tenant_id, cid: str = ctx.id) -> None:
                arrival = Arrival(
                    tenant_id=tenant_id,
                    connection_id=cid,
                    system=SYSTEM,
                    delivery=delivery_of(raw),
                    headers={},
                    body=raw,
                )
                await self.writer.store(arrival, utc_now())

            try:
                async with asyncio.timeout(timeout_s):
                    fetched += await ImapPoller(url, store, interval_s=0).poll_once()
            except Exception as exc:
                log.warning("email.imap.poll_failed", connection_id=ctx.id, error=str(exc)[:300])
        return fetched
