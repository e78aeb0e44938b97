"""Customers as the hub knows them, however many systems know them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channelhub.platform.db.base import Base, TenantScoped


class Customer(TenantScoped, Base):
    __tablename__ = "customers"
    __table_args__ = (Index("ix_customers_tenant_email", "tenant_id", "email"),)

    email: Mapped[str] = mapped_column(String(254), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
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
