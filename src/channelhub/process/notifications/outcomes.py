"""What the dispatcher records once it decides: each channel's outcome on its delivery row,
the order's timeline, the log and a ``notification.*`` event; a channel deferred to the end
of quiet hours; a template that failed on an order; and the notice's own end (withdrawn,
given up, or concluded once every channel is decided)."""

from __future__ import annotations

from datetime import datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.outbox import record_event
from channelhub.process.notifications.events import (
    NOTIFICATION_FAILED,
    NOTIFICATION_SENT,
    NOTIFICATION_SUPPRESSED,
)
from channelhub.process.notifications.leases import lock_deliveries
from channelhub.process.notifications.models import NotificationDelivery
from channelhub.process.notifications.schemas import Channel, DeliveryStatus, Outcome
from channelhub.process.orders import timeline
from channelhub.process.orders.models import Order, OrderNotice
from channelhub.process.orders.timeline import NoticeKind, NoticeStatus

log = structlog.get_logger(__name__)

ACTOR = "notifications"
FINAL = {DeliveryStatus.sent.value, DeliveryStatus.suppressed.value, DeliveryStatus.failed.value}
"""Delivery statuses a channel never leaves."""

_EVENTS: dict[DeliveryStatus, EventType] = {
    DeliveryStatus.sent: NOTIFICATION_SENT,
    DeliveryStatus.suppressed: NOTIFICATION_SUPPRESSED,
    DeliveryStatus.failed: NOTIFICATION_FAILED,
}
_LOG_EVENT = {
    DeliveryStatus.sent: "notifications.sent",
    DeliveryStatus.suppressed: "notifications.suppressed",
    DeliveryStatus.failed: "notifications.failed",
}
_VERB = {
    DeliveryStatus.sent: "sent to",
    DeliveryStatus.suppressed: "not sent to",
    DeliveryStatus.failed: "failed for",
}


async def settle(
    session: AsyncSession,
    order: Order,
    row: NotificationDelivery,
    outcome: DeliveryStatus,
    reason: str,
    now: datetime,
) -> None:
    """A final decision for one channel: on the delivery row, the timeline and the log."""
    row.status = outcome.value
    row.reason = reason[:2000]
    row.next_attempt_at = None
    row.sending_until = None
    row.updated_at = now
    await session.flush()
    summary = f"{row.kind} by {row.channel} {_VERB[outcome]} {row.recipient}"
    timeline.record(
        session,
        order,
        f"notification_{outcome.value}",
        f"{summary}: {reason}" if reason else summary,
        actor=ACTOR,
        at=now,
        notice_id=row.notice_id,
        notice=row.kind,
        channel=row.channel,
        delivery_id=row.id,
        recipient=row.recipient,
        reason=reason,
    )
    data = Outcome(
        order_id=order.id,
        notice_id=row.notice_id,
        kind=NoticeKind(row.kind),
        channel=Channel(row.channel),
        delivery_id=row.id,
        status=outcome.value,
        reason=reason,
        recipient=row.recipient,
    )
    await record_event(
        session, _EVENTS[outcome], tenant_id=order.tenant_id, subject=order.id, data=data
    )
    log.info(
        _LOG_EVENT[outcome],
        delivery_id=row.id,
        order_id=order.id,
        channel=row.channel,
        reason=reason,
    )


async def defer(
    session: AsyncSession, order: Order, row: NotificationDelivery, until: datetime, now: datetime
) -> None:
    reason = "SMS quiet hours"
    row.status = DeliveryStatus.deferred.value
    row.next_attempt_at = until
    row.reason = reason
    row.updated_at = now
    timeline.record(
        session,
        order,
        "notification_deferred",
        f"{row.kind} by sms deferred until {until.isoformat()}: {reason}",
        actor=ACTOR,
        at=now,
        notice_id=row.notice_id,
        notice=row.kind,
        channel=row.channel,
        delivery_id=row.id,
        until=until.isoformat(),
        reason=reason,
    )


def note_fallback(
    session: AsyncSession,
    order: Order,
    row: NotificationDelivery,
    source: str,
    error: str,
    now: datetime,
) -> None:
    timeline.record(
        session,
        order,
        "notification_template_failed",
        f"{source} for {row.kind} by {row.channel} failed on this order, the next one down "
        f"was used: {error}",
        actor=ACTOR,
        at=now,
        notice_id=row.notice_id,
        notice=row.kind,
        channel=row.channel,
        delivery_id=row.id,
        reason=error,
    )


