"""Campaigns announce when they start and end, once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from channelhub.hub import Hub
from channelhub.process.promotions import schemas
from channelhub.process.promotions.campaigns import create_campaign, update_campaign
from channelhub.process.promotions.jobs import announce_schedules
from tests.fixtures.hub import TenantKeys

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def announced(client: httpx.AsyncClient, campaign_id: str) -> list[str]:
    found = await client.get("/v1/events", params={"subject": campaign_id, "limit": 50})
    return [event["type"] for event in found.json()["data"]][::-1]


async def test_a_campaign_announces_its_start_and_its_end_once(
    hub: Hub, tenant: TenantKeys, client: httpx.AsyncClient
) -> None:
    async with hub.db.transaction() as session:
        made = await create_campaign(
            session,
            tenant.principal,
            schemas.CampaignCreate(
                name="Black Friday",
                type=schemas.CampaignType.automatic,
                effect={"kind": "free_shipping"},
                starts_at=NOW + timedelta(hours=1),
                ends_at=NOW + timedelta(hours=2),
            ),
        )

    async def run_at(moment: datetime) -> None:
        await announce_schedules(hub.db, clock=lambda: moment)

    await run_at(NOW)
    before = await announced(client, made.id)
    await run_at(NOW + timedelta(hours=1, minutes=1))
    await run_at(NOW + timedelta(hours=1, minutes=2))
    running = await announced(client, made.id)
    await run_at(NOW + timedelta(hours=3))
    await run_at(NOW + timedelta(hours=4))

    assert before == ["campaign.created"]
    assert running == ["campaign.created", "campaign.started"]
    assert await announced(client, made.id) == [
        "campaign.created",
        "campaign.started",
        "campaign.ended",
    ]

    async with hub.db.transaction() as session:
        await update_campaign(
            session,
            tenant.principal,
            made.id,
            schemas.CampaignUpdate(ends_at=NOW + timedelta(hours=5)),
            clock=lambda: NOW + timedelta(hours=4),
        )
    await run_at(NOW + timedelta(hours=4, minutes=1))
    await run_at(NOW + timedelta(hours=6))

    assert (await announced(client, made.id))[3:] == ["campaign.updated", "campaign.ended"]
