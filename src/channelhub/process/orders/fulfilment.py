"""Getting the goods to the customer: pickup at a store, or shipments and their tracking."""

from __future__ import annotations

import datetime as dt
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import dialect_insert
from channelhub.platform.errors import ConflictError, InvalidError, NotFoundError
from channelhub.platform.events.outbox import PendingEvent
from channelhub.platform.ids import new_id
from channelhub.process.inventory.service import locations_by_ref
from channelhub.process.orders import allocation, repository, schemas, states, timeline, views
from channelhub.process.orders.events import (
    ORDER_PICKED_UP,
    ORDER_READY_FOR_PICKUP,
    SHIPMENT_CREATED,
    SHIPMENT_STATUS,
)
from channelhub.process.orders.models import (
    FulfilmentGroup,
    Order,
    OrderLine,
    Shipment,
    ShipmentItem,
    TrackingEvent,
)
from channelhub.process.orders.service import READ, WRITE, conclude
from channelhub.process.orders.timeline import NoticeKind
from channelhub.process.stores.repository import LocationRepository
from channelhub.process.stores.service import is_temporarily_closed

_NOTICE_OF_TRACKING = {
    schemas.TrackingStatus.out_for_delivery: NoticeKind.out_for_delivery,
    schemas.TrackingStatus.attempt_fail: NoticeKind.delivery_exception,
    schemas.TrackingStatus.exception: NoticeKind.delivery_exception,
    schemas.TrackingStatus.delivered: NoticeKind.delivered,
}


class ShipmentNotFound(NotFoundError):
    code = "shipment_not_found"


def group_of(order: Order, group_id: str) -> FulfilmentGroup:
    for group in order.groups:
        if group.id == group_id:
            return group
    raise InvalidError(
        f"order {order.number} has no fulfilment group {group_id!r}", field="group_id"
    )


def lines_of(order: Order, group: FulfilmentGroup) -> list[OrderLine]:
    return [line for line in order.lines if line.group_id == group.id]


def move(group: FulfilmentGroup, event: states.GroupEvent) -> None:
    group.status = states.next_group_status(
        group.id, schemas.Method(group.method), schemas.GroupStatus(group.status), event
    ).value


def _confirmed(order: Order) -> None:
    if order.cancelled_at is not None:
        raise states.ImpossibleTransition(
            f"order {order.number} is cancelled", order_status=order.status
        )
    if order.confirmed_at is None:
        raise states.ImpossibleTransition(
            f"order {order.number} is not confirmed yet; confirm it first",
            order_status=order.status,
        )


async def _store_operating(
    session: AsyncSession, order: Order, group: FulfilmentGroup, now: datetime
) -> str:
    """The pickup store's name; a store that closed cannot prepare or hand over the order."""
    if group.method != schemas.Method.pickup.value or group.location_id is None:
        return ""
    store = await LocationRepository(session, order.tenant_id).get(group.location_id)
    if store is None:
        return ""
    if is_temporarily_closed(store, now):
        raise ConflictError(
            f"store {store.name} is temporarily closed; order {order.number} waits for a "
            "decision (ship home, another store, or cancel)",
            code="store_closed",
            location_id=store.id,
        )
    return store.name


async def _pickup_step(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    group_id: str,
    event: states.GroupEvent,
    now: datetime,
) -> tuple[Order, FulfilmentGroup, str]:
    """Load the order locked and move its pickup group by ``event``, if its store is open;
    returns the order, the group and the store's name."""
    principal.require(WRITE)
    order = await repository.load(session, principal.tenant_id, order_id, lock=True)
    _confirmed(order)
    group = group_of(order, group_id)
    store = await _store_operating(session, order, group, now)
    move(group, event)
    return order, group, store


async def mark_ready_for_pickup(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    group_id: str,
    *,
    clock: Clock = utc_now,
) -> schemas.Order:
    """The store has the group's items ready: the customer is to be told to come. Refused
    while the store is temporarily closed."""
    now = clock()
    order, group, store = await _pickup_step(
        session, principal, order_id, group_id, states.GroupEvent.ready, now
    )
    group.ready_at = now
    group.updated_at = now
    timeline.record(
        session,
        order,
        "ready_for_pickup",
        f"ready for pickup at {store}",
        actor=principal.actor,
        at=now,
        group_id=group.id,
        location_id=group.location_id,
    )
    timeline.schedule_notice(
        session, order, NoticeKind.ready_for_pickup, actor=principal.actor, at=now
    )
    return await conclude(session, principal, order, now, announce=[ORDER_READY_FOR_PICKUP])


