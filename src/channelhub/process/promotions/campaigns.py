"""Campaigns and their vouchers: create, change, list, publish."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import flush_or_conflict
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.errors import ConflictError, InvalidError, NotFoundError
from channelhub.platform.events.outbox import record_event
from channelhub.platform.ids import new_id
from channelhub.process.channels.models import Brand, SalesChannel
from channelhub.process.customers.models import Customer
from channelhub.process.promotions import schemas
from channelhub.process.promotions.engine import effect_of, rules_of
from channelhub.process.promotions.events import (
    CAMPAIGN_CREATED,
    CAMPAIGN_UPDATED,
    VOUCHER_CREATED,
    VOUCHER_PUBLISHED,
    VOUCHER_UPDATED,
)
from channelhub.process.promotions.models import (
    Campaign,
    CustomerUsage,
    PromotionSettings,
    Redemption,
    RedemptionItem,
    Voucher,
)
from channelhub.process.promotions.schemas import CampaignState, RedemptionStatus, normalise_code

READ = "promotions:read"
WRITE = "promotions:write"


class CampaignNotFound(NotFoundError):
    code = "campaign_not_found"


class VoucherNotFound(NotFoundError):
    code = "voucher_not_found"


def state_of(row: Campaign, now: datetime) -> CampaignState:
    if not row.active:
        return CampaignState.disabled
    if row.ends_at is not None and row.ends_at <= now:
        return CampaignState.ended
    if row.starts_at is not None and row.starts_at > now:
        return CampaignState.scheduled
    if (row.budget_redemptions is not None and row.redemptions >= row.budget_redemptions) or (
        row.budget_amount is not None and row.spent >= row.budget_amount
    ):
        return CampaignState.exhausted
    return CampaignState.running


def has_budget(row: Campaign) -> bool:
    """A capped campaign keeps its counters in its row, spent atomically by each redeem;
    an uncapped one is counted from its redemptions instead, so that its redeems never
    queue for one row."""
    return row.budget_redemptions is not None or row.budget_amount is not None


async def totals(session: AsyncSession, campaign_ids: list[str]) -> dict[str, tuple[int, int]]:
    """(redemptions, discount given) of each campaign, from its succeeded redemptions."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(
            RedemptionItem.campaign_id,
            func.count(),
            func.coalesce(func.sum(RedemptionItem.discount), 0),
        )
        .join(Redemption, Redemption.id == RedemptionItem.redemption_id)
        .where(
            RedemptionItem.campaign_id.in_(campaign_ids),
            Redemption.status == RedemptionStatus.succeeded.value,
        )
        .group_by(RedemptionItem.campaign_id)
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


async def campaign_views(
    session: AsyncSession, rows: Sequence[Campaign], now: datetime
) -> list[schemas.Campaign]:
    counted = await totals(session, [row.id for row in rows if not has_budget(row)])
    return [
        campaign_schema(row, now, None if has_budget(row) else counted.get(row.id, (0, 0)))
        for row in rows
    ]


