"""Receiving a customer message, from any channel, into one inbox.

A message joins the ticket of the conversation it continues (e-mail References and
In-Reply-To, a chat or marketplace thread id). Otherwise it opens a ticket of its own:
linked to the customer and the order, language detected, intent classified, routed,
SLA clocks started, a reply drafted. Then, if an open ticket of the same buyer about the
same order was active within the merge window, the new ticket is merged into it: one
ticket, one timeline, and a merge record that an agent can undo.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import Clock, as_utc, utc_now
from channelhub.platform.errors import ConflictError
from channelhub.platform.ids import new_id
from channelhub.process.helpdesk import linking, routing, sla
from channelhub.process.helpdesk.events import TICKET_CREATED, TICKET_MESSAGE_RECEIVED
from channelhub.process.helpdesk.intents import Intent, IntentClassifier
from channelhub.process.helpdesk.language import detect_language
from channelhub.process.helpdesk.models import Ticket, TicketAttachment, TicketMessage
from channelhub.process.helpdesk.schemas import Accepted, TicketChannel, TicketStatus
from channelhub.process.helpdesk.tickets import (
    Answering,
    activity,
    auto_answer,
    live,
    merge,
    queue_of,
    redraft,
    settings_of,
    ticket_event,
)
from channelhub.process.orders.models import Order
from channelhub.process.orders.schemas import ExternalRef

_MAX_ANSWERS = 20
"""Message ids looked up (and references kept) per message: a References header of
thousands of ids is cut to its latest ones."""
_MERGE_OPEN = (TicketStatus.open.value, TicketStatus.pending.value, TicketStatus.resolved.value)


@dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content_type: str
    size: int
    content: bytes | None
    """None: over the size cap, not kept."""


@dataclass(frozen=True)
class Inbound:
    """A customer message as a channel delivered it, already parsed."""

    channel: TicketChannel
    external_id: str
    """The channel's id for the message (Message-ID, chat or marketplace id)."""
    text: str
    new_text: str
    """What the customer just wrote, without quoted history (what is classified)."""
    subject: str = ""
    html: str = ""
    name: str = ""
    email: str = ""
    phone: str = ""
    buyer: str = ""
    sender_trusted: bool = True
    """False when the receiving server saw the sender fail SPF, DKIM or DMARC: the
    requester is then never taken for an order's buyer."""
    vouched_order: ExternalRef | None = None
    answers: tuple[str, ...] = ()
    """Ids of messages or threads this one continues (the most telling first: In-Reply-To,
    then the latest References)."""
    references: tuple[str, ...] = ()
    """The e-mail References chain as written (oldest first), kept for threading replies."""
    thread_key: str = ""
    """The id later messages of this conversation will name in ``answers``."""
    sales_channel_id: str | None = None
    to_addresses: tuple[str, ...] = ()
    attachments: tuple[InboundAttachment, ...] = ()
    defects: tuple[str, ...] = ()
    sent_at: datetime | None = None
    """When the channel says it was sent; the ticket's clocks use it only when the channel
    is an authenticated integration (see ``MessageIn.sent_at``'s bounds)."""


@dataclass(frozen=True)
class Receiving:
    """What receiving needs besides the session."""

    classifier: IntentClassifier
    answering: Answering
    clock: Clock = utc_now


async def _duplicate(session: AsyncSession, tenant_id: str, inbound: Inbound) -> Accepted | None:
    found = (
        await session.execute(
            select(TicketMessage.id, TicketMessage.ticket_id).where(
                TicketMessage.tenant_id == tenant_id,
                TicketMessage.channel == inbound.channel.value,
                TicketMessage.external_id == inbound.external_id,
            )
        )
    ).first()
    if found is None:
        return None
    return Accepted(ticket_id=found.ticket_id, message_id=found.id, duplicate=True)


async def _continued(session: AsyncSession, tenant_id: str, inbound: Inbound) -> Ticket | None:
    if not inbound.answers:
        return None
    ticket_id = await session.scalar(
        select(TicketMessage.ticket_id)
        .where(
            TicketMessage.tenant_id == tenant_id,
            TicketMessage.message_id.in_(inbound.answers[:_MAX_ANSWERS]),
        )
        .order_by(TicketMessage.created_at.desc())
        .limit(1)
    )
    return None if ticket_id is None else await live(session, tenant_id, ticket_id)


