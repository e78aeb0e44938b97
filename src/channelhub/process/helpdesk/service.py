"""The tickets API: what agents, the console and channel integrations call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.errors import ConflictError, InvalidError, NotFoundError
from channelhub.platform.ids import new_id
from channelhub.process.channels.models import SalesChannel
from channelhub.process.helpdesk import drafts, schemas, sla
from channelhub.process.helpdesk.events import TICKET_ASSIGNED, TICKET_RATED, TICKET_RESOLVED
from channelhub.process.helpdesk.inbound import Inbound, Receiving, receive
from channelhub.process.helpdesk.linking import Identity, is_buyer
from channelhub.process.helpdesk.models import (
    Agent,
    Queue,
    Ticket,
    TicketActivity,
    TicketAttachment,
    TicketMerge,
    TicketMessage,
)
from channelhub.process.helpdesk.tickets import (
    Answering,
    activity,
    live,
    load,
    merge,
    message_schema,
    order_status_of,
    placeholders,
    send_reply,
    templates_for,
    ticket_event,
    to_schema,
    unmerge,
)
from channelhub.process.orders import repository as orders
from channelhub.process.orders import service as order_service

READ = "helpdesk:read"
WRITE = "helpdesk:write"


class AttachmentNotFound(NotFoundError):
    code = "attachment_not_found"


async def _check_sales_channel(session: AsyncSession, tenant_id: str, channel_id: str) -> None:
    found = await session.get(SalesChannel, channel_id)
    if found is None or found.tenant_id != tenant_id:
        raise InvalidError(f"no sales channel {channel_id!r}", field="sales_channel_id")


async def receive_message(
    session: AsyncSession,
    principal: Principal,
    data: schemas.MessageIn,
    how: Receiving,
    *,
    sender_trusted: bool = True,
) -> schemas.Accepted:
    """A chat or marketplace message from a channel integration. ``sender_trusted=False``
    when nobody vouches for the requester's name and e-mail (the hub's own chat widget,
    where a visitor types them): the requester is then never taken for an order's buyer,
    so the hub does not answer with an order's details on its own."""
    principal.require(WRITE)
    if data.sales_channel_id is not None:
        await _check_sales_channel(session, principal.tenant_id, data.sales_channel_id)
    # A marketplace's ids are its own: namespaced, so that two marketplaces' "1001" differ.
    source = (
        f"marketplace:{data.marketplace or 'marketplace'}"
        if data.channel is schemas.TicketChannel.marketplace
        else data.channel.value
    )
    buyer = f"{data.marketplace or 'marketplace'}:{data.requester.buyer_id}"
    thread = f"{source}:{data.thread_id}" if data.thread_id else ""
    inbound = Inbound(
        channel=data.channel,
        external_id=(data.external_id if source == "chat" else f"{source}:{data.external_id}"),
        text=data.text,
        new_text=data.text,
        subject=data.subject,
        name=data.requester.name,
        email=data.requester.email,
        phone=data.requester.phone,
        buyer=buyer if data.requester.buyer_id else "",
        sender_trusted=sender_trusted,
        vouched_order=data.order if data.channel is schemas.TicketChannel.marketplace else None,
        answers=(thread,) if thread else (),
        thread_key=thread,
        sales_channel_id=data.sales_channel_id,
        sent_at=data.sent_at,
    )
    return await receive(session, principal.tenant_id, inbound, how)


async def list_tickets(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    status: schemas.TicketStatus | None = None,
    queue_id: str | None = None,
    assignee_id: str | None = None,
    intent: str | None = None,
    order_id: str | None = None,
) -> Page[schemas.Ticket]:
    principal.require(READ)
    statement = select(Ticket).where(Ticket.tenant_id == principal.tenant_id)
    filters: dict[str, Any] = {
        "status": status.value if status else None,
        "queue_id": queue_id,
        "assignee_id": assignee_id,
        "intent": intent,
        "order_id": order_id,
    }
    for column, value in filters.items():
        if value is not None:
            statement = statement.where(getattr(Ticket, column) == value)
    found = await keyset_page(session, statement, Ticket.id, page)
    return Page([to_schema(row) for row in found.items], found.next_cursor)


