"""Reservations: all or nothing, never oversold, idempotent, released, committed, expired."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import func, select

from channelhub.hub import Hub, Job
from channelhub.platform.clock import utc_now
from channelhub.process.inventory.models import StockLevel, StockMovement
from channelhub.process.inventory.reservations import expire_due
from tests.fixtures.events import eventually
from tests.fixtures.inventory import LISBON, MADRID, Shop


async def test_reserving_holds_stock_and_lowers_availability(shop: Shop) -> None:
    await shop.stock(TENT_1__WH=5)

    response = await shop.reserve(("TENT-1", 2), key="cart-1", reference="cart-1")

    assert response.status_code == 201
    reservation = response.json()
    assert reservation["status"] == "active"
    assert reservation["allocations"] == [
        {"sku": "TENT-1", "location_id": shop.warehouse_id, "quantity": 2}
    ]
    assert await shop.available("TENT-1", "WH") == 3


async def test_all_lines_or_none(shop: Shop) -> None:
    await shop.stock(TENT_1__WH=5, LAMP_1__WH=1)

    response = await shop.reserve(("TENT-1", 2), ("LAMP-1", 2), key="all-or-none")

    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "insufficient_stock"
    assert (problem["sku"], problem["requested"], problem["available"]) == ("LAMP-1", 2, 1)
    assert problem["errors"][0]["pointer"] == "#/lines/1/quantity"
    assert await shop.available("TENT-1", "WH") == 5
    assert await shop.available("LAMP-1", "WH") == 1


async def test_a_line_is_split_across_locations_by_priority(shop: Shop) -> None:
    await shop.stock(TENT_1__WH=2, TENT_1__WH_MAD=5)

    allocations = (await shop.reserve(("TENT-1", 4), key="split")).json()["allocations"]

    assert allocations == [
        {"sku": "TENT-1", "location_id": shop.warehouse_id, "quantity": 2},
        {"sku": "TENT-1", "location_id": shop.far_warehouse_id, "quantity": 2},
    ]


async def test_strategies_choose_locations(shop: Shop) -> None:
    await shop.stock(TENT_1__WH=3, TENT_1__WH_MAD=9)

    most = await shop.reserve(("TENT-1", 1), key="most", strategy="most_stock")
    near_madrid = await shop.reserve(
        ("TENT-1", 1),
        key="near",
        strategy="nearest",
        deliver_to={"latitude": MADRID[0] + 0.1, "longitude": MADRID[1]},
    )
    near_lisbon = await shop.reserve(
        ("TENT-1", 1),
        key="near-lis",
        strategy="nearest",
        deliver_to={"latitude": LISBON[0], "longitude": LISBON[1]},
    )

    assert most.json()["allocations"][0]["location_id"] == shop.far_warehouse_id
    assert near_madrid.json()["allocations"][0]["location_id"] == shop.far_warehouse_id
    assert near_lisbon.json()["allocations"][0]["location_id"] == shop.warehouse_id


async def test_pickup_reserves_at_the_store_only(shop: Shop) -> None:
    await shop.stock(TENT_1__WH=9, TENT_1__ST_PORTO=1)

    pickup = await shop.reserve(("TENT-1", 1), key="p1", fulfilment="pickup", location="ST-PORTO")
    too_many = await shop.reserve(("TENT-1", 1), key="p2", fulfilment="pickup", location="ST-PORTO")
    not_a_store = await shop.reserve(("TENT-1", 1), key="p3", fulfilment="pickup", location="WH")

    assert pickup.json()["allocations"][0]["location_id"] == shop.store_id
    assert too_many.status_code == 409
    assert not_a_store.status_code == 422
    assert not_a_store.json()["errors"][0]["pointer"] == "#/location"
    assert await shop.available("TENT-1", "WH") == 9


async def test_same_key_returns_the_reservation_and_other_lines_conflict(shop: Shop) -> None:
    await shop.stock(TENT_1__WH=5)

    first = await shop.reserve(("TENT-1", 2), key="order-7")
    again = await shop.reserve(("TENT-1", 2), key="order-7")
    other = await shop.reserve(("TENT-1", 3), key="order-7")

    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json()["id"] == first.json()["id"]
    assert other.json()["code"] == "reservation_key_reused"
    assert await shop.available("TENT-1", "WH") == 3


async def test_release_and_commit(shop: Shop) -> None:
    await shop.stock(TENT_1__WH=5)
    released = (await shop.reserve(("TENT-1", 2), key="r")).json()
    committed = (await shop.reserve(("TENT-1", 1), key="c")).json()

    first_release = await shop.client.post(f"/v1/reservations/{released['id']}/release")
    second_release = await shop.client.post(f"/v1/reservations/{released['id']}/release")
    commit = await shop.client.post(f"/v1/reservations/{committed['id']}/commit")
    release_committed = await shop.client.post(f"/v1/reservations/{committed['id']}/release")

    assert first_release.json()["status"] == second_release.json()["status"] == "released"
    assert commit.json()["status"] == "committed"
    assert release_committed.status_code == 409
    levels = (await shop.client.get("/v1/stock/TENT-1")).json()
    wh = next(lv for lv in levels if lv["location_code"] == "WH")
    assert (wh["on_hand"], wh["reserved"], wh["available"]) == (4, 0, 4)


async def test_expired_reservations_give_stock_back(hub: Hub, shop: Shop) -> None:
    await shop.stock(TENT_1__WH=5)
    reservation = (await shop.reserve(("TENT-1", 3), key="cart-x", ttl_seconds=60)).json()
    held_for_order = (await shop.reserve(("TENT-1", 1), key="order-x", ttl_seconds=None)).json()

    expired = await expire_due(hub.db, clock=lambda: utc_now() + timedelta(seconds=61))

    assert expired >= 1
    status = (await shop.client.get(f"/v1/reservations/{reservation['id']}")).json()["status"]
    kept = (await shop.client.get(f"/v1/reservations/{held_for_order['id']}")).json()["status"]
    assert (status, kept) == ("expired", "active")
    assert await shop.available("TENT-1", "WH") == 4
    history = (await shop.client.get("/v1/stock/TENT-1/history")).json()["data"]
    assert (history[0]["kind"], history[0]["actor"]) == ("expire", "job:reservation-expiry")


async def test_unknown_sku_and_channel_are_named(shop: Shop) -> None:
    unknown_sku = await shop.reserve(("NOPE", 1), key="u1")
    unknown_channel = await shop.client.post(
        "/v1/reservations",
        json={
            "key": "u2",
            "sales_channel_id": "sch_nope",
            "lines": [{"sku": "TENT-1", "quantity": 1}],
        },
    )

    assert unknown_sku.json()["errors"][0]["pointer"] == "#/lines/0/sku"
    assert unknown_channel.json()["errors"][0]["pointer"] == "#/sales_channel_id"


async def test_concurrent_reservations_never_oversell(hub: Hub, shop: Shop) -> None:
    """Stock 20, 500 concurrent single-unit attempts over HTTP: exactly 20 succeed."""
    await shop.stock(LAMP_1__WH=20)

    responses = await asyncio.gather(
        *(shop.reserve(("LAMP-1", 1), key=f"race-{i}", location="WH") for i in range(500))
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 20
    assert statuses.count(409) == 480
    async with hub.db.reader() as session:
        level = (
            await session.scalars(
                select(StockLevel).where(StockLevel.location_id == shop.warehouse_id)
            )
        ).all()
        reserved_in_ledger = await session.scalar(
            select(func.sum(StockMovement.reserved_after - StockMovement.reserved_before)).where(
                StockMovement.location_id == shop.warehouse_id, StockMovement.sku == "LAMP-1"
            )
        )
    lamp = next(lv for lv in level if lv.on_hand == 20)
    assert (lamp.reserved, lamp.available) == (20, 0)
    assert reserved_in_ledger == 20


async def test_the_running_hub_expires_lapsed_holds(hub: Hub, shop: Shop) -> None:
    await shop.stock(TENT_2__WH=2)
    hub.jobs = [Job("reservations_expired", 0.05, expire_due)]
    reservation = (await shop.reserve(("TENT-2", 2), key="lapse", ttl_seconds=1)).json()
    await hub.start()

    async def expired() -> bool:
        found = await shop.client.get(f"/v1/reservations/{reservation['id']}")
        return bool(found.json()["status"] == "expired")

    await eventually(expired, within=10, what="the expiry job to release the hold")
    assert await shop.available("TENT-2", "WH") == 2
