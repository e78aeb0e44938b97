"""What the helpdesk APIs take and return."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from channelhub.process.helpdesk.calendar import SCAN_DAYS, BusinessHours, add_business_time
from channelhub.process.helpdesk.intents import Intent
from channelhub.process.orders.schemas import CustomerStatus, Email, ExternalRef


class TicketChannel(StrEnum):
    email = "email"
    chat = "chat"
    marketplace = "marketplace"


class TicketStatus(StrEnum):
    open = "open"
    """Waiting for an agent."""
    pending = "pending"
    """Answered; waiting for the customer."""
    resolved = "resolved"
    merged = "merged"
    """Merged into another ticket (see ``merged_into_id``); an unmerge reopens it."""


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


class SlaClock(StrEnum):
    first_response = "first_response"
    next_response = "next_response"
    resolution = "resolution"


_PATTERN_LIMIT = 200
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_REFERENCE = datetime(2026, 1, 5, tzinfo=UTC)
"""A Monday: where a queue's SLA durations are checked to fit its business hours."""
Text = Annotated[str, Field(max_length=20_000)]


class Requester(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200, description="How the customer signs.")
    email: Literal[""] | Email = Field("", description="Their e-mail address.")
    phone: str = Field("", max_length=32, description="Their phone number.")
    buyer_id: str = Field(
        "", max_length=150, description="Their id on the marketplace (marketplace messages)."
    )


class MessageIn(BaseModel):
    """A chat or marketplace message, as a channel integration sends it."""

    model_config = ConfigDict(extra="forbid")

    channel: TicketChannel = Field(description="chat or marketplace (e-mail arrives by SMTP/IMAP).")
    external_id: str = Field(
        min_length=1,
        max_length=300,
        description="The channel's id for this message: a repeat is recognised and stored once.",
    )
    thread_id: str = Field(
        "",
        max_length=300,
        description="The channel's conversation id: later messages of it join the same ticket.",
    )
    marketplace: str = Field(
        "", max_length=40, description="amazon, ebay, zalando... (marketplace messages)."
    )
    requester: Requester = Field(description="Who wrote.")
    subject: str = Field("", max_length=500, description="Subject, if the channel has one.")
    text: str = Field(min_length=1, max_length=20_000, description="What the customer wrote.")
    order: ExternalRef | None = Field(
        None,
        description="The order as the marketplace names it (system = the marketplace, id = its "
        "order id): the marketplace vouches that the buyer placed it.",
    )
    sales_channel_id: str | None = Field(None, description="Brand or store it came through.")
    sent_at: AwareDatetime | None = Field(
        None,
        description="When the customer sent it (with its UTC offset; not in the future): "
        "the ticket's clocks count from it. Default: when it arrives here.",
    )

    @field_validator("sent_at")
    @classmethod
    def _recent(cls, value: datetime | None) -> datetime | None:
        """The ticket's clocks count from it, so it cannot be in the future. The past is
        the integration's word (it may import a backlog); the customer's own clock (an
        e-mail's Date) is never used."""
        if value is None:
            return value
        if not _EARLIEST <= value <= datetime.now(UTC) + timedelta(minutes=5):
            raise ValueError("must be after 2000 and not in the future")
        return value

    @field_validator("channel")
    @classmethod
    def _not_email(cls, value: TicketChannel) -> TicketChannel:
        if value is TicketChannel.email:
            raise ValueError("e-mail arrives through a mailbox (SMTP or IMAP), not this API")
        return value


class Accepted(BaseModel):
    ticket_id: str = Field(description="The ticket the message joined (tkt_...).")
    message_id: str = Field(description="The stored message (msg_...).")
    duplicate: bool = Field(description="The message was received before; nothing changed.")


class Attachment(BaseModel):
    id: str = Field(description="Attachment id (att_...).")
    filename: str = Field(description="As the sender named it.")
    content_type: str = Field(description="MIME type as declared by the sender.")
    size: int = Field(description="Bytes.")
    too_large: bool = Field(description="Over the size cap: not stored (the message is).")