async def view(
    session: AsyncSession,
    principal: Principal,
    ticket_id: str,
    *,
    rating_url: str | None = None,
    clock: Clock = utc_now,
) -> schemas.TicketView:
    """The ticket with its messages, timeline, merges and the order's live context."""
    principal.require(READ)
    ticket = await load(session, principal.tenant_id, ticket_id, lock=False)
    messages = (
        await session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket.id)
            .order_by(TicketMessage.created_at, TicketMessage.id)
        )
    ).all()
    attachment_ids: dict[str, list[str]] = {}
    for message_id, attachment_id in await session.execute(
        select(TicketAttachment.message_id, TicketAttachment.id)
        .where(TicketAttachment.message_id.in_([m.id for m in messages]))
        .order_by(TicketAttachment.id)
    ):
        attachment_ids.setdefault(message_id, []).append(attachment_id)
    activities = (
        await session.scalars(
            select(TicketActivity)
            .where(TicketActivity.ticket_id == ticket.id)
            .order_by(TicketActivity.at, TicketActivity.id)
        )
    ).all()
    merges = (
        await session.scalars(
            select(TicketMerge)
            .where((TicketMerge.target_id == ticket.id) | (TicketMerge.source_id == ticket.id))
            .order_by(TicketMerge.created_at)
        )
    ).all()
    now = clock()
    lines: list[dict[str, Any]] = []
    timeline: list[dict[str, Any]] = []
    if ticket.order_id is not None:
        order = await orders.load(session, ticket.tenant_id, ticket.order_id)
        lines = [
            {
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "currency": order.currency,
            }
            for line in order.lines
        ]
        entries = await order_service.order_timeline(
            session, principal.elevated(), order.id, PageRequest(limit=100)
        )
        timeline = [item.model_dump(mode="json") for item in entries.items]
    return schemas.TicketView(
        ticket=to_schema(ticket),
        messages=[message_schema(m, attachment_ids.get(m.id)) for m in messages],
        activities=[
            schemas.Activity(at=a.at, kind=a.kind, actor=a.actor, detail=a.detail)
            for a in activities
        ],
        merges=[_merge_schema(m) for m in merges],
        order=await order_status_of(session, ticket, now),
        order_lines=lines,
        order_timeline=timeline,
        csat_url=rating_url,
    )


async def attachment(
    session: AsyncSession, principal: Principal, ticket_id: str, attachment_id: str
) -> TicketAttachment:
    principal.require(READ)
    found = (
        await session.scalars(
            select(TicketAttachment)
            .join(TicketMessage, TicketMessage.id == TicketAttachment.message_id)
            .where(
                TicketAttachment.tenant_id == principal.tenant_id,
                TicketAttachment.id == attachment_id,
                TicketMessage.ticket_id == ticket_id,
            )
        )
    ).first()
    if found is None:
        raise AttachmentNotFound(f"no attachment {attachment_id!r} on ticket {ticket_id!r}")
    return found


async def reply(
    session: AsyncSession,
    principal: Principal,
    ticket_id: str,
    data: schemas.Reply,
    how: Answering,
    *,
    clock: Clock = utc_now,
) -> schemas.Message:
    principal.require(WRITE)
    ticket = await load(session, principal.tenant_id, ticket_id)
    message = await send_reply(
        session,
        ticket,
        data.text,
        author=principal.actor,
        kind="message",
        now=clock(),
        how=how,
        resolve=data.resolve,
    )
    return message_schema(message)


async def note(
    session: AsyncSession,
    principal: Principal,
    ticket_id: str,
    data: schemas.Note,
    *,
    clock: Clock = utc_now,
) -> schemas.Message:
    """An internal note: agents see it, the customer never does."""
    principal.require(WRITE)
    ticket = await load(session, principal.tenant_id, ticket_id)
    now = clock()
    message = TicketMessage(
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        origin_ticket_id=ticket.id,
        direction="out",
        kind="note",
        channel=ticket.channel,
        author=principal.actor,
        to_addresses=[],
        text=data.text,
        references=[],
        attachments=[],
        defects=[],
        send_status="none",
        created_at=now,
    )
    message.id = message.external_id = new_id("msg")
    session.add(message)
    await session.flush()
    return message_schema(message)


