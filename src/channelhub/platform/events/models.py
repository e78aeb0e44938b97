"""Tables of the event machinery: outbox (also the event log), sequences, consumer records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.db.base import AutoIncrementKey, Base


class OutboxEvent(Base):
    """An event written in the same transaction as the change it describes.

    ``position`` orders rows for the relay; ``published_at`` is set once the bus has
    acknowledged the event. Published rows stay as the event log until retention prunes them.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "position",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
        Index("ix_outbox_tenant_time", "tenant_id", "time"),
    )

    position: Mapped[int] = mapped_column(AutoIncrementKey, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    tenant_id: Mapped[str] = mapped_column(String(40))
    type: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(100))
    sequence: Mapped[int]
    time: Mapped[datetime]
    data: Mapped[dict[str, Any]]
    claimed_until: Mapped[datetime | None]
    published_at: Mapped[datetime | None]


class SubjectSequence(Base):
    """Last sequence number handed out per (tenant, subject)."""

    __tablename__ = "event_sequences"

    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class ProcessedEvent(Base):
    """A consumer handled this event; written in the handler's own transaction, so a
    redelivered event is recognised and skipped."""

    __tablename__ = "processed_events"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    processed_at: Mapped[datetime]


class ConsumerFailure(Base):
    """An event a consumer failed to handle: retried until ``max deliveries``, then dead."""

    __tablename__ = "consumer_failures"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    envelope: Mapped[dict[str, Any]]
    attempts: Mapped[int]
    last_error: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    next_attempt_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
