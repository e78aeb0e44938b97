"""Validate, redeem, roll back; and what a customer may use on a cart.

A redeem is all or nothing. It evaluates the purchase exactly as validation does, then
spends every limit with a conditional UPDATE (``... WHERE redemptions < budget``) in one
transaction: a limit another redeem reached meanwhile makes the UPDATE change no row, the
redeem is refused with that reason and the transaction rolls back, so nothing is partially
redeemed and no limit or budget is ever exceeded, however many redeems run at once.
Counters are taken in one order everywhere (vouchers, then per-customer counters, then
campaigns, each sorted) so that concurrent redeems and rollbacks on PostgreSQL never
deadlock; campaigns come last because every redeem of a campaign waits for its row.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Insert, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import dialect_insert_for, dialect_name, execute_core, table_of
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.errors import ConflictError, InvalidError, NotFoundError
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.outbox import PendingEvent, record_events
from channelhub.platform.ids import new_id
from channelhub.process.orders.models import Order
from channelhub.process.promotions import schemas
from channelhub.process.promotions.campaigns import (
    READ,
    WRITE,
    campaign_schema,
    has_budget,
    voucher_schema,
)
from channelhub.process.promotions.discounts import Cut, Ledger, cut_of
from channelhub.process.promotions.engine import (
    Candidate,
    Evaluation,
    applied_item,
    customer_key,
    effect_of,
    evaluate,
)
from channelhub.process.promotions.events import (
    CAMPAIGN_BUDGET_EXHAUSTED,
    REDEMPTION_ROLLED_BACK,
    REDEMPTION_SUCCEEDED,
    VOUCHER_REDEEMED,
    VOUCHER_ROLLED_BACK,
    VoucherUse,
)
from channelhub.process.promotions.models import (
    Campaign,
    CustomerUsage,
    Redemption,
    RedemptionItem,
    Voucher,
)
from channelhub.process.promotions.schemas import Reason, RedemptionStatus


class RedemptionNotFound(NotFoundError):
    code = "redemption_not_found"


class RedeemRefused(ConflictError):
    """The redeem was refused as a whole; ``code`` is the first reason, ``refused`` all."""

    def __init__(self, refused: list[schemas.Refused]) -> None:
        first = refused[0]
        super().__init__(
            f"{first.code or first.campaign_id}: {first.detail}",
            field="codes",
            code=first.reason.value,
            refused=[item.model_dump(mode="json") for item in refused],
        )


_VOUCHERS = table_of(Voucher)
_CAMPAIGNS = table_of(Campaign)
_USAGE = table_of(CustomerUsage)
_SPEND_VOUCHER = (
    update(_VOUCHERS)
    .where(
        _VOUCHERS.c.id == bindparam("voucher_id"),
        _VOUCHERS.c.active,
        _VOUCHERS.c.max_redemptions.is_(None)
        | (_VOUCHERS.c.redemptions < _VOUCHERS.c.max_redemptions),
    )
    .values(redemptions=_VOUCHERS.c.redemptions + 1)
    .returning(_VOUCHERS.c.redemptions)
)
_SPEND_CAMPAIGN = (
    update(_CAMPAIGNS)
    .where(
        _CAMPAIGNS.c.id == bindparam("campaign_id"),
        _CAMPAIGNS.c.active,
        _CAMPAIGNS.c.budget_redemptions.is_(None)
        | (_CAMPAIGNS.c.redemptions < _CAMPAIGNS.c.budget_redemptions),
        _CAMPAIGNS.c.budget_amount.is_(None)
        | (_CAMPAIGNS.c.spent <= _CAMPAIGNS.c.budget_amount - bindparam("amount")),
    )
    .values(
        redemptions=_CAMPAIGNS.c.redemptions + 1,
        spent=_CAMPAIGNS.c.spent + bindparam("amount"),
    )
    .returning(_CAMPAIGNS.c.redemptions, _CAMPAIGNS.c.spent)
)
_ANNOUNCE_EXHAUSTED = (
    update(_CAMPAIGNS)
    .where(_CAMPAIGNS.c.id == bindparam("campaign_id"), ~_CAMPAIGNS.c.exhausted_announced)
    .values(exhausted_announced=True)
)
_INSERT_REDEMPTION = insert(table_of(Redemption))
_INSERT_ITEMS = insert(table_of(RedemptionItem))
"""Redeem's writes, built once: each spends a limit with one conditional statement."""