async def withdraw(
    session: AsyncSession,
    order: Order,
    notice: OrderNotice,
    rows: dict[Channel, NotificationDelivery],
    why: str,
    now: datetime,
) -> None:
    """The notice would now mislead: nothing more of it goes out. A channel another
    dispatcher is sending right now is left to it (its outcome is recorded as it is)."""
    told = any(
        r.status in (DeliveryStatus.sent.value, DeliveryStatus.sending.value) for r in rows.values()
    )
    for row in rows.values():
        if row.status not in FINAL and row.status != DeliveryStatus.sending.value:
            await settle(session, order, row, DeliveryStatus.suppressed, why, now)
    if told:
        # Some channel already told the customer; the rest stays silent, each with why,
        # and the notice concludes as sent.
        return
    notice.status = NoticeStatus.suppressed.value
    notice.reason = why
    notice.decided_at = now
    notice.claimed_until = None
    notice.attempts = 0
    await _announce_notice(
        session,
        order,
        notice,
        "notice_suppressed",
        f"not telling the customer {notice.kind}: {why}",
        DeliveryStatus.suppressed.value,
        NOTIFICATION_SUPPRESSED,
        why,
        now,
    )


async def give_up(session: AsyncSession, notice: OrderNotice, now: datetime) -> None:
    """Record the (locked, pending) notice as failed with its last error: every channel not
    yet decided, the notice itself and, if its order is still there, the timeline."""
    last = notice.reason or "the dispatcher stopped while handling it"
    why = f"gave up after {notice.attempts - 1} failed attempts: {last}"[:2000]
    order = await session.get(Order, notice.order_id)
    rows = await lock_deliveries(session, notice.id)
    for row in rows.values():
        if row.status not in FINAL and order is not None:
            await settle(session, order, row, DeliveryStatus.failed, why, now)
    notice.status = NoticeStatus.failed.value
    notice.reason = why
    notice.decided_at = now
    notice.due_at = None
    notice.claimed_until = None
    if order is None:
        return
    await _announce_notice(
        session,
        order,
        notice,
        "notice_failed",
        f"could not tell the customer {notice.kind}: {why}",
        NoticeStatus.failed.value,
        NOTIFICATION_FAILED,
        why,
        now,
    )
    log.warning("notifications.gave_up", notice_id=notice.id, reason=why)


async def _announce_notice(
    session: AsyncSession,
    order: Order,
    notice: OrderNotice,
    kind: str,
    summary: str,
    status: str,
    event_type: EventType,
    why: str,
    now: datetime,
) -> None:
    """A decision about a whole notice (no channel): on the timeline and as an event."""
    timeline.record(
        session,
        order,
        kind,
        summary,
        actor=ACTOR,
        at=now,
        notice_id=notice.id,
        notice=notice.kind,
        reason=why,
    )
    outcome = Outcome(
        order_id=order.id,
        notice_id=notice.id,
        kind=NoticeKind(notice.kind),
        channel=None,
        delivery_id=None,
        status=status,
        reason=why,
        recipient="",
    )
    await record_event(
        session, event_type, tenant_id=order.tenant_id, subject=order.id, data=outcome
    )


def conclude(notice: OrderNotice, rows: list[NotificationDelivery], now: datetime) -> None:
    """From the pending notice's locked delivery rows: its final status once every channel
    is decided (sent if any was sent, else failed if any failed, else suppressed); until
    then, due again when the next waiting channel is."""
    waiting = [r for r in rows if r.status not in FINAL]
    if waiting:
        notice.due_at = min(_next_look(r, now) for r in waiting)
        return
    statuses = {r.status for r in rows}
    notice.status = (
        NoticeStatus.sent.value
        if DeliveryStatus.sent.value in statuses
        else NoticeStatus.failed.value
        if DeliveryStatus.failed.value in statuses
        else NoticeStatus.suppressed.value
    )
    notice.reason = (
        "; ".join(f"{r.channel}: {r.reason}" for r in rows if r.reason)
        if rows
        else "no channel reaches the customer"
    )[:2000]
    notice.decided_at = now
    notice.due_at = None


def _next_look(row: NotificationDelivery, now: datetime) -> datetime:
    """When a channel not yet decided needs looking at again."""
    if row.status == DeliveryStatus.sending.value:
        return row.sending_until or now
    return row.next_attempt_at or now
