"""Customers as the hub knows them, however many systems know them; the tenant's schema for
their metadata; segments and who is in them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channelhub.platform.db.base import Base, TenantScoped


class Customer(TenantScoped, Base):
    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_tenant_email", "tenant_id", "email"),
        Index("ix_customers_tenant_phone", "tenant_id", "phone"),
    )

    email: Mapped[str] = mapped_column(String(254), default="")
    """Stripped and lower-case (``contacts.normalise_email``)."""
    phone: Mapped[str] = mapped_column(String(32), default="")
    """E.164 (``contacts.normalise_phone``), or empty."""
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    tier: Mapped[str] = mapped_column(String(32), default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The merchant's own facts about the customer (shown as ``metadata``); promotion rules
    can match any key."""
    source_updated_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]
    """Set when the customer's personal data was erased (GDPR): the row stays, holding
    pseudonyms, so the erasure is visible and the customer's orders keep their link."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    external_ids: Mapped[list[CustomerExternalId]] = relationship(
        lazy="raise", cascade="all, delete-orphan"
    )


class CustomerExternalId(Base):
    __tablename__ = "customer_external_ids"

    tenant_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    system: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )


class CustomerMetadataSchema(Base):
    """The tenant's rules for customer metadata: checked when metadata is written, never
    applied to what is stored already."""

    __tablename__ = "customer_metadata_schemas"

    tenant_id: Mapped[str] = mapped_column(String(40), ForeignKey("tenants.id"), primary_key=True)
    fields: Mapped[dict[str, Any]]
    """``{"fields": [MetadataField as JSON, ...]}``."""
    additional: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime]


class Segment(TenantScoped, Base):
    """A named group of customers defined by rules; its members are kept up to date."""

    __tablename__ = "customer_segments"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    rules: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SegmentMember(Base):
    """A customer in a segment since ``entered_at``."""

    __tablename__ = "customer_segment_members"
    __table_args__ = (Index("ix_customer_segment_members_customer", "customer_id"),)

    segment_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("customer_segments.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[str] = mapped_column(String(40))
    entered_at: Mapped[datetime]
