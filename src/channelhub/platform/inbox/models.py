"""The durable inbox: everything a system of record sends, stored raw before any work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.db.base import Base


class InboxRecord(Base):
    """One delivery from an outside system, as received.

    ``(connection_id, delivery_id)`` is unique: the sender's own delivery id (Shopify's
    X-Shopify-Webhook-Id, WooCommerce's delivery id, BigCommerce's hash, an event id), so
    a redelivery is recognised and stored once.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("connection_id", "delivery_id"),
        Index("ix_inbox_due", "status", "available_at"),
        Index("ix_inbox_tenant_status", "tenant_id", "status", "id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    connection_id: Mapped[str] = mapped_column(String(40), index=True)
    system: Mapped[str] = mapped_column(String(32))
    topic: Mapped[str] = mapped_column(String(100))
    delivery_id: Mapped[str] = mapped_column(String(200))
    headers: Mapped[dict[str, Any]]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime]
    available_at: Mapped[datetime]
    """Not processed before this time (retry back-off)."""
    claimed_until: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