def campaign_schema(
    row: Campaign, now: datetime, counted: tuple[int, int] | None = None
) -> schemas.Campaign:
    """The campaign as the API shows it; ``counted`` is what an uncapped campaign gave."""
    redemptions, spent = (row.redemptions, row.spent) if counted is None else counted
    return schemas.Campaign(
        id=row.id,
        name=row.name,
        description=row.description,
        type=schemas.CampaignType(row.type),
        state=state_of(row, now),
        active=row.active,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        timezone=row.timezone,
        currency=row.currency,
        effect=effect_of(row),
        rules=rules_of(row),
        channel_ids=list(row.channel_ids.get("ids", [])),
        brand_ids=list(row.brand_ids.get("ids", [])),
        stacking=schemas.Stacking(row.stacking),
        priority=row.priority,
        budget=schemas.Budget(redemptions=row.budget_redemptions, amount=row.budget_amount),
        per_customer=row.per_customer,
        voucher_redemptions=row.voucher_redemptions,
        redemptions=redemptions,
        spent=spent,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def voucher_schema(row: Voucher) -> schemas.Voucher:
    return schemas.Voucher.model_validate(row, from_attributes=True)


async def _check_refs(
    session: AsyncSession, tenant_id: str, channel_ids: list[str], brand_ids: list[str]
) -> None:
    """Refuse channels and brands this tenant does not have (a typo would never match)."""
    for model, ids, name in (
        (SalesChannel, channel_ids, "channel_ids"),
        (Brand, brand_ids, "brand_ids"),
    ):
        if not ids:
            continue
        known = set(
            await session.scalars(
                select(model.id).where(model.tenant_id == tenant_id, model.id.in_(ids))
            )
        )
        for index, value in enumerate(ids):
            if value not in known:
                raise InvalidError(
                    f"no {name[:-4].replace('_', ' ')} {value!r}", field=f"{name}.{index}"
                )


def _rules_json(rules: Any) -> dict[str, Any] | None:
    if rules is None:
        return None
    dumped: dict[str, Any] = rules.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


async def create_campaign(
    session: AsyncSession,
    principal: Principal,
    data: schemas.CampaignCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Campaign:
    principal.require(WRITE)
    await _check_refs(session, principal.tenant_id, data.channel_ids, data.brand_ids)
    now = clock()
    row = Campaign(
        id=new_id("cmp"),
        tenant_id=principal.tenant_id,
        name=data.name,
        description=data.description,
        type=data.type.value,
        active=data.active,
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        timezone=data.timezone,
        currency=data.currency,
        effect=data.effect.model_dump(mode="json"),
        rules=_rules_json(data.rules),
        channel_ids={"ids": data.channel_ids},
        brand_ids={"ids": data.brand_ids},
        stacking=data.stacking.value,
        priority=data.priority,
        budget_redemptions=data.budget.redemptions,
        budget_amount=data.budget.amount,
        per_customer=data.per_customer,
        voucher_redemptions=data.voucher_redemptions,
        redemptions=0,
        spent=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    await flush_or_conflict(session, f"a campaign named {data.name!r} exists", field="name")
    result = campaign_schema(row, now)
    await record_event(
        session, CAMPAIGN_CREATED, tenant_id=principal.tenant_id, subject=row.id, data=result
    )
    return result


async def owned_campaign(
    session: AsyncSession, tenant_id: str, campaign_id: str, *, for_update: bool = False
) -> Campaign:
    statement = select(Campaign).where(Campaign.tenant_id == tenant_id, Campaign.id == campaign_id)
    if for_update:
        statement = statement.with_for_update()
    row = await session.scalar(statement)
    if row is None:
        raise CampaignNotFound(f"no campaign {campaign_id!r}")
    return row


async def get_campaign(
    session: AsyncSession, principal: Principal, campaign_id: str, *, clock: Clock = utc_now
) -> schemas.Campaign:
    principal.require(READ)
    row = await owned_campaign(session, principal.tenant_id, campaign_id)
    return (await campaign_views(session, [row], clock()))[0]


async def list_campaigns(
    session: AsyncSession, principal: Principal, page: PageRequest, *, clock: Clock = utc_now
) -> Page[schemas.Campaign]:
    principal.require(READ)
    statement = select(Campaign).where(Campaign.tenant_id == principal.tenant_id)
    found = await keyset_page(session, statement, Campaign.id, page)
    now = clock()
    return Page(await campaign_views(session, found.items, now), found.next_cursor)


async def update_campaign(
    session: AsyncSession,
    principal: Principal,
    campaign_id: str,
    data: schemas.CampaignUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.Campaign:
    principal.require(WRITE)
    row = await owned_campaign(session, principal.tenant_id, campaign_id, for_update=True)
    given = data.model_fields_set
    starts_at = data.starts_at if "starts_at" in given else row.starts_at
    ends_at = data.ends_at if "ends_at" in given else row.ends_at
    try:
        schemas.check_schedule(starts_at, ends_at)
    except ValueError as exc:
        raise InvalidError(str(exc), field="ends_at") from exc
    await _check_refs(session, principal.tenant_id, data.channel_ids or [], data.brand_ids or [])
    if data.budget is not None and data.budget.amount is not None and row.currency is None:
        raise InvalidError("the campaign has no currency for an amount budget", field="budget")
    if "per_customer" in given and data.per_customer != row.per_customer:
        await _recount_customer_uses(session, row.id, counting=data.per_customer is not None)
    for name in ("description", "active", "priority", "per_customer"):
        if name in given:
            setattr(row, name, getattr(data, name))
    if starts_at != row.starts_at:
        row.starts_at, row.started_announced = starts_at, False
    if ends_at != row.ends_at:
        row.ends_at, row.ended_announced = ends_at, False
    if "rules" in given:
        row.rules = _rules_json(data.rules)
    if "channel_ids" in given:
        row.channel_ids = {"ids": data.channel_ids or []}
    if "brand_ids" in given:
        row.brand_ids = {"ids": data.brand_ids or []}
    if data.stacking is not None:
        row.stacking = data.stacking.value
    if "budget" in given:
        if not has_budget(row):
            row.redemptions, row.spent = (await totals(session, [row.id])).get(row.id, (0, 0))
        budget = data.budget or schemas.Budget()
        row.budget_redemptions, row.budget_amount = budget.redemptions, budget.amount
        row.exhausted_announced = False
    now = clock()
    row.updated_at = now
    await session.flush()
    (result,) = await campaign_views(session, [row], now)
    await record_event(
        session, CAMPAIGN_UPDATED, tenant_id=principal.tenant_id, subject=row.id, data=result
    )
    return result


async def _recount_customer_uses(
    session: AsyncSession, campaign_id: str, *, counting: bool
) -> None:
    """Rebuild a campaign's per-customer counters from its succeeded redemptions, so that a
    limit set (or changed) later counts the uses made before it, and a rollback of one of
    them gives back a use that was counted."""
    await session.execute(delete(CustomerUsage).where(CustomerUsage.campaign_id == campaign_id))
    if not counting:
        return
    key = func.coalesce(Redemption.customer_id, literal("email:") + Redemption.customer_email)
    counted = await session.execute(
        select(key, func.count())
        .select_from(RedemptionItem)
        .join(Redemption, Redemption.id == RedemptionItem.redemption_id)
        .where(
            RedemptionItem.campaign_id == campaign_id,
            Redemption.status == RedemptionStatus.succeeded.value,
            (Redemption.customer_id.is_not(None)) | (Redemption.customer_email != ""),
        )
        .group_by(key)
    )
    rows = [
        {"campaign_id": campaign_id, "customer_key": customer_key, "uses": uses}
        for customer_key, uses in counted
    ]
    if rows:
        await session.execute(insert(CustomerUsage), rows)


async def ensure_customer(
    session: AsyncSession, tenant_id: str, customer_id: str, field: str
) -> None:
    found = await session.scalar(
        select(Customer.id).where(Customer.tenant_id == tenant_id, Customer.id == customer_id)
    )
    if found is None:
        raise InvalidError(f"no customer {customer_id!r}", field=field, code="customer_not_found")


async def create_voucher(
    session: AsyncSession,
    principal: Principal,
    campaign_id: str,
    data: schemas.VoucherCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Voucher:
    principal.require(WRITE)
    campaign = await owned_campaign(session, principal.tenant_id, campaign_id)
    if campaign.type != schemas.CampaignType.vouchers.value:
        raise InvalidError("an automatic campaign has no codes", field="campaign_id")
    if data.customer_id is not None:
        await ensure_customer(session, principal.tenant_id, data.customer_id, "customer_id")
    now = clock()
    code = normalise_code(data.code)
    row = Voucher(
        id=new_id("vch"),
        tenant_id=principal.tenant_id,
        campaign_id=campaign.id,
        code=code,
        active=True,
        max_redemptions=data.max_redemptions or campaign.voucher_redemptions,
        redemptions=0,
        customer_id=data.customer_id,
        published_at=now if data.customer_id else None,
        expires_at=data.expires_at,
        created_at=now,
    )
    session.add(row)
    await flush_or_conflict(session, f"the code {code!r} exists", field="code")
    result = voucher_schema(row)
    await record_event(
        session, VOUCHER_CREATED, tenant_id=principal.tenant_id, subject=row.id, data=result
    )
    return result


async def owned_voucher(session: AsyncSession, tenant_id: str, code: str) -> Voucher:
    row = await session.scalar(
        select(Voucher).where(Voucher.tenant_id == tenant_id, Voucher.code == normalise_code(code))
    )
    if row is None:
        raise VoucherNotFound(f"no voucher {code!r}")
    return row


async def get_voucher(session: AsyncSession, principal: Principal, code: str) -> schemas.Voucher:
    principal.require(READ)
    return voucher_schema(await owned_voucher(session, principal.tenant_id, code))


async def list_vouchers(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    campaign_id: str | None = None,
    customer_id: str | None = None,
) -> Page[schemas.Voucher]:
    principal.require(READ)
    statement = select(Voucher).where(Voucher.tenant_id == principal.tenant_id)
    if campaign_id is not None:
        statement = statement.where(Voucher.campaign_id == campaign_id)
    if customer_id is not None:
        statement = statement.where(Voucher.customer_id == customer_id)
    found = await keyset_page(session, statement, Voucher.id, page)
    return Page([voucher_schema(row) for row in found.items], found.next_cursor)


async def update_voucher(
    session: AsyncSession, principal: Principal, code: str, data: schemas.VoucherUpdate
) -> schemas.Voucher:
    principal.require(WRITE)
    row = await owned_voucher(session, principal.tenant_id, code)
    if "active" in data.model_fields_set and data.active is not None:
        row.active = data.active
    if "expires_at" in data.model_fields_set:
        row.expires_at = data.expires_at
    await session.flush()
    result = voucher_schema(row)
    await record_event(
        session, VOUCHER_UPDATED, tenant_id=principal.tenant_id, subject=row.id, data=result
    )
    return result


async def publish_voucher(
    session: AsyncSession,
    principal: Principal,
    code: str,
    data: schemas.Publication,
    *,
    clock: Clock = utc_now,
) -> schemas.Voucher:
    """Give a code to one customer; only they may use it from now on."""
    principal.require(WRITE)
    row = await owned_voucher(session, principal.tenant_id, code)
    await ensure_customer(session, principal.tenant_id, data.customer_id, "customer_id")
    if row.customer_id is not None and row.customer_id != data.customer_id:
        raise ConflictError(
            "the code was published to another customer",
            field="customer_id",
            code="voucher_already_published",
        )
    row.customer_id = data.customer_id
    row.published_at = row.published_at or clock()
    await session.flush()
    result = voucher_schema(row)
    await record_event(
        session, VOUCHER_PUBLISHED, tenant_id=principal.tenant_id, subject=row.id, data=result
    )
    return result


async def get_settings(session: AsyncSession, principal: Principal) -> schemas.Settings:
    principal.require(READ)
    row = await session.get(PromotionSettings, principal.tenant_id)
    if row is None:
        return schemas.Settings()
    return schemas.Settings(max_codes_per_order=row.max_codes_per_order)


async def put_settings(
    session: AsyncSession, principal: Principal, data: schemas.Settings, *, clock: Clock = utc_now
) -> schemas.Settings:
    principal.require(WRITE)
    row = await session.get(PromotionSettings, principal.tenant_id)
    if row is None:
        row = PromotionSettings(tenant_id=principal.tenant_id)
        session.add(row)
    row.max_codes_per_order = data.max_codes_per_order
    row.updated_at = clock()
    await session.flush()
    return data
