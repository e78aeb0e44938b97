"""Connections to systems of record, and what each storefront knows of our SKUs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.db.base import Base, JSONDocument, TenantScoped


class Connection(TenantScoped, Base):
    """A system of record the hub talks to: where its deliveries arrive (``/hooks/{id}``),
    how they are verified, and how its ids map to ours. Secrets are sealed (encrypted)."""

    __tablename__ = "connections"

    system: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(String(500), default="")
    sales_channel_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("sales_channels.id")
    )
    order_number_prefix: Mapped[str] = mapped_column(String(16), default="")
    sealed_secrets: Mapped[bytes] = mapped_column(LargeBinary)
    secret_names: Mapped[list[str]] = mapped_column(JSONDocument)
    locations: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    """[{external_id, location_id, owns_stock}]"""
    push_stock: Mapped[bool] = mapped_column(Boolean)
    enabled: Mapped[bool] = mapped_column(Boolean)
    rejected_deliveries: Mapped[int] = mapped_column(Integer, default=0)
    last_pushed_at: Mapped[datetime | None]
    last_push_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ConnectionSku(Base):
    """How one connected system names one of our SKUs (its product, variant, inventory
    item ids), and the last figure pushed to it."""

    __tablename__ = "connection_skus"

    connection_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("connections.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    refs: Mapped[dict[str, Any]]
    pushed: Mapped[dict[str, Any]]
    """{external location id: quantity last pushed}"""
    dirty_since: Mapped[datetime | None] = mapped_column(index=True)
    """Set when the SKU's figure changed and is still to be pushed (bursts coalesce)."""
    push_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_push_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
