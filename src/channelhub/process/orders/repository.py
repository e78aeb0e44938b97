"""Loading orders and what hangs off them, always within one tenant."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from channelhub.platform.clock import utc_now
from channelhub.platform.errors import NotFoundError
from channelhub.process.orders import schemas
from channelhub.process.orders.models import (
    Order,
    OrderExternalId,
    OrderPolicy,
    Return,
    Shipment,
    TrackingEvent,
)

DEFAULT_POLICY = schemas.Policy(
    closure_fallback=schemas.ClosureFallback.ship_home,
    closure_fallback_hours=48,
    pickup_radius_km=50,
    return_window_days=30,
)


class OrderNotFound(NotFoundError):
    code = "order_not_found"


def whole() -> Select[Order]:
    return select(Order).options(
        selectinload(Order.lines), selectinload(Order.groups), selectinload(Order.external_ids)
    )


async def load(
    session: AsyncSession, tenant_id: str, order_id: str, *, lock: bool = False
) -> Order:
    """The order with its lines, groups and external ids; ``lock`` row-locks it, so that
    commands on one order queue instead of interleaving.

    The lock is PostgreSQL's FOR NO KEY UPDATE: it queues the commands but lets other
    transactions insert rows referring to the order (a notification delivery, a timeline
    entry), whose foreign-key check takes a KEY SHARE lock. With FOR UPDATE, a command
    holding the order while waiting for one of those transactions deadlocked with it."""
    statement = whole().where(Order.tenant_id == tenant_id, Order.id == order_id)
    if lock:
        statement = statement.with_for_update(of=Order, key_share=True)
    order = (await session.scalars(statement.execution_options(populate_existing=True))).first()
    if order is None:
        raise OrderNotFound(f"no order {order_id!r}")
    return order


async def by_external_ids(
    session: AsyncSession, tenant_id: str, refs: Sequence[schemas.ExternalRef]
) -> Order | None:
    if not refs:
        return None
    for ref in refs:
        order_id = await session.scalar(
            select(OrderExternalId.order_id).where(
                OrderExternalId.tenant_id == tenant_id,
                OrderExternalId.system == ref.system,
                OrderExternalId.external_id == ref.id,
            )
        )
        if order_id is not None:
            return await load(session, tenant_id, order_id)
    return None


async def by_number(session: AsyncSession, tenant_id: str, number: str) -> Order | None:
    return (
        await session.scalars(whole().where(Order.tenant_id == tenant_id, Order.number == number))
    ).first()


async def shipments(
    session: AsyncSession, order_id: str
) -> list[tuple[Shipment, list[TrackingEvent]]]:
    """The order's shipments, oldest first, each with its scans, oldest first."""
    return (await shipments_of(session, [order_id])).get(order_id, [])


async def shipments_of(
    session: AsyncSession, order_ids: Collection[str]
) -> dict[str, list[tuple[Shipment, list[TrackingEvent]]]]:
    """``shipments`` of many orders, in three statements whatever their number."""
    found = (
        await session.scalars(
            select(Shipment)
            .options(selectinload(Shipment.items))
            .where(Shipment.order_id.in_(order_ids))
            .order_by(Shipment.id)
        )
    ).all()
    if not found:
        return {}
    events: dict[str, list[TrackingEvent]] = defaultdict(list)
    for event in await session.scalars(
        select(TrackingEvent)
        .where(TrackingEvent.shipment_id.in_([s.id for s in found]))
        .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
    ):
        events[event.shipment_id].append(event)
    per_order: dict[str, list[tuple[Shipment, list[TrackingEvent]]]] = defaultdict(list)
    for shipment in found:
        per_order[shipment.order_id].append((shipment, events[shipment.id]))
    return per_order


async def returns(session: AsyncSession, order_id: str) -> list[Return]:
    return (await returns_of(session, [order_id])).get(order_id, [])


async def returns_of(session: AsyncSession, order_ids: Collection[str]) -> dict[str, list[Return]]:
    """The returns of many orders, oldest first, in two statements."""
    per_order: dict[str, list[Return]] = defaultdict(list)
    for found in await session.scalars(
        select(Return)
        .options(selectinload(Return.lines))
        .where(Return.order_id.in_(order_ids))
        .order_by(Return.id)
    ):
        per_order[found.order_id].append(found)
    return per_order


async def policy(session: AsyncSession, tenant_id: str) -> schemas.Policy:
    row = await session.get(OrderPolicy, tenant_id)
    if row is None:
        return DEFAULT_POLICY
    return schemas.Policy(
        closure_fallback=schemas.ClosureFallback(row.closure_fallback),
        closure_fallback_hours=row.closure_fallback_hours,
        pickup_radius_km=row.pickup_radius_km,
        return_window_days=row.return_window_days,
    )


async def save_policy(session: AsyncSession, tenant_id: str, value: schemas.Policy) -> None:
    row = await session.get(OrderPolicy, tenant_id, with_for_update=True)
    if row is None:
        row = OrderPolicy(tenant_id=tenant_id)
        session.add(row)
    row.closure_fallback = value.closure_fallback.value
    row.closure_fallback_hours = value.closure_fallback_hours
    row.pickup_radius_km = value.pickup_radius_km
    row.return_window_days = value.return_window_days
    row.updated_at = utc_now()
    await session.flush()
