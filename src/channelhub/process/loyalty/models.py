"""Programs, members, the points ledger and the rewards catalogue.

The ledger is append-only: a balance is never stored, it is derived from the member's
entries (see ``ledger.Balance``), so it can always be explained line by line. What looks
like a change of state (points becoming available after the return window, points
expiring) is either a time on the entry (``available_at``, ``expires_at``) or a new
entry written by the expiry job.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from channelhub.platform.db.base import Base, TenantScoped, Timestamped


class LoyaltyProgram(TenantScoped, Timestamped, Base):
    __tablename__ = "loyalty_programs"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    currency: Mapped[str] = mapped_column(String(3))
    auto_enroll: Mapped[bool] = mapped_column(Boolean, default=True)
    sets_customer_tier: Mapped[bool] = mapped_column(Boolean, default=False)
    pending_days: Mapped[int] = mapped_column(Integer, default=0)
    expiry_days: Mapped[int | None] = mapped_column(Integer)
    earning: Mapped[dict[str, Any]]
    """``schemas.Earning`` as JSON: orders, custom events and segment entry."""
    tiers: Mapped[dict[str, Any]]
    """``schemas.Tiers`` as JSON: by points in a period or by a customer metadata key."""


REVIEW_DUE = datetime(2000, 1, 1, tzinfo=UTC)
"""A member's ``updated_at`` set to this asks the tier review to look at them first (their
program's tiers changed)."""


class LoyaltyMember(TenantScoped, Base):
    __tablename__ = "loyalty_members"
    __table_args__ = (
        UniqueConstraint("program_id", "customer_id"),
        Index("ix_loyalty_members_customer", "tenant_id", "customer_id"),
    )

    program_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("loyalty_programs.id", ondelete="CASCADE")
    )
    customer_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("customers.id", ondelete="CASCADE")
    )
    tier: Mapped[str] = mapped_column(String(32), default="")
    tier_since: Mapped[datetime | None]
    joined_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LedgerEntry(TenantScoped, Base):
    """One movement of points. ``points`` is positive for ``earn`` (and a positive
    ``adjust``), negative for ``spend``, ``expire``, ``reverse`` (and a negative
    ``adjust``). ``lot_id`` ties an ``expire`` or ``reverse`` to the ``earn`` it takes from.
    ``(program, kind, source, source_ref)`` is unique: the same order, receipt or reward
    can never move points twice."""

    __tablename__ = "loyalty_ledger"
    __table_args__ = (
        UniqueConstraint("program_id", "kind", "source", "source_ref"),
        Index("ix_loyalty_ledger_member", "member_id", "id"),
        Index("ix_loyalty_ledger_due", "expires_at"),
        Index("ix_loyalty_ledger_lot", "lot_id"),
    )

    program_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("loyalty_programs.id", ondelete="CASCADE")
    )
    member_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("loyalty_members.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    points: Mapped[int] = mapped_column(BigInteger)
    available_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    lot_id: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(16))
    """``order``, ``event``, ``segment``, ``reward``, ``manual`` or ``expiry``."""
    source_ref: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime]


class LoyaltyReward(TenantScoped, Timestamped, Base):
    """A reward members buy with points: a single-use code of a voucher campaign,
    issued to them."""

    __tablename__ = "loyalty_rewards"
    __table_args__ = (UniqueConstraint("program_id", "name"),)

    program_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("loyalty_programs.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    kind: Mapped[str] = mapped_column(String(24))
    cost_points: Mapped[int] = mapped_column(BigInteger)
    campaign_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("promotion_campaigns.id", ondelete="RESTRICT")
    )
    min_tier: Mapped[str | None] = mapped_column(String(32))
    valid_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