async def receive(
    session: AsyncSession, tenant_id: str, inbound: Inbound, how: Receiving
) -> Accepted:
    """Store a customer message in its ticket; a repeat of one already stored changes
    nothing."""
    repeat = await _duplicate(session, tenant_id, inbound)
    if repeat is not None:
        return repeat
    now = how.clock()
    at = as_utc(inbound.sent_at) if inbound.sent_at and inbound.sent_at < now else now
    ticket = await _continued(session, tenant_id, inbound)
    created = ticket is None
    if ticket is None:
        ticket = await _open(session, tenant_id, inbound, how, at)
    else:
        await _continue(session, ticket, inbound, at)
    message = _message(tenant_id, ticket, inbound, at)
    try:
        async with session.begin_nested():
            session.add(message)
            # Before its attachments, which no ORM relationship orders after it.
            await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            "this message is being received by another request at the same moment; send "
            "it again to get its ticket",
            code="message_in_progress",
        ) from exc
    for attachment in inbound.attachments:
        session.add(
            TicketAttachment(
                id=new_id("att"),
                tenant_id=tenant_id,
                message_id=message.id,
                filename=attachment.filename[:500],
                content_type=attachment.content_type[:200],
                size=attachment.size,
                content=attachment.content,
            )
        )
    await session.flush()
    if created:
        await ticket_event(session, TICKET_CREATED, ticket, clock=how.clock)
        ticket = await _merge_with_earlier(session, ticket, how, now)
        message.ticket_id = ticket.id
    await ticket_event(session, TICKET_MESSAGE_RECEIVED, ticket, message=message, clock=how.clock)
    await redraft(session, ticket, now)
    if ticket.intent == Intent.where_is_my_order.value and ticket.first_responded_at is None:
        await auto_answer(session, ticket, now, how.answering)
    return Accepted(ticket_id=ticket.id, message_id=message.id, duplicate=False)


def _message(tenant_id: str, ticket: Ticket, inbound: Inbound, at: datetime) -> TicketMessage:
    message_id = new_id("msg")
    return TicketMessage(
        id=message_id,
        tenant_id=tenant_id,
        ticket_id=ticket.id,
        origin_ticket_id=ticket.id,
        direction="in",
        kind="message",
        channel=inbound.channel.value,
        author="customer",
        from_address=inbound.email[:254],
        to_addresses=list(inbound.to_addresses),
        subject=inbound.subject[:500],
        text=inbound.text,
        html=inbound.html,
        message_id=(inbound.thread_key or inbound.external_id)[:500],
        in_reply_to=inbound.answers[0][:500] if inbound.answers else "",
        references=[r[:500] for r in inbound.references[-_MAX_ANSWERS:]],
        external_id=inbound.external_id[:500],
        attachments=[
            {
                "filename": a.filename[:500],
                "content_type": a.content_type[:200],
                "size": a.size,
                "too_large": a.content is None,
            }
            for a in inbound.attachments
        ],
        defects=list(inbound.defects),
        send_status="none",
        created_at=at,
    )


async def _continue(session: AsyncSession, ticket: Ticket, inbound: Inbound, at: datetime) -> None:
    queue = await queue_of(session, ticket)
    if ticket.status == TicketStatus.resolved.value:
        ticket.status = TicketStatus.open.value
        sla.reopened(ticket, queue, at)
        await activity(session, ticket, at, "reopened", "customer", {"channel": inbound.channel})
    else:
        if ticket.status == TicketStatus.pending.value:
            ticket.status = TicketStatus.open.value
        sla.customer_wrote(ticket, queue, at)
    ticket.last_customer_at = max(as_utc(ticket.last_customer_at), at)
    ticket.updated_at = max(as_utc(ticket.updated_at), at)


