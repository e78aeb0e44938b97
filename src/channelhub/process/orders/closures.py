"""The store-closure playbook.

When a store closes, every open pickup order there is flagged "action needed" in the same
transaction, its pending "ready for pickup" notice is withdrawn (it would now be false),
and the customer is to be offered: ship to home with free shipping (stock re-allocated from
the channel's shipping locations), pickup at another open store nearby that has the stock,
or cancel with a full refund. The customer (self-service), an agent, or after the tenant's
deadline the fallback job chooses; everything goes on the order's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.database import Database
from channelhub.platform.errors import ConflictError, InvalidError
from channelhub.platform.events.outbox import PendingEvent, record_events
from channelhub.process.inventory import availability
from channelhub.process.inventory.schemas import Point
from channelhub.process.orders import (
    allocation,
    repository,
    schemas,
    service,
    states,
    timeline,
    views,
)
from channelhub.process.orders.events import (
    ORDER_ACTION_NEEDED,
    ORDER_CLOSURE_OPTION_CHOSEN,
    ORDER_UPDATED,
    ActionNeeded,
    ClosureChosen,
)
from channelhub.process.orders.fulfilment import lines_of, move
from channelhub.process.orders.models import FulfilmentGroup, Order
from channelhub.process.orders.timeline import NoticeKind
from channelhub.process.stores import schemas as store_schemas
from channelhub.process.stores import service as stores
from channelhub.process.stores.models import Location
from channelhub.process.stores.repository import LocationRepository

log = structlog.get_logger(__name__)

STORE_CLOSED = service.STORE_CLOSED
_WAITING = (schemas.GroupStatus.open.value, schemas.GroupStatus.ready_for_pickup.value)


class OptionUnavailable(ConflictError):
    code = "option_unavailable"


class NoChoicePending(ConflictError):
    code = "no_choice_pending"


@dataclass(frozen=True)
class ClosureResult:
    store: store_schemas.StoreStatus
    flagged_orders: list[str]
    """Orders that now wait for a decision (on reopening: that no longer wait)."""


@dataclass(frozen=True)
class Offers:
    group: FulfilmentGroup
    closed_store: Location
    ship_home: bool
    stores: list[schemas.StoreOffer]


async def _waiting_orders(session: AsyncSession, tenant_id: str, location_id: str) -> list[str]:
    return list(
        (
            await session.scalars(
                select(FulfilmentGroup.order_id)
                .join(Order, Order.id == FulfilmentGroup.order_id)
                .where(
                    Order.tenant_id == tenant_id,
                    Order.cancelled_at.is_(None),
                    FulfilmentGroup.location_id == location_id,
                    FulfilmentGroup.method == schemas.Method.pickup.value,
                    FulfilmentGroup.status.in_(_WAITING),
                )
                .distinct()
                .order_by(FulfilmentGroup.order_id)
            )
        ).all()
    )


async def close_store(
    session: AsyncSession,
    principal: Principal,
    location_id: str,
    data: store_schemas.ClosureRequest,
    *,
    clock: Clock = utc_now,
) -> ClosureResult:
    """Close a store and flag its waiting pickup orders, in one transaction."""
    now = clock()
    location = await stores.close_temporarily(
        session, principal, location_id, data, clock=lambda: now
    )
    flagged: list[str] = []
    if location.closed_since == now:
        for order_id in await _waiting_orders(session, principal.tenant_id, location.id):
            order = await repository.load(session, principal.tenant_id, order_id, lock=True)
            if not _waits_at(order, location.id):
                continue  # collected or re-routed since the list was read
            await _flag(session, principal, order, location, data.reason, now)
            flagged.append(order.id)
    return ClosureResult(stores.store_status(location, now), flagged)


def _waits_at(order: Order, location_id: str) -> bool:
    return order.cancelled_at is None and any(
        g.method == schemas.Method.pickup.value
        and g.status in _WAITING
        and g.location_id == location_id
        for g in order.groups
    )


async def _flag(
    session: AsyncSession,
    principal: Principal,
    order: Order,
    store: Location,
    reason: str,
    now: datetime,
) -> None:
    actor = principal.actor
    already = order.action_needed == STORE_CLOSED
    if not already:
        policy = await repository.policy(session, order.tenant_id)
        order.action_needed = STORE_CLOSED
        order.action_needed_since = now
        order.action_deadline = (
            None
            if policy.closure_fallback is schemas.ClosureFallback.none
            else now + timedelta(hours=policy.closure_fallback_hours)
        )
    timeline.record(
        session,
        order,
        "action_needed",
        f"pickup store {store.name} closed: {reason}",
        actor=actor,
        at=now,
        reason=STORE_CLOSED,
        location_id=store.id,
    )
    await timeline.suppress_notices(
        session,
        order,
        {NoticeKind.ready_for_pickup},
        f"store {store.name} closed",
        actor=actor,
        at=now,
    )
    if already:
        # Another of its pickup stores closed earlier: the customer is being asked already.
        await service.conclude(session, principal, order, now)
        return
    timeline.schedule_notice(session, order, NoticeKind.store_closed, actor=actor, at=now)
    result = views.order(order)
    await service.conclude(
        session,
        principal,
        order,
        now,
        also=[
            PendingEvent(
                ORDER_ACTION_NEEDED,
                order.tenant_id,
                order.id,
                ActionNeeded(reason=STORE_CLOSED, order=result),
            )
        ],
    )


def clear_action(order: Order) -> None:
    order.action_needed = None
    order.action_needed_since = None
    order.action_deadline = None


async def reopen_store(
    session: AsyncSession, principal: Principal, location_id: str, *, clock: Clock = utc_now
) -> ClosureResult:
    """Reopen a store: orders still waiting for a decision about it go back to being
    collected there, as planned (and told again if their items are ready)."""
    now = clock()
    location = await stores.reopen(session, principal, location_id, clock=lambda: now)
    resumed = []
    for order_id in await _waiting_orders(session, principal.tenant_id, location.id):
        order = await repository.load(session, principal.tenant_id, order_id, lock=True)
        if order.action_needed != STORE_CLOSED or await _closed_group(session, order, now):
            continue
        actor = principal.actor
        order.action_needed = None
        order.action_needed_since = None
        timeline.record(
            session,
            order,
            "action_resolved",
            f"store {location.name} reopened",
            actor=actor,
            at=now,
        )
        await timeline.suppress_notices(
            session, order, {NoticeKind.store_closed}, "store reopened", actor=actor, at=now
        )
        if any(g.status == schemas.GroupStatus.ready_for_pickup.value for g in order.groups):
            timeline.schedule_notice(
                session, order, NoticeKind.ready_for_pickup, actor=actor, at=now
            )
        await service.conclude(session, principal, order, now, announce=[ORDER_UPDATED])
        resumed.append(order.id)
    return ClosureResult(stores.store_status(location, now), resumed)


async def _closed_group(
    session: AsyncSession, order: Order, now: datetime
) -> tuple[FulfilmentGroup, Location] | None:
    """The order's first pickup group waiting at a temporarily closed store, with that
    store."""
    for group in order.groups:
        if group.method != schemas.Method.pickup.value or group.status not in _WAITING:
            continue
        assert group.location_id is not None
        store = await LocationRepository(session, order.tenant_id).get(group.location_id)
        if store is not None and stores.is_temporarily_closed(store, now):
            return group, store
    return None


async def offers(
    session: AsyncSession, principal: Principal, order: Order, now: datetime
) -> Offers | None:
    """What the customer may choose now, checked against live stock; None when the order
    waits for no closure decision."""
    if order.action_needed != STORE_CLOSED:
        return None
    found = await _closed_group(session, order, now)
    if found is None:
        return None
    group, closed = found
    policy = await repository.policy(session, order.tenant_id)
    needed: dict[str, int] = {}
    for line in lines_of(order, group):
        needed[line.sku] = needed.get(line.sku, 0) + line.quantity
    near = None
    if closed.latitude is not None and closed.longitude is not None:
        near = Point(latitude=closed.latitude, longitude=closed.longitude)
    answer = await availability.availability(
        session,
        principal.elevated(),
        sorted(needed),
        order.sales_channel_id,
        near=near,
        radius_km=float(policy.pickup_radius_km),
    )
    ship_home = all(a.available_to_ship >= needed[a.sku] for a in answer)
    candidates: dict[str, float | None] = {}
    for index, sku_answer in enumerate(answer):
        holding = {
            p.location_id: p.distance_km
            for p in sku_answer.pickup
            if p.location_id != closed.id and p.available >= needed[sku_answer.sku]
        }
        candidates = (
            holding if index == 0 else {k: v for k, v in candidates.items() if k in holding}
        )
    open_stores = []
    locations = LocationRepository(session, order.tenant_id)
    for location_id, distance in sorted(candidates.items(), key=lambda c: c[1] or 0.0):
        store = await locations.get(location_id)
        if store is None or stores.is_temporarily_closed(store, now) or not store.active:
            continue
        open_stores.append(
            schemas.StoreOffer(
                location_id=store.id,
                code=store.code,
                name=store.name,
                distance_km=None if distance is None else round(distance, 1),
                status=stores.store_status(store, now),
            )
        )
    return Offers(group, closed, ship_home, open_stores)


async def choose(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    choice: schemas.ClosureChoice,
    *,
    clock: Clock = utc_now,
) -> schemas.Order:
    """Apply the customer's (or agent's) choice after the pickup store closed. Only an
    option that is offered now can be chosen (409 option_unavailable otherwise)."""
    principal.require(service.WRITE)
    order = await repository.load(session, principal.tenant_id, order_id, lock=True)
    return await _apply(session, principal, order, choice, clock())


async def _apply(
    session: AsyncSession,
    principal: Principal,
    order: Order,
    choice: schemas.ClosureChoice,
    now: datetime,
) -> schemas.Order:
    offered = await offers(session, principal, order, now)
    if offered is None:
        raise NoChoicePending(
            f"order {order.number} waits for no decision about a closed store",
            action_needed=order.action_needed,
        )
    group = offered.group
    actor = principal.actor
    new_store: str | None = None
    if choice.option is schemas.ClosureOption.cancel:
        reason = f"store {offered.closed_store.name} closed; cancelled as chosen by {actor}"
        cancelled = await service.cancel_loaded(session, principal, order, reason, now)
        await _announce_choice(session, order, choice, None, actor, cancelled)
        return cancelled
    if choice.option is schemas.ClosureOption.ship_home:
        if not offered.ship_home:
            raise OptionUnavailable(
                "the items cannot be shipped from stock now; choose another store or cancel",
                field="option",
            )
        address = choice.shipping_address or (
            schemas.PostalAddress(**order.shipping_address) if order.shipping_address else None
        )
        if address is None:
            raise InvalidError("give the shipping_address to ship to", field="shipping_address")
        await allocation.release(session, principal, group)
        move(group, states.GroupEvent.reroute)
        group.method = schemas.Method.ship.value
        group.location_id = None
        group.shipping_fee = 0
        group.shipping_waived = True
        order.shipping_address = address.model_dump(mode="json")
    else:
        assert choice.location is not None
        store = (await LocationRepository(session, order.tenant_id).resolve([choice.location])).get(
            choice.location
        )
        if store is None or store.id not in {s.location_id for s in offered.stores}:
            raise OptionUnavailable(
                f"store {choice.location!r} is not open nearby with the items in stock; "
                "choose one of the offered stores",
                field="location",
            )
        await allocation.release(session, principal, group)
        move(group, states.GroupEvent.reroute)
        group.location_id = store.id
        new_store = store.id
    group.updated_at = now
    group.ready_at = None
    group.reservation_id = await allocation.reserve(
        session, principal, order, group, lines_of(order, group)
    )
    timeline.record(
        session,
        order,
        "choice",
        f"after the store closed: {choice.option.value}",
        actor=actor,
        at=now,
        option=choice.option.value,
        location_id=new_store,
    )
    if await _closed_group(session, order, now) is None:
        # Nothing else waits at a closed store: the decision is complete.
        clear_action(order)
        await timeline.suppress_notices(
            session, order, {NoticeKind.store_closed}, "a choice was made", actor=actor, at=now
        )
        timeline.schedule_notice(session, order, NoticeKind.closure_resolved, actor=actor, at=now)
    result = await service.conclude(session, principal, order, now)
    await _announce_choice(session, order, choice, new_store, actor, result)
    return result


async def _announce_choice(
    session: AsyncSession,
    order: Order,
    choice: schemas.ClosureChoice,
    location_id: str | None,
    actor: str,
    result: schemas.Order,
) -> None:
    chosen = ClosureChosen(
        option=choice.option, location_id=location_id, chosen_by=actor, order=result
    )
    await record_events(
        session, [PendingEvent(ORDER_CLOSURE_OPTION_CHOSEN, order.tenant_id, order.id, chosen)]
    )


async def apply_fallbacks(db: Database, *, limit: int = 50, clock: Clock = utc_now) -> int:
    """For orders nobody decided about by their deadline, apply the tenant's fallback:
    ship home (or, without the stock or an address for it, cancel), or cancel. Each order
    is decided in its own savepoint; one that cannot be decided now is retried in an hour,
    so it never holds up the others."""
    now = clock()
    done = 0
    async with db.transaction() as session:
        due = (
            await session.execute(
                select(Order.id, Order.tenant_id)
                .where(Order.action_needed == STORE_CLOSED, Order.action_deadline <= now)
                .order_by(Order.action_deadline)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for order_id, tenant_id in due:
            try:
                async with session.begin_nested():
                    await _fall_back(session, tenant_id, order_id, now)
            except Exception as exc:
                log.warning("orders.closure_fallback_failed", order_id=order_id, error=str(exc))
                await session.execute(
                    update(Order)
                    .where(Order.id == order_id)
                    .values(action_deadline=now + _FALLBACK_RETRY)
                    .execution_options(synchronize_session=False)
                )
                continue
            done += 1
    return done


_FALLBACK_RETRY = timedelta(hours=1)


async def _fall_back(session: AsyncSession, tenant_id: str, order_id: str, now: datetime) -> None:
    principal = Principal.system(tenant_id, name="job:closure-fallback")
    order = await repository.load(session, tenant_id, order_id)
    policy = await repository.policy(session, tenant_id)
    option = schemas.ClosureOption.cancel
    if policy.closure_fallback is schemas.ClosureFallback.ship_home:
        offered = await offers(session, principal, order, now)
        if offered is not None and offered.ship_home and order.shipping_address:
            option = schemas.ClosureOption.ship_home
    await _apply(session, principal, order, schemas.ClosureChoice(option=option), now)


async def reopen_due(db: Database, *, limit: int = 50, clock: Clock = utc_now) -> int:
    """Reopen the stores whose announced reopening time has come, with the same playbook
    as a reopening by hand."""
    now = clock()
    async with db.transaction() as session:
        due = (
            await session.execute(
                select(Location.id, Location.tenant_id)
                .where(Location.closed_since.is_not(None), Location.reopens_at <= now)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for location_id, tenant_id in due:
            principal = Principal.system(tenant_id, name="job:store-reopening")
            await reopen_store(session, principal, location_id, clock=lambda: now)
    return len(due)
