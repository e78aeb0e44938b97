"""What earns points, and what takes them back.

- A paid order (``order.created``/``order.updated``/``order.confirmed`` seen with payment
  status ``paid``) earns by the program's rate, once per order, pending for the program's
  return window.
- A cancelled order, or a refund, takes back in proportion to what was refunded (all of it
  for a cancellation or a full refund), pending points first.
- A custom event (an offline receipt scanned at a till, a review) earns by its rule.
- Entering a segment earns once per segment.
- A change of the customer's metadata re-checks tiers that are defined on it.

Consumers run in the event's transaction and are idempotent twice over: the consumer
framework handles each event once, and the ledger refuses a second movement from the same
source.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.outbox import record_events
from channelhub.process.customers.contacts import normalise_phone
from channelhub.process.customers.identity import resolve_customer
from channelhub.process.loyalty import schemas, tiers
from channelhub.process.loyalty.members import (
    Movement,
    enrol,
    entries_of,
    locked_member,
    record,
    review_tier,
)
from channelhub.process.loyalty.models import LedgerEntry, LoyaltyMember, LoyaltyProgram
from channelhub.process.loyalty.programs import earning_of, tiers_of
from channelhub.process.orders.models import Order
from channelhub.process.orders.schemas import OrderStatus, PaymentStatus

EARN_CONSUMER = "loyalty-earning"
EARN_ON = ("order.created", "order.updated", "order.confirmed")
REVERSE_CONSUMER = "loyalty-reversal"
REVERSE_ON = ("order.cancelled", "refund.issued")
SEGMENT_CONSUMER = "loyalty-segments"
SEGMENT_ON = ("customer.segment_entered",)
METADATA_CONSUMER = "loyalty-metadata-tiers"
METADATA_ON = ("customer.updated",)
ORDER_SOURCE = "order"


async def _programs(session: AsyncSession, tenant_id: str) -> list[LoyaltyProgram]:
    return list(
        await session.scalars(
            select(LoyaltyProgram)
            .where(LoyaltyProgram.tenant_id == tenant_id, LoyaltyProgram.active)
            .order_by(LoyaltyProgram.id)
        )
    )


async def _member(
    session: AsyncSession, program: LoyaltyProgram, customer_id: str, now: datetime
) -> LoyaltyMember | None:
    """The customer's locked membership; joining if the program enrols by itself."""
    member = await locked_member(session, program, customer_id)
    if member is None and program.auto_enroll:
        member, _ = await enrol(session, program, customer_id, now)
    return member


def _with_tier(program: LoyaltyProgram, member: LoyaltyMember, points: int) -> int:
    """``points`` with the member's tier multiplier, at most ``MAX_POINTS`` at once."""
    earned = tiers.with_multiplier(tiers_of(program), member.tier or None, points)
    return min(earned, schemas.MAX_POINTS)


async def _buyer_of(session: AsyncSession, order: Order) -> str | None:
    """The customer an order is from: by its e-mail address, else its phone number
    (identity resolution; an order from someone the hub does not know earns nothing)."""
    try:
        phone = normalise_phone(order.customer_phone) if order.customer_phone else None
    except ValueError:
        phone = None
    email = order.customer_email.strip() or None
    if email is None and phone is None:
        return None
    customer = await resolve_customer(session, order.tenant_id, email=email, phone=phone)
    return customer.id if customer is not None else None


_EARNS = {PaymentStatus.paid.value, PaymentStatus.partially_refunded.value}


async def _locked_order(session: AsyncSession, tenant_id: str, order_id: str) -> Order | None:
    """The order, locked as the orders context locks it: earning and taking back for one
    order never interleave (a cancellation committing while its points are earned)."""
    order: Order | None = await session.scalar(
        select(Order)
        .where(Order.tenant_id == tenant_id, Order.id == order_id)
        .with_for_update(key_share=True)
    )
    return order


def owed_back(order: Order, earned: int) -> int:
    """What a cancellation or refunds take back of ``earned``: all of it when the order is
    cancelled or refunded in full, else the share of its total refunded, rounded down
    (in the customer's favour)."""
    if (
        order.status == OrderStatus.cancelled.value
        or order.total <= 0
        or order.refunded_total >= order.total
    ):
        return earned
    return earned * order.refunded_total // order.total