async def mark_picked_up(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    group_id: str,
    *,
    clock: Clock = utc_now,
) -> schemas.Order:
    """The customer collected the group: its units leave on hand."""
    now = clock()
    order, group, _ = await _pickup_step(
        session, principal, order_id, group_id, states.GroupEvent.pick_up, now
    )
    group.completed_at = now
    group.updated_at = now
    for line in lines_of(order, group):
        line.fulfilled_quantity = line.quantity
    await allocation.commit(session, principal, group)
    timeline.record(
        session,
        order,
        "picked_up",
        "collected by the customer",
        actor=principal.actor,
        at=now,
        group_id=group.id,
    )
    return await conclude(session, principal, order, now, announce=[ORDER_PICKED_UP])


def _items(
    order: Order, group: FulfilmentGroup, requested: list[schemas.ItemRequest] | None
) -> dict[str, int]:
    """What the shipment holds, per line: everything left in the group by default."""
    lines = {line.id: line for line in lines_of(order, group)}
    items: dict[str, int] = {}
    if requested is None:
        for lid, line in lines.items():
            if line.quantity > line.fulfilled_quantity:
                items[lid] = line.quantity - line.fulfilled_quantity
        if not items:
            raise ConflictError(
                f"everything in group {group.id} has shipped", code="nothing_to_ship"
            )
        return items
    for index, item in enumerate(requested):
        asked = lines.get(item.line_id)
        if asked is None:
            raise InvalidError(
                f"line {item.line_id!r} is not in group {group.id}",
                field=f"items.{index}.line_id",
            )
        items[item.line_id] = items.get(item.line_id, 0) + item.quantity
        left = asked.quantity - asked.fulfilled_quantity
        if items[item.line_id] > left:
            raise InvalidError(
                f"line {asked.sku}: {items[item.line_id]} to ship, {left} left to ship",
                field=f"items.{index}.quantity",
            )
    return items


