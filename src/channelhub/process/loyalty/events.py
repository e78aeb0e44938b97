"""Loyalty event types: membership, points and tiers, rewards, programs."""

from __future__ import annotations

from pydantic import BaseModel

from channelhub.platform.events.catalog import EventType, declare
from channelhub.process.loyalty import schemas


def _loyalty(name: str, description: str, model: type[BaseModel]) -> EventType:
    return declare(name, context="loyalty", description=description, data_model=model)


PROGRAM_CREATED = _loyalty(
    "loyalty.program_created", "A loyalty program was set up.", schemas.Program
)
PROGRAM_UPDATED = _loyalty(
    "loyalty.program_updated", "A loyalty program's rules, tiers or state changed.", schemas.Program
)
MEMBER_ENROLLED = _loyalty(
    "loyalty.member_enrolled", "A customer joined a loyalty program.", schemas.Member
)
POINTS_EARNED = _loyalty(
    "loyalty.points_earned",
    "A member earned points (from an order, a custom event, a segment or by hand); "
    "pending ones show in the balance as pending.",
    schemas.PointsMoved,
)
POINTS_SPENT = _loyalty(
    "loyalty.points_spent",
    "A member spent points (on a reward, or taken off by hand).",
    schemas.PointsMoved,
)
POINTS_REVERSED = _loyalty(
    "loyalty.points_reversed",
    "Points earned from an order were taken back: it was cancelled or refunded.",
    schemas.PointsMoved,
)
POINTS_EXPIRED = _loyalty(
    "loyalty.points_expired",
    "A member's unspent points reached their expiry.",
    schemas.PointsMoved,
)
TIER_JOINED = _loyalty(
    "loyalty.tier_joined", "A member reached their first tier.", schemas.TierChange
)
TIER_UPGRADED = _loyalty(
    "loyalty.tier_upgraded", "A member moved up to a higher tier.", schemas.TierChange
)
TIER_DOWNGRADED = _loyalty(
    "loyalty.tier_downgraded", "A member moved down to a lower tier.", schemas.TierChange
)
TIER_LEFT = _loyalty(
    "loyalty.tier_left", "A member no longer qualifies for any tier.", schemas.TierChange
)
REWARD_REDEEMED = _loyalty(
    "loyalty.reward_redeemed",
    "A member bought a reward with points and was issued its voucher code.",
    schemas.RewardRedemption,
)
