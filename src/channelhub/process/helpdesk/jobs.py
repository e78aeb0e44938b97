"""The helpdesk's periodic work: announcing SLA near-breaches and breaches, and escalating
stalled tickets. Both are safe to run in several processes at once (rows are locked and
skipped by the others on PostgreSQL; SQLite has one writer)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import as_utc, utc_now
from channelhub.platform.db.database import Database
from channelhub.platform.events.outbox import record_event
from channelhub.process.helpdesk import sla
from channelhub.process.helpdesk.calendar import business_time_between
from channelhub.process.helpdesk.events import (
    TICKET_ESCALATED,
    TICKET_SLA_BREACHED,
    TICKET_SLA_NEAR_BREACH,
    SlaEvent,
)
from channelhub.process.helpdesk.models import Queue, Ticket
from channelhub.process.helpdesk.schemas import Priority, TicketStatus
from channelhub.process.helpdesk.tickets import activity, ticket_event, to_schema

_BATCH = 500
_RUNNING = (TicketStatus.open.value, TicketStatus.pending.value)


async def announce_slas(session: AsyncSession, now: datetime) -> int:
    """Announce every SLA warning and breach that has come due; how many."""
    tickets = (
        await session.scalars(
            select(Ticket)
            .where(Ticket.status.in_(_RUNNING), Ticket.next_due_at <= now)
            .order_by(Ticket.next_due_at)
            .limit(_BATCH)
            .with_for_update(skip_locked=True)
        )
    ).all()
    announced = 0
    for ticket in tickets:
        for crossing in sla.crossings(ticket, now):
            kind = "sla_breached" if crossing.breached else "sla_near_breach"
            await activity(session, ticket, now, kind, "hub", {"clock": crossing.clock.value})
            await record_event(
                session,
                TICKET_SLA_BREACHED if crossing.breached else TICKET_SLA_NEAR_BREACH,
                tenant_id=ticket.tenant_id,
                subject=ticket.id,
                data=SlaEvent(
                    clock=crossing.clock,
                    due_at=crossing.due_at.isoformat(),
                    ticket=to_schema(ticket),
                ),
                clock=lambda: now,
            )
            announced += 1
    return announced


async def escalate_stalled(session: AsyncSession, now: datetime) -> int:
    """Give open tickets untouched for their queue's ``stalled_after_minutes`` (business
    time) to the queue's escalation owner, at high priority; once per stall."""
    queues = (
        await session.scalars(select(Queue).where(Queue.stalled_after_minutes.is_not(None)))
    ).all()
    escalated = 0
    for queue in queues:
        assert queue.stalled_after_minutes is not None
        stall = timedelta(minutes=queue.stalled_after_minutes)
        candidates = (
            await session.scalars(
                select(Ticket)
                .where(
                    Ticket.queue_id == queue.id,
                    Ticket.status == TicketStatus.open.value,
                    Ticket.escalated_at.is_(None),
                    Ticket.updated_at <= now - stall,
                )
                .order_by(Ticket.updated_at)
                .limit(_BATCH)
                .with_for_update(skip_locked=True)
            )
        ).all()
        hours = sla.hours_of(queue)
        for ticket in candidates:
            if business_time_between(hours, as_utc(ticket.updated_at), now) < stall:
                continue
            ticket.escalated_at = now
            ticket.priority = Priority.high.value
            if queue.escalate_to_id:
                ticket.assignee_id = queue.escalate_to_id
            await activity(
                session,
                ticket,
                now,
                "escalated",
                "hub",
                {"to": queue.escalate_to_id, "stalled_minutes": queue.stalled_after_minutes},
            )
            await ticket_event(session, TICKET_ESCALATED, ticket, clock=lambda: now)
            escalated += 1
    return escalated


async def run_slas(db: Database) -> int:
    """The hub's job: SLA announcements and escalations, in one transaction."""
    now = utc_now()
    async with db.transaction() as session:
        return await announce_slas(session, now) + await escalate_stalled(session, now)