async def _take_back(
    session: AsyncSession,
    order: Order,
    earning: LedgerEntry,
    why: str,
    now: datetime,
) -> None:
    """Reverse what ``order`` now owes back of ``earning`` and was not yet reversed."""
    member = await session.scalar(
        select(LoyaltyMember).where(LoyaltyMember.id == earning.member_id).with_for_update()
    )
    program = await session.get(LoyaltyProgram, earning.program_id)
    if member is None or program is None:
        return
    already = -sum(
        entry.points
        for entry in await entries_of(session, member.id)
        if entry.kind == schemas.EntryKind.reverse.value and entry.lot_id == earning.id
    )
    take = owed_back(order, earning.points) - already
    if take <= 0:
        return
    movement = Movement(
        schemas.EntryKind.reverse,
        -take,
        ORDER_SOURCE,
        f"{order.id}:{why}",
        reason=f"order {order.number} {'cancelled' if why == 'cancelled' else 'refunded'}",
        lot_id=earning.id,
    )
    await record(session, program, member, [movement], now)


async def earn_for_order(session: AsyncSession, event: EventEnvelope) -> None:
    """Consumer: a paid order earns, once, for its buyer. An order refunded in part by the
    time it earns has the refunded share taken back at once."""
    order = await _locked_order(session, event.tenant, event.subject)
    if (
        order is None
        or order.payment_status not in _EARNS
        or order.status == OrderStatus.cancelled.value
    ):
        return
    customer_id = await _buyer_of(session, order)
    if customer_id is None:
        return
    now = event.time
    for program in await _programs(session, order.tenant_id):
        rule = earning_of(program).orders
        if rule.rate is None or program.currency != order.currency:
            continue
        basis = (
            order.total
            if rule.basis is schemas.OrderBasis.total
            else order.subtotal - order.discount_total
        )
        member = await _member(session, program, customer_id, now)
        if member is None:
            continue
        points = _with_tier(program, member, rule.rate.of(basis))
        if points <= 0:
            continue
        movement = Movement(
            schemas.EntryKind.earn,
            points,
            ORDER_SOURCE,
            order.id,
            reason=f"order {order.number}",
            available_at=now + timedelta(days=program.pending_days),
            earns_expiry=True,
        )
        for earning in await record(session, program, member, [movement], now):
            if order.refunded_total > 0:
                await _take_back(session, order, earning, "refunded-before-earning", now)


async def reverse_for_order(session: AsyncSession, event: EventEnvelope) -> None:
    """Consumer: take back what an order earned, in proportion to what was refunded."""
    cancelled = event.type == "order.cancelled"
    order_id = event.subject if cancelled else event.data.get("order_id")
    if not isinstance(order_id, str):
        return
    order = await _locked_order(session, event.tenant, order_id)
    if order is None:
        return
    earnings = await session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.tenant_id == order.tenant_id,
            LedgerEntry.kind == schemas.EntryKind.earn.value,
            LedgerEntry.source == ORDER_SOURCE,
            LedgerEntry.source_ref == order.id,
        )
    )
    why = "cancelled" if cancelled else event.subject
    for earning in list(earnings):
        await _take_back(session, order, earning, why, event.time)


async def earn_for_segment(session: AsyncSession, event: EventEnvelope) -> None:
    """Consumer: entering a segment earns what the program promises for it, once."""
    key, customer_id = event.data.get("segment_key"), event.data.get("customer_id")
    segment_id = event.data.get("segment_id")
    if not (isinstance(key, str) and isinstance(customer_id, str) and isinstance(segment_id, str)):
        return
    now = event.time
    for program in await _programs(session, event.tenant):
        rule = next((r for r in earning_of(program).segments if r.segment == key), None)
        if rule is None:
            continue
        member = await _member(session, program, customer_id, now)
        if member is None:
            continue
        points = _with_tier(program, member, rule.points)
        movement = Movement(
            schemas.EntryKind.earn,
            points,
            "segment",
            f"{segment_id}:{member.id}",
            reason=f"joined segment {key}",
            earns_expiry=True,
        )
        await record(session, program, member, [movement], now)


async def review_metadata_tiers(session: AsyncSession, event: EventEnvelope) -> None:
    """Consumer: a customer's metadata changed; tiers defined on it follow at once."""
    changed = event.data.get("changed")
    if not isinstance(changed, list):
        return
    keys = {name.removeprefix("metadata.") for name in changed if isinstance(name, str)}
    for program in await _programs(session, event.tenant):
        program_tiers = tiers_of(program)
        if program_tiers.basis is not schemas.TierBasis.metadata:
            continue
        if program_tiers.metadata_key not in keys:
            continue
        member = await locked_member(session, program, event.subject)
        if member is None:
            continue
        moved = await review_tier(session, program, member, [], event.time)
        await record_events(session, moved, clock=lambda: event.time)
