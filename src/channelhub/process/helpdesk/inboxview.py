"""What an agent's inbox shows: a page of tickets with their live SLA clocks, the order
number and assignee of each, and the queues with how many tickets wait in each.

``service.list_tickets`` answers with ticket schemas; the SLA clocks (``sla.state``) are
computed from the rows, so the inbox reads them here, in one query per kind of thing
(tickets, orders, agents, queue counts): no N+1 however long the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.pagination import PageRequest, keyset_page
from channelhub.process.helpdesk import schemas, sla
from channelhub.process.helpdesk.models import Agent, Queue, Ticket
from channelhub.process.helpdesk.service import READ
from channelhub.process.helpdesk.tickets import TicketNotFound, to_schema
from channelhub.process.orders.models import Order


@dataclass(frozen=True)
class SlaState:
    """One running SLA clock as an agent reads it."""

    clock: schemas.SlaClock
    due_at: datetime
    minutes_left: int
    """Wall-clock minutes to the due instant; negative once it has passed."""
    warned: bool
    """The near-breach warning was announced."""
    breached: bool
    """The breach was announced (the SLA job marks it; ``overdue`` may come first)."""

    @property
    def overdue(self) -> bool:
        return self.breached or self.minutes_left < 0


@dataclass(frozen=True)
class InboxRow:
    ticket: schemas.Ticket
    clocks: list[SlaState]
    order_number: str | None
    assignee_name: str | None


@dataclass(frozen=True)
class QueueCount:
    id: str | None
    """None: the tickets in no queue (``name`` is empty)."""
    name: str
    open: int
    """Tickets waiting for an agent (status open) in it."""


@dataclass(frozen=True)
class Inbox:
    queues: list[QueueCount]
    rows: list[InboxRow]
    next_cursor: str | None


def clocks(row: Ticket, now: datetime) -> list[SlaState]:
    """The ticket's running SLA clocks (``sla.state``), in SlaClock order."""
    shown: dict[str, dict[str, Any]] = sla.state(row, now)
    return [
        SlaState(
            clock=schemas.SlaClock(name),
            due_at=state["due_at"],
            minutes_left=state["minutes_left"],
            warned=state["warned"],
            breached=state["breached"],
        )
        for name, state in shown.items()
    ]


async def inbox(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    status: schemas.TicketStatus | None = None,
    queue_id: str | None = None,
    unqueued: bool = False,
    clock: Clock = utc_now,
) -> Inbox:
    """Tickets newest first, filtered by status and queue (``unqueued``: those in no
    queue). Without ``status``, every ticket but the merged ones (their messages live in
    the ticket they joined)."""
    principal.require(READ)
    tenant_id = principal.tenant_id
    statement = select(Ticket).where(Ticket.tenant_id == tenant_id)
    if status is None:
        statement = statement.where(Ticket.status != schemas.TicketStatus.merged.value)
    else:
        statement = statement.where(Ticket.status == status.value)
    if queue_id is not None:
        statement = statement.where(Ticket.queue_id == queue_id)
    elif unqueued:
        statement = statement.where(Ticket.queue_id.is_(None))
    found = await keyset_page(session, statement, Ticket.id, page)
    rows: list[Ticket] = list(found.items)
    now = clock()

    order_ids = {row.order_id for row in rows if row.order_id}
    numbers: dict[str, str] = {}
    if order_ids:
        numbers = dict(
            (
                await session.execute(
                    select(Order.id, Order.number).where(
                        Order.tenant_id == tenant_id, Order.id.in_(order_ids)
                    )
                )
            ).all()
        )
    agent_ids = {row.assignee_id for row in rows if row.assignee_id}
    names: dict[str, str] = {}
    if agent_ids:
        names = dict(
            (
                await session.execute(
                    select(Agent.id, Agent.name).where(
                        Agent.tenant_id == tenant_id, Agent.id.in_(agent_ids)
                    )
                )
            ).all()
        )
    return Inbox(
        queues=await queue_counts(session, tenant_id),
        rows=[
            InboxRow(
                ticket=to_schema(row),
                clocks=clocks(row, now),
                order_number=numbers.get(row.order_id) if row.order_id else None,
                assignee_name=names.get(row.assignee_id) if row.assignee_id else None,
            )
            for row in rows
        ],
        next_cursor=found.next_cursor,
    )


async def queue_counts(session: AsyncSession, tenant_id: str) -> list[QueueCount]:
    """Every queue by name with its open tickets, then the open tickets in no queue."""
    waiting = dict(
        (
            await session.execute(
                select(Ticket.queue_id, func.count())
                .where(
                    Ticket.tenant_id == tenant_id,
                    Ticket.status == schemas.TicketStatus.open.value,
                )
                .group_by(Ticket.queue_id)
            )
        ).all()
    )
    queues = await session.execute(
        select(Queue.id, Queue.name).where(Queue.tenant_id == tenant_id).order_by(Queue.name)
    )
    counted = [QueueCount(id=qid, name=name, open=waiting.get(qid, 0)) for qid, name in queues]
    return [*counted, QueueCount(id=None, name="", open=waiting.get(None, 0))]


async def ticket_clocks(
    session: AsyncSession, principal: Principal, ticket_id: str, *, clock: Clock = utc_now
) -> list[SlaState]:
    """One ticket's running SLA clocks (the ticket page's header). A plain read: unlike
    ``tickets.load`` it takes no row lock, so looking never waits for a writer."""
    principal.require(READ)
    row = await session.scalar(
        select(Ticket).where(Ticket.tenant_id == principal.tenant_id, Ticket.id == ticket_id)
    )
    if row is None:
        raise TicketNotFound(f"no ticket {ticket_id!r}")
    return clocks(row, clock())