@functools.cache
def _count_use(dialect: str) -> Insert:
    """A customer's first use of a campaign inserts their counter; later ones add to it
    while it is under ``:per_customer``; no row back means the limit was reached."""
    insert_ = dialect_insert_for(dialect, _USAGE)
    count: Insert = insert_.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["campaign_id", "customer_key"],
        set_={"uses": _USAGE.c.uses + 1},
        where=_USAGE.c.uses < bindparam("per_customer"),
    )
    return count.returning(_USAGE.c.uses)


async def validate(
    session: AsyncSession,
    principal: Principal,
    request: schemas.ValidationRequest,
    *,
    clock: Clock = utc_now,
) -> schemas.Validation:
    """What the codes and automatic offers would take off this purchase (nothing spent)."""
    principal.require(READ)
    evaluation = await evaluate(session, principal.tenant_id, request, request.codes, clock())
    return evaluation.validation()


async def qualify(
    session: AsyncSession,
    principal: Principal,
    request: schemas.Purchase,
    *,
    clock: Clock = utc_now,
) -> schemas.Qualification:
    """Every automatic offer and every code published to the customer that applies to
    this cart, each with what it would take off alone; and the automatic offers stacked."""
    principal.require(READ)
    now = clock()
    codes: list[str] = []
    best = await evaluate(session, principal.tenant_id, request, [], now)
    if best.buyer.id is not None:
        codes = list(
            await session.scalars(
                select(Voucher.code)
                .where(
                    Voucher.tenant_id == principal.tenant_id,
                    Voucher.customer_id == best.buyer.id,
                    Voucher.active,
                )
                .order_by(Voucher.id)
                .limit(50)
            )
        )
    offers: list[schemas.Offer] = []
    seen: set[tuple[str, str | None]] = set()
    for code in [None, *codes]:
        alone = await evaluate(session, principal.tenant_id, request, [code] if code else [], now)
        for candidate, cut in alone.applied:
            if candidate.code == code or (code is None and candidate.voucher is None):
                key = (candidate.campaign.id, candidate.code)
                if key not in seen:
                    seen.add(key)
                    offers.append(_offer(candidate, cut))
    offers.extend(await _automatic_alone(session, best, seen))
    offers.sort(key=lambda offer: (-offer.discount, offer.campaign_id, offer.code or ""))
    return schemas.Qualification(offers=offers, best=best.validation())


async def _automatic_alone(
    session: AsyncSession,
    best: Evaluation,
    seen: set[tuple[str, str | None]],
) -> list[schemas.Offer]:
    """Automatic offers left out of the stack only because another one was exclusive."""
    left_out = [r for r in best.refused if r.reason is Reason.not_combinable and r.code is None]
    if not left_out:
        return []
    offers = []
    for refused in left_out:
        campaign = await session.get(Campaign, refused.campaign_id)
        if campaign is None or (campaign.id, None) in seen:
            continue
        cut = cut_of(effect_of(campaign), Ledger.of(best.start.cart))
        if cut.amount:
            offers.append(_offer(Candidate(campaign), cut))
    return offers


def _offer(candidate: Candidate, cut: Cut) -> schemas.Offer:
    return schemas.Offer(
        campaign_id=candidate.campaign.id,
        campaign_name=candidate.campaign.name,
        code=candidate.code,
        kind=str(candidate.campaign.effect["kind"]),
        stacking=schemas.Stacking(candidate.campaign.stacking),
        discount=cut.amount,
    )


