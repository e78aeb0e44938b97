"""What the dispatcher checks for a channel right before its send: whether the notice is
still true against the order-status API's answer now, which channels reach the customer,
and until when the tenant's SMS quiet hours hold a message back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.process.notifications import consent, rules
from channelhub.process.notifications.models import NotificationSettings
from channelhub.process.notifications.schemas import Channel
from channelhub.process.orders import status as order_status
from channelhub.process.orders.models import Order
from channelhub.process.orders.schemas import CustomerStatus, Method
from channelhub.process.orders.timeline import NoticeKind


async def still_true(
    session: AsyncSession, order: Order, kind: NoticeKind, now: datetime
) -> tuple[CustomerStatus, str | None]:
    """The status to word the notice from, and why the notice would now mislead (None
    while it is still true).

    The order-status code speaks for the whole order; a ``ready_for_pickup`` notice speaks
    for its pickup group. In an order with a shipped part and a pickup part the code is
    ``shipped``, yet the pickup group may be ready at its store: then the notice is still
    true, and is worded as the status API would word the order were that its code."""
    status = await order_status.build(session, order, now)
    why = rules.overtaken(kind, status.code)
    if (
        why is not None
        and kind is NoticeKind.ready_for_pickup
        and rules.pickup_still_ready(
            status.code,
            group_statuses=[g.status for g in order.groups if g.method == Method.pickup.value],
            store_state=status.pickup.status.state if status.pickup is not None else None,
        )
    ):
        return await order_status.build(session, order, now, code="ready_for_pickup"), None
    return status, why


def reachable(order: Order, settings: NotificationSettings | None) -> list[tuple[Channel, str]]:
    """The channels that could carry a message to this customer, with the address on each.
    E-mail always (every order has an address); SMS with a phone number and a provider;
    push with a provider, which knows the customer by e-mail address."""
    found = [(Channel.email, order.customer_email)]
    if settings is not None and settings.sms_url and order.customer_phone:
        found.append((Channel.sms, order.customer_phone))
    if settings is not None and settings.push_url:
        found.append((Channel.push, order.customer_email))
    return found


def quiet_until(settings: NotificationSettings, now: datetime) -> datetime | None:
    if settings.quiet_hours_start is None or settings.quiet_hours_end is None:
        return None
    return consent.quiet_until(
        now, settings.quiet_hours_start, settings.quiet_hours_end, settings.timezone
    )
