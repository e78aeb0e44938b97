"""Ticket event types."""

from __future__ import annotations

from pydantic import BaseModel, Field

from channelhub.platform.events.catalog import EventType, declare
from channelhub.process.helpdesk.schemas import Message, SlaClock, Ticket


class MessageEvent(BaseModel):
    ticket: Ticket
    message: Message


class MergeEvent(BaseModel):
    merge_id: str = Field(description="The merge (mrg_...); undo it with its id.")
    target: Ticket = Field(description="The ticket the messages are in now.")
    source_id: str = Field(description="The ticket merged into it (or split off again).")
    reason: str


class SlaEvent(BaseModel):
    clock: SlaClock
    due_at: str = Field(description="When the SLA is (or was) due, ISO 8601 UTC.")
    ticket: Ticket


def _ticket(name: str, description: str, model: type[BaseModel] = Ticket) -> EventType:
    return declare(name, context="helpdesk", description=description, data_model=model)


TICKET_CREATED = _ticket("ticket.created", "A new ticket was opened (routed, with its SLA).")
TICKET_MESSAGE_RECEIVED = _ticket(
    "ticket.message_received", "A customer message joined a ticket.", MessageEvent
)
TICKET_REPLIED = _ticket(
    "ticket.replied",
    "An agent (or the hub's auto-answer) replied. Chat and marketplace integrations send "
    "the reply back to the customer from this event.",
    MessageEvent,
)
TICKET_MERGED = _ticket(
    "ticket.merged", "Two tickets became one (automatically or by an agent).", MergeEvent
)
TICKET_UNMERGED = _ticket("ticket.unmerged", "A merge was undone.", MergeEvent)
TICKET_ASSIGNED = _ticket("ticket.assigned", "A ticket was assigned to an agent.")
TICKET_RESOLVED = _ticket("ticket.resolved", "A ticket was resolved.")
TICKET_RATED = _ticket("ticket.rated", "The customer rated how their ticket was handled.")
TICKET_SLA_NEAR_BREACH = _ticket(
    "ticket.sla_near_breach", "Most of an SLA's business time has run.", SlaEvent
)
TICKET_SLA_BREACHED = _ticket("ticket.sla_breached", "An SLA's time ran out.", SlaEvent)
TICKET_ESCALATED = _ticket(
    "ticket.escalated", "A stalled ticket went to the queue's escalation owner."
)
