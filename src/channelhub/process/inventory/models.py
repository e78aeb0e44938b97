"""Stock levels per variant x location, the movement ledger, and reservations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channelhub.platform.db.base import Base, TenantScoped


class StockLevel(Base):
    """What one location holds of one variant. ATP = on_hand - reserved - safety_stock,
    never below zero. ``source_version`` / ``source_time`` belong to the last on-hand
    update applied from the owning system (ERP/WMS), so older ones can be refused."""

    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("safety_stock >= 0", name="safety_stock_not_negative"),
        CheckConstraint("incoming >= 0", name="incoming_not_negative"),
        Index("ix_stock_levels_tenant_location", "tenant_id", "location_id"),
    )

    variant_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("variants.id", ondelete="CASCADE"), primary_key=True
    )
    location_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("locations.id"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(String(40), ForeignKey("tenants.id"))
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    reserved: Mapped[int] = mapped_column(Integer, default=0)
    safety_stock: Mapped[int] = mapped_column(Integer, default=0)
    incoming: Mapped[int] = mapped_column(Integer, default=0)
    source_version: Mapped[int | None] = mapped_column(BigInteger)
    source_time: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)


class StockMovement(TenantScoped, Base):
    """One ledger row per change (or refused change) of a stock level: who, what, why,
    and the figures before and after, so every number can be explained."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_variant", "tenant_id", "variant_id", "id"),)

    variant_id: Mapped[str] = mapped_column(String(40))
    sku: Mapped[str] = mapped_column(String(100))
    location_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(24))
    applied: Mapped[bool]
    on_hand_before: Mapped[int] = mapped_column(Integer)
    on_hand_after: Mapped[int] = mapped_column(Integer)
    reserved_before: Mapped[int] = mapped_column(Integer)
    reserved_after: Mapped[int] = mapped_column(Integer)
    safety_stock_before: Mapped[int] = mapped_column(Integer)
    safety_stock_after: Mapped[int] = mapped_column(Integer)
    incoming_after: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    source_version: Mapped[int | None] = mapped_column(BigInteger)
    source_time: Mapped[datetime | None]
    reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]


class Reservation(TenantScoped, Base):
    """Stock held for an order or a cart, all lines or none."""

    __tablename__ = "reservations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        Index("ix_reservations_expiry", "status", "expires_at"),
    )

    key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(200), default="")
    sales_channel_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("sales_channels.id")
    )
    fulfilment: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    allocations: Mapped[list[ReservationAllocation]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="ReservationAllocation.position"
    )


class ReservationAllocation(Base):
    """Part of a reservation line held at one location (a line may span locations)."""

    __tablename__ = "reservation_allocations"

    reservation_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    line: Mapped[int] = mapped_column(Integer)
    variant_id: Mapped[str] = mapped_column(String(40))
    sku: Mapped[str] = mapped_column(String(100))
    location_id: Mapped[str] = mapped_column(String(40))
    quantity: Mapped[int] = mapped_column(Integer)
