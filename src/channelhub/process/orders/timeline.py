"""The order's timeline and its customer notices.

The timeline answers "what happened, and what was the customer told, when". Notices are
the decisions to tell the customer something; the notifications context delivers pending
ones, and a notice the truth overtook first is suppressed here with its reason.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.ids import new_id
from channelhub.process.notifications.models import NotificationDelivery
from channelhub.process.orders.models import Order, OrderNotice, TimelineEntry


class NoticeKind(StrEnum):
    order_confirmed = "order_confirmed"
    ready_for_pickup = "ready_for_pickup"
    store_closed = "store_closed"
    """The pickup store closed: here are your options."""
    closure_resolved = "closure_resolved"
    shipped = "shipped"
    out_for_delivery = "out_for_delivery"
    delivery_exception = "delivery_exception"
    delivered = "delivered"
    cancelled = "cancelled"
    return_received = "return_received"
    refund_issued = "refund_issued"


class NoticeStatus(StrEnum):
    pending = "pending"
    suppressed = "suppressed"
    sent = "sent"
    failed = "failed"
    """Every channel that should have carried it failed."""


NOTICE_SCHEDULED = "channelhub.notice_scheduled"
"""``session.info`` flag: this transaction scheduled a notice (the notifications
dispatcher is woken on commit)."""


def record(
    session: AsyncSession,
    order: Order,
    kind: str,
    summary: str,
    *,
    actor: str,
    at: datetime,
    **data: Any,
) -> None:
    session.add(
        TimelineEntry(
            id=new_id("tle"),
            order_id=order.id,
            at=at,
            kind=kind,
            actor=actor,
            summary=summary,
            data=data,
        )
    )


def schedule_notice(
    session: AsyncSession, order: Order, kind: NoticeKind, *, actor: str, at: datetime
) -> None:
    """Decide to tell the customer ``kind``; the decision goes on the timeline."""
    notice_id = new_id("ntc")
    session.add(
        OrderNotice(
            id=notice_id,
            tenant_id=order.tenant_id,
            order_id=order.id,
            kind=kind.value,
            status=NoticeStatus.pending.value,
            created_at=at,
        )
    )
    session.info[NOTICE_SCHEDULED] = True
    record(
        session,
        order,
        "notice_scheduled",
        f"customer to be told: {kind.value}",
        actor=actor,
        at=at,
        notice_id=notice_id,
        notice=kind.value,
    )


async def suppress_notices(
    session: AsyncSession,
    order: Order,
    kinds: set[NoticeKind] | None,
    reason: str,
    *,
    actor: str,
    at: datetime,
) -> list[str]:
    """Withdraw pending notices (of ``kinds``, or all) that would now mislead; returns their
    kinds. Each withdrawal goes on the timeline with its reason.

    A notice may already be partly delivered: sent by e-mail while its SMS waits for the
    end of quiet hours. Then only the channels still waiting are withdrawn (each delivery
    row suppressed with the reason, each on the timeline), and the notice stays what it is
    — told — rather than claiming the customer was not told. A channel being sent at this
    very moment is left to its sender."""
    statement = select(OrderNotice).where(
        OrderNotice.order_id == order.id, OrderNotice.status == NoticeStatus.pending.value
    )
    if kinds is not None:
        statement = statement.where(OrderNotice.kind.in_([k.value for k in kinds]))
    pending = (await session.scalars(statement.with_for_update())).all()
    if not pending:
        return []
    # The orders context reads the notifications context's delivery rows here (and only
    # here): a withdrawal must settle what is already in flight, in the same transaction.
    deliveries = (
        await session.scalars(
            select(NotificationDelivery)
            .where(NotificationDelivery.notice_id.in_([n.id for n in pending]))
            .with_for_update()
        )
    ).all()
    for notice in pending:
        rows = [d for d in deliveries if d.notice_id == notice.id]
        told = [d.channel for d in rows if d.status in _TOLD]
        for row in rows:
            if row.status not in _DECIDED:
                _withdraw_delivery(session, order, row, reason, actor=actor, at=at)
        notice.reason = reason
        notice.decided_at = at
        notice.claimed_until = None
        notice.due_at = None
        if told:
            # It reached (or is reaching) the customer on some channel: it stays told.
            notice.status = NoticeStatus.sent.value
            continue
        notice.status = NoticeStatus.suppressed.value
        record(
            session,
            order,
            "notice_suppressed",
            f"not telling the customer {notice.kind}: {reason}",
            actor=actor,
            at=at,
            notice_id=notice.id,
            notice=notice.kind,
            reason=reason,
        )
    await session.flush()
    return [n.kind for n in pending]


_TOLD = frozenset({"sent", "sending"})
_DECIDED = frozenset({"sent", "sending", "suppressed", "failed"})


def _withdraw_delivery(
    session: AsyncSession,
    order: Order,
    row: NotificationDelivery,
    reason: str,
    *,
    actor: str,
    at: datetime,
) -> None:
    row.status = "suppressed"
    row.reason = reason[:2000]
    row.next_attempt_at = None
    row.updated_at = at
    record(
        session,
        order,
        "notification_suppressed",
        f"{row.kind} by {row.channel} not sent to {row.recipient}: {reason}",
        actor=actor,
        at=at,
        notice_id=row.notice_id,
        notice=row.kind,
        channel=row.channel,
        delivery_id=row.id,
        recipient=row.recipient,
        reason=reason,
    )


async def notices(session: AsyncSession, order_id: str) -> list[OrderNotice]:
    return list(
        (
            await session.scalars(
                select(OrderNotice)
                .where(OrderNotice.order_id == order_id)
                .order_by(OrderNotice.created_at, OrderNotice.id)
            )
        ).all()
    )
