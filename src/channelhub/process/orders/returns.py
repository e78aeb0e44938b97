"""Returns and refunds.

A return moves requested -> approved -> received (or requested -> rejected, or to
cancelled before it is received). Only units that reached the customer and are not
already on their way back can be returned, within the tenant's return window. A refund
pays back at most what was paid and not refunded yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.errors import ConflictError, InvalidError, NotFoundError
from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.outbox import PendingEvent
from channelhub.platform.ids import new_id
from channelhub.process.orders import repository, schemas, timeline, views
from channelhub.process.orders.events import (
    REFUND_ISSUED,
    RETURN_APPROVED,
    RETURN_LABEL_CREATED,
    RETURN_RECEIVED,
    RETURN_REJECTED,
    RETURN_REQUESTED,
)
from channelhub.process.orders.models import Order, Return, ReturnLine
from channelhub.process.orders.service import READ, WRITE, add_refund, conclude
from channelhub.process.orders.states import ImpossibleTransition
from channelhub.process.orders.timeline import NoticeKind

_OPEN = (schemas.ReturnStatus.requested.value, schemas.ReturnStatus.approved.value)
_REACHED = (schemas.GroupStatus.delivered.value, schemas.GroupStatus.picked_up.value)
_MOVES: dict[tuple[schemas.ReturnStatus, str], schemas.ReturnStatus] = {
    (schemas.ReturnStatus.requested, "approve"): schemas.ReturnStatus.approved,
    (schemas.ReturnStatus.requested, "reject"): schemas.ReturnStatus.rejected,
    (schemas.ReturnStatus.requested, "cancel"): schemas.ReturnStatus.cancelled,
    (schemas.ReturnStatus.approved, "cancel"): schemas.ReturnStatus.cancelled,
    (schemas.ReturnStatus.approved, "receive"): schemas.ReturnStatus.received,
}
_EVENT_OF_MOVE = {"approve": RETURN_APPROVED, "reject": RETURN_REJECTED, "receive": RETURN_RECEIVED}


class ReturnNotFound(NotFoundError):
    code = "return_not_found"


async def returnable(session: AsyncSession, order: Order, now: datetime) -> dict[str, int]:
    """Units per line that may be returned now: those of groups that reached the customer
    (delivered or collected) within the return window, less what is already on its way
    back or returned."""
    return returnable_units(
        order,
        await repository.returns(session, order.id),
        await repository.policy(session, order.tenant_id),
        now,
    )


def returnable_units(
    order: Order, order_returns: Sequence[Return], policy: schemas.Policy, now: datetime
) -> dict[str, int]:
    """``returnable`` from what was loaded already (the order's returns, its policy)."""
    window = timedelta(days=policy.return_window_days)
    reached = {
        group.id
        for group in order.groups
        if group.status in _REACHED
        and group.completed_at is not None
        and group.completed_at + window >= now
    }
    if not reached:
        return {}
    on_the_way: dict[str, int] = {}
    for existing in order_returns:
        if existing.status in _OPEN:
            for line in existing.lines:
                on_the_way[line.line_id] = on_the_way.get(line.line_id, 0) + line.quantity
    left = {
        line.id: line.fulfilled_quantity - line.returned_quantity - on_the_way.get(line.id, 0)
        for line in order.lines
        if line.group_id in reached
    }
    return {line_id: units for line_id, units in left.items() if units > 0}


async def request_return(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    data: schemas.ReturnCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Return:
    """Ask to return items that reached the customer (422 naming the item when more are
    asked back than can be)."""
    principal.require(WRITE)
    order = await repository.load(session, principal.tenant_id, order_id, lock=True)
    now = clock()
    allowed = await returnable(session, order, now)
    if not allowed:
        raise ConflictError(
            f"order {order.number} has nothing that can be returned now (nothing delivered, "
            "all returned already, or the return window has closed)",
            code="nothing_returnable",
        )
    asked: dict[str, int] = {}
    for index, item in enumerate(data.items):
        asked[item.line_id] = asked.get(item.line_id, 0) + item.quantity
        if asked[item.line_id] > allowed.get(item.line_id, 0):
            raise InvalidError(
                f"line {item.line_id}: {asked[item.line_id]} to return, "
                f"{allowed.get(item.line_id, 0)} can be",
                field=f"items.{index}.quantity",
            )
    row = Return(
        id=new_id("ret"),
        tenant_id=order.tenant_id,
        order_id=order.id,
        status=schemas.ReturnStatus.requested.value,
        reason=data.reason.value,
        note=data.note,
        requested_by=principal.actor,
        created_at=now,
        updated_at=now,
        lines=[ReturnLine(line_id=lid, quantity=quantity) for lid, quantity in asked.items()],
    )
    session.add(row)
    timeline.record(
        session,
        order,
        "return",
        f"return requested: {data.reason.value}",
        actor=principal.actor,
        at=now,
        return_id=row.id,
    )
    return await _conclude(session, principal, order, row, now, RETURN_REQUESTED)


async def _conclude(
    session: AsyncSession,
    principal: Principal,
    order: Order,
    row: Return,
    now: datetime,
    event_type: EventType,
) -> schemas.Return:
    await session.flush()
    result = views.return_(row)
    await conclude(
        session,
        principal,
        order,
        now,
        also=[PendingEvent(event_type, order.tenant_id, row.id, result)],
    )
    return result


async def _load(
    session: AsyncSession, principal: Principal, return_id: str
) -> tuple[Order, Return]:
    order_id = await session.scalar(
        select(Return.order_id).where(
            Return.tenant_id == principal.tenant_id, Return.id == return_id
        )
    )
    if order_id is None:
        raise ReturnNotFound(f"no return {return_id!r}")
    order = await repository.load(session, principal.tenant_id, order_id, lock=True)
    row = (
        await session.scalars(
            select(Return)
            .options(selectinload(Return.lines))
            .where(Return.id == return_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return order, row


async def get_return(session: AsyncSession, principal: Principal, return_id: str) -> schemas.Return:
    principal.require(READ)
    return views.return_((await _load(session, principal, return_id))[1])


async def list_returns(
    session: AsyncSession, principal: Principal, order_id: str
) -> list[schemas.Return]:
    principal.require(READ)
    order = await repository.load(session, principal.tenant_id, order_id)
    return [views.return_(row) for row in await repository.returns(session, order.id)]


async def move_return(
    session: AsyncSession,
    principal: Principal,
    return_id: str,
    action: str,
    *,
    note: str = "",
    clock: Clock = utc_now,
) -> schemas.Return:
    """approve, reject, cancel or receive a return. Receiving puts the units back on the
    order's lines (returned) and tells the customer."""
    principal.require(WRITE)
    order, row = await _load(session, principal, return_id)
    current = schemas.ReturnStatus(row.status)
    target = _MOVES.get((current, action))
    if target is None:
        raise ImpossibleTransition(
            f"return {row.id} is {current.value}; it cannot {action}",
            return_status=current.value,
        )
    now = clock()
    row.status = target.value
    row.updated_at = now
    if target is schemas.ReturnStatus.received:
        row.received_at = now
        quantities = {line.line_id: line.quantity for line in row.lines}
        for line in order.lines:
            line.returned_quantity += quantities.get(line.id, 0)
        timeline.schedule_notice(
            session, order, NoticeKind.return_received, actor=principal.actor, at=now
        )
    summary = f"return {target.value}" + (f": {note}" if note else "")
    timeline.record(
        session, order, "return", summary, actor=principal.actor, at=now, return_id=row.id
    )
    event_type = _EVENT_OF_MOVE.get(action)
    if event_type is None:
        await session.flush()
        await conclude(session, principal, order, now)
        return views.return_(row)
    return await _conclude(session, principal, order, row, now, event_type)


async def add_label(
    session: AsyncSession,
    principal: Principal,
    return_id: str,
    label: schemas.ReturnLabel,
    *,
    clock: Clock = utc_now,
) -> schemas.Return:
    """Attach the return label of an approved return (again: replaces it)."""
    principal.require(WRITE)
    order, row = await _load(session, principal, return_id)
    if row.status != schemas.ReturnStatus.approved.value:
        raise ImpossibleTransition(
            f"return {row.id} is {row.status}; a label is issued for an approved return",
            return_status=row.status,
        )
    now = clock()
    row.label_carrier = label.carrier
    row.label_tracking_number = label.tracking_number
    row.label_url = label.url
    row.updated_at = now
    timeline.record(
        session,
        order,
        "return",
        f"return label issued ({label.carrier})",
        actor=principal.actor,
        at=now,
        return_id=row.id,
    )
    return await _conclude(session, principal, order, row, now, RETURN_LABEL_CREATED)


async def refund(
    session: AsyncSession,
    principal: Principal,
    order_id: str,
    data: schemas.RefundCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Refund:
    """Pay money back: ``amount``, or everything paid and not yet refunded."""
    principal.require(WRITE)
    order = await repository.load(session, principal.tenant_id, order_id, lock=True)
    if order.payment_status not in (
        schemas.PaymentStatus.paid.value,
        schemas.PaymentStatus.partially_refunded.value,
    ):
        raise ConflictError(
            f"order {order.number} is {order.payment_status}: nothing paid to refund",
            code="nothing_to_refund",
            payment_status=order.payment_status,
        )
    left = order.total - order.refunded_total
    amount = left if data.amount is None else data.amount
    if amount > left or amount <= 0:
        raise InvalidError(
            f"{amount} is more than the {left} {order.currency} that can still be refunded",
            field="amount",
            refundable=left,
        )
    if data.return_id is not None:
        found = await session.scalar(
            select(Return.id).where(Return.order_id == order.id, Return.id == data.return_id)
        )
        if found is None:
            raise InvalidError(
                f"order {order.number} has no return {data.return_id!r}", field="return_id"
            )
    now = clock()
    result = add_refund(
        session, principal, order, amount, data.reason, now, return_id=data.return_id
    )
    await conclude(
        session,
        principal,
        order,
        now,
        also=[PendingEvent(REFUND_ISSUED, order.tenant_id, result.id, result)],
    )
    return result
