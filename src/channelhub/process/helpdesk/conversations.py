"""A chat conversation as its visitor sees it: their messages and the answers to them,
never internal notes, and never another conversation of a ticket it was merged into."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.process.helpdesk.models import Ticket, TicketMessage
from channelhub.process.helpdesk.schemas import TicketChannel

_SHOWN_KINDS = ("message", "auto_reply")


@dataclass(frozen=True)
class Line:
    id: str
    mine: bool
    """Written by the visitor (else an answer: an agent's or the hub's)."""
    text: str
    at: datetime


def thread_key(thread_id: str) -> str:
    """The helpdesk's key of a chat thread: what ``service.receive_message`` stores as the
    messages' ``message_id``, and what replies to them carry."""
    return f"{TicketChannel.chat.value}:{thread_id}"


def _of_thread(tenant_id: str, thread_id: str) -> ColumnElement[bool]:
    return and_(
        TicketMessage.tenant_id == tenant_id,
        TicketMessage.message_id == thread_key(thread_id),
        TicketMessage.channel == TicketChannel.chat.value,
    )


async def lines(session: AsyncSession, tenant_id: str, thread_id: str, limit: int) -> list[Line]:
    """The thread's latest ``limit`` messages, oldest first."""
    rows = (
        await session.execute(
            select(
                TicketMessage.id,
                TicketMessage.direction,
                TicketMessage.text,
                TicketMessage.created_at,
            )
            .where(_of_thread(tenant_id, thread_id), TicketMessage.kind.in_(_SHOWN_KINDS))
            .order_by(TicketMessage.created_at.desc(), TicketMessage.id.desc())
            .limit(limit)
        )
    ).all()
    return [Line(row.id, row.direction == "in", row.text, row.created_at) for row in reversed(rows)]


async def writer(session: AsyncSession, tenant_id: str, thread_id: str) -> tuple[str, str] | None:
    """(name, e-mail) the visitor last wrote with in the thread."""
    row = (
        await session.execute(
            select(TicketMessage.from_address, Ticket.requester_name)
            .join(Ticket, Ticket.id == TicketMessage.origin_ticket_id)
            .where(_of_thread(tenant_id, thread_id), TicketMessage.direction == "in")
            .order_by(TicketMessage.created_at.desc(), TicketMessage.id.desc())
            .limit(1)
        )
    ).first()
    return (row.requester_name, row.from_address) if row else None
