"""Tables of outbound webhooks: endpoints, the messages sent to them, each delivery of a
message to an endpoint and every attempt at it (the delivery log)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.db.base import Base, TenantScoped, Timestamped


class WebhookEndpoint(TenantScoped, Timestamped, Base):
    """A receiver of a tenant's events. Its secrets are sealed with the hub's encryption
    key; during a rotation the previous secret keeps signing until ``previous_until``."""

    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str] = mapped_column(Text, default="")
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    previous_until: Mapped[datetime | None]
    failing_since: Mapped[datetime | None]
    """First failed attempt since the last success (an endpoint failing long enough is
    disabled)."""


class WebhookSettings(Base):
    """A tenant's webhook policy."""

    __tablename__ = "webhook_settings"

    tenant_id: Mapped[str] = mapped_column(String(40), ForeignKey("tenants.id"), primary_key=True)
    allow_private_targets: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime]


class WebhookMessage(Base):
    """An event as it is sent: the exact bytes signed and posted, shared by every
    endpoint that receives it and kept as long as its deliveries."""

    __tablename__ = "webhook_messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    """The event id: the ``webhook-id`` of every delivery and retry of it."""
    tenant_id: Mapped[str] = mapped_column(String(40), index=True)
    event_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One message to one endpoint: pending until a 2xx answer (delivered) or until the
    retry schedule runs out (failed). A claimed delivery's ``next_attempt_at`` is pushed
    ahead by a lease, so a sender that dies mid-delivery leaves it to be sent again; the
    outcome of an attempt is written only by the holder of the current ``lease``."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "message_id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    endpoint_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    message_id: Mapped[str] = mapped_column(String(40), ForeignKey("webhook_messages.id"))
    event_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Requests sent so far (the attempt log's length)."""
    retry_from: Mapped[int] = mapped_column(Integer, default=0)
    """``attempts`` when the retry schedule last started over (a manual retry, a replay)."""
    next_attempt_at: Mapped[datetime | None]
    lease: Mapped[str | None] = mapped_column(String(40))
    """Who may write the outcome of the attempt in flight (a claim's token)."""
    last_status_code: Mapped[int | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]


class WebhookAttempt(Base):
    """One HTTP request of a delivery, as the endpoint answered it."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_endpoint", "endpoint_id", "id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    delivery_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    endpoint_id: Mapped[str] = mapped_column(String(40))
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None]
    latency_ms: Mapped[int]
    response: Mapped[str] = mapped_column(Text, default="")
    """The start of the answer's body (for the log)."""
    error: Mapped[str] = mapped_column(Text, default="")
