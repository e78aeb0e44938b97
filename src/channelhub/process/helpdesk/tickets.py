"""Tickets: reading them, answering them, merging and unmerging them."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import Clock, as_utc, utc_now
from channelhub.platform.errors import ConflictError, InvalidError, NotFoundError
from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.outbox import record_event
from channelhub.platform.ids import new_id
from channelhub.process.helpdesk import drafts, sla
from channelhub.process.helpdesk.events import (
    TICKET_MERGED,
    TICKET_REPLIED,
    TICKET_RESOLVED,
    TICKET_UNMERGED,
    MergeEvent,
    MessageEvent,
)
from channelhub.process.helpdesk.intents import Intent
from channelhub.process.helpdesk.models import (
    HelpdeskSettings,
    Mailbox,
    Queue,
    Template,
    Ticket,
    TicketActivity,
    TicketMerge,
    TicketMessage,
)
from channelhub.process.helpdesk.schemas import (
    Attachment,
    Message,
    Priority,
    Requester,
    SlaClock,
    TicketChannel,
    TicketStatus,
)
from channelhub.process.helpdesk.schemas import Ticket as TicketSchema
from channelhub.process.notifications.templates import TemplateInvalid
from channelhub.process.orders import repository as orders
from channelhub.process.orders import status as order_status
from channelhub.process.orders.repository import OrderNotFound
from channelhub.process.orders.schemas import CustomerStatus

log = structlog.get_logger(__name__)

EVENT_TEXT_CHARS = 4_000
AUTO_ANSWER_MIN_CONFIDENCE = 0.6
"""The least confidence in "where is my order?" a queue's auto-answer acts on."""


class TicketNotFound(NotFoundError):
    code = "ticket_not_found"


class TicketMerged(ConflictError):
    code = "ticket_merged"


class MergeNotFound(NotFoundError):
    code = "merge_not_found"


@dataclass(frozen=True)
class Answering:
    """What answering a customer needs from outside the process layer."""

    rating_url: Callable[[AsyncSession, Ticket], Awaitable[str]] | None = None
    """The customer's one-click rating link for a ticket (None: no rating links)."""


# --- reading --------------------------------------------------------------------------


