"""Which tier a member is in, and the events when it changes.

By points: the highest level whose ``min_points`` the member earned within the period.
By metadata: the highest level listing the value the customer's metadata key holds now.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.outbox import PendingEvent
from channelhub.process.loyalty import schemas
from channelhub.process.loyalty.events import (
    TIER_DOWNGRADED,
    TIER_JOINED,
    TIER_LEFT,
    TIER_UPGRADED,
)
from channelhub.process.loyalty.ledger import points_in_period
from channelhub.process.loyalty.models import LedgerEntry, LoyaltyMember
from channelhub.process.loyalty.programs import tier_rank


def _matches(value: Any, allowed: Sequence[Any]) -> bool:
    # bool is an int in Python: True must not match 1, nor "1" match 1.
    return any(type(value) is type(option) and value == option for option in allowed)


def tier_for(
    tiers: schemas.Tiers,
    entries: Sequence[LedgerEntry],
    metadata: dict[str, Any],
    now: datetime,
) -> str | None:
    if tiers.basis is schemas.TierBasis.metadata:
        value = metadata.get(tiers.metadata_key or "")
        found = [level for level in tiers.levels if _matches(value, level.values or [])]
    else:
        points = points_in_period(entries, now, tiers.period_days)
        found = [level for level in tiers.levels if points >= (level.min_points or 0)]
    return found[-1].key if found else None


def progress(
    tiers: schemas.Tiers, entries: Sequence[LedgerEntry], tier: str | None, now: datetime
) -> schemas.TierProgress:
    rank = tier_rank(tiers, tier)
    above = tiers.levels[rank] if rank < len(tiers.levels) else None
    if tiers.basis is schemas.TierBasis.metadata:
        return schemas.TierProgress(
            points_in_period=None,
            next_tier=above.key if above else None,
            points_to_next=None,
        )
    points = points_in_period(entries, now, tiers.period_days)
    return schemas.TierProgress(
        points_in_period=points,
        next_tier=above.key if above else None,
        points_to_next=max((above.min_points or 0) - points, 0) if above else None,
    )


def with_multiplier(tiers: schemas.Tiers, tier: str | None, points: int) -> int:
    """``points`` as a member of ``tier`` earns them (rounded down)."""
    percent = next((level.multiplier_percent for level in tiers.levels if level.key == tier), 100)
    return points * percent // 100


def move(
    member: LoyaltyMember, tiers: schemas.Tiers, tier: str | None, now: datetime
) -> PendingEvent | None:
    """Put ``member`` in ``tier``; the event announcing it, if it changed."""
    previous = member.tier or None
    if tier == previous:
        return None
    before, after = tier_rank(tiers, previous), tier_rank(tiers, tier)
    kind: EventType
    if tier is None:
        kind = TIER_LEFT
    elif previous is None or before == 0:
        kind = TIER_JOINED
    else:
        kind = TIER_UPGRADED if after > before else TIER_DOWNGRADED
    member.tier = tier or ""
    member.tier_since = now if tier else None
    member.updated_at = now
    change = schemas.TierChange(
        member_id=member.id,
        customer_id=member.customer_id,
        program_id=member.program_id,
        previous=previous,
        tier=tier,
        at=now,
    )
    return PendingEvent(kind, member.tenant_id, member.id, change)