async def create_shipment(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    data: schemas.ShipmentCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Shipment:
    """Items of a ship group left with a carrier. When the whole group has left, its units
    leave on hand. The customer is to be told."""
    principal.require(WRITE)
    order = await repository.load(session, principal.tenant_id, order_id, lock=True)
    _confirmed(order)
    group = group_of(order, data.group_id)
    items = _items(order, group, data.items)
    for line in lines_of(order, group):
        line.fulfilled_quantity += items.get(line.id, 0)
    whole = all(line.fulfilled_quantity == line.quantity for line in lines_of(order, group))
    move(group, states.GroupEvent.ship_all if whole else states.GroupEvent.ship_part)
    if data.location is not None:
        found = await locations_by_ref(
            session, principal.tenant_id, [data.location], field="location"
        )
        group.location_id = found[data.location].id
    now = clock()
    group.updated_at = now
    if whole:
        await allocation.commit(session, principal, group)
    shipment = Shipment(
        id=new_id("shp"),
        tenant_id=order.tenant_id,
        order_id=order.id,
        group_id=group.id,
        carrier=data.carrier,
        service=data.service,
        tracking_number=data.tracking_number,
        tracking_url=data.tracking_url,
        status=schemas.TrackingStatus.info_received.value,
        estimated_delivery=data.estimated_delivery,
        created_at=now,
        updated_at=now,
        items=[ShipmentItem(line_id=lid, quantity=quantity) for lid, quantity in items.items()],
    )
    session.add(shipment)
    timeline.record(
        session,
        order,
        "shipment",
        f"shipped with {data.carrier} {data.tracking_number}".strip(),
        actor=principal.actor,
        at=now,
        shipment_id=shipment.id,
        group_id=group.id,
    )
    timeline.schedule_notice(session, order, NoticeKind.shipped, actor=principal.actor, at=now)
    await session.flush()
    result = views.shipment(shipment, [])
    await conclude(
        session,
        principal,
        order,
        now,
        also=[PendingEvent(SHIPMENT_CREATED, order.tenant_id, shipment.id, result)],
    )
    return result


async def _shipment(
    session: AsyncSession, principal: Principal, shipment_id: str, *, lock: bool = False
) -> Shipment:
    statement = (
        select(Shipment)
        .options(selectinload(Shipment.items))
        .where(Shipment.tenant_id == principal.tenant_id, Shipment.id == shipment_id)
    )
    if lock:
        statement = statement.with_for_update(of=Shipment)
    found = (await session.scalars(statement)).first()
    if found is None:
        raise ShipmentNotFound(f"no shipment {shipment_id!r}")
    return found


async def get_shipment(
    session: AsyncSession, principal: Principal, shipment_id: str
) -> schemas.Shipment:
    principal.require(READ)
    shipment = await _shipment(session, principal, shipment_id)
    return views.shipment(shipment, await _events(session, shipment.id))


async def list_shipments(
    session: AsyncSession, principal: Principal, order_id: str
) -> list[schemas.Shipment]:
    principal.require(READ)
    order = await repository.load(session, principal.tenant_id, order_id)
    return [
        views.shipment(s, events) for s, events in await repository.shipments(session, order.id)
    ]


async def _events(session: AsyncSession, shipment_id: str) -> list[TrackingEvent]:
    return list(
        (
            await session.scalars(
                select(TrackingEvent)
                .where(TrackingEvent.shipment_id == shipment_id)
                .order_by(TrackingEvent.occurred_at, TrackingEvent.id)
            )
        ).all()
    )


async def add_tracking_event(
    session: AsyncSession,
    principal: Principal,
    shipment_id: str,
    data: schemas.TrackingEventCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Shipment:
    """Record a carrier scan. The shipment's status is that of its latest scan by the
    carrier's own time, so a scan that arrives late is kept in the history but never
    overwrites a newer status. The same scan sent twice is recorded once."""
    principal.require(WRITE)
    order_id = await session.scalar(
        select(Shipment.order_id).where(
            Shipment.tenant_id == principal.tenant_id, Shipment.id == shipment_id
        )
    )
    if order_id is None:
        raise ShipmentNotFound(f"no shipment {shipment_id!r}")
    # The order first, like every command on it, then the shipment: no lock-order deadlock.
    order = await repository.load(session, principal.tenant_id, order_id, lock=True)
    shipment = await _shipment(session, principal, shipment_id, lock=True)
    now = clock()
    added = await session.scalar(
        dialect_insert(session, TrackingEvent)
        .values(
            id=new_id("trk"),
            shipment_id=shipment.id,
            status=data.status.value,
            carrier_code=data.carrier_code,
            carrier_text=data.carrier_text,
            location=data.location,
            occurred_at=data.occurred_at,
            recorded_at=now,
        )
        .on_conflict_do_nothing()  # type: ignore[attr-defined]
        .returning(TrackingEvent.id)
    )
    events = await _events(session, shipment.id)
    if added is None or (
        shipment.last_event_at is not None and data.occurred_at < shipment.last_event_at
    ):
        return views.shipment(shipment, events)
    previous = shipment.status
    shipment.status = data.status.value
    shipment.carrier_status_code = data.carrier_code
    shipment.carrier_status_text = data.carrier_text
    shipment.last_event_at = data.occurred_at
    shipment.updated_at = now
    if data.estimated_delivery is not None:
        shipment.estimated_delivery = data.estimated_delivery
    timeline.record(
        session,
        order,
        "tracking",
        f"{shipment.carrier}: {data.status.value}",
        actor=principal.actor,
        at=now,
        shipment_id=shipment.id,
        status=data.status.value,
        carrier_code=data.carrier_code,
        carrier_text=data.carrier_text,
    )
    if data.status is schemas.TrackingStatus.delivered:
        shipment.delivered_at = data.occurred_at
        await _deliver_group_if_done(session, order, shipment)
    notice = _NOTICE_OF_TRACKING.get(data.status)
    if notice is not None and previous != data.status.value:
        timeline.schedule_notice(session, order, notice, actor=principal.actor, at=now)
    await session.flush()
    result = views.shipment(shipment, events)
    also = []
    if previous != data.status.value:
        event_type = SHIPMENT_STATUS[data.status]
        also.append(PendingEvent(event_type, order.tenant_id, shipment.id, result))
    await conclude(session, principal, order, now, also=also)
    return result


async def _deliver_group_if_done(session: AsyncSession, order: Order, shipment: Shipment) -> None:
    group = group_of(order, shipment.group_id)
    if group.status != schemas.GroupStatus.shipped.value:
        return
    others = (
        await session.scalars(
            select(Shipment.status).where(Shipment.group_id == group.id, Shipment.id != shipment.id)
        )
    ).all()
    if all(status == schemas.TrackingStatus.delivered.value for status in others):
        move(group, states.GroupEvent.deliver)
        group.completed_at = shipment.delivered_at
        group.updated_at = shipment.updated_at


async def shipment_by_tracking(
    session: AsyncSession, tenant_id: str, tracking_number: str
) -> str | None:
    """The newest shipment with this tracking number, if any."""
    found: str | None = await session.scalar(
        select(Shipment.id)
        .where(Shipment.tenant_id == tenant_id, Shipment.tracking_number == tracking_number)
        .order_by(Shipment.id.desc())
        .limit(1)
    )
    return found


async def set_estimate(
    session: AsyncSession,
    principal: Principal,
    shipment_id: str,
    estimate: dt.date | None,
    *,
    clock: Clock = utc_now,
) -> schemas.Shipment:
    """A carrier's new delivery estimate (the status is unchanged)."""
    principal.require(WRITE)
    shipment = await _shipment(session, principal, shipment_id, lock=True)
    if estimate is not None and estimate != shipment.estimated_delivery:
        shipment.estimated_delivery = estimate
        shipment.updated_at = clock()
        await session.flush()
    return views.shipment(shipment, await _events(session, shipment.id))