async def update_ticket(
    session: AsyncSession,
    principal: Principal,
    ticket_id: str,
    data: schemas.TicketUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.Ticket:
    principal.require(WRITE)
    ticket = await load(session, principal.tenant_id, ticket_id)
    if ticket.status == schemas.TicketStatus.merged.value:
        raise ConflictError(
            f"ticket {ticket.id} is merged into {ticket.merged_into_id}; unmerge it first",
            code="ticket_merged",
        )
    now = clock()
    changes = data.model_dump(exclude_unset=True, mode="json")
    if "assignee_id" in changes and changes["assignee_id"] is not None:
        agent = await session.get(Agent, changes["assignee_id"])
        if agent is None or agent.tenant_id != ticket.tenant_id:
            raise InvalidError("no such agent", field="assignee_id")
    if "queue_id" in changes and changes["queue_id"] is not None:
        queue = await session.get(Queue, changes["queue_id"])
        if queue is None or queue.tenant_id != ticket.tenant_id:
            raise InvalidError("no such queue", field="queue_id")
    if "order_id" in changes and changes["order_id"] is not None:
        order = await orders.load(session, ticket.tenant_id, changes["order_id"])
        ticket.order_verified = ticket.requester_trusted and is_buyer(
            order, Identity(email=ticket.requester_email, phone=ticket.requester_phone)
        )
    previous_queue = ticket.queue_id
    reopened = ticket.status == schemas.TicketStatus.resolved.value and changes.get("status") in (
        schemas.TicketStatus.open.value,
        schemas.TicketStatus.pending.value,
    )
    for name, value in changes.items():
        setattr(ticket, name, value)
    moved = "queue_id" in changes and changes["queue_id"] != previous_queue
    queue_row = await session.get(Queue, ticket.queue_id) if ticket.queue_id else None
    if reopened:
        sla.reopened(ticket, queue_row, now)
    elif moved:
        # The new queue's policy, counted from when the ticket was opened.
        sla.opened(ticket, queue_row, ticket.created_at)
    if changes.get("status") == schemas.TicketStatus.resolved.value:
        ticket.resolved_at = now
        sla.resolved(ticket)
    ticket.updated_at = now
    await activity(session, ticket, now, "updated", principal.actor, changes)
    if changes.get("assignee_id"):
        await ticket_event(session, TICKET_ASSIGNED, ticket, clock=clock)
    if changes.get("status") == schemas.TicketStatus.resolved.value:
        await ticket_event(session, TICKET_RESOLVED, ticket, clock=clock)
    await session.flush()
    return to_schema(ticket)


async def merge_tickets(
    session: AsyncSession,
    principal: Principal,
    target_id: str,
    data: schemas.MergeRequest,
    *,
    clock: Clock = utc_now,
) -> schemas.Merge:
    principal.require(WRITE)
    target = await load(session, principal.tenant_id, target_id)
    source = await load(session, principal.tenant_id, data.source_id)
    record = await merge(
        session, target, source, reason="manual", actor=principal.actor, now=clock(), clock=clock
    )
    return _merge_schema(record)


async def unmerge_tickets(
    session: AsyncSession, principal: Principal, merge_id: str, *, clock: Clock = utc_now
) -> schemas.Merge:
    principal.require(WRITE)
    await unmerge(
        session, principal.tenant_id, merge_id, actor=principal.actor, now=clock(), clock=clock
    )
    record = await session.get(TicketMerge, merge_id)
    assert record is not None
    return _merge_schema(record)


def _merge_schema(m: TicketMerge) -> schemas.Merge:
    return schemas.Merge(
        id=m.id,
        target_id=m.target_id,
        source_id=m.source_id,
        reason=m.reason,
        actor=m.actor,
        created_at=m.created_at,
        undone_at=m.undone_at,
        undone_by=m.undone_by,
    )


async def render_template(
    session: AsyncSession,
    principal: Principal,
    ticket_id: str,
    key: str,
    data: schemas.RenderRequest,
    *,
    clock: Clock = utc_now,
) -> schemas.RenderedReply:
    """A reply template filled in for the ticket (its order, tracking, customer)."""
    principal.require(READ)
    ticket = await load(session, principal.tenant_id, ticket_id, lock=False)
    templates = await templates_for(session, ticket.tenant_id, ticket.language)
    if key not in templates:
        raise InvalidError(f"no template {key!r}", field="key")
    status = await order_status_of(session, ticket, clock())
    values = await placeholders(session, ticket, status, values=data.values)
    return schemas.RenderedReply(text=drafts.render(templates[key], values))


async def rate(
    session: AsyncSession,
    tenant_id: str,
    ticket_id: str,
    data: schemas.Rating,
    *,
    clock: Clock = utc_now,
) -> schemas.Ticket:
    """The customer's rating, from their signed link (a later click changes it)."""
    ticket = await live(session, tenant_id, ticket_id)
    if ticket.csat_score == data.score and not data.comment:
        return to_schema(ticket)  # the same click again (a reload, a mail scanner)
    now = clock()
    ticket.csat_score, ticket.csat_at = data.score, now
    if data.comment:
        ticket.csat_comment = data.comment
    await activity(session, ticket, now, "rated", "customer", {"score": data.score})
    await ticket_event(session, TICKET_RATED, ticket, clock=clock)
    return to_schema(ticket)
