"""Buying a reward with points: the points are spent and a single-use code of the
reward's campaign is issued to the member, in one transaction."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.errors import ConflictError, InvalidError
from channelhub.platform.events.outbox import record_event, record_events
from channelhub.process.loyalty import schemas
from channelhub.process.loyalty.events import REWARD_REDEEMED
from channelhub.process.loyalty.ledger import replay
from channelhub.process.loyalty.members import (
    Movement,
    entries_of,
    entry_schema,
    owned_member,
    record,
    review_tier,
)
from channelhub.process.loyalty.programs import (
    WRITE,
    owned_program,
    owned_reward,
    tier_rank,
    tiers_of,
)
from channelhub.process.promotions.campaigns import owned_campaign, state_of
from channelhub.process.promotions.schemas import CampaignState
from channelhub.process.promotions.vouchers import issue_code

CODE_PREFIX = "RWD-"


async def redeem_reward(
    session: AsyncSession,
    principal: Principal,
    data: schemas.RewardRedemptionRequest,
    *,
    clock: Clock = utc_now,
) -> schemas.RewardRedemption:
    """Refused (409, nothing spent) when the reward or program is off, the member's tier
    is too low (checked as of now), the campaign is not running (``campaign_ended``,
    ``campaign_exhausted``, ``campaign_scheduled``, ``campaign_disabled``), or the member
    has too few available points."""
    principal.require(WRITE)
    member = await owned_member(
        session, principal.tenant_id, data.member_id, field="member_id", for_update=True
    )
    reward = await owned_reward(session, principal.tenant_id, data.reward_id, field="reward_id")
    if reward.program_id != member.program_id:
        raise InvalidError(
            "the reward belongs to another program", field="reward_id", code="wrong_program"
        )
    program = await owned_program(session, principal.tenant_id, member.program_id)
    if not (program.active and reward.active):
        raise ConflictError(
            "the reward is not available", field="reward_id", code="reward_inactive"
        )
    now = clock()
    entries = await entries_of(session, member.id)
    # A tier by points may have lapsed since the last review: decide on it as of now.
    changed = await review_tier(session, program, member, entries, now)
    await record_events(session, changed, clock=lambda: now)
    program_tiers = tiers_of(program)
    if tier_rank(program_tiers, member.tier or None) < tier_rank(program_tiers, reward.min_tier):
        raise ConflictError(
            f"the reward needs the tier {reward.min_tier!r} or above",
            field="reward_id",
            code="tier_too_low",
        )
    campaign = await owned_campaign(session, principal.tenant_id, reward.campaign_id)
    state = state_of(campaign, now)
    if state is not CampaignState.running:
        raise ConflictError(
            f"the reward's campaign is {state.value}",
            field="reward_id",
            code=f"campaign_{state.value}",
        )
    available = replay(entries, now).available
    if available < reward.cost_points:
        raise ConflictError(
            f"the reward costs {reward.cost_points} points; {available} are available",
            field="reward_id",
            code="not_enough_points",
        )
    expires_at = now + timedelta(days=reward.valid_days) if reward.valid_days else None
    if campaign.ends_at is not None:
        expires_at = min(expires_at or campaign.ends_at, campaign.ends_at)
    voucher = await issue_code(
        session,
        campaign,
        member.customer_id,
        prefix=CODE_PREFIX,
        expires_at=expires_at,
        clock=lambda: now,
    )
    movement = Movement(
        schemas.EntryKind.spend, -reward.cost_points, "reward", voucher.id, reason=reward.name
    )
    (entry,) = await record(session, program, member, [movement], now)
    result = schemas.RewardRedemption(
        reward_id=reward.id,
        member_id=member.id,
        customer_id=member.customer_id,
        points=reward.cost_points,
        code=voucher.code,
        code_expires_at=voucher.expires_at,
        entry=entry_schema(entry),
        balance=replay([*entries, entry], now).balance(),
    )
    await record_event(
        session,
        REWARD_REDEEMED,
        tenant_id=member.tenant_id,
        subject=member.id,
        data=result,
        clock=lambda: now,
    )
    return result
