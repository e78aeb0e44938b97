"""Orders, their fulfilment groups, shipments, returns, refunds, notices and timeline."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channelhub.platform.db.base import Base, TenantScoped


class Order(TenantScoped, Base):
    """The canonical order: one per purchase, however many systems know it."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_orders_tenant_email", "tenant_id", "customer_email"),
        Index("ix_orders_action_deadline", "action_needed", "action_deadline"),
    )

    number: Mapped[str] = mapped_column(String(64))
    sales_channel_id: Mapped[str] = mapped_column(String(40), ForeignKey("sales_channels.id"))
    status: Mapped[str] = mapped_column(String(32))
    payment_status: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    shipping_total: Mapped[int] = mapped_column(BigInteger)
    discount_total: Mapped[int] = mapped_column(BigInteger)
    tax_total: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    refunded_total: Mapped[int] = mapped_column(BigInteger, default=0)
    customer_email: Mapped[str] = mapped_column(String(254))
    customer_phone: Mapped[str] = mapped_column(String(32), default="")
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(16))
    shipping_address: Mapped[dict[str, Any] | None]
    billing_address: Mapped[dict[str, Any] | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    action_needed: Mapped[str | None] = mapped_column(String(32))
    """Why the order waits for a decision (``store_closed``), or null."""
    action_needed_since: Mapped[datetime | None]
    action_deadline: Mapped[datetime | None]
    """When the tenant's fallback decides if nobody has (null: a person must decide)."""
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    placed_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    source_updated_at: Mapped[datetime | None]
    """The owning system's last update time; an older update is ignored."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    lines: Mapped[list[OrderLine]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="OrderLine.position"
    )
    groups: Mapped[list[FulfilmentGroup]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="FulfilmentGroup.position"
    )
    external_ids: Mapped[list[OrderExternalId]] = relationship(
        lazy="raise", cascade="all, delete-orphan"
    )


class OrderExternalId(Base):
    """How another system names the order (a storefront's id, the ERP's document number)."""

    __tablename__ = "order_external_ids"

    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    system: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer)
    variant_id: Mapped[str] = mapped_column(String(40))
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    fulfilled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    """Units shipped or handed over at the store."""
    returned_quantity: Mapped[int] = mapped_column(Integer, default=0)
    """Units received back."""


class FulfilmentGroup(Base):
    """Lines that leave together the same way: shipped to an address, or collected at a
    store. Each has its own state machine and its own stock reservation."""

    __tablename__ = "fulfilment_groups"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(16))
    location_id: Mapped[str | None] = mapped_column(
        String(40), ForeignKey("locations.id"), index=True
    )
    """The pickup store; null for a shipment until it ships."""
    status: Mapped[str] = mapped_column(String(24))
    reservation_id: Mapped[str | None] = mapped_column(String(40))
    shipping_fee: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_waived: Mapped[bool] = mapped_column(Boolean, default=False)
    ready_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    """Delivered or picked up."""
    updated_at: Mapped[datetime]


class Shipment(TenantScoped, Base):
    __tablename__ = "shipments"
    __table_args__ = (Index("ix_shipments_tracking", "tenant_id", "carrier", "tracking_number"),)

    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    group_id: Mapped[str] = mapped_column(String(40), ForeignKey("fulfilment_groups.id"))
    carrier: Mapped[str] = mapped_column(String(64))
    service: Mapped[str] = mapped_column(String(100), default="")
    tracking_number: Mapped[str] = mapped_column(String(100), default="")
    tracking_url: Mapped[str] = mapped_column(String(1000), default="")
    status: Mapped[str] = mapped_column(String(32))
    carrier_status_code: Mapped[str] = mapped_column(String(100), default="")
    carrier_status_text: Mapped[str] = mapped_column(Text, default="")
    estimated_delivery: Mapped[dt.date | None] = mapped_column(Date)
    last_event_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    items: Mapped[list[ShipmentItem]] = relationship(lazy="raise", cascade="all, delete-orphan")


class ShipmentItem(Base):
    __tablename__ = "shipment_items"

    shipment_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True
    )
    line_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)


class TrackingEvent(Base):
    """One carrier scan, normalised, with the carrier's own code and words beside it."""

    __tablename__ = "tracking_events"
    __table_args__ = (
        UniqueConstraint("shipment_id", "occurred_at", "status", "carrier_code"),
        Index("ix_tracking_events_shipment_time", "shipment_id", "occurred_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    shipment_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("shipments.id", ondelete="CASCADE")
    )
    status: Mapped[str] = mapped_column(String(32))
    carrier_code: Mapped[str] = mapped_column(String(100), default="")
    carrier_text: Mapped[str] = mapped_column(Text, default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]


class OrderNotice(Base):
    """Something the customer should be told (ready for pickup, shipped...). It is
    decided here and delivered by the notifications context; a notice the truth has
    overtaken is suppressed with its reason instead."""

    __tablename__ = "order_notices"
    __table_args__ = (Index("ix_order_notices_pending", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(40), index=True)
    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    """Not to be looked at again before this (a retry, the end of SMS quiet hours)."""
    claimed_until: Mapped[datetime | None]
    """A dispatcher's lease on the notice while it delivers it."""
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Times the notice was claimed without the dispatcher finishing with it (reset when it
    does); past the limit the notice is recorded as failed instead of retried forever."""


class TimelineEntry(Base):
    """What happened to an order, in order: state changes, notices, choices, scans."""

    __tablename__ = "order_timeline"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]


class Return(TenantScoped, Base):
    __tablename__ = "returns"

    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    requested_by: Mapped[str] = mapped_column(String(100))
    label_carrier: Mapped[str] = mapped_column(String(64), default="")
    label_tracking_number: Mapped[str] = mapped_column(String(100), default="")
    label_url: Mapped[str] = mapped_column(String(1000), default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    received_at: Mapped[datetime | None]

    lines: Mapped[list[ReturnLine]] = relationship(lazy="raise", cascade="all, delete-orphan")


class ReturnLine(Base):
    __tablename__ = "return_lines"

    return_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("returns.id", ondelete="CASCADE"), primary_key=True
    )
    line_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)


class Refund(TenantScoped, Base):
    __tablename__ = "refunds"

    order_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    return_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("returns.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class OrderPolicy(Base):
    """A tenant's rules for orders: what happens when nobody answers a store closure, how
    far to look for another pickup store, how long returns stay open."""

    __tablename__ = "order_policies"

    tenant_id: Mapped[str] = mapped_column(String(40), ForeignKey("tenants.id"), primary_key=True)
    closure_fallback: Mapped[str] = mapped_column(String(16))
    closure_fallback_hours: Mapped[int] = mapped_column(Integer)
    pickup_radius_km: Mapped[int] = mapped_column(Integer)
    return_window_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
