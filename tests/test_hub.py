"""The hub keeps serving when its bus is down, and catches up when it returns."""

from __future__ import annotations

from sqlalchemy import func, select

from channelhub.hub import Hub
from channelhub.platform.events.models import OutboxEvent
from tests.fixtures.hub import http_client, make_settings, new_tenant

PRODUCT = {
    "title": "Tarp",
    "variants": [{"sku": "TARP-1", "title": "Grey", "price": {"amount": 4900, "currency": "EUR"}}],
}


async def test_api_writes_while_the_bus_is_down_and_events_wait(database_url: str) -> None:
    hub = Hub(make_settings(database_url, bus_url="nats://127.0.0.1:9"))
    try:
        await hub.start()
        tenant = await new_tenant(hub)
        async with http_client(hub, tenant.admin_key) as client:
            created = await client.post("/v1/products", json=PRODUCT)
            ready = await client.get("/readyz")
        async with hub.db.reader() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(
                    OutboxEvent.tenant_id == tenant.tenant_id, OutboxEvent.published_at.is_(None)
                )
            )
    finally:
        await hub.stop()

    assert created.status_code == 201
    assert ready.status_code == 503
    assert [c["name"] for c in ready.json()["checks"] if not c["ok"]] == ["bus"]
    assert waiting == 1