async def redeem(
    session: AsyncSession,
    principal: Principal,
    request: schemas.RedemptionRequest,
    *,
    clock: Clock = utc_now,
) -> schemas.Redemption:
    principal.require(WRITE)
    now = clock()
    if request.order_id is not None:
        await _ensure_order(session, principal.tenant_id, request.order_id)
    evaluation = await evaluate(session, principal.tenant_id, request, request.codes, now)
    requested = [r for r in evaluation.refused if r.code is not None]
    if requested:
        raise RedeemRefused(requested)
    if not evaluation.applied:
        raise ConflictError(
            "no code was given and no automatic offer applies", code="nothing_to_redeem"
        )
    redemption_id = new_id("rdm")
    for candidate, _ in sorted(evaluation.applied, key=lambda item: item[0].code or ""):
        if candidate.voucher is not None:
            await _spend_voucher(session, candidate)
    await _spend_customer_limits(session, evaluation)
    result = schemas.Redemption(
        id=redemption_id,
        status=RedemptionStatus.succeeded,
        order_id=request.order_id,
        customer_id=evaluation.buyer.id,
        customer_email=evaluation.buyer.email,
        channel_id=request.channel_id,
        currency=request.cart.currency,
        subtotal=sum(evaluation.start.remaining),
        discount=sum(cut.amount for _, cut in evaluation.applied),
        items=evaluation.applied_items(),
        created_at=now,
        rolled_back_at=None,
        rollback_reason="",
    )
    await execute_core(
        session,
        _INSERT_REDEMPTION,
        {
            "id": redemption_id,
            "tenant_id": principal.tenant_id,
            "order_id": result.order_id,
            "customer_id": result.customer_id,
            "customer_email": result.customer_email,
            "channel_id": result.channel_id,
            "currency": result.currency,
            "subtotal": result.subtotal,
            "discount": result.discount,
            "status": RedemptionStatus.succeeded.value,
            "created_at": now,
            "rolled_back_at": None,
            "rollback_reason": "",
        },
    )
    await execute_core(
        session,
        _INSERT_ITEMS,
        [
            {
                "redemption_id": redemption_id,
                "position": position,
                "campaign_id": candidate.campaign.id,
                "voucher_id": candidate.voucher.id if candidate.voucher else None,
                "code": candidate.code,
                "discount": cut.amount,
                "lines": {"lines": list(cut.lines), "shipping": cut.shipping},
            }
            for position, (candidate, cut) in enumerate(evaluation.applied)
        ],
    )
    events = _voucher_events(VOUCHER_REDEEMED, evaluation.applied, result)
    events.append(PendingEvent(REDEMPTION_SUCCEEDED, principal.tenant_id, redemption_id, result))
    await record_events(session, events, clock=clock)
    # Last, so that the campaigns' rows (which every redeem of a campaign updates) stay
    # locked for as short a time as possible before the commit.
    exhausted: list[PendingEvent] = []
    for candidate, cut in sorted(evaluation.applied, key=lambda item: item[0].campaign.id):
        await _spend_campaign(session, candidate, cut, exhausted, now)
    await record_events(session, exhausted, clock=clock)
    return result


async def _ensure_order(session: AsyncSession, tenant_id: str, order_id: str) -> None:
    found = await session.scalar(
        select(Order.id).where(Order.tenant_id == tenant_id, Order.id == order_id)
    )
    if found is None:
        raise InvalidError(f"no order {order_id!r}", field="order_id", code="order_not_found")


async def _spend_campaign(
    session: AsyncSession,
    candidate: Candidate,
    cut: Cut,
    events: list[PendingEvent],
    now: Any,
) -> None:
    campaign = candidate.campaign
    if not has_budget(campaign):
        return
    spent = await execute_core(
        session, _SPEND_CAMPAIGN, {"campaign_id": campaign.id, "amount": cut.amount}
    )
    counters = spent.first()
    if counters is None:
        await session.refresh(campaign)
        if not campaign.active:
            raise RedeemRefused([candidate.refused(Reason.campaign_disabled, "it was disabled")])
        raise RedeemRefused(
            [candidate.refused(Reason.budget_exhausted, "the campaign's budget ran out")]
        )
    redemptions, amount = counters
    set_committed_value(campaign, "redemptions", redemptions)
    set_committed_value(campaign, "spent", amount)
    exhausted = (
        campaign.budget_redemptions is not None and redemptions >= campaign.budget_redemptions
    ) or (campaign.budget_amount is not None and amount >= campaign.budget_amount)
    if exhausted and await _first_to_announce(session, campaign):
        events.append(
            PendingEvent(
                CAMPAIGN_BUDGET_EXHAUSTED,
                campaign.tenant_id,
                campaign.id,
                campaign_schema(campaign, now),
            )
        )


async def _first_to_announce(session: AsyncSession, campaign: Campaign) -> bool:
    """Mark the campaign's exhaustion announced; False when a concurrent redeem did."""
    marked = await execute_core(session, _ANNOUNCE_EXHAUSTED, {"campaign_id": campaign.id})
    set_committed_value(campaign, "exhausted_announced", True)
    return marked.rowcount == 1


async def _spend_voucher(session: AsyncSession, candidate: Candidate) -> None:
    voucher = candidate.voucher
    assert voucher is not None
    spent = await execute_core(session, _SPEND_VOUCHER, {"voucher_id": voucher.id})
    uses = spent.scalar()
    if uses is None:
        await session.refresh(voucher)
        if not voucher.active:
            raise RedeemRefused([candidate.refused(Reason.voucher_disabled, "it was disabled")])
        raise RedeemRefused(
            [candidate.refused(Reason.code_exhausted, "the code has been used as often as it may")]
        )
    set_committed_value(voucher, "redemptions", uses)