class Message(BaseModel):
    id: str = Field(description="Message id (msg_...).")
    ticket_id: str = Field(description="The ticket it is in now.")
    origin_ticket_id: str = Field(description="The ticket it arrived in (before any merge).")
    direction: str = Field(description="in (from the customer) or out.")
    kind: str = Field(description="message, note (internal), or auto_reply.")
    channel: str = Field(description="email, chat or marketplace.")
    author: str = Field(description="customer, an agent id, or hub.")
    from_address: str = Field(
        description="Sender e-mail address (incoming e-mail; the mailbox for replies)."
    )
    to_addresses: list[str] = Field(description="Recipients.")
    subject: str = Field(description="Subject, if any.")
    text: str = Field(description="The text (for e-mail: the plain-text body).")
    html: str = Field(description="Sanitised HTML (no scripts, handlers or remote content).")
    attachments: list[Attachment] = Field(
        description="Attachments (content via the download route)."
    )
    defects: list[str] = Field(description="What was wrong with the message as received.")
    send_status: str = Field(
        description="none (incoming), pending, sent, failed, or published (back to the "
        "source channel as a ticket.replied event)."
    )
    send_error: str = Field(description="Why a reply could not be sent.")
    created_at: datetime = Field(description="When received or written (UTC).")
    sent_at: datetime | None = Field(description="When a reply was sent (UTC).")


class Ticket(BaseModel):
    id: str = Field(description="Ticket id (tkt_...).")
    subject: str = Field(description="Subject, or the first line of the first message.")
    status: TicketStatus = Field(description="open, pending, resolved or merged.")
    channel: TicketChannel = Field(description="The channel of its first message.")
    requester: Requester = Field(description="Who wrote.")
    customer_id: str | None = Field(description="The linked customer (cus_...), if known.")
    order_id: str | None = Field(description="The linked order (ord_...), if any.")
    order_verified: bool = Field(
        description="The requester is the order's buyer (same e-mail or phone, or the "
        "marketplace said so). Only then may the hub answer with the order's details."
    )
    sales_channel_id: str | None = Field(description="Brand or store it came through.")
    language: str = Field(description="Detected language (ISO 639-1), empty if unsure.")
    intent: Intent = Field(description="Classified intent.")
    intent_confidence: float = Field(description="The classifier's confidence, 0 to 1.")
    intent_source: str = Field(description="model (offline classifier) or llm.")
    queue_id: str | None = Field(description="Its queue.")
    priority: Priority = Field(description="low, normal, high or urgent.")
    tags: list[str] = Field(description="Tags.")
    assignee_id: str | None = Field(description="The assigned agent.")
    merged_into_id: str | None = Field(description="The ticket it was merged into.")
    first_response_due: datetime | None = Field(
        description="When the first response is due (null: met, or no SLA)."
    )
    next_response_due: datetime | None = Field(
        description="When the next response is due (null: none running)."
    )
    resolution_due: datetime | None = Field(
        description="When resolution is due (null: resolved, or no SLA)."
    )
    first_responded_at: datetime | None = Field(description="When first answered.")
    resolved_at: datetime | None = Field(description="When resolved.")
    sla_warned: list[SlaClock] = Field(description="Clocks past their near-breach share.")
    sla_breached: list[SlaClock] = Field(description="Clocks past their due time.")
    escalated_at: datetime | None = Field(description="When escalated as stalled.")
    deflected: bool = Field(description="Answered automatically, no agent needed.")
    draft: str = Field(description="A drafted reply for the agent: never sent as it is.")
    draft_source: str = Field(description="template or llm.")
    csat_score: int | None = Field(description="The customer's rating, 1 to 5.")
    csat_comment: str = Field(description="The customer's comment.")
    created_at: datetime = Field(description="When opened (UTC).")
    updated_at: datetime = Field(description="When last changed (UTC).")


class Activity(BaseModel):
    at: datetime = Field(description="When (UTC).")
    kind: str = Field(
        description="created, merged, merged_into, unmerged, split_off, replied, reopened, "
        "updated, rated, sla_near_breach, sla_breached, escalated."
    )
    actor: str = Field(description="Who: hub, customer, or an API key.")
    detail: dict[str, Any] = Field(description="What changed.")


class Merge(BaseModel):
    id: str = Field(description="Merge id (mrg_...).")
    target_id: str = Field(description="The ticket the messages went to.")
    source_id: str = Field(description="The ticket merged into it.")
    reason: str = Field(description="manual, or auto: and why.")
    actor: str = Field(description="hub or the API key that merged.")
    created_at: datetime = Field(description="When merged (UTC).")
    undone_at: datetime | None = Field(description="When undone (UTC), or null.")
    undone_by: str | None = Field(description="Who undid it.")


