"""Marketplace messages (Amazon, eBay, Zalando...) into the helpdesk.

A marketplace connector (the merchant's integration, or a middleware such as ChannelEngine
or a marketplace's own notification service) POSTs each buyer message to the connection's
hook, signed per Standard Webhooks with the connection's ``whsec_`` secret. The body is the
helpdesk's message shape (see ``POST /v1/helpdesk/messages``) with ``channel`` set to
``marketplace``; the order reference it carries is the marketplace's own, which vouches that
the buyer placed that order. Replies go back as ``ticket.replied`` events (subscribe the
connector's webhook endpoint to them).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.processor import Park
from channelhub.platform.inbox.store import Delivery, body_digest
from channelhub.process.connections.service import ConnectionContext
from channelhub.process.helpdesk import service as helpdesk
from channelhub.process.helpdesk.inbound import Receiving
from channelhub.process.helpdesk.schemas import MessageIn
from channelhub.systems.common import Api, header, json_body
from channelhub.systems.erp import Receiver as StandardWebhooksReceiver

TOPIC = "message"


class Receiver(StandardWebhooksReceiver):
    name = "marketplace"

    def identify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        return Delivery(header(headers, "webhook-id") or body_digest(body), TOPIC)


class Marketplace:
    receiver = Receiver()

    def __init__(self, receiving: Receiving) -> None:
        self.receiving = receiving

    async def handle(
        self, session: AsyncSession, ctx: ConnectionContext, record: InboxRecord, api: Api
    ) -> str:
        payload = json_body(record)
        if isinstance(payload, dict):
            payload.setdefault("channel", "marketplace")
            if ctx.sales_channel_id:
                payload.setdefault("sales_channel_id", ctx.sales_channel_id)
        try:
            data = MessageIn.model_validate(payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            raise Park(f"{where}: {first['msg']}") from exc
        accepted = await helpdesk.receive_message(session, ctx.principal, data, self.receiving)
        if accepted.duplicate:
            return f"already in ticket {accepted.ticket_id}"
        return f"message {accepted.message_id} in ticket {accepted.ticket_id}"
