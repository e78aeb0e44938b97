"""Who is in which segment, kept up to date in the transaction of every change.

Memberships are stored (``customer_segment_members``), never computed on read, so that
listing a segment's customers or the segments of a customer is one indexed query, and
entering or leaving a segment is an event other contexts can act on (loyalty). They are
recomputed:

- for one customer, whenever the customer changes (``recompute_customer``), and when an
  order of theirs is placed, cancelled or refunded (``ORDERS_CONSUMER``);
- for every customer of the tenant, when a segment is created or its rules change
  (``evaluate_segment``), in keyset pages of ``PAGE_SIZE`` customers read as plain
  columns, so memory stays bounded however many customers there are.

Writes are conditional (insert ... on conflict do nothing, delete ... returning), and an
event is recorded only for a row actually inserted or deleted: two recomputations racing
for one customer never fail, nor announce one entry twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.db.core import dialect_insert, execute_core, table_of
from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.outbox import PendingEvent, record_events
from channelhub.process.customers.events import (
    CUSTOMER_SEGMENT_ENTERED,
    CUSTOMER_SEGMENT_LEFT,
    SegmentMembershipChange,
)
from channelhub.process.customers.models import Customer, Segment, SegmentMember
from channelhub.process.customers.segment_rules import (
    CustomerRule,
    OrderStats,
    Profile,
    holds,
    order_stats,
    uses_orders,
)
from channelhub.process.orders.models import Order

PAGE_SIZE = 500
_RULE: TypeAdapter[CustomerRule] = TypeAdapter(CustomerRule)
_MEMBERS = table_of(SegmentMember)


def rule_of(segment: Segment) -> CustomerRule:
    return _RULE.validate_python(segment.rules)


@dataclass(frozen=True)
class _Compiled:
    id: str
    key: str
    rule: CustomerRule


def _profile(row: Any, stats: dict[str, OrderStats]) -> Profile:
    """``row`` is a Customer or a row of ``_PROFILE_COLUMNS``."""
    return Profile(
        id=row.id,
        email=row.email,
        tier=row.tier,
        language=row.language,
        metadata=dict(row.attributes or {}),
        created_at=row.created_at,
        orders=stats.get(row.email, OrderStats()),
    )


_PROFILE_COLUMNS = (
    Customer.id,
    Customer.email,
    Customer.tier,
    Customer.language,
    Customer.attributes,
    Customer.created_at,
)


def _change(
    event_type: EventType, tenant_id: str, segment: _Compiled, customer_id: str, at: datetime
) -> PendingEvent:
    return PendingEvent(
        event_type,
        tenant_id,
        customer_id,
        SegmentMembershipChange(
            segment_id=segment.id, segment_key=segment.key, customer_id=customer_id, at=at
        ),
    )


async def _enter(
    session: AsyncSession, tenant_id: str, pairs: Sequence[tuple[str, str]], at: datetime
) -> set[tuple[str, str]]:
    """Insert (segment id, customer id) memberships; the ones that were not there yet."""
    if not pairs:
        return set()
    statement = (
        dialect_insert(session, _MEMBERS)
        .on_conflict_do_nothing()  # type: ignore[attr-defined]
        .returning(_MEMBERS.c.segment_id, _MEMBERS.c.customer_id)
    )
    rows = await execute_core(
        session,
        statement,
        [
            {"segment_id": s, "customer_id": c, "tenant_id": tenant_id, "entered_at": at}
            for s, c in pairs
        ],
    )
    return {(s, c) for s, c in rows}


async def _leave(
    session: AsyncSession, segment_id: str, customer_ids: list[str]
) -> set[tuple[str, str]]:
    """Delete these customers' memberships of the segment; the ones that were there."""
    rows = await execute_core(
        session,
        delete(_MEMBERS)
        .where(_MEMBERS.c.segment_id == segment_id, _MEMBERS.c.customer_id.in_(customer_ids))
        .returning(_MEMBERS.c.segment_id, _MEMBERS.c.customer_id),
        {},
    )
    return {(s, c) for s, c in rows}


async def _apply(
    session: AsyncSession,
    tenant_id: str,
    segments: Sequence[_Compiled],
    entering: list[tuple[str, str]],
    leaving: list[tuple[str, str]],
    at: datetime,
) -> list[PendingEvent]:
    by_id = {segment.id: segment for segment in segments}
    entered = await _enter(session, tenant_id, entering, at)
    left: set[tuple[str, str]] = set()
    for segment_id in {s for s, _ in leaving}:
        left |= await _leave(session, segment_id, [c for s, c in leaving if s == segment_id])
    return [
        _change(CUSTOMER_SEGMENT_ENTERED, tenant_id, by_id[s], c, at)
        for s, c in entering
        if (s, c) in entered
    ] + [
        _change(CUSTOMER_SEGMENT_LEFT, tenant_id, by_id[s], c, at)
        for s, c in leaving
        if (s, c) in left
    ]


async def _compiled(session: AsyncSession, tenant_id: str) -> list[_Compiled]:
    rows = await session.execute(
        select(Segment.id, Segment.key, Segment.rules)
        .where(Segment.tenant_id == tenant_id)
        .order_by(Segment.key)
    )
    return [_Compiled(id, key, _RULE.validate_python(rules)) for id, key, rules in rows]


