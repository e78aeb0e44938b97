"""The order's timeline and its customer notices.

The timeline answers "what happened, and what was the customer told, when". Notices are
the decisions to tell the customer something; the notifications context delivers pending
ones, and a notice the truth overtook first is suppressed here with its reason.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.ids import new_id
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
    kinds. Each withdrawal goes on the timeline with its reason."""
    statement = select(OrderNotice).where(
        OrderNotice.order_id == order.id, OrderNotice.status == NoticeStatus.pending.value
    )
    if kinds is not None:
        statement = statement.where(OrderNotice.kind.in_([k.value for k in kinds]))
    pending = (await session.scalars(statement.with_for_update())).all()
    if not pending:
        return []
    await session.execute(
        update(OrderNotice)
        .where(OrderNotice.id.in_([n.id for n in pending]))
        .values(status=NoticeStatus.suppressed.value, reason=reason, decided_at=at)
        .execution_options(synchronize_session=False)
    )
    for notice in pending:
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
    return [n.kind for n in pending]


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
