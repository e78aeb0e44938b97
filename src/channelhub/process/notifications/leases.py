"""The dispatcher's queue queries: claiming due notices under a lease, locking a notice's
delivery rows (one per channel, each with a lease of its own while ``sending``), starting a
channel's row, and keeping the last error of a notice whose handling crashed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.ids import new_id
from channelhub.process.notifications.models import NotificationDelivery
from channelhub.process.notifications.schemas import Channel, DeliveryStatus
from channelhub.process.orders.models import OrderNotice
from channelhub.process.orders.timeline import NoticeStatus


async def claim_due(
    session: AsyncSession, now: datetime, *, batch_size: int, claimed_until: datetime
) -> list[str]:
    """Lease up to ``batch_size`` due notices until ``claimed_until``, round-robin across
    tenants (each tenant's oldest first, then each tenant's second oldest...), counting the
    attempt."""
    due = (
        OrderNotice.status == NoticeStatus.pending.value,
        or_(OrderNotice.due_at.is_(None), OrderNotice.due_at <= now),
        or_(OrderNotice.claimed_until.is_(None), OrderNotice.claimed_until < now),
    )
    turn = (
        func.row_number()
        .over(
            partition_by=OrderNotice.tenant_id,
            order_by=(OrderNotice.created_at, OrderNotice.id),
        )
        .label("turn")
    )
    ranked = select(OrderNotice.id, OrderNotice.created_at, turn).where(*due).subquery()
    candidates = list(
        (
            await session.scalars(
                select(ranked.c.id)
                .where(ranked.c.turn <= batch_size)
                .order_by(ranked.c.turn, ranked.c.created_at, ranked.c.id)
                .limit(batch_size)
            )
        ).all()
    )
    if not candidates:
        return []
    # Window functions and FOR UPDATE do not mix: lock the chosen rows, skipping
    # those another dispatcher took in the meantime.
    locked = set(
        (
            await session.scalars(
                select(OrderNotice.id)
                .where(OrderNotice.id.in_(candidates), *due)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    ids = [notice_id for notice_id in candidates if notice_id in locked]
    if ids:
        await session.execute(
            update(OrderNotice)
            .where(OrderNotice.id.in_(ids))
            .values(
                claimed_until=claimed_until,
                attempts=OrderNotice.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
    return ids


async def lock_deliveries(
    session: AsyncSession, notice_id: str
) -> dict[Channel, NotificationDelivery]:
    """The notice's delivery rows by channel, locked for the rest of the transaction."""
    rows = await session.scalars(
        select(NotificationDelivery)
        .where(NotificationDelivery.notice_id == notice_id)
        .with_for_update()
    )
    return {Channel(row.channel): row for row in rows}


def new_delivery(
    notice: OrderNotice, channel: Channel, recipient: str, language: str, now: datetime
) -> NotificationDelivery:
    return NotificationDelivery(
        id=new_id("ndl"),
        tenant_id=notice.tenant_id,
        notice_id=notice.id,
        order_id=notice.order_id,
        kind=notice.kind,
        channel=channel.value,
        status=DeliveryStatus.deferred.value,
        reason="",
        recipient=recipient,
        language=language,
        subject="",
        attempts=0,
        provider_message_id="",
        created_at=now,
        updated_at=now,
    )


async def note_error(session: AsyncSession, notice_id: str, reason: str) -> None:
    """Keep ``reason`` as the notice's last error, unless it was decided meanwhile."""
    await session.execute(
        update(OrderNotice)
        .where(
            OrderNotice.id == notice_id,
            OrderNotice.status == NoticeStatus.pending.value,
        )
        .values(reason=reason[:2000])
        .execution_options(synchronize_session=False)
    )
