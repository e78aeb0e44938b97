"""Orders: create, read, update, confirm, cancel; and how every command ends.

Every command loads the order row-locked, changes its parts, then calls ``conclude``: the
order's status is derived again from its parts, checked against the order state machine,
and the change and its events are written in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.pagination import Page, PageRequest, encode_cursor, keyset_page
from channelhub.platform.errors import ConflictError, InvalidError, PreconditionFailedError
from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.outbox import PendingEvent, record_events
from channelhub.platform.ids import new_id
from channelhub.process.channels.repository import SalesChannelRepository
from channelhub.process.inventory.errors import InsufficientStock
from channelhub.process.inventory.service import locations_by_ref, variants_by_sku
from channelhub.process.orders import allocation, repository, schemas, states, timeline, views
from channelhub.process.orders.events import (
    ORDER_CANCELLED,
    ORDER_CONFIRMED,
    ORDER_CREATED,
    ORDER_STATUS_CHANGED,
    ORDER_UPDATED,
    REFUND_ISSUED,
    StatusChange,
)
from channelhub.process.orders.models import (
    FulfilmentGroup,
    Order,
    OrderExternalId,
    OrderLine,
    Refund,
    TimelineEntry,
)
from channelhub.process.orders.timeline import NoticeKind
from channelhub.process.stores.models import Location
from channelhub.process.stores.service import is_temporarily_closed

READ = "orders:read"
WRITE = "orders:write"
STORE_CLOSED = "store_closed"
"""``action_needed``: a pickup store of the order closed; someone must choose what now."""
STOCK_SHORT = "stock_short"
"""``action_needed``: the order was recorded without all its stock reserved."""
_WAITING = (schemas.GroupStatus.open.value, schemas.GroupStatus.ready_for_pickup.value)


def _short(order: Order) -> bool:
    return any(g.reservation_id is None and g.status in _WAITING for g in order.groups)


def waits_for_pickup(order: Order) -> bool:
    return any(
        g.method == schemas.Method.pickup.value and g.status in _WAITING for g in order.groups
    )


async def conclude(
    session: AsyncSession,
    principal: Principal,
    order: Order,
    now: datetime,
    *,
    announce: Sequence[EventType] = (),
    also: Sequence[PendingEvent] = (),
) -> schemas.Order:
    """Derive the order's status from its parts, refuse a move its state machine does not
    allow, and write the change with its events: each of ``announce`` carrying the order,
    then ``also``, then ``order.status_changed`` if the status moved."""
    if (order.action_needed == STORE_CLOSED and not waits_for_pickup(order)) or (
        order.action_needed == STOCK_SHORT and not _short(order)
    ):
        # Nothing waits at a closed store any more, or every group holds its stock (or
        # has left): no decision is pending.
        order.action_needed = None
        order.action_needed_since = None
        order.action_deadline = None
    previous = schemas.OrderStatus(order.status)
    target = states.derived_status(
        confirmed=order.confirmed_at is not None,
        cancelled=order.cancelled_at is not None,
        groups=[schemas.GroupStatus(g.status) for g in order.groups],
        fulfilled_units=sum(line.fulfilled_quantity for line in order.lines),
        returned_units=sum(line.returned_quantity for line in order.lines),
    )
    states.check_order_move(order.id, previous, target)
    if target is not previous:
        order.status = target.value
        timeline.record(
            session,
            order,
            "status_changed",
            f"{previous.value} -> {target.value}",
            actor=principal.actor,
            at=now,
            previous=previous.value,
            status=target.value,
        )
    order.version += 1
    order.updated_at = now
    await session.flush()
    result = views.order(order)
    events = [PendingEvent(t, order.tenant_id, order.id, result) for t in announce]
    events += also
    if target is not previous:
        change = StatusChange(previous=previous, order=result)
        events.append(PendingEvent(ORDER_STATUS_CHANGED, order.tenant_id, order.id, change))
    await record_events(session, events)
    return result


def _totals(data: schemas.OrderCreate) -> tuple[int, int, int]:
    """(subtotal, shipping, total), refusing a given total that does not add up."""
    subtotal = sum(line.quantity * line.unit_price - line.discount for line in data.lines)
    shipping = sum(group.shipping_fee for group in data.groups)
    total = subtotal - data.discount_total + shipping + data.tax_total
    if total < 0:
        raise InvalidError("discount_total is larger than the order", field="discount_total")
    if data.total is not None and data.total != total:
        raise InvalidError(
            f"total {data.total} does not add up: lines {subtotal} - discount "
            f"{data.discount_total} + shipping {shipping} + tax {data.tax_total} = {total}",
            field="total",
        )
    return subtotal, shipping, total


async def create_order(
    session: AsyncSession,
    principal: Principal,
    data: schemas.OrderCreate,
    *,
    clock: Clock = utc_now,
) -> tuple[schemas.Order, bool]:
    """Record an order and reserve its stock, all or nothing. An order already known by
    one of ``external_ids`` is returned as it is (created=False)."""
    principal.require(WRITE)
    tenant_id = principal.tenant_id
    existing = await repository.by_external_ids(session, tenant_id, data.external_ids)
    if existing is not None:
        return views.order(existing), False
    if await repository.by_number(session, tenant_id, data.number) is not None:
        raise ConflictError(
            f"an order numbered {data.number!r} exists", code="order_number_taken", field="number"
        )
    if await SalesChannelRepository(session, tenant_id).get(data.sales_channel_id) is None:
        raise InvalidError(f"no sales channel {data.sales_channel_id!r}", field="sales_channel_id")
    variants = await variants_by_sku(
        session, tenant_id, [line.sku for line in data.lines], field="lines.{i}.sku"
    )
    now = clock()
    stores = await _pickup_stores(session, tenant_id, data.groups, now)
    subtotal, shipping, total = _totals(data)
    order = Order(
        id=new_id("ord"),
        tenant_id=tenant_id,
        number=data.number,
        sales_channel_id=data.sales_channel_id,
        status=schemas.OrderStatus.placed.value,
        payment_status=data.payment_status.value,
        currency=data.currency,
        subtotal=subtotal,
        shipping_total=shipping,
        discount_total=data.discount_total,
        tax_total=data.tax_total,
        total=total,
        refunded_total=0,
        customer_email=data.customer.email,
        customer_phone=data.customer.phone,
        customer_name=data.customer.name,
        language=data.customer.language,
        shipping_address=_dump(data.shipping_address),
        billing_address=_dump(data.billing_address),
        notes=data.notes,
        version=0,
        placed_at=data.placed_at or now,
        confirmed_at=now if data.confirmed else None,
        created_at=now,
        updated_at=now,
    )
    order.groups = [
        FulfilmentGroup(
            id=new_id("ful"),
            position=index,
            method=group.method.value,
            location_id=stores[group.location].id if group.location else None,
            status=schemas.GroupStatus.open.value,
            shipping_fee=group.shipping_fee,
            shipping_waived=False,
            updated_at=now,
        )
        for index, group in enumerate(data.groups)
    ]
    order.lines = [
        OrderLine(
            id=new_id("oln"),
            group_id=order.groups[line.group].id,
            position=index,
            variant_id=variants[line.sku].id,
            sku=line.sku,
            title=line.title or line.sku,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            total=line.quantity * line.unit_price - line.discount,
            fulfilled_quantity=0,
            returned_quantity=0,
        )
        for index, line in enumerate(data.lines)
    ]
    order.external_ids = [
        OrderExternalId(tenant_id=tenant_id, system=ref.system, external_id=ref.id)
        for ref in data.external_ids
    ]
    session.add(order)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            f"order {data.number!r} (or one of its external ids) is being recorded by another "
            "request; retry to get it",
            code="order_in_progress",
            field="number",
        ) from exc
    actor = principal.actor
    for group in order.groups:
        lines = [line for line in order.lines if line.group_id == group.id]
        if not data.backorder:
            group.reservation_id = await allocation.reserve(session, principal, order, group, lines)
            continue
        try:
            async with session.begin_nested():
                group.reservation_id = await allocation.reserve(
                    session, principal, order, group, lines
                )
        except InsufficientStock as exc:
            order.action_needed = STOCK_SHORT
            order.action_needed_since = now
            timeline.record(
                session,
                order,
                "stock_short",
                f"recorded without stock: {exc.detail}",
                actor=actor,
                at=now,
                group_id=group.id,
                **exc.extra,
            )
    timeline.record(
        session, order, "created", f"order {order.number} recorded", actor=actor, at=now
    )
    announce = [ORDER_CREATED]
    if order.confirmed_at is not None:
        timeline.schedule_notice(session, order, NoticeKind.order_confirmed, actor=actor, at=now)
        announce.append(ORDER_CONFIRMED)
    return await conclude(session, principal, order, now, announce=announce), True


def _dump(address: schemas.PostalAddress | None) -> dict[str, object] | None:
    return None if address is None else address.model_dump(mode="json")


async def _pickup_stores(
    session: AsyncSession, tenant_id: str, groups: Sequence[schemas.GroupRequest], now: datetime
) -> dict[str, Location]:
    """The groups' pickup stores, share-locked until the order is recorded, so that a store
    closing meanwhile either sees this order (and flags it) or refuses it here."""
    refs = [g.location for g in groups if g.location is not None]
    if not refs:
        return {}
    found = await locations_by_ref(session, tenant_id, refs, field="groups.{i}.location")
    await session.execute(
        select(Location.id)
        .where(Location.id.in_({store.id for store in found.values()}))
        .with_for_update(read=True)
    )
    for store in found.values():
        await session.refresh(store)
    for index, group in enumerate(groups):
        if group.location is None:
            continue
        store = found[group.location]
        if not (store.pickup and store.active):
            raise InvalidError(
                f"location {group.location!r} does not offer pickup",
                field=f"groups.{index}.location",
            )
        if is_temporarily_closed(store, now):
            raise InvalidError(
                f"store {group.location!r} is temporarily closed ({store.closed_reason})",
                field=f"groups.{index}.location",
            )
    return found


async def get_order(session: AsyncSession, principal: Principal, order_id: str) -> schemas.Order:
    principal.require(READ)
    return views.order(await repository.load(session, principal.tenant_id, order_id))


async def list_orders(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    status: schemas.OrderStatus | None = None,
    action_needed: bool | None = None,
    email: str | None = None,
) -> Page[schemas.Order]:
    """Orders newest first, optionally filtered."""
    principal.require(READ)
    statement = repository.whole().where(Order.tenant_id == principal.tenant_id)
    if status is not None:
        statement = statement.where(Order.status == status.value)
    if action_needed is not None:
        needed = Order.action_needed.is_not(None)
        statement = statement.where(needed if action_needed else ~needed)
    if email is not None:
        statement = statement.where(Order.customer_email == email.strip().lower())
    found = await keyset_page(session, statement, Order.id, page)
    return Page([views.order(row) for row in found.items], found.next_cursor)


async def update_order(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    data: schemas.OrderUpdate,
    *,
    expected_version: int | None = None,
    clock: Clock = utc_now,
) -> schemas.Order:
    """Change contact details, addresses, notes or payment status. An update whose
    ``source_updated_at`` is older than the last applied one changes nothing."""
    principal.require(WRITE)
    order = await repository.load(session, principal.tenant_id, order_id, lock=True)
    if expected_version is not None and expected_version != order.version:
        raise PreconditionFailedError(
            f"order {order_id} is at version {order.version}, not {expected_version}"
        )
    if (
        data.source_updated_at is not None
        and order.source_updated_at is not None
        and data.source_updated_at <= order.source_updated_at
    ):
        return views.order(order)
    now = clock()
    if data.customer is not None:
        order.customer_email = data.customer.email
        order.customer_phone = data.customer.phone
        order.customer_name = data.customer.name
        order.language = data.customer.language
    if data.shipping_address is not None:
        if any(line.fulfilled_quantity for line in order.lines):
            raise ConflictError(
                "items have left already; the shipping address can no longer change",
                code="already_shipped",
                field="shipping_address",
            )
        order.shipping_address = _dump(data.shipping_address)
    if data.billing_address is not None:
        order.billing_address = _dump(data.billing_address)
    if data.notes is not None:
        order.notes = data.notes
    if data.payment_status is not None and data.payment_status.value != order.payment_status:
        timeline.record(
            session,
            order,
            "payment",
            f"payment {order.payment_status} -> {data.payment_status.value}",
            actor=principal.actor,
            at=now,
            previous=order.payment_status,
            payment_status=data.payment_status.value,
        )
        order.payment_status = data.payment_status.value
    known = {(ref.system, ref.external_id) for ref in order.external_ids}
    for ref in data.external_ids or []:
        if (ref.system, ref.id) not in known:
            order.external_ids.append(
                OrderExternalId(tenant_id=order.tenant_id, system=ref.system, external_id=ref.id)
            )
    if data.source_updated_at is not None:
        order.source_updated_at = data.source_updated_at
    try:
        return await conclude(session, principal, order, now, announce=[ORDER_UPDATED])
    except IntegrityError as exc:
        raise ConflictError(
            "one of the external ids names another order", field="external_ids"
        ) from exc


async def confirm_order(
    session: AsyncSession, principal: Principal, order_id: str, *, clock: Clock = utc_now
) -> schemas.Order:
    """Accept a placed order; confirming a confirmed order changes nothing."""
    principal.require(WRITE)
    order = await repository.load(session, principal.tenant_id, order_id, lock=True)
    if order.confirmed_at is not None and order.cancelled_at is None:
        return views.order(order)
    states.check_order_move(
        order.id, schemas.OrderStatus(order.status), schemas.OrderStatus.confirmed
    )
    now = clock()
    order.confirmed_at = now
    timeline.schedule_notice(
        session, order, NoticeKind.order_confirmed, actor=principal.actor, at=now
    )
    return await conclude(session, principal, order, now, announce=[ORDER_CONFIRMED])


async def cancel_order(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    reason: str,
    *,
    clock: Clock = utc_now,
) -> schemas.Order:
    """Cancel an order none of whose items has left: its stock is released and whatever
    was paid is refunded in full. Cancelling a cancelled order changes nothing."""
    principal.require(WRITE)
    order = await repository.load(session, principal.tenant_id, order_id, lock=True)
    if order.cancelled_at is not None:
        return views.order(order)
    return await cancel_loaded(session, principal, order, reason, clock())


async def cancel_loaded(
    session: AsyncSession, principal: Principal, order: Order, reason: str, now: datetime
) -> schemas.Order:
    for group in order.groups:
        if group.status == schemas.GroupStatus.cancelled.value:
            continue
        group.status = states.next_group_status(
            group.id,
            schemas.Method(group.method),
            schemas.GroupStatus(group.status),
            states.GroupEvent.cancel,
        ).value
        group.updated_at = now
        await allocation.release(session, principal, group)
    states.check_order_move(
        order.id, schemas.OrderStatus(order.status), schemas.OrderStatus.cancelled
    )
    order.cancelled_at = now
    order.cancel_reason = reason
    order.action_needed = None
    order.action_needed_since = None
    order.action_deadline = None
    actor = principal.actor
    await timeline.suppress_notices(session, order, None, "order cancelled", actor=actor, at=now)
    timeline.record(session, order, "cancelled", reason, actor=actor, at=now)
    timeline.schedule_notice(session, order, NoticeKind.cancelled, actor=actor, at=now)
    also = []
    refund = refund_rest(session, principal, order, f"order cancelled: {reason}", now)
    if refund is not None:
        also.append(PendingEvent(REFUND_ISSUED, order.tenant_id, refund.id, refund))
    return await conclude(session, principal, order, now, announce=[ORDER_CANCELLED], also=also)


_PAID = {schemas.PaymentStatus.paid.value, schemas.PaymentStatus.partially_refunded.value}


def refund_rest(
    session: AsyncSession, principal: Principal, order: Order, reason: str, now: datetime
) -> schemas.Refund | None:
    """Refund everything paid and not yet refunded (nothing if nothing was paid; an
    authorised payment is voided instead)."""
    if order.payment_status == schemas.PaymentStatus.authorized.value:
        order.payment_status = schemas.PaymentStatus.voided.value
        return None
    if order.payment_status not in _PAID or order.total - order.refunded_total <= 0:
        return None
    return add_refund(session, principal, order, order.total - order.refunded_total, reason, now)


def add_refund(
    session: AsyncSession,
    principal: Principal,
    order: Order,
    amount: int,
    reason: str,
    now: datetime,
    *,
    return_id: str | None = None,
) -> schemas.Refund:
    row = Refund(
        id=new_id("rfd"),
        tenant_id=order.tenant_id,
        order_id=order.id,
        return_id=return_id,
        amount=amount,
        currency=order.currency,
        reason=reason,
        created_by=principal.actor,
        created_at=now,
    )
    session.add(row)
    order.refunded_total += amount
    order.payment_status = (
        schemas.PaymentStatus.refunded.value
        if order.refunded_total >= order.total
        else schemas.PaymentStatus.partially_refunded.value
    )
    timeline.record(
        session,
        order,
        "refund",
        f"refunded {amount} {order.currency}: {reason}",
        actor=principal.actor,
        at=now,
        refund_id=row.id,
        amount=amount,
    )
    timeline.schedule_notice(
        session, order, NoticeKind.refund_issued, actor=principal.actor, at=now
    )
    return views.refund(row)


async def order_timeline(
    session: AsyncSession, principal: Principal, order_id: str, page: PageRequest
) -> Page[schemas.TimelineItem]:
    """What happened to the order, oldest first."""
    principal.require(READ)
    await repository.load(session, principal.tenant_id, order_id)
    statement = select(TimelineEntry).where(TimelineEntry.order_id == order_id)
    if page.after_id is not None:
        statement = statement.where(TimelineEntry.id > page.after_id)
    rows = (await session.scalars(statement.order_by(TimelineEntry.id).limit(page.limit + 1))).all()
    items = [
        schemas.TimelineItem(
            id=row.id, at=row.at, kind=row.kind, actor=row.actor, summary=row.summary, data=row.data
        )
        for row in rows[: page.limit]
    ]
    more = len(rows) > page.limit
    return Page(items, encode_cursor(items[-1].id) if more else None)


async def get_policy(session: AsyncSession, principal: Principal) -> schemas.Policy:
    principal.require(READ)
    return await repository.policy(session, principal.tenant_id)


async def update_policy(
    session: AsyncSession, principal: Principal, data: schemas.PolicyUpdate
) -> schemas.Policy:
    principal.require(WRITE)
    current = await repository.policy(session, principal.tenant_id)
    changed = current.model_copy(update=data.model_dump(exclude_none=True))
    await repository.save_policy(session, principal.tenant_id, changed)
    return changed