class TicketView(BaseModel):
    """A ticket with everything an agent answers from, without leaving it."""

    ticket: Ticket = Field(description="The ticket.")
    messages: list[Message] = Field(
        description="Every message, oldest first (merged tickets' too)."
    )
    activities: list[Activity] = Field(description="The ticket's timeline, oldest first.")
    merges: list[Merge] = Field(description="Merges into or out of this ticket.")
    order: CustomerStatus | None = Field(
        description="The linked order's live status: items, shipments, tracking, store."
    )
    order_lines: list[dict[str, Any]] = Field(description="The order's items.")
    order_timeline: list[dict[str, Any]] = Field(description="The order's timeline, newest last.")
    csat_url: str | None = Field(description="The customer's one-click rating link.")


class Reply(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000, description="The reply, plain text.")
    resolve: bool = Field(
        False, description="Resolve the ticket with this reply (it carries the rating link)."
    )


class Note(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=20_000, description="Internal note.")


class TicketUpdate(BaseModel):
    """Only the fields present change."""

    model_config = ConfigDict(extra="forbid")

    status: TicketStatus | None = Field(None, description="open, pending or resolved.")
    assignee_id: str | None = Field(None, description="An agent (agt_...).")
    queue_id: str | None = Field(None, description="Move to this queue (its SLA applies).")
    priority: Priority | None = Field(None, description="low, normal, high or urgent.")
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        None,
        max_length=50,
        description="Replace the tags.",
    )
    order_id: str | None = Field(None, description="Link this order (ord_...).")

    @field_validator("status")
    @classmethod
    def _settable(cls, value: TicketStatus | None) -> TicketStatus | None:
        if value is TicketStatus.merged:
            raise ValueError("merge tickets with POST /v1/tickets/{id}/merge")
        return value

    @field_validator("status", "priority", "tags")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """These always have a value: leave one out to keep it, null is refused."""
        if value is None:
            raise ValueError("cannot be null; leave it out to keep the current value")
        return value


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_id: str = Field(description="The ticket to merge into this one (tkt_...).")


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5, description="1 (bad) to 5 (great).")
    comment: str = Field("", max_length=2000)


class QueueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1, max_length=100, description="Queue name (unique in the tenant)."
    )
    business_hours: BusinessHours = Field(
        default_factory=BusinessHours,
        description="When SLA time runs (empty weekly hours: around the clock).",
    )
    first_response_minutes: int | None = Field(
        None, ge=1, le=525_600, description="First-response SLA in business minutes (null: none)."
    )
    next_response_minutes: int | None = Field(
        None, ge=1, le=525_600, description="Next-response SLA in business minutes (null: none)."
    )
    resolution_minutes: int | None = Field(
        None, ge=1, le=525_600, description="Resolution SLA in business minutes (null: none)."
    )
    near_breach_ratio: float = Field(
        0.8, gt=0, lt=1, description="Warn when this share of an SLA's time has run."
    )
    auto_answer_wismo: bool = Field(
        False,
        description="Answer 'where is my order?' automatically with live tracking when the "
        "intent is confident and the requester is the order's buyer (counted as deflected).",
    )
    stalled_after_minutes: int | None = Field(
        None, ge=1, le=525_600, description="Escalate an open ticket untouched this long."
    )
    escalate_to_id: str | None = Field(None, description="The agent stalled tickets go to.")

    @model_validator(mode="after")
    def _fits(self) -> QueueIn:
        """Refuse a duration that the business hours cannot hold within the calendar's
        reach (a year of office hours holds about 2,000 hours, not 8,760)."""
        for name in (
            "first_response_minutes",
            "next_response_minutes",
            "resolution_minutes",
            "stalled_after_minutes",
        ):
            minutes = getattr(self, name)
            if minutes is None:
                continue
            try:
                add_business_time(self.business_hours, _REFERENCE, timedelta(minutes=minutes))
            except ValueError as exc:
                raise ValueError(
                    f"{name}: {minutes} minutes of business time do not fit in "
                    f"{SCAN_DAYS} days of these business hours"
                ) from exc
        return self


class Queue(QueueIn):
    id: str = Field(description="Queue id (que_...).")
    created_at: datetime = Field(description="When added (UTC).")
    updated_at: datetime = Field(description="When last changed (UTC).")


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Display name.")
    email: str = Field(
        min_length=3, max_length=254, description="The agent's e-mail (unique in the tenant)."
    )
    online: bool = Field(False, description="Online agents take round-robin assignments.")


