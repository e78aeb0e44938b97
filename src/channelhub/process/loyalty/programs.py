"""Loyalty programs and their rewards catalogue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import flush_or_conflict
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.db.repository import owned_row
from channelhub.platform.errors import InvalidError, NotFoundError
from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.outbox import record_event
from channelhub.platform.ids import new_id
from channelhub.process.loyalty import schemas
from channelhub.process.loyalty.events import PROGRAM_CREATED, PROGRAM_UPDATED
from channelhub.process.loyalty.models import (
    REVIEW_DUE,
    LoyaltyMember,
    LoyaltyProgram,
    LoyaltyReward,
)
from channelhub.process.promotions.campaigns import owned_campaign
from channelhub.process.promotions.schemas import CampaignType

READ = "loyalty:read"
WRITE = "loyalty:write"


class ProgramNotFound(NotFoundError):
    code = "program_not_found"


class RewardNotFound(NotFoundError):
    code = "reward_not_found"


def earning_of(row: LoyaltyProgram) -> schemas.Earning:
    return schemas.Earning.model_validate(row.earning)


def tiers_of(row: LoyaltyProgram) -> schemas.Tiers:
    return schemas.Tiers.model_validate(row.tiers)


def program_schema(row: LoyaltyProgram) -> schemas.Program:
    return schemas.Program(
        id=row.id,
        name=row.name,
        description=row.description,
        active=row.active,
        currency=row.currency,
        auto_enroll=row.auto_enroll,
        sets_customer_tier=row.sets_customer_tier,
        pending_days=row.pending_days,
        expiry_days=row.expiry_days,
        earning=earning_of(row),
        tiers=tiers_of(row),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _json(model: schemas.Earning | schemas.Tiers) -> dict[str, Any]:
    return model.model_dump(mode="json")


async def create_program(
    session: AsyncSession,
    principal: Principal,
    data: schemas.ProgramCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Program:
    principal.require(WRITE)
    now = clock()
    row = LoyaltyProgram(
        id=new_id("lyp"),
        tenant_id=principal.tenant_id,
        name=data.name,
        description=data.description,
        active=data.active,
        currency=data.currency,
        auto_enroll=data.auto_enroll,
        sets_customer_tier=data.sets_customer_tier,
        pending_days=data.pending_days,
        expiry_days=data.expiry_days,
        earning=_json(data.earning),
        tiers=_json(data.tiers),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    return await _saved(session, row, PROGRAM_CREATED)


async def _saved(
    session: AsyncSession, row: LoyaltyProgram, event_type: EventType
) -> schemas.Program:
    """Write the program (its name must be free) and announce it."""
    await flush_or_conflict(session, f"a program named {row.name!r} exists", field="name")
    result = program_schema(row)
    await record_event(session, event_type, tenant_id=row.tenant_id, subject=row.id, data=result)
    return result


async def owned_program(
    session: AsyncSession, tenant_id: str, program_id: str, *, field: str | None = None
) -> LoyaltyProgram:
    return await owned_row(
        session, LoyaltyProgram, tenant_id, program_id, ProgramNotFound, field=field
    )


async def get_program(
    session: AsyncSession, principal: Principal, program_id: str
) -> schemas.Program:
    principal.require(READ)
    return program_schema(await owned_program(session, principal.tenant_id, program_id))


async def list_programs(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> Page[schemas.Program]:
    principal.require(READ)
    statement = select(LoyaltyProgram).where(LoyaltyProgram.tenant_id == principal.tenant_id)
    found = await keyset_page(session, statement, LoyaltyProgram.id, page)
    return Page([program_schema(row) for row in found.items], found.next_cursor)


async def update_program(
    session: AsyncSession,
    principal: Principal,
    program_id: str,
    data: schemas.ProgramUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.Program:
    """Change what is given. New earning rules and expiry apply to points earned from
    now on; new tiers apply to each member at their next movement of points, change of
    metadata, or the tier review (every 10 minutes, these members first), whichever comes
    first."""
    principal.require(WRITE)
    row = await owned_program(session, principal.tenant_id, program_id)
    given = data.model_fields_set
    for name in (
        "name",
        "description",
        "active",
        "auto_enroll",
        "sets_customer_tier",
        "pending_days",
    ):
        value = getattr(data, name)
        if name in given and value is not None:
            setattr(row, name, value)
    if "expiry_days" in given:
        row.expiry_days = data.expiry_days
    if data.earning is not None:
        row.earning = _json(data.earning)
    if data.tiers is not None:
        row.tiers = _json(data.tiers)
        await _check_reward_tiers(session, row, data.tiers)
        await session.execute(
            update(LoyaltyMember)
            .where(LoyaltyMember.program_id == row.id)
            .values(updated_at=REVIEW_DUE)
            .execution_options(synchronize_session=False)
        )
    row.updated_at = clock()
    return await _saved(session, row, PROGRAM_UPDATED)


async def _check_reward_tiers(
    session: AsyncSession, program: LoyaltyProgram, tiers: schemas.Tiers
) -> None:
    keys = {level.key for level in tiers.levels}
    needed = await session.scalars(
        select(LoyaltyReward.min_tier).where(
            LoyaltyReward.program_id == program.id, LoyaltyReward.min_tier.is_not(None)
        )
    )
    missing = sorted({tier for tier in needed if tier is not None and tier not in keys})
    if missing:
        raise InvalidError(
            f"rewards need the tiers {missing}; change those rewards first", field="tiers"
        )


def tier_rank(tiers: schemas.Tiers, key: str | None) -> int:
    """0 for no tier, then 1 for the lowest level upward."""
    for position, level in enumerate(tiers.levels, start=1):
        if level.key == key:
            return position
    return 0


def reward_schema(row: LoyaltyReward) -> schemas.Reward:
    return schemas.Reward(
        id=row.id,
        program_id=row.program_id,
        name=row.name,
        description=row.description,
        kind=schemas.RewardKind(row.kind),
        cost_points=row.cost_points,
        campaign_id=row.campaign_id,
        min_tier=row.min_tier,
        valid_days=row.valid_days,
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


_EFFECTS_FOR = {
    schemas.RewardKind.free_product: {"fixed_price", "buy_x_get_y"},
    schemas.RewardKind.points_to_money: {"fixed_amount"},
}
"""The campaign effects a kind of reward can stand for (any, if not listed)."""


async def _check_campaign(
    session: AsyncSession, tenant_id: str, campaign_id: str, kind: schemas.RewardKind
) -> None:
    try:
        campaign = await owned_campaign(session, tenant_id, campaign_id)
    except NotFoundError as exc:
        raise InvalidError(str(exc), field="campaign_id", code="campaign_not_found") from exc
    if campaign.type != CampaignType.vouchers.value:
        raise InvalidError("a reward needs a vouchers campaign", field="campaign_id")
    allowed = _EFFECTS_FOR.get(kind)
    if allowed is not None and campaign.effect.get("kind") not in allowed:
        raise InvalidError(
            f"a {kind.value} reward needs a campaign whose effect is one of {sorted(allowed)}",
            field="campaign_id",
        )


def _check_min_tier(program: LoyaltyProgram, min_tier: str | None) -> None:
    if min_tier is not None and tier_rank(tiers_of(program), min_tier) == 0:
        raise InvalidError(f"the program has no tier {min_tier!r}", field="min_tier")


async def create_reward(
    session: AsyncSession,
    principal: Principal,
    program_id: str,
    data: schemas.RewardCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Reward:
    principal.require(WRITE)
    program = await owned_program(session, principal.tenant_id, program_id)
    await _check_campaign(session, principal.tenant_id, data.campaign_id, data.kind)
    _check_min_tier(program, data.min_tier)
    now = clock()
    row = LoyaltyReward(
        id=new_id("rwd"),
        tenant_id=principal.tenant_id,
        program_id=program.id,
        name=data.name,
        description=data.description,
        kind=data.kind.value,
        cost_points=data.cost_points,
        campaign_id=data.campaign_id,
        min_tier=data.min_tier,
        valid_days=data.valid_days,
        active=data.active,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await flush_or_conflict(session, f"a reward named {data.name!r} exists", field="name")
    return reward_schema(row)


async def owned_reward(
    session: AsyncSession, tenant_id: str, reward_id: str, *, field: str | None = None
) -> LoyaltyReward:
    return await owned_row(
        session, LoyaltyReward, tenant_id, reward_id, RewardNotFound, field=field
    )


async def list_rewards(
    session: AsyncSession, principal: Principal, program_id: str, page: PageRequest
) -> Page[schemas.Reward]:
    principal.require(READ)
    program = await owned_program(session, principal.tenant_id, program_id)
    statement = select(LoyaltyReward).where(LoyaltyReward.program_id == program.id)
    found = await keyset_page(session, statement, LoyaltyReward.id, page)
    return Page([reward_schema(row) for row in found.items], found.next_cursor)


async def get_reward(session: AsyncSession, principal: Principal, reward_id: str) -> schemas.Reward:
    principal.require(READ)
    return reward_schema(await owned_reward(session, principal.tenant_id, reward_id))


async def update_reward(
    session: AsyncSession,
    principal: Principal,
    reward_id: str,
    data: schemas.RewardUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.Reward:
    principal.require(WRITE)
    row = await owned_reward(session, principal.tenant_id, reward_id)
    given = data.model_fields_set
    if "min_tier" in given:
        program = await owned_program(session, principal.tenant_id, row.program_id)
        _check_min_tier(program, data.min_tier)
        row.min_tier = data.min_tier
    if "valid_days" in given:
        row.valid_days = data.valid_days
    for name in ("description", "cost_points", "active"):
        value = getattr(data, name)
        if name in given and value is not None:
            setattr(row, name, value)
    row.updated_at = clock()
    await session.flush()
    return reward_schema(row)