async def _open(
    session: AsyncSession, tenant_id: str, inbound: Inbound, how: Receiving, at: datetime
) -> Ticket:
    settings = await settings_of(session, tenant_id)
    who = linking.Identity(email=inbound.email, phone=inbound.phone, buyer=inbound.buyer)
    customer_id, tier = await linking.find_customer(session, tenant_id, who)
    link = await linking.find_order(
        session,
        tenant_id,
        who,
        f"{inbound.subject}\n{inbound.text}",
        vouched=inbound.vouched_order,
        pattern=settings.order_number_pattern,
    )
    order = link.order if link else None
    language = detect_language(f"{inbound.subject}\n{inbound.new_text}") or (
        order.language if order else ""
    )
    classified = await how.classifier.classify(
        f"{inbound.subject}\n{inbound.new_text}".strip(), language or None
    )
    sales_channel_id = inbound.sales_channel_id or (order.sales_channel_id if order else None)
    decision = await routing.decide(
        session,
        tenant_id,
        routing.Facts(
            sales_channel_id=sales_channel_id,
            channel=inbound.channel.value,
            language=language,
            intent=classified.intent.value,
            confidence=classified.confidence,
            order_total=order.total if order else None,
            customer_tier=tier,
        ),
    )
    assignee = decision.assignee_id
    if assignee is None and decision.round_robin:
        assignee = await routing.next_agent(session, tenant_id, at)
    ticket = Ticket(
        id=new_id("tkt"),
        tenant_id=tenant_id,
        subject=(inbound.subject or inbound.new_text.strip().split("\n")[0])[:200],
        status=TicketStatus.open.value,
        channel=inbound.channel.value,
        requester_name=inbound.name[:200],
        requester_email=inbound.email[:254],
        requester_phone=inbound.phone[:32],
        requester_buyer=inbound.buyer[:200],
        requester_trusted=inbound.sender_trusted,
        customer_id=customer_id,
        order_id=order.id if order else None,
        order_verified=bool(link and link.verified and inbound.sender_trusted),
        sales_channel_id=sales_channel_id,
        language=language,
        intent=classified.intent.value,
        intent_confidence=round(classified.confidence, 4),
        intent_source=classified.source,
        queue_id=decision.queue_id or settings.default_queue_id,
        priority=decision.priority or "normal",
        tags=decision.tags,
        assignee_id=assignee,
        sla_warn_at={},
        sla_warned=[],
        sla_breached=[],
        last_customer_at=at,
        created_at=at,
        updated_at=at,
    )
    session.add(ticket)
    sla.opened(ticket, await queue_of(session, ticket), at)
    await activity(
        session,
        ticket,
        at,
        "created",
        "hub",
        {
            "channel": inbound.channel.value,
            "language": language,
            "intent": classified.intent.value,
            "confidence": round(classified.confidence, 4),
            "rule_id": decision.rule_id,
            "queue_id": ticket.queue_id,
            "assignee_id": assignee,
            "order_id": ticket.order_id,
            "order_verified": ticket.order_verified,
        },
    )
    return ticket


def _same_buyer(a: Ticket, b: Ticket) -> bool:
    """Whether two tickets' requesters are one buyer. A requester nobody vouches for is
    never merged automatically: the merged ticket's replies could reach them."""
    if not (a.requester_trusted and b.requester_trusted):
        return False
    if a.order_verified and b.order_verified:
        return True
    if a.customer_id and a.customer_id == b.customer_id:
        return True
    return any(
        x and x == y
        for x, y in (
            (a.requester_email, b.requester_email),
            (a.requester_phone, b.requester_phone),
            (a.requester_buyer, b.requester_buyer),
        )
    )


async def _merge_with_earlier(
    session: AsyncSession, ticket: Ticket, how: Receiving, now: datetime
) -> Ticket:
    """Merge a new ticket into the earliest open one of the same buyer about the same
    order, active within the tenant's merge window; the ticket the message is in now."""
    settings = await settings_of(session, ticket.tenant_id)
    if not settings.auto_merge or ticket.order_id is None:
        return ticket
    since = now - timedelta(hours=settings.merge_window_hours)
    # One at a time per order: two messages about it arriving together see each other's
    # ticket (the second waits here for the first to commit) instead of opening two.
    await session.execute(select(Order.id).where(Order.id == ticket.order_id).with_for_update())
    candidates = (
        await session.scalars(
            select(Ticket)
            .where(
                Ticket.tenant_id == ticket.tenant_id,
                Ticket.order_id == ticket.order_id,
                Ticket.id != ticket.id,
                Ticket.status.in_(_MERGE_OPEN),
                Ticket.updated_at >= since,
            )
            .order_by(Ticket.created_at, Ticket.id)
            .with_for_update()
        )
    ).all()
    target = next((c for c in candidates if _same_buyer(c, ticket)), None)
    if target is None:
        return ticket
    reason = f"auto: same order from the same buyer within {settings.merge_window_hours} h"
    await merge(session, target, ticket, reason=reason, actor="hub", now=now, clock=how.clock)
    return target