async def _spend_customer_limits(session: AsyncSession, evaluation: Evaluation) -> None:
    """One upsert per campaign counting per customer: the first use inserts the counter,
    later ones add to it while it is under the limit; no row back means the limit."""
    key = evaluation.buyer.key
    limited = sorted(
        (c for c, _ in evaluation.applied if c.campaign.per_customer is not None),
        key=lambda c: c.campaign.id,
    )
    for candidate in limited:
        assert key is not None  # evaluate refuses a per-customer campaign without a buyer
        used = await execute_core(
            session,
            _count_use(dialect_name(session)),
            {
                "campaign_id": candidate.campaign.id,
                "customer_key": key,
                "uses": 1,
                "per_customer": candidate.campaign.per_customer,
            },
        )
        if used.first() is None:
            raise RedeemRefused(
                [
                    candidate.refused(
                        Reason.customer_limit_reached, "the customer used it as often as allowed"
                    )
                ]
            )


def _voucher_events(
    event_type: Any, applied: list[tuple[Candidate, Cut]], redemption: schemas.Redemption
) -> list[PendingEvent]:
    return [
        PendingEvent(
            event_type,
            candidate.voucher.tenant_id,
            candidate.voucher.id,
            VoucherUse(
                voucher=voucher_schema(candidate.voucher),
                redemption_id=redemption.id,
                order_id=redemption.order_id,
                discount=cut.amount,
                currency=redemption.currency,
            ),
        )
        for candidate, cut in applied
        if candidate.voucher is not None
    ]


def _schema(row: Redemption, items: list[schemas.Applied]) -> schemas.Redemption:
    return schemas.Redemption(
        id=row.id,
        status=RedemptionStatus(row.status),
        order_id=row.order_id,
        customer_id=row.customer_id,
        customer_email=row.customer_email,
        channel_id=row.channel_id,
        currency=row.currency,
        subtotal=row.subtotal,
        discount=row.discount,
        items=items,
        created_at=row.created_at,
        rolled_back_at=row.rolled_back_at,
        rollback_reason=row.rollback_reason,
    )


async def _items_of(
    session: AsyncSession, redemption_ids: list[str]
) -> dict[str, list[tuple[RedemptionItem, Campaign, Voucher | None]]]:
    rows = await session.execute(
        select(RedemptionItem, Campaign, Voucher)
        .join(Campaign, Campaign.id == RedemptionItem.campaign_id)
        .outerjoin(Voucher, Voucher.id == RedemptionItem.voucher_id)
        .where(RedemptionItem.redemption_id.in_(redemption_ids))
        .order_by(RedemptionItem.redemption_id, RedemptionItem.position)
    )
    found: dict[str, list[tuple[RedemptionItem, Campaign, Voucher | None]]] = {}
    for item, campaign, voucher in rows:
        found.setdefault(item.redemption_id, []).append((item, campaign, voucher))
    return found


def _applied_of(
    item: RedemptionItem, campaign: Campaign, voucher: Voucher | None
) -> schemas.Applied:
    return applied_item(Candidate(campaign, voucher), _cut_of(item))


async def get_redemption(
    session: AsyncSession, principal: Principal, redemption_id: str
) -> schemas.Redemption:
    principal.require(READ)
    row = await _owned(session, principal.tenant_id, redemption_id)
    items = (await _items_of(session, [row.id])).get(row.id, [])
    return _schema(row, [_applied_of(*item) for item in items])


async def _owned(
    session: AsyncSession, tenant_id: str, redemption_id: str, *, for_update: bool = False
) -> Redemption:
    statement = select(Redemption).where(
        Redemption.tenant_id == tenant_id, Redemption.id == redemption_id
    )
    if for_update:
        statement = statement.with_for_update()
    row = await session.scalar(statement)
    if row is None:
        raise RedemptionNotFound(f"no redemption {redemption_id!r}")
    return row


async def list_redemptions(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    order_id: str | None = None,
    customer_id: str | None = None,
) -> Page[schemas.Redemption]:
    principal.require(READ)
    statement = select(Redemption).where(Redemption.tenant_id == principal.tenant_id)
    if order_id is not None:
        statement = statement.where(Redemption.order_id == order_id)
    if customer_id is not None:
        statement = statement.where(Redemption.customer_id == customer_id)
    found = await keyset_page(session, statement, Redemption.id, page)
    items = await _items_of(session, [row.id for row in found.items])
    return Page(
        [
            _schema(row, [_applied_of(*item) for item in items.get(row.id, [])])
            for row in found.items
        ],
        found.next_cursor,
    )


