"""Products and their variants (the sellable SKUs)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from channelhub.platform.db.base import Base, TenantScoped, Timestamped


class Product(TenantScoped, Timestamped, Base):
    __tablename__ = "products"

    brand_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("brands.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    attributes: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=1)

    variants: Mapped[list[Variant]] = relationship(
        lazy="raise", order_by="Variant.position", cascade="all, delete-orphan"
    )


class Variant(TenantScoped, Timestamped, Base):
    __tablename__ = "variants"
    __table_args__ = (UniqueConstraint("tenant_id", "sku"),)

    product_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("products.id", ondelete="CASCADE"), index=True
    )
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    price_amount: Mapped[int] = mapped_column(BigInteger)
    price_currency: Mapped[str] = mapped_column(String(3))
    attributes: Mapped[dict[str, Any]]
    position: Mapped[int] = mapped_column(Integer)
