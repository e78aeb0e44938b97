"""The store-closure playbook: offers checked against live stock, each choice, reopening,
and the tenant's fallback when nobody chooses."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from channelhub.hub import Hub
from channelhub.platform.clock import utc_now
from channelhub.process.orders.closures import apply_fallbacks, reopen_due
from channelhub.process.stores.models import Location
from tests.fixtures.orders import Orders


async def closed_pickup_order(orders: Orders, **stock: int) -> dict[str, object]:
    await orders.shop.stock(**stock)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    await orders.close_store(orders.shop.store_id)
    return order


async def test_another_open_store_with_stock_is_offered_and_taken(orders: Orders) -> None:
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=2, TENT_1__ST_GAIA=1)
    status = await orders.status(str(order["id"]), "en")
    offer = next(a for a in status["actions"] if a["action"] == "choose_other_store")

    chosen = await orders.post(
        f"/v1/orders/{order['id']}/closure-choice",
        {"option": "other_store", "location": "ST-GAIA"},
    )

    assert [s["code"] for s in offer["stores"]] == ["ST-GAIA"]
    assert offer["stores"][0]["distance_km"] < 5
    group = chosen["groups"][0]
    assert (group["method"], group["location_id"], group["status"]) == (
        "pickup",
        orders.other_store_id,
        "open",
    )
    assert await orders.shop.available("TENT-1", "ST-GAIA") == 0
    assert await orders.shop.available("TENT-1", "ST-PORTO") == 2
    events = await orders.get("/v1/events", type="order.closure_option_chosen")
    assert events["data"][0]["data"]["location_id"] == orders.other_store_id


async def test_an_option_that_is_not_offered_is_refused(orders: Orders) -> None:
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=1)
    path = f"/v1/orders/{order['id']}/closure-choice"

    home = await orders.client.post(path, json={"option": "ship_home"})
    gaia = await orders.client.post(path, json={"option": "other_store", "location": "ST-GAIA"})
    status = await orders.status(str(order["id"]), "en")

    assert home.status_code == gaia.status_code == 409
    assert home.json()["code"] == gaia.json()["code"] == "option_unavailable"
    assert [a["action"] for a in status["actions"]] == ["cancel"]
    assert (await orders.get(f"/v1/orders/{order['id']}"))["action_needed"] == "store_closed"


async def test_cancelling_after_a_closure_refunds_in_full(orders: Orders) -> None:
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=1)

    cancelled = await orders.post(f"/v1/orders/{order['id']}/closure-choice", {"option": "cancel"})
    status = await orders.status(str(order["id"]), "en")

    assert (cancelled["status"], cancelled["payment_status"]) == ("cancelled", "refunded")
    assert cancelled["action_needed"] is None
    assert status["code"] == "cancelled"
    assert status["next_step"] == "You have been refunded in full."
    assert await orders.shop.available("TENT-1", "ST-PORTO") == 1


async def test_a_choice_needs_a_closure(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=1)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")

    response = await orders.client.post(
        f"/v1/orders/{order['id']}/closure-choice", json={"option": "cancel"}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "no_choice_pending"


async def test_reopening_resumes_pickup_and_tells_the_customer_again(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=1)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    group = order["groups"][0]["id"]
    await orders.post(f"/v1/orders/{order['id']}/groups/{group}/ready-for-pickup")
    await orders.close_store(orders.shop.store_id)

    reopened = await orders.client.delete(f"/v1/locations/{orders.shop.store_id}/closure")
    after = await orders.get(f"/v1/orders/{order['id']}")
    status = await orders.status(str(order["id"]), "en")

    assert reopened.status_code == 200
    assert reopened.json()["orders"] == [order["id"]]
    assert reopened.json()["store"]["state"] != "temporarily_closed"
    assert after["action_needed"] is None
    assert status["code"] == "ready_for_pickup"
    notices = [
        item["data"]["notice"]
        for item in await orders.timeline(str(order["id"]))
        if item["kind"] == "notice_scheduled"
    ]
    assert notices.count("ready_for_pickup") == 2


async def test_closing_a_closed_store_flags_nobody_twice(orders: Orders) -> None:
    await closed_pickup_order(orders, TENT_1__ST_PORTO=1)

    again = await orders.close_store(orders.shop.store_id, "still flooded")

    assert again["orders"] == []
    assert again["store"]["closed_reason"] == "still flooded"


async def test_new_pickup_orders_at_a_closed_store_are_refused(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=2)
    await orders.close_store(orders.shop.store_id)

    response = await orders.client.post(
        "/v1/orders", json=orders.body(("TENT-1", 1), pickup="ST-PORTO")
    )

    assert response.status_code == 422
    assert "temporarily closed" in response.json()["detail"]


async def test_nobody_chooses_so_the_fallback_ships_home_after_the_deadline(
    hub: Hub, orders: Orders
) -> None:
    await orders.client.patch("/v1/order-policy", json={"closure_fallback_hours": 2})
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=1, TENT_1__WH=1)

    # (the job serves every tenant: other tests' orders may be decided too)
    await apply_fallbacks(hub.db, clock=lambda: utc_now() + timedelta(hours=1, minutes=30))
    early = await orders.get(f"/v1/orders/{order['id']}")
    await apply_fallbacks(hub.db, clock=lambda: utc_now() + timedelta(hours=3))
    after = await orders.get(f"/v1/orders/{order['id']}")

    assert early["action_needed"] == "store_closed"
    assert after["action_needed"] is None
    assert after["groups"][0]["method"] == "ship"
    assert after["groups"][0]["shipping_waived"] is True
    choice = next(i for i in await orders.timeline(str(order["id"])) if i["kind"] == "choice")
    assert choice["actor"] == "job:closure-fallback"


async def test_the_fallback_cancels_when_nothing_can_ship(hub: Hub, orders: Orders) -> None:
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=1)

    done = await apply_fallbacks(hub.db, clock=lambda: utc_now() + timedelta(days=3))

    assert done >= 1
    assert (await orders.get(f"/v1/orders/{order['id']}"))["status"] == "cancelled"


async def test_a_tenant_may_wait_for_a_person_instead(hub: Hub, orders: Orders) -> None:
    policy = await orders.client.patch("/v1/order-policy", json={"closure_fallback": "none"})
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=1, TENT_1__WH=1)

    await apply_fallbacks(hub.db, clock=lambda: utc_now() + timedelta(days=30))

    assert policy.json()["closure_fallback"] == "none"
    assert (await orders.get(f"/v1/orders/{order['id']}"))["action_needed"] == "store_closed"


async def test_a_mixed_order_with_its_pickup_part_ready_can_still_be_rerouted(
    orders: Orders,
) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=1, TENT_1__WH=1, LAMP_1__WH=1)
    body = orders.body(("LAMP-1", 1), ("TENT-1", 1))
    body["groups"] = [{"method": "ship"}, {"method": "pickup", "location": "ST-PORTO"}]
    body["lines"][1]["group"] = 1
    order = (await orders.client.post("/v1/orders", json=body)).json()
    pickup = order["groups"][1]["id"]
    ready = await orders.post(f"/v1/orders/{order['id']}/groups/{pickup}/ready-for-pickup")
    status = await orders.status(order["id"], "en")
    await orders.close_store(orders.shop.store_id)

    home = await orders.post(f"/v1/orders/{order['id']}/closure-choice", {"option": "ship_home"})

    assert ready["status"] == "ready_for_pickup"
    assert status["code"] == "ready_for_pickup"
    assert [g["method"] for g in home["groups"]] == ["ship", "ship"]
    assert (home["status"], home["action_needed"]) == ("confirmed", None)


async def test_an_order_waiting_at_two_closed_stores_is_decided_store_by_store(
    orders: Orders,
) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=1, LAMP_1__ST_GAIA=1, TENT_1__WH=1, LAMP_1__WH=1)
    body = orders.body(("TENT-1", 1), ("LAMP-1", 1))
    body["groups"] = [
        {"method": "pickup", "location": "ST-PORTO"},
        {"method": "pickup", "location": "ST-GAIA"},
    ]
    body["lines"][1]["group"] = 1
    order = (await orders.client.post("/v1/orders", json=body)).json()
    gaia_group = order["groups"][1]["id"]
    await orders.post(f"/v1/orders/{order['id']}/groups/{gaia_group}/ready-for-pickup")
    await orders.close_store(orders.shop.store_id)
    second = await orders.close_store(orders.other_store_id)
    suppressed = [
        item["data"]["notice"]
        for item in await orders.timeline(order["id"])
        if item["kind"] == "notice_suppressed"
    ]
    path = f"/v1/orders/{order['id']}/closure-choice"

    first_choice = await orders.post(path, {"option": "ship_home"})
    second_choice = await orders.post(path, {"option": "ship_home"})

    assert second["orders"] == [order["id"]]
    assert "ready_for_pickup" in suppressed
    assert first_choice["action_needed"] == "store_closed"
    assert [g["method"] for g in first_choice["groups"]] == ["ship", "pickup"]
    assert second_choice["action_needed"] is None
    assert [g["method"] for g in second_choice["groups"]] == ["ship", "ship"]


async def test_a_closed_store_cannot_hand_the_order_over(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=1)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    group = order["groups"][0]["id"]
    await orders.post(f"/v1/orders/{order['id']}/groups/{group}/ready-for-pickup")
    await orders.close_store(orders.shop.store_id)

    response = await orders.client.post(f"/v1/orders/{order['id']}/groups/{group}/picked-up")

    assert response.status_code == 409
    assert response.json()["code"] == "store_closed"


async def test_a_store_reopens_by_itself_when_its_reopening_time_comes(
    hub: Hub, orders: Orders
) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=1)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    reopening = utc_now() + timedelta(hours=2)
    await orders.post(
        f"/v1/locations/{orders.shop.store_id}/closure",
        {"reason": "inventory count", "reopens_at": reopening.isoformat()},
    )

    await reopen_due(hub.db, clock=lambda: utc_now() + timedelta(hours=1))
    still = await orders.get(f"/v1/orders/{order['id']}")
    await reopen_due(hub.db, clock=lambda: utc_now() + timedelta(hours=3))
    after = await orders.get(f"/v1/orders/{order['id']}")
    store = await orders.get(f"/v1/locations/{orders.shop.store_id}")

    assert still["action_needed"] == "store_closed"
    assert after["action_needed"] is None
    assert store["closed_reason"] is None


async def test_an_order_the_fallback_cannot_decide_waits_and_blocks_nobody(
    hub: Hub, orders: Orders
) -> None:
    stuck = await closed_pickup_order(orders, TENT_1__ST_PORTO=2, TENT_1__WH=2)
    # The store is reopened behind the playbook's back: no decision can be applied.
    async with hub.db.transaction() as session:
        await session.execute(
            update(Location)
            .where(Location.id == orders.shop.store_id)
            .values(closed_since=None, closed_reason=None)
        )
    await orders.shop.stock(TENT_1__ST_GAIA=1)
    other = await orders.place(("TENT-1", 1), pickup="ST-GAIA")
    await orders.close_store(orders.other_store_id)

    done = await apply_fallbacks(hub.db, clock=lambda: utc_now() + timedelta(days=3))
    waiting = await orders.get(f"/v1/orders/{stuck['id']}")
    decided = await orders.get(f"/v1/orders/{other['id']}")

    assert done >= 1
    assert waiting["action_needed"] == "store_closed"
    assert decided["action_needed"] is None
