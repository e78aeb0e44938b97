"""Tickets, their messages and merges, and how the helpdesk routes and times them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.db.base import Base, JSONDocument, TenantScoped


class HelpdeskSettings(Base):
    """A tenant's helpdesk-wide choices (one row; defaults apply until it exists)."""

    __tablename__ = "helpdesk_settings"

    tenant_id: Mapped[str] = mapped_column(String(40), ForeignKey("tenants.id"), primary_key=True)
    auto_merge: Mapped[bool] = mapped_column(Boolean, default=True)
    merge_window_hours: Mapped[int] = mapped_column(Integer, default=72)
    default_queue_id: Mapped[str | None] = mapped_column(String(40))
    order_number_pattern: Mapped[str] = mapped_column(String(200), default="")
    """A regular expression for the tenant's own order numbers (besides the built-in ones)."""
    policy_texts: Mapped[dict[str, Any]]
    """{intent: text} quoted in drafted replies (return policy, delivery times...)."""
    signature: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime]


class Mailbox(TenantScoped, Base):
    """An address the helpdesk receives e-mail at, and sends replies from."""

    __tablename__ = "helpdesk_mailboxes"

    address: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    connection_id: Mapped[str] = mapped_column(String(40), ForeignKey("connections.id"))
    sales_channel_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("sales_channels.id")
    )
    created_at: Mapped[datetime]


