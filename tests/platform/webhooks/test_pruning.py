"""The delivery log is kept as long as the event log, then forgotten."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from channelhub.hub import Hub
from channelhub.platform.clock import utc_now
from channelhub.platform.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookMessage
from channelhub.platform.webhooks.service import prune_log
from tests.experience.rest.test_catalog import create
from tests.fixtures.events import eventually
from tests.fixtures.webhooks import Receivers, add_endpoint


async def counts(hub: Hub, endpoint_id: str, message_ids: list[str]) -> tuple[int, int, int]:
    async with hub.db.reader() as session:
        deliveries = await session.scalar(
            select(func.count()).where(WebhookDelivery.endpoint_id == endpoint_id)
        )
        attempts = await session.scalar(
            select(func.count()).where(WebhookAttempt.endpoint_id == endpoint_id)
        )
        messages = await session.scalar(
            select(func.count()).where(WebhookMessage.id.in_(message_ids))
        )
    return int(deliveries or 0), int(attempts or 0), int(messages or 0)


async def test_finished_deliveries_are_forgotten_after_the_retention(
    webhook_hub: Hub, webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer("kept.test", 200)
    endpoint = await add_endpoint(webhook_client, receivers.url("kept.test"))
    for n in range(2):
        await create(webhook_client, f"OLD-{n}")
    await eventually(lambda: len(receivers.received("kept.test")) == 2, what="two deliveries")

    ids = receivers.ids("kept.test")

    async def recorded() -> bool:
        return await counts(webhook_hub, endpoint["id"], ids) == (2, 2, 2)

    await eventually(recorded, what="both outcomes written")
    async with webhook_hub.db.transaction() as session:
        kept = await prune_log(session, utc_now() - timedelta(hours=1))
    async with webhook_hub.db.transaction() as session:
        removed = await prune_log(session, utc_now() + timedelta(seconds=1))

    assert kept == 0
    assert removed >= 2
    assert await counts(webhook_hub, endpoint["id"], ids) == (0, 0, 0)
