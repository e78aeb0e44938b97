"""E-mail into the helpdesk: stored raw in the inbox, then parsed into a ticket message.

Mail reaches an e-mail connection three ways, all through the durable inbox (so a message
that cannot be handled is parked with its reason and its raw bytes, never lost): the
built-in SMTP server, IMAP polling, or the connection's hook (``/hooks/{connection_id}``:
a raw RFC 5322 message POSTed as ``message/rfc822`` and signed per Standard Webhooks, the
shape inbound-parse services can be configured to send).

The tenant is the mailbox's: a message is only ever linked to customers and orders of the
tenant owning the address it was sent to, whatever its From says. When the receiving
server recorded a failed SPF, DKIM or DMARC check (``Authentication-Results``), the sender
is not trusted as the order's buyer: agents still see the ticket, the hub answers nothing
on its own.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.store import Delivery, body_digest
from channelhub.process.connections.service import ConnectionContext
from channelhub.process.helpdesk.inbound import Inbound, InboundAttachment, Receiving, receive
from channelhub.process.helpdesk.models import Mailbox
from channelhub.process.helpdesk.schemas import TicketChannel
from channelhub.systems.common import Api
from channelhub.systems.email.mime import ParsedMail, new_text, parse
from channelhub.systems.erp import Receiver as StandardWebhooksReceiver

TOPIC = "message"
RECIPIENT_HEADER = "x-channelhub-recipient"
"""Set on inbox records by the SMTP server and the IMAP poller: the mailbox address the
message was delivered to (the envelope's, which a To header may not show)."""
_FAILED_CHECK = re.compile(r"\b(spf|dkim|dmarc)\s*=\s*(fail|softfail|permerror)\b", re.I)
_HEADERS = email.parser.BytesHeaderParser(policy=email.policy.compat32)


def delivery_of(raw: bytes) -> Delivery:
    """The message's Message-ID as its delivery id (a message fetched or relayed twice is
    stored once), or its digest when it has none."""
    try:
        message_id = str(_HEADERS.parsebytes(raw[:65_536]).get("message-id") or "").strip()
    except Exception:
        message_id = ""
    return Delivery(message_id[:200] or body_digest(raw), TOPIC)


class Receiver(StandardWebhooksReceiver):
    name = "email"

    def identify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        return delivery_of(body)


def _sender_trusted(raw: bytes) -> bool:
    try:
        headers = _HEADERS.parsebytes(raw[:65_536])
        results = " ".join(str(v) for v in headers.get_all("authentication-results") or [])
    except Exception:
        return True
    return not _FAILED_CHECK.search(results)


async def _mailbox(
    session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, mail: ParsedMail
) -> Mailbox | None:
    addresses = [a for a in (record.headers.get(RECIPIENT_HEADER, ""),) if a]
    addresses += [*mail.to, *mail.cc]
    if not addresses:
        return None
    return (
        await session.scalars(
            select(Mailbox).where(
                Mailbox.connection_id == ctx.id,
                Mailbox.address.in_([a.lower() for a in addresses]),
            )
        )
    ).first()


class Email:
    receiver = Receiver()

    def __init__(self, receiving: Receiving, *, max_attachment_bytes: int) -> None:
        self.receiving = receiving
        self.max_attachment_bytes = max_attachment_bytes

    async def handle(
        self, session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, api: Api
    ) -> str:
        mail = parse(record.body, max_attachment_bytes=self.max_attachment_bytes)
        mailbox = await _mailbox(session, ctx, record, mail)
        trusted = _sender_trusted(record.body)
        inbound = Inbound(
            channel=TicketChannel.email,
            external_id=mail.message_id or record.delivery_id,
            text=mail.text,
            new_text=new_text(mail.text) or mail.text,
            subject=mail.subject,
            html=mail.html,
            name=mail.from_name,
            email=mail.from_address,
            sender_trusted=trusted,
            answers=tuple(a for a in (mail.in_reply_to, *reversed(mail.references)) if a),
            references=tuple(mail.references),
            thread_key=mail.message_id or record.delivery_id,
            sales_channel_id=(mailbox.sales_channel_id if mailbox else None)
            or ctx.sales_channel_id,
            to_addresses=tuple(
                a for a in (mailbox.address if mailbox else "", *mail.to, *mail.cc) if a
            ),
            attachments=tuple(
                InboundAttachment(a.filename, a.content_type, a.size, a.content)
                for a in mail.attachments
            ),
            defects=tuple(mail.defects),
        )
        accepted = await receive(session, ctx.tenant_id, inbound, self.receiving)
        if accepted.duplicate:
            return f"already in ticket {accepted.ticket_id}"
        return f"message {accepted.message_id} in ticket {accepted.ticket_id}"
