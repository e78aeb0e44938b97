"""Campaigns, their vouchers, and the redemptions that spend them.

Counters that limits are checked against (a campaign's redemptions and spent amount, a
voucher's redemptions, a customer's uses of a campaign) live in their rows and change only
through conditional UPDATEs, so concurrent redeems can never pass a limit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.db.base import Base, TenantScoped, Timestamped


class Campaign(TenantScoped, Timestamped, Base):
    __tablename__ = "promotion_campaigns"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    type: Mapped[str] = mapped_column(String(16))
    """``vouchers``: applies when one of its codes is given; ``automatic``: applies by itself."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    currency: Mapped[str | None] = mapped_column(String(3))
    effect: Mapped[dict[str, Any]]
    rules: Mapped[dict[str, Any] | None]
    channel_ids: Mapped[dict[str, Any]]
    """``{"ids": [...]}``: the sales channels it is offered in (none: all)."""
    brand_ids: Mapped[dict[str, Any]]
    stacking: Mapped[str] = mapped_column(String(16), default="combinable")
    priority: Mapped[int] = mapped_column(Integer, default=0)
    budget_redemptions: Mapped[int | None] = mapped_column(BigInteger)
    budget_amount: Mapped[int | None] = mapped_column(BigInteger)
    per_customer: Mapped[int | None] = mapped_column(Integer)
    voucher_redemptions: Mapped[int | None] = mapped_column(Integer)
    """How often each of its codes may be used by default (none: no limit)."""
    redemptions: Mapped[int] = mapped_column(BigInteger, default=0)
    spent: Mapped[int] = mapped_column(BigInteger, default=0)
    started_announced: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_announced: Mapped[bool] = mapped_column(Boolean, default=False)
    exhausted_announced: Mapped[bool] = mapped_column(Boolean, default=False)


class Voucher(TenantScoped, Base):
    __tablename__ = "promotion_vouchers"
    __table_args__ = (
        UniqueConstraint("tenant_id", "code"),
        Index("ix_promotion_vouchers_campaign", "campaign_id", "id"),
        Index("ix_promotion_vouchers_customer", "tenant_id", "customer_id"),
    )

    campaign_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("promotion_campaigns.id", ondelete="CASCADE")
    )
    code: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    redemptions: Mapped[int] = mapped_column(Integer, default=0)
    customer_id: Mapped[str | None] = mapped_column(String(40))
    """Published to this customer: only they may use it."""
    published_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class CustomerUsage(Base):
    """How often one customer has used one campaign (for its per-customer limit)."""

    __tablename__ = "promotion_customer_usage"

    campaign_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("promotion_campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    customer_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    """``cus_...`` for a known customer, ``email:<address>`` for a guest."""
    uses: Mapped[int] = mapped_column(Integer, default=0)


class Redemption(TenantScoped, Base):
    """One redeem call: every discount it applied, succeeded together or rolled back
    together."""

    __tablename__ = "promotion_redemptions"
    __table_args__ = (
        Index("ix_promotion_redemptions_order", "tenant_id", "order_id"),
        Index("ix_promotion_redemptions_created", "tenant_id", "created_at"),
    )

    order_id: Mapped[str | None] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(String(40))
    customer_email: Mapped[str] = mapped_column(String(254), default="")
    channel_id: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    rolled_back_at: Mapped[datetime | None]
    rollback_reason: Mapped[str] = mapped_column(String(500), default="")


class RedemptionItem(Base):
    """One campaign (and, for a code, its voucher) applied by a redemption."""

    __tablename__ = "promotion_redemption_items"

    redemption_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("promotion_redemptions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(40), index=True)
    voucher_id: Mapped[str | None] = mapped_column(String(40), index=True)
    code: Mapped[str | None] = mapped_column(String(64))
    discount: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[dict[str, Any]]
    """``{"lines": [...], "shipping": n}``: what it took off each cart line and shipping."""


class PromotionSettings(Base):
    __tablename__ = "promotion_settings"

    tenant_id: Mapped[str] = mapped_column(String(40), ForeignKey("tenants.id"), primary_key=True)
    max_codes_per_order: Mapped[int] = mapped_column(Integer, default=5)
    updated_at: Mapped[datetime]