async def rollback(
    session: AsyncSession,
    principal: Principal,
    redemption_id: str,
    data: schemas.Rollback,
    *,
    clock: Clock = utc_now,
) -> schemas.Redemption:
    """Undo a redemption: every limit and budget gets its use back. Refused (409) when it
    was rolled back already."""
    principal.require(WRITE)
    row = await _owned(session, principal.tenant_id, redemption_id, for_update=True)
    results = await _roll_back(session, [row], data.reason or f"by {principal.actor}", clock)
    if not results:
        raise ConflictError(
            f"redemption {redemption_id!r} was rolled back already", code="already_rolled_back"
        )
    return results[0]


async def _roll_back(
    session: AsyncSession, rows: list[Redemption], reason: str, clock: Clock
) -> list[schemas.Redemption]:
    """Roll back every redemption of ``rows`` still succeeded, giving their uses back in
    the one lock order redeems take (all vouchers, then per-customer counters, then capped
    campaigns, each sorted), however many redemptions there are; the ones rolled back."""
    now = clock()
    done: list[Redemption] = []
    for row in rows:
        marked = await session.execute(
            update(Redemption)
            .where(Redemption.id == row.id, Redemption.status == RedemptionStatus.succeeded.value)
            .values(
                status=RedemptionStatus.rolled_back.value,
                rolled_back_at=now,
                rollback_reason=reason,
            )
            .execution_options(synchronize_session=False)
        )
        if marked.rowcount == 1:  # type: ignore[attr-defined]
            await session.refresh(row)
            done.append(row)
    items_of = await _items_of(session, [row.id for row in done])
    uses = [
        (row, item, campaign, voucher)
        for row in done
        for item, campaign, voucher in items_of.get(row.id, [])
    ]
    for _, _, _, voucher in sorted(uses, key=lambda use: use[3].code if use[3] else ""):
        if voucher is not None:
            await session.execute(
                update(Voucher)
                .where(Voucher.id == voucher.id)
                .values(redemptions=Voucher.redemptions - 1)
                .execution_options(synchronize_session=False)
            )
    for row, _, campaign, _ in sorted(uses, key=lambda use: use[2].id):
        key = customer_key(row.customer_id, row.customer_email)
        if campaign.per_customer is not None and key is not None:
            await session.execute(
                update(CustomerUsage)
                .where(
                    CustomerUsage.campaign_id == campaign.id,
                    CustomerUsage.customer_key == key,
                    CustomerUsage.uses > 0,
                )
                .values(uses=CustomerUsage.uses - 1)
                .execution_options(synchronize_session=False)
            )
    for _, item, campaign, _ in sorted(uses, key=lambda use: use[2].id):
        if has_budget(campaign):
            await session.execute(
                update(Campaign)
                .where(Campaign.id == campaign.id)
                .values(
                    redemptions=Campaign.redemptions - 1,
                    spent=Campaign.spent - item.discount,
                    exhausted_announced=False,
                )
                .execution_options(synchronize_session=False)
            )
    results: list[schemas.Redemption] = []
    events: list[PendingEvent] = []
    for row in done:
        applied = []
        for item, campaign, voucher in items_of.get(row.id, []):
            if voucher is not None:
                await session.refresh(voucher)
            applied.append((Candidate(campaign, voucher), _cut_of(item)))
        result = _schema(row, [applied_item(c, cut) for c, cut in applied])
        events += _voucher_events(VOUCHER_ROLLED_BACK, applied, result)
        events.append(PendingEvent(REDEMPTION_ROLLED_BACK, row.tenant_id, row.id, result))
        results.append(result)
    await record_events(session, events, clock=clock)
    return results


def _cut_of(item: RedemptionItem) -> Cut:
    return Cut(tuple(item.lines.get("lines", [])), int(item.lines.get("shipping", 0)))


ROLLBACK_CONSUMER = "promotions-rollback"
ROLLBACK_ON = ("order.cancelled", "refund.issued")


async def roll_back_for_order(session: AsyncSession, event: EventEnvelope) -> None:
    """Consumer: an order cancelled, or refunded in full, gives back what its redemptions
    spent. A partial refund keeps them (the order still used the discount)."""
    order_id = event.subject if event.type == "order.cancelled" else event.data.get("order_id")
    if not isinstance(order_id, str):
        return
    order = await session.scalar(
        select(Order).where(Order.tenant_id == event.tenant, Order.id == order_id)
    )
    if order is None:
        return
    if event.type == "refund.issued" and order.refunded_total < order.total:
        return
    why = "order cancelled" if event.type == "order.cancelled" else "order refunded in full"
    rows = await session.scalars(
        select(Redemption).where(
            Redemption.tenant_id == event.tenant,
            Redemption.order_id == order_id,
            Redemption.status == RedemptionStatus.succeeded.value,
        )
    )
    await _roll_back(session, list(rows), why, utc_now)
