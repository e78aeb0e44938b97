"""Composing a channel's message for the dispatcher: the order's brand, the wording to use
(the brand's template, else the tenant's, else the built-in one, falling back a step when a
saved template fails on this order) and the payload posted to an SMS or push provider."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.process.channels.models import Brand, SalesChannel
from channelhub.process.notifications import templates
from channelhub.process.notifications.models import NotificationDelivery, NotificationTemplate
from channelhub.process.notifications.outcomes import note_fallback
from channelhub.process.notifications.schemas import Channel, Rendered
from channelhub.process.orders.models import Order
from channelhub.process.orders.timeline import NoticeKind


async def brand(session: AsyncSession, order: Order) -> tuple[str, str]:
    """The (id, name) of the brand the order was placed with; empty strings for none."""
    row = (
        await session.execute(
            select(Brand.id, Brand.name)
            .join(SalesChannel, SalesChannel.brand_id == Brand.id)
            .where(SalesChannel.id == order.sales_channel_id)
        )
    ).first()
    return (row.id, row.name) if row is not None else ("", "")


async def render(
    session: AsyncSession,
    order: Order,
    row: NotificationDelivery,
    brand_id: str,
    language: str,
    context: dict[str, Any],
    now: datetime,
) -> Rendered:
    """The message in the first wording that renders on this order (``TemplateInvalid``
    only if the built-in one fails)."""
    channel = Channel(row.channel)
    kind = NoticeKind(row.kind)
    rendered = None
    for source, body in await _wordings(
        session, order.tenant_id, brand_id, kind, channel, language
    ):
        try:
            rendered = templates.render(body, context)
            break
        except templates.TemplateInvalid as exc:
            if source == "built-in":
                raise
            # A saved template that worked on the samples fails on this order: the
            # customer still gets the message, in the next wording down.
            note_fallback(session, order, row, source, exc.detail, now)
    assert rendered is not None  # the built-in template is always last
    return rendered


def provider_payload(
    order: Order,
    row: NotificationDelivery,
    rendered: Rendered,
    *,
    language: str,
    order_url: str | None,
) -> dict[str, Any]:
    """The JSON body posted to the tenant's SMS or push provider."""
    channel = Channel(row.channel)
    return {
        "type": f"notification.{channel.value}",
        "id": row.id,
        "tenant_id": order.tenant_id,
        "channel": channel.value,
        "notice": NoticeKind(row.kind).value,
        "language": language,
        "to": {
            "phone": order.customer_phone,
            "email": order.customer_email,
            "name": order.customer_name,
        },
        "order": {"id": order.id, "number": order.number},
        "title": rendered.subject,
        "text": rendered.text.strip(),
        "url": order_url,
    }


async def _wordings(
    session: AsyncSession,
    tenant_id: str,
    brand_id: str,
    kind: NoticeKind,
    channel: Channel,
    language: str,
) -> list[tuple[str, templates.Body]]:
    """The wordings to try, in order: the brand's own, the tenant's, the built-in default
    (always last, so there is always one that renders)."""
    rows = (
        await session.scalars(
            select(NotificationTemplate).where(
                NotificationTemplate.tenant_id == tenant_id,
                NotificationTemplate.brand_id.in_({brand_id, ""}),
                NotificationTemplate.kind == kind.value,
                NotificationTemplate.channel == channel.value,
                NotificationTemplate.language == language,
            )
        )
    ).all()
    found = [
        (
            "the tenant's template" if row.brand_id == "" else "the brand's template",
            templates.Body(subject=row.subject, text=row.text, html=row.html),
        )
        for row in sorted(rows, key=lambda r: r.brand_id == "")
    ]
    return [*found, ("built-in", templates.default(channel))]