class Agent(AgentIn):
    id: str = Field(description="Agent id (agt_...).")
    last_assigned_at: datetime | None = Field(
        description="When round-robin last gave the agent a ticket."
    )
    created_at: datetime = Field(description="When added (UTC).")
    updated_at: datetime = Field(description="When last changed (UTC).")


class Conditions(BaseModel):
    """Every listed condition must hold; an empty list means any."""

    model_config = ConfigDict(extra="forbid")

    sales_channel_ids: list[str] = Field(default_factory=list, description="Brands or stores.")
    channels: list[TicketChannel] = Field(
        default_factory=list, description="email, chat, marketplace."
    )
    languages: list[str] = Field(default_factory=list, description="ISO 639-1 codes.")
    intents: list[Intent] = Field(default_factory=list, description="Classified intents.")
    min_confidence: float = Field(0.0, ge=0, le=1, description="Of the intent.")
    min_order_total: int | None = Field(None, ge=0, description="Minor units.")
    max_order_total: int | None = Field(None, ge=0, description="Minor units.")
    customer_tiers: list[str] = Field(
        default_factory=list, description="The customer's tier (vip, gold...)."
    )


class RuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Display name.")
    position: int = Field(100, ge=0, le=100_000, description="Lower positions are tried first.")
    enabled: bool = Field(True, description="Disabled rules are skipped.")
    conditions: Conditions = Field(default_factory=Conditions, description="All must hold.")
    queue_id: str | None = Field(None, description="Put matching tickets in this queue.")
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list,
        max_length=20,
        description="Tags a matching ticket gets.",
    )
    priority: Priority | None = Field(None, description="Priority a matching ticket gets.")
    assignee_id: str | None = Field(None, description="Assign to this agent.")
    round_robin: bool = Field(
        False, description="Assign to the online agent who has waited longest for a ticket."
    )


class Rule(RuleIn):
    id: str = Field(description="Rule id (rul_...).")
    created_at: datetime = Field(description="When added (UTC).")
    updated_at: datetime = Field(description="When last changed (UTC).")


class ReplyTemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Display name.")
    body: str = Field(
        min_length=1,
        max_length=20_000,
        description="Jinja text; placeholders: customer_name, order_number, headline, "
        "next_step, tracking (list of carrier, tracking_number, status, url), eta, "
        "store, return_days, refund_amount, reason, agent_name, signature.",
    )


class ReplyTemplate(ReplyTemplateIn):
    key: str = Field(
        description="wismo, acknowledgement, return_approved, partial_refund, or your own."
    )
    language: str = Field(description="en, pt, es, it, cs, fr or de.")
    built_in: bool = Field(description="Shipped with the hub (a tenant's own replaces it).")


class RenderedReply(BaseModel):
    text: str = Field(description="The filled-in reply.")


class RenderRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    values: dict[str, str | int | float] = Field(
        default_factory=dict,
        max_length=20,
        description="Extra placeholders (reason, refund_amount...), besides the order's.",
    )


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auto_merge: bool = Field(True, description="Merge messages about one order automatically.")
    merge_window_hours: int = Field(
        72,
        ge=1,
        le=2160,
        description="How long after a ticket's last activity a new message about the same "
        "order still joins it.",
    )
    default_queue_id: str | None = Field(None, description="Where unrouted tickets go.")
    order_number_pattern: str = Field(
        "",
        max_length=_PATTERN_LIMIT,
        description="A regular expression matching your order numbers (besides #1001, "
        "NW-1234, 100045321).",
    )
    policy_texts: dict[Intent, Annotated[str, Field(max_length=4000)]] = Field(
        default_factory=dict, description="Policy text quoted in drafts, per intent."
    )
    signature: str = Field("", max_length=2000, description="Ends every drafted reply.")

    @field_validator("order_number_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        if value:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from exc
        return value


class Settings(SettingsIn):
    updated_at: datetime | None = Field(
        description="When last changed (UTC); null until first set."
    )


class MailboxIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: Email = Field(description="support@shop.example")
    display_name: str = Field("", max_length=200, description="Replies are sent as this name.")
    connection_id: str = Field(description="The tenant's e-mail connection (con_...).")
    sales_channel_id: str | None = Field(None, description="The brand or store it serves.")


class Mailbox(MailboxIn):
    id: str = Field(description="Mailbox id (mbx_...).")
    created_at: datetime = Field(description="When added (UTC).")
