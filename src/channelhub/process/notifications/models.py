"""Per-tenant notification settings, template overrides, consents and deliveries."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.db.base import Base, TenantScoped


class NotificationSettings(Base):
    """How a tenant reaches its customers: the e-mail sender, the SMS and push providers
    (their secrets sealed with ``CHANNELHUB_ENCRYPTION_KEY``), consent defaults and SMS
    quiet hours. A tenant without a row has no sender, so its e-mails are suppressed."""

    __tablename__ = "notification_settings"

    tenant_id: Mapped[str] = mapped_column(String(40), ForeignKey("tenants.id"), primary_key=True)
    email_from: Mapped[str] = mapped_column(String(254), default="")
    email_from_name: Mapped[str] = mapped_column(String(200), default="")
    reply_to: Mapped[str] = mapped_column(String(254), default="")
    order_page_url: Mapped[str] = mapped_column(String(1000), default="")
    """The shop's order page, with ``{token}`` where the signed order token goes."""
    sms_url: Mapped[str] = mapped_column(String(2048), default="")
    sms_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    push_url: Mapped[str] = mapped_column(String(2048), default="")
    push_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    sms_requires_opt_in: Mapped[bool] = mapped_column(Boolean, default=True)
    push_requires_opt_in: Mapped[bool] = mapped_column(Boolean, default=True)
    quiet_hours_start: Mapped[time | None] = mapped_column(Time)
    quiet_hours_end: Mapped[time | None] = mapped_column(Time)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    updated_at: Mapped[datetime]


class NotificationTemplate(TenantScoped, Base):
    """A tenant's (or one brand's) wording of one notice on one channel in one language,
    replacing the built-in default."""

    __tablename__ = "notification_templates"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "brand_id",
            "kind",
            "channel",
            "language",
            name="uq_notification_templates_key",
        ),
    )

    brand_id: Mapped[str] = mapped_column(String(40), default="")
    """The brand it is for; empty for every brand of the tenant (a NULL would escape the
    unique constraint)."""
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    html: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class NotificationConsent(TenantScoped, Base):
    """Whether a customer (known by e-mail address or phone number) wants messages on a
    channel. No row means the channel's default (see ``consent.allowed``)."""

    __tablename__ = "notification_consents"
    __table_args__ = (UniqueConstraint("tenant_id", "channel", "contact"),)

    channel: Mapped[str] = mapped_column(String(16))
    contact: Mapped[str] = mapped_column(String(254))
    subscribed: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class NotificationDelivery(Base):
    """One notice on one channel. The unique (notice, channel) pair is what makes a notice
    reach a customer at most once per channel, however often it is looked at."""

    __tablename__ = "notification_deliveries"
    __table_args__ = (
        UniqueConstraint("notice_id", "channel"),
        Index("ix_notification_deliveries_order", "order_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40), index=True)
    notice_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("order_notices.id", ondelete="CASCADE")
    )
    order_id: Mapped[str] = mapped_column(String(40), ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    recipient: Mapped[str] = mapped_column(String(254), default="")
    language: Mapped[str] = mapped_column(String(8), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    sending_until: Mapped[datetime | None]
    """While ``sending``: the lease of the dispatcher sending it. A row still ``sending``
    after this is one whose sender stopped (outcome unknown)."""
    provider_message_id: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
