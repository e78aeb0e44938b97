"""Brands and sales channels: how a merchant (tenant) faces its customers."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.db.base import Base, TenantScoped, Timestamped


class Brand(TenantScoped, Timestamped, Base):
    __tablename__ = "brands"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63))


class SalesChannel(TenantScoped, Timestamped, Base):
    __tablename__ = "sales_channels"
    __table_args__ = (UniqueConstraint("tenant_id", "slug"),)

    brand_id: Mapped[str] = mapped_column(String(40), ForeignKey("brands.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
