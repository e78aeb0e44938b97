"""Availability per channel and store, and the events that tell every channel at once."""

from __future__ import annotations

from sqlalchemy import select

from channelhub.hub import Hub
from channelhub.platform.events.models import OutboxEvent
from tests.fixtures.hub import TenantKeys
from tests.fixtures.inventory import LISBON, PORTO, Shop


async def availability(shop: Shop, *skus: str, **params: object) -> list[dict[str, object]]:
    response = await shop.client.get(
        "/v1/availability",
        params={"sku": list(skus), "sales_channel_id": shop.channel_id, **params},
    )
    assert response.status_code == 200, response.text
    result: list[dict[str, object]] = response.json()
    return result


async def test_channel_totals_count_only_shipping_locations(shop: Shop) -> None:
    await shop.stock(TENT_1__WH=4, TENT_1__WH_MAD=3, TENT_1__ST_PORTO=2)

    (tent,) = await availability(shop, "TENT-1")

    assert tent["available_to_ship"] == 7
    assert [(loc["code"], loc["available"]) for loc in tent["locations"]] == [  # type: ignore[union-attr]
        ("WH", 4),
        ("WH-MAD", 3),
        ("ST-PORTO", 2),
    ]
    assert tent["pickup"] == []


async def test_pickup_stores_near_a_point(shop: Shop) -> None:
    await shop.stock(TENT_1__ST_PORTO=2)

    (near_porto,) = await availability(
        shop, "TENT-1", latitude=PORTO[0] + 0.01, longitude=PORTO[1], radius_km=10
    )
    (from_lisbon,) = await availability(
        shop, "TENT-1", latitude=LISBON[0], longitude=LISBON[1], radius_km=10
    )

    pickup = near_porto["pickup"]
    assert [(p["code"], p["available"]) for p in pickup] == [("ST-PORTO", 2)]  # type: ignore[union-attr]
    assert 1.0 < pickup[0]["distance_km"] < 1.2  # type: ignore[index]
    assert from_lisbon["pickup"] == []


async def test_reservations_lower_availability_everywhere(shop: Shop) -> None:
    await shop.stock(LAMP_1__WH=3)

    await shop.reserve(("LAMP-1", 2), key="avail-1")
    (lamp,) = await availability(shop, "LAMP-1")

    assert lamp["available_to_ship"] == 1


async def test_availability_refuses_unknown_input(shop: Shop) -> None:
    unknown_sku = await shop.client.get(
        "/v1/availability", params={"sku": "NOPE", "sales_channel_id": shop.channel_id}
    )
    half_point = await shop.client.get(
        "/v1/availability",
        params={"sku": "TENT-1", "sales_channel_id": shop.channel_id, "latitude": 1},
    )

    assert unknown_sku.status_code == 422
    assert unknown_sku.json()["errors"][0]["pointer"] == "#/sku"
    assert half_point.status_code == 422


async def events_of(hub: Hub, tenant_id: str, prefix: str) -> list[tuple[str, dict[str, object]]]:
    async with hub.db.reader() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.tenant_id == tenant_id, OutboxEvent.type.like(f"{prefix}%"))
                .order_by(OutboxEvent.position)
            )
        ).all()
    return [(row.type, row.data) for row in rows]


async def test_out_of_and_back_in_stock_per_channel_and_store(
    hub: Hub, tenant: TenantKeys, shop: Shop
) -> None:
    await shop.stock(TENT_2__WH=1, TENT_2__ST_PORTO=1)
    ship = (await shop.reserve(("TENT-2", 1), key="last-one")).json()
    await shop.reserve(("TENT-2", 1), key="store-last", fulfilment="pickup", location="ST-PORTO")
    await shop.client.post(f"/v1/reservations/{ship['id']}/release")

    edges = [
        (kind, data["scope"], data["available"])
        for kind, data in await events_of(hub, tenant.tenant_id, "sku.")
    ]

    assert edges == [
        ("sku.back_in_stock", "pickup_store", 1),
        ("sku.back_in_stock", "channel", 1),
        ("sku.out_of_stock", "channel", 0),
        ("sku.out_of_stock", "pickup_store", 0),
        ("sku.back_in_stock", "channel", 1),
    ]


async def test_level_changes_and_reservations_are_events(
    hub: Hub, tenant: TenantKeys, shop: Shop
) -> None:
    await shop.stock(LAMP_1__WH=2)
    reservation = (await shop.reserve(("LAMP-1", 1), key="evt")).json()
    await shop.client.post(f"/v1/reservations/{reservation['id']}/commit")

    levels = await events_of(hub, tenant.tenant_id, "inventory.")
    reservations = await events_of(hub, tenant.tenant_id, "reservation.")

    assert [(d["kind"], d["after"]["available"]) for _, d in levels] == [  # type: ignore[index]
        ("set", 2),
        ("reserve", 1),
        ("commit", 1),
    ]
    assert [kind for kind, _ in reservations] == ["reservation.created", "reservation.committed"]