class Queue(TenantScoped, Base):
    """Where tickets wait for agents, with its SLA policy and business hours."""

    __tablename__ = "helpdesk_queues"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(100))
    business_hours: Mapped[dict[str, Any]]
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    near_breach_ratio: Mapped[float] = mapped_column(Float, default=0.8)
    auto_answer_wismo: Mapped[bool] = mapped_column(Boolean, default=False)
    stalled_after_minutes: Mapped[int | None] = mapped_column(Integer)
    escalate_to_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Agent(TenantScoped, Base):
    __tablename__ = "helpdesk_agents"
    __table_args__ = (UniqueConstraint("tenant_id", "email"),)

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    last_assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class RoutingRule(TenantScoped, Base):
    """Conditions on a new ticket -> queue, tags, priority, assignee. First match wins."""

    __tablename__ = "helpdesk_rules"

    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    conditions: Mapped[dict[str, Any]]
    queue_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("helpdesk_queues.id"))
    tags: Mapped[list[str]] = mapped_column(JSONDocument)
    priority: Mapped[str | None] = mapped_column(String(16))
    assignee_id: Mapped[str | None] = mapped_column(String(40))
    round_robin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Template(TenantScoped, Base):
    __tablename__ = "helpdesk_templates"
    __table_args__ = (UniqueConstraint("tenant_id", "key", "language"),)

    key: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class Ticket(TenantScoped, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_tenant_status_queue", "tenant_id", "status", "queue_id"),
        Index("ix_tickets_tenant_order", "tenant_id", "order_id"),
        Index("ix_tickets_sla", "status", "next_due_at"),
    )

    subject: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    requester_name: Mapped[str] = mapped_column(String(200), default="")
    requester_email: Mapped[str] = mapped_column(String(254), default="")
    requester_phone: Mapped[str] = mapped_column(String(32), default="")
    requester_buyer: Mapped[str] = mapped_column(String(200), default="")
    """``marketplace:buyer id`` for marketplace messages."""
    customer_id: Mapped[str | None] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(40))
    requester_trusted: Mapped[bool] = mapped_column(Boolean, default=True)
    """False when nobody vouches for who the requester says they are (the chat widget,
    where a visitor types a name and e-mail): such a ticket is never merged automatically
    and its requester is never taken for an order's buyer."""
    order_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    """The requester is the order's buyer (same e-mail, phone, or the marketplace said so)."""
    sales_channel_id: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(8), default="")
    intent: Mapped[str] = mapped_column(String(32), default="other")
    intent_confidence: Mapped[float] = mapped_column(Float, default=0.0)
    intent_source: Mapped[str] = mapped_column(String(16), default="model")
    queue_id: Mapped[str | None] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    tags: Mapped[list[str]] = mapped_column(JSONDocument)
    assignee_id: Mapped[str | None] = mapped_column(String(40))
    merged_into_id: Mapped[str | None] = mapped_column(String(40))
    first_response_due: Mapped[datetime | None]
    next_response_due: Mapped[datetime | None]
    resolution_due: Mapped[datetime | None]
    next_due_at: Mapped[datetime | None]
    """The earliest SLA instant still to check (warning or breach): the SLA job's index."""
    first_responded_at: Mapped[datetime | None]
    last_customer_at: Mapped[datetime]
    last_agent_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    sla_warn_at: Mapped[dict[str, Any]]
    """{clock: ISO instant} when each running SLA clock reaches its near-breach share."""
    sla_warned: Mapped[list[str]] = mapped_column(JSONDocument)
    sla_breached: Mapped[list[str]] = mapped_column(JSONDocument)
    escalated_at: Mapped[datetime | None]
    deflected: Mapped[bool] = mapped_column(Boolean, default=False)
    draft: Mapped[str] = mapped_column(Text, default="")
    draft_source: Mapped[str] = mapped_column(String(16), default="")
    csat_score: Mapped[int | None] = mapped_column(Integer)
    csat_comment: Mapped[str] = mapped_column(Text, default="")
    csat_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketMessage(TenantScoped, Base):
    """One message of a ticket, in or out. ``origin_ticket_id`` is the ticket it arrived
    in: a merge moves messages and an unmerge moves them back by it."""

    __tablename__ = "ticket_messages"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel", "external_id"),
        Index("ix_ticket_messages_ticket", "ticket_id", "created_at"),
        Index("ix_ticket_messages_message_id", "tenant_id", "message_id"),
        Index("ix_ticket_messages_outgoing", "send_status", "send_after"),
    )

    ticket_id: Mapped[str] = mapped_column(String(40), ForeignKey("tickets.id"))
    origin_ticket_id: Mapped[str] = mapped_column(String(40), ForeignKey("tickets.id"))
    direction: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str] = mapped_column(String(16))
    author: Mapped[str] = mapped_column(String(200))
    from_address: Mapped[str] = mapped_column(String(254), default="")
    to_addresses: Mapped[list[str]] = mapped_column(JSONDocument)
    subject: Mapped[str] = mapped_column(String(500), default="")
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(500), default="")
    in_reply_to: Mapped[str] = mapped_column(String(500), default="")
    references: Mapped[list[str]] = mapped_column(JSONDocument)
    external_id: Mapped[str] = mapped_column(String(500))
    """The channel's own id (Message-ID, chat or marketplace message id): a repeat is
    recognised and stored once."""
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    defects: Mapped[list[str]] = mapped_column(JSONDocument)
    send_status: Mapped[str] = mapped_column(String(16), default="none")
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    send_after: Mapped[datetime | None]
    send_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class TicketAttachment(TenantScoped, Base):
    __tablename__ = "ticket_attachments"

    message_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("ticket_messages.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(500))
    content_type: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    """Null when the attachment was over the size cap (the message itself is kept)."""


class TicketMerge(TenantScoped, Base):
    """A merge of ``source`` into ``target``; ``undone_at`` is set when it is undone."""

    __tablename__ = "ticket_merges"

    target_id: Mapped[str] = mapped_column(String(40), ForeignKey("tickets.id"), index=True)
    source_id: Mapped[str] = mapped_column(String(40), ForeignKey("tickets.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    actor: Mapped[str] = mapped_column(String(200))
    source_status: Mapped[str] = mapped_column(String(16))
    """What the source was before the merge (what an undo gives it back)."""
    created_at: Mapped[datetime]
    undone_at: Mapped[datetime | None]
    undone_by: Mapped[str | None] = mapped_column(String(200))


class TicketActivity(TenantScoped, Base):
    """The ticket's own timeline: created, routed, merged, assigned, SLA warnings..."""

    __tablename__ = "ticket_activities"
    __table_args__ = (Index("ix_ticket_activities_ticket", "ticket_id", "at"),)

    ticket_id: Mapped[str] = mapped_column(String(40), ForeignKey("tickets.id"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    detail: Mapped[dict[str, Any]]