async def recompute_customer(
    session: AsyncSession,
    customer: Customer,
    *,
    at: datetime,
    segments: Sequence[_Compiled] | None = None,
) -> tuple[list[str], list[PendingEvent]]:
    """Bring one customer's memberships up to date with the customer as they are now:
    the keys of their segments now, and the entered / left events to record (not recorded
    yet, so that the caller can put its own event about the change before them)."""
    tenant_id = customer.tenant_id
    if segments is None:
        segments = await _compiled(session, tenant_id)
    needs_orders = any(uses_orders(segment.rule) for segment in segments)
    stats = await order_stats(session, tenant_id, [customer.email]) if needs_orders else {}
    profile = _profile(customer, stats)
    should = {segment.id for segment in segments if holds(segment.rule, profile)}
    current = set(
        await session.scalars(
            select(SegmentMember.segment_id).where(SegmentMember.customer_id == customer.id)
        )
    )
    events = await _apply(
        session,
        tenant_id,
        segments,
        [(s, customer.id) for s in sorted(should - current)],
        [(s, customer.id) for s in sorted(current - should)],
        at,
    )
    return [segment.key for segment in segments if segment.id in should], events


async def evaluate_segment(session: AsyncSession, segment: Segment, *, at: datetime) -> None:
    """Evaluate every customer of the tenant against the segment's rules, page by page,
    recording an event for each customer who entered or left."""
    compiled = _Compiled(segment.id, segment.key, rule_of(segment))
    needs_orders = uses_orders(compiled.rule)
    after: str | None = None
    while True:
        statement = select(*_PROFILE_COLUMNS).where(Customer.tenant_id == segment.tenant_id)
        if after is not None:
            statement = statement.where(Customer.id > after)
        page = (await session.execute(statement.order_by(Customer.id).limit(PAGE_SIZE))).all()
        if not page:
            return
        after = page[-1].id
        stats = (
            await order_stats(session, segment.tenant_id, [row.email for row in page])
            if needs_orders
            else {}
        )
        ids = [row.id for row in page]
        current = set(
            await session.scalars(
                select(SegmentMember.customer_id).where(
                    SegmentMember.segment_id == segment.id, SegmentMember.customer_id.in_(ids)
                )
            )
        )
        should = {row.id for row in page if holds(compiled.rule, _profile(row, stats))}
        events = await _apply(
            session,
            segment.tenant_id,
            [compiled],
            [(segment.id, c) for c in ids if c in should and c not in current],
            [(segment.id, c) for c in ids if c in current and c not in should],
            at,
        )
        await record_events(session, events)


async def empty_segment(session: AsyncSession, segment: Segment, *, at: datetime) -> None:
    """Every member leaves (the segment is being deleted), page by page, with events."""
    compiled = _Compiled(segment.id, segment.key, rule_of(segment))
    while True:
        ids = list(
            await session.scalars(
                select(SegmentMember.customer_id)
                .where(SegmentMember.segment_id == segment.id)
                .order_by(SegmentMember.customer_id)
                .limit(PAGE_SIZE)
            )
        )
        if not ids:
            return
        events = await _apply(
            session, segment.tenant_id, [compiled], [], [(segment.id, c) for c in ids], at
        )
        await record_events(session, events)


async def segment_keys_of(session: AsyncSession, tenant_id: str, customer_id: str) -> list[str]:
    """Keys of the segments the customer is in now, sorted (for promotion rules)."""
    return (await segment_keys_by_customer(session, tenant_id, [customer_id])).get(customer_id, [])


async def segment_keys_by_customer(
    session: AsyncSession, tenant_id: str, customer_ids: Sequence[str]
) -> dict[str, list[str]]:
    """Keys of each customer's segments, sorted, in one query (customers in none: absent)."""
    if not customer_ids:
        return {}
    rows = await session.execute(
        select(SegmentMember.customer_id, Segment.key)
        .join(Segment, Segment.id == SegmentMember.segment_id)
        .where(Segment.tenant_id == tenant_id, SegmentMember.customer_id.in_(customer_ids))
        .order_by(SegmentMember.customer_id, Segment.key)
    )
    keys: dict[str, list[str]] = {}
    for customer_id, key in rows:
        keys.setdefault(customer_id, []).append(key)
    return keys


ORDERS_CONSUMER = "customers-segments"
ORDERS_ON = ("order.created", "order.updated", "order.cancelled", "refund.issued")


async def reevaluate_for_order(session: AsyncSession, event: EventEnvelope) -> None:
    """Consumer: an order placed, changed, cancelled or refunded changes its customer's
    order statistics, so their memberships are recomputed (customers found by the order's
    e-mail address). Idempotent: a recomputation that finds nothing to change records
    nothing. Does nothing for a tenant whose segments do not look at orders."""
    order_id = event.subject if event.type != "refund.issued" else event.data.get("order_id")
    if not isinstance(order_id, str):
        return
    segments = await _compiled(session, event.tenant)
    if not any(uses_orders(segment.rule) for segment in segments):
        return
    email = await session.scalar(
        select(Order.customer_email).where(Order.tenant_id == event.tenant, Order.id == order_id)
    )
    if not email:
        return
    customers = await session.scalars(
        select(Customer).where(Customer.tenant_id == event.tenant, Customer.email == email)
    )
    at = event.time
    for customer in customers:
        _, events = await recompute_customer(session, customer, at=at, segments=segments)
        await record_events(session, events)
