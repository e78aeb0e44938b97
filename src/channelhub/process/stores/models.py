"""Locations: warehouses and retail stores, and the sales channels each one serves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channelhub.platform.db.base import Base, TenantScoped, Timestamped


class Location(TenantScoped, Timestamped, Base):
    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    address_line1: Mapped[str] = mapped_column(String(200), default="")
    address_line2: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(2))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str] = mapped_column(String(64))
    ships: Mapped[bool] = mapped_column(Boolean)
    pickup: Mapped[bool] = mapped_column(Boolean)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    hours: Mapped[dict[str, Any] | None]
    """OpeningHours as JSON; null: not set (open unless temporarily closed)."""
    closed_reason: Mapped[str | None] = mapped_column(Text)
    closed_since: Mapped[datetime | None]
    reopens_at: Mapped[datetime | None]

    channels: Mapped[list[LocationChannel]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="LocationChannel.priority"
    )


class LocationChannel(Base):
    """A location serves a sales channel; lower ``priority`` is allocated from first."""

    __tablename__ = "location_channels"

    location_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("locations.id", ondelete="CASCADE"), primary_key=True
    )
    sales_channel_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("sales_channels.id"), primary_key=True, index=True
    )
    priority: Mapped[int] = mapped_column(Integer)