def to_schema(row: Ticket) -> TicketSchema:
    return TicketSchema(
        id=row.id,
        subject=row.subject,
        status=TicketStatus(row.status),
        channel=TicketChannel(row.channel),
        requester=Requester(
            name=row.requester_name,
            email=row.requester_email,
            phone=row.requester_phone,
            buyer_id=row.requester_buyer,
        ),
        customer_id=row.customer_id,
        order_id=row.order_id,
        order_verified=row.order_verified,
        sales_channel_id=row.sales_channel_id,
        language=row.language,
        intent=Intent(row.intent),
        intent_confidence=row.intent_confidence,
        intent_source=row.intent_source,
        queue_id=row.queue_id,
        priority=Priority(row.priority),
        tags=list(row.tags),
        assignee_id=row.assignee_id,
        merged_into_id=row.merged_into_id,
        first_response_due=row.first_response_due,
        next_response_due=row.next_response_due,
        resolution_due=row.resolution_due,
        first_responded_at=row.first_responded_at,
        resolved_at=row.resolved_at,
        sla_warned=[SlaClock(c) for c in row.sla_warned],
        sla_breached=[SlaClock(c) for c in row.sla_breached],
        escalated_at=row.escalated_at,
        deflected=row.deflected,
        draft=row.draft,
        draft_source=row.draft_source,
        csat_score=row.csat_score,
        csat_comment=row.csat_comment,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def message_schema(row: TicketMessage, attachment_ids: list[str] | None = None) -> Message:
    ids = attachment_ids or []
    return Message(
        id=row.id,
        ticket_id=row.ticket_id,
        origin_ticket_id=row.origin_ticket_id,
        direction=row.direction,
        kind=row.kind,
        channel=row.channel,
        author=row.author,
        from_address=row.from_address,
        to_addresses=list(row.to_addresses),
        subject=row.subject,
        text=row.text,
        html=row.html,
        attachments=[
            Attachment(
                id=ids[n] if n < len(ids) else "",
                filename=a["filename"],
                content_type=a["content_type"],
                size=a["size"],
                too_large=a["too_large"],
            )
            for n, a in enumerate(row.attachments)
        ],
        defects=list(row.defects),
        send_status=row.send_status,
        send_error=row.send_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


async def load(
    session: AsyncSession, tenant_id: str, ticket_id: str, *, lock: bool = True
) -> Ticket:
    """The ticket, row-locked unless ``lock`` is false (a read that changes nothing), so
    that two changes to one ticket queue instead of interleaving."""
    statement = select(Ticket).where(Ticket.tenant_id == tenant_id, Ticket.id == ticket_id)
    ticket = (await session.scalars(statement.with_for_update() if lock else statement)).first()
    if ticket is None:
        raise TicketNotFound(f"no ticket {ticket_id!r}")
    return ticket


async def live(session: AsyncSession, tenant_id: str, ticket_id: str) -> Ticket:
    """The ticket, or the one it was merged into (following merges to the end)."""
    ticket = await load(session, tenant_id, ticket_id)
    seen = {ticket.id}
    while ticket.merged_into_id is not None and ticket.merged_into_id not in seen:
        ticket = await load(session, tenant_id, ticket.merged_into_id)
        seen.add(ticket.id)
    return ticket


async def settings_of(session: AsyncSession, tenant_id: str) -> HelpdeskSettings:
    found = await session.get(HelpdeskSettings, tenant_id)
    return found or HelpdeskSettings(
        tenant_id=tenant_id,
        auto_merge=True,
        merge_window_hours=72,
        default_queue_id=None,
        order_number_pattern="",
        policy_texts={},
        signature="",
    )


async def queue_of(session: AsyncSession, ticket: Ticket) -> Queue | None:
    if ticket.queue_id is None:
        return None
    return await session.get(Queue, ticket.queue_id)


async def activity(
    session: AsyncSession,
    ticket: Ticket,
    at: datetime,
    kind: str,
    actor: str,
    detail: dict[str, Any],
) -> None:
    session.add(
        TicketActivity(
            id=new_id("tka"),
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.id,
            at=at,
            kind=kind,
            actor=actor,
            detail=detail,
        )
    )


async def ticket_event(
    session: AsyncSession,
    event_type: EventType,
    ticket: Ticket,
    *,
    message: TicketMessage | None = None,
    clock: Clock = utc_now,
) -> None:
    await session.flush()
    data = (
        MessageEvent(ticket=to_schema(ticket), message=_excerpt(message_schema(message)))
        if message is not None
        else to_schema(ticket)
    )
    await record_event(
        session, event_type, tenant_id=ticket.tenant_id, subject=ticket.id, data=data, clock=clock
    )


def _excerpt(message: Message) -> Message:
    """A message as events carry it: its text cut to ``EVENT_TEXT_CHARS`` and without its
    HTML (an e-mail can be megabytes; the event bus and webhook receivers take far less).
    The whole message stays readable through the API."""
    if len(message.text) <= EVENT_TEXT_CHARS and not message.html:
        return message
    return message.model_copy(update={"text": message.text[:EVENT_TEXT_CHARS], "html": ""})


# --- drafts and answers ---------------------------------------------------------------


async def templates_for(session: AsyncSession, tenant_id: str, language: str) -> dict[str, str]:
    """The reply templates in ``language`` by key: the tenant's own, else the hub's."""
    language = drafts.language_of(language)
    found = {key: drafts.BUILT_IN[(key, language)] for key in drafts.KEYS}
    rows = await session.scalars(
        select(Template).where(Template.tenant_id == tenant_id, Template.language == language)
    )
    found.update({row.key: row.body for row in rows})
    return found


async def order_status_of(
    session: AsyncSession, ticket: Ticket, now: datetime
) -> CustomerStatus | None:
    if ticket.order_id is None:
        return None
    try:
        order = await orders.load(session, ticket.tenant_id, ticket.order_id)
    except OrderNotFound:
        return None
    return await order_status.build(
        session, order, now, language=drafts.language_of(ticket.language or order.language)
    )


async def placeholders(
    session: AsyncSession,
    ticket: Ticket,
    status: CustomerStatus | None,
    *,
    agent_name: str = "",
    values: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A template's placeholders for the ticket, from its order's live ``status``."""
    settings = await settings_of(session, ticket.tenant_id)
    policy = await orders.policy(session, ticket.tenant_id)
    return drafts.context(
        status,
        customer_name=ticket.requester_name,
        return_days=policy.return_window_days,
        signature=settings.signature,
        policy=str(settings.policy_texts.get(ticket.intent, "")),
        agent_name=agent_name,
        values=values,
    )


async def redraft(session: AsyncSession, ticket: Ticket, now: datetime) -> None:
    """Draft the reply to the ticket as it stands now."""
    status = await order_status_of(session, ticket, now)
    values = await placeholders(session, ticket, status)
    templates = await templates_for(session, ticket.tenant_id, ticket.language)
    try:
        found = drafts.draft(Intent(ticket.intent), status, templates, values)
    except TemplateInvalid as exc:
        # The tenant's template fails on this ticket: the hub's own drafts it instead (a
        # message is never refused because a draft could not be written).
        log.warning("helpdesk.template_failed", ticket_id=ticket.id, error=exc.detail)
        language = drafts.language_of(ticket.language)
        built_in = {key: drafts.BUILT_IN[(key, language)] for key in drafts.KEYS}
        found = drafts.draft(Intent(ticket.intent), status, built_in, values)
    ticket.draft, ticket.draft_source = found.text, found.source


async def auto_answer(session: AsyncSession, ticket: Ticket, now: datetime, how: Answering) -> bool:
    """Answer "where is my order?" with the live status when the ticket's queue allows
    it, the intent is confident and the requester is the order's buyer."""
    queue = await queue_of(session, ticket)
    if (
        queue is None
        or not queue.auto_answer_wismo
        or not ticket.order_verified
        or ticket.intent_confidence < AUTO_ANSWER_MIN_CONFIDENCE
        or ticket.status != TicketStatus.open.value
        or not ticket.draft
    ):
        return False
    await send_reply(
        session, ticket, ticket.draft, author="hub", kind="auto_reply", now=now, how=how
    )
    ticket.deflected = True
    return True


async def _last_inbound(session: AsyncSession, ticket: Ticket) -> TicketMessage | None:
    return (
        await session.scalars(
            select(TicketMessage)
            .where(TicketMessage.ticket_id == ticket.id, TicketMessage.direction == "in")
            .order_by(TicketMessage.created_at.desc(), TicketMessage.id.desc())
            .limit(1)
        )
    ).first()


async def _mailbox_for(
    session: AsyncSession, ticket: Ticket, received: TicketMessage | None
) -> Mailbox | None:
    """The mailbox the customer wrote to; else one of the ticket's brand or store; else the
    tenant's first."""
    statement = select(Mailbox).where(Mailbox.tenant_id == ticket.tenant_id)
    if received is not None and received.to_addresses:
        found = (
            await session.scalars(statement.where(Mailbox.address.in_(received.to_addresses)))
        ).first()
        if found is not None:
            return found
    ordered = statement.order_by(
        (Mailbox.sales_channel_id == ticket.sales_channel_id).desc(), Mailbox.created_at
    )
    return (await session.scalars(ordered.limit(1))).first()


_MESSAGE_ID = re.compile(r"<[^<>\s@]+@[^<>\s@]+>")
"""A Message-ID fit for In-Reply-To and References (``<local@domain>``)."""


async def send_reply(
    session: AsyncSession,
    ticket: Ticket,
    text: str,
    *,
    author: str,
    kind: str,
    now: datetime,
    how: Answering,
    resolve: bool = False,
) -> TicketMessage:
    """Answer on the channel the customer last wrote on: e-mail is queued for the mail
    sender (threaded on the customer's message); chat and marketplace replies go back
    through the ``ticket.replied`` event their integrations subscribe to."""
    if ticket.status == TicketStatus.merged.value:
        raise TicketMerged(
            f"ticket {ticket.id} was merged into {ticket.merged_into_id}: answer there",
            merged_into_id=ticket.merged_into_id,
        )
    received = await _last_inbound(session, ticket)
    channel = received.channel if received else ticket.channel
    if resolve and how.rating_url is not None:
        text = f"{text.rstrip()}\n\n{await _rating_line(session, ticket, how)}\n"
    message = TicketMessage(
        id=new_id("msg"),
        tenant_id=ticket.tenant_id,
        ticket_id=ticket.id,
        origin_ticket_id=ticket.id,
        direction="out",
        kind=kind,
        channel=channel,
        author=author,
        to_addresses=[ticket.requester_email] if ticket.requester_email else [],
        subject=ticket.subject,
        text=text,
        references=[],
        attachments=[],
        defects=[],
        created_at=now,
    )
    message.external_id = message.id
    if channel == TicketChannel.email.value:
        mailbox = await _mailbox_for(session, ticket, received)
        domain = mailbox.address.partition("@")[2] if mailbox else "channelhub.invalid"
        message.message_id = f"<{message.id}@{domain}>"
        message.from_address = mailbox.address if mailbox else ""
        if received is not None and _MESSAGE_ID.fullmatch(received.message_id):
            message.in_reply_to = received.message_id
            chain = [*received.references, received.message_id]
            message.references = [r for r in chain if _MESSAGE_ID.fullmatch(r)][-20:]
        if mailbox is None or not ticket.requester_email:
            message.send_status = "failed"
            message.send_error = (
                "no mailbox to send from" if mailbox is None else "the customer has no e-mail"
            )
        else:
            message.send_status = "pending"
            message.send_after = now
    else:
        message.message_id = received.message_id if received else message.id
        message.send_status = "published"
        message.sent_at = now
    session.add(message)
    ticket.last_agent_at = now
    ticket.updated_at = now
    sla.replied(ticket, now)
    if resolve:
        ticket.status = TicketStatus.resolved.value
        ticket.resolved_at = now
        sla.resolved(ticket)
    elif ticket.status == TicketStatus.open.value:
        ticket.status = TicketStatus.pending.value
    await activity(session, ticket, now, "replied", author, {"message_id": message.id})
    await ticket_event(session, TICKET_REPLIED, ticket, message=message)
    if resolve:
        await ticket_event(session, TICKET_RESOLVED, ticket)
    return message


async def _rating_line(session: AsyncSession, ticket: Ticket, how: Answering) -> str:
    assert how.rating_url is not None
    url = await how.rating_url(session, ticket)
    stars = "  ".join(f"{score}: {url}?score={score}" for score in range(1, 6))
    return f"How did we do? {stars}"


# --- merging --------------------------------------------------------------------------


async def merge(
    session: AsyncSession,
    target: Ticket,
    source: Ticket,
    *,
    reason: str,
    actor: str,
    now: datetime,
    clock: Clock = utc_now,
) -> TicketMerge:
    """Move ``source``'s messages into ``target`` and mark it merged; recorded, undoable."""
    if target.id == source.id:
        raise InvalidError("a ticket cannot be merged into itself", field="source_id")
    for ticket in (target, source):
        if ticket.status == TicketStatus.merged.value:
            raise TicketMerged(
                f"ticket {ticket.id} is already merged into {ticket.merged_into_id}",
                merged_into_id=ticket.merged_into_id,
            )
    record = TicketMerge(
        id=new_id("mrg"),
        tenant_id=target.tenant_id,
        target_id=target.id,
        source_id=source.id,
        reason=reason,
        actor=actor,
        source_status=source.status,
        created_at=now,
    )
    session.add(record)
    await session.execute(
        update(TicketMessage)
        .where(TicketMessage.ticket_id == source.id)
        .values(ticket_id=target.id)
        .execution_options(synchronize_session=False)
    )
    source.status = TicketStatus.merged.value
    source.merged_into_id = target.id
    source.next_due_at = None
    source.updated_at = now
    if target.order_id is None and source.order_id is not None:
        target.order_id, target.order_verified = source.order_id, source.order_verified
    if target.status == TicketStatus.resolved.value:
        target.status = TicketStatus.open.value
        sla.reopened(target, await queue_of(session, target), now)
    elif target.status == TicketStatus.pending.value and source.last_customer_at > (
        target.last_agent_at or source.last_customer_at
    ):
        target.status = TicketStatus.open.value
        sla.customer_wrote(target, await queue_of(session, target), as_utc(source.last_customer_at))
    target.last_customer_at = max(as_utc(target.last_customer_at), as_utc(source.last_customer_at))
    target.updated_at = now
    detail = {"merge_id": record.id, "reason": reason}
    await activity(session, target, now, "merged", actor, detail | {"source_id": source.id})
    await activity(session, source, now, "merged_into", actor, detail | {"target_id": target.id})
    await session.flush()
    await record_event(
        session,
        TICKET_MERGED,
        tenant_id=target.tenant_id,
        subject=target.id,
        data=MergeEvent(
            merge_id=record.id, target=to_schema(target), source_id=source.id, reason=reason
        ),
        clock=clock,
    )
    return record


async def _merged_into(session: AsyncSession, ticket_id: str) -> set[str]:
    """``ticket_id`` and every ticket merged into it, directly or through others."""
    found = {ticket_id}
    frontier = {ticket_id}
    while frontier:
        frontier = (
            set(
                (
                    await session.scalars(
                        select(Ticket.id).where(Ticket.merged_into_id.in_(frontier))
                    )
                ).all()
            )
            - found
        )
        found |= frontier
    return found


async def unmerge(
    session: AsyncSession,
    tenant_id: str,
    merge_id: str,
    *,
    actor: str,
    now: datetime,
    clock: Clock = utc_now,
) -> tuple[Ticket, Ticket]:
    """Undo a merge: the source's messages (and those of tickets merged into it) go back
    to it and it gets its status back. (target, source)."""
    record = (
        await session.scalars(
            select(TicketMerge)
            .where(TicketMerge.tenant_id == tenant_id, TicketMerge.id == merge_id)
            .with_for_update()
        )
    ).first()
    if record is None:
        raise MergeNotFound(f"no merge {merge_id!r}")
    if record.undone_at is not None:
        raise ConflictError(f"merge {merge_id} was already undone", code="merge_undone")
    target = await load(session, tenant_id, record.target_id)
    source = await load(session, tenant_id, record.source_id)
    if source.merged_into_id != target.id:
        raise ConflictError("the source is no longer merged into the target", code="merge_moved")
    origins = await _merged_into(session, source.id)
    # Wherever they are now (the target may have been merged on into another ticket).
    await session.execute(
        update(TicketMessage)
        .where(
            TicketMessage.tenant_id == tenant_id,
            TicketMessage.origin_ticket_id.in_(origins),
        )
        .values(ticket_id=source.id)
        .execution_options(synchronize_session=False)
    )
    record.undone_at, record.undone_by = now, actor
    source.status = record.source_status
    source.merged_into_id = None
    source.updated_at = target.updated_at = now
    sla.resume(source)
    detail = {"merge_id": record.id}
    await activity(session, target, now, "unmerged", actor, detail | {"source_id": source.id})
    await activity(session, source, now, "split_off", actor, detail | {"target_id": target.id})
    await session.flush()
    await record_event(
        session,
        TICKET_UNMERGED,
        tenant_id=tenant_id,
        subject=target.id,
        data=MergeEvent(
            merge_id=record.id, target=to_schema(target), source_id=source.id, reason=record.reason
        ),
        clock=clock,
    )
    return target, source
