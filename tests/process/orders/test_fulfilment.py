"""Pickup and shipping: partial shipments, normalised tracking, late and repeated scans."""

from __future__ import annotations

from typing import Any

from tests.fixtures.orders import Orders


async def level(orders: Orders, sku: str, code: str) -> dict[str, Any]:
    levels: list[dict[str, Any]] = await orders.get(f"/v1/stock/{sku}")
    return next(item for item in levels if item["location_code"] == code)


async def test_a_pickup_order_is_collected_and_its_stock_leaves(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=3)
    order = await orders.place(("TENT-1", 2), pickup="ST-PORTO")
    group = order["groups"][0]["id"]

    ready = await orders.post(f"/v1/orders/{order['id']}/groups/{group}/ready-for-pickup")
    collected = await orders.post(f"/v1/orders/{order['id']}/groups/{group}/picked-up")

    assert ready["status"] == "ready_for_pickup"
    assert collected["status"] == "picked_up"
    assert collected["lines"][0]["fulfilled_quantity"] == 2
    store = await level(orders, "TENT-1", "ST-PORTO")
    assert (store["on_hand"], store["reserved"], store["available"]) == (1, 0, 1)


async def test_partial_shipments_then_the_rest(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5, LAMP_1__WH=5)
    order = await orders.place(("TENT-1", 2), ("LAMP-1", 1))
    tent_line = order["lines"][0]["id"]

    first = await orders.ship(order, items=[{"line_id": tent_line, "quantity": 1}])
    partial = await orders.get(f"/v1/orders/{order['id']}")
    status = await orders.status(order["id"], "en")
    rest = await orders.ship(order)
    everything = await orders.get(f"/v1/orders/{order['id']}")
    too_much = await orders.client.post(
        f"/v1/orders/{order['id']}/shipments",
        json={"group_id": order["groups"][0]["id"], "carrier": "ups"},
    )

    assert first["items"] == [{"line_id": tent_line, "quantity": 1}]
    assert (partial["status"], partial["groups"][0]["status"]) == (
        "partially_fulfilled",
        "partially_shipped",
    )
    assert status["code"] == "partially_shipped"
    assert sorted(i["quantity"] for i in rest["items"]) == [1, 1]
    assert (everything["status"], everything["groups"][0]["status"]) == ("fulfilled", "shipped")
    assert too_much.status_code == 409
    assert too_much.json()["code"] == "nothing_to_ship"
    warehouse = await level(orders, "TENT-1", "WH")
    assert (warehouse["on_hand"], warehouse["reserved"]) == (3, 0)


async def test_shipping_more_than_ordered_is_refused_naming_the_item(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))

    response = await orders.client.post(
        f"/v1/orders/{order['id']}/shipments",
        json={
            "group_id": order["groups"][0]["id"],
            "carrier": "ups",
            "items": [{"line_id": order["lines"][0]["id"], "quantity": 2}],
        },
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/items/0/quantity"


async def test_tracking_keeps_the_carrier_words_and_ignores_late_scans(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    shipment = await orders.ship(order)
    sid = shipment["id"]

    await orders.scan(
        sid, "in_transit", "2026-12-01T09:00:00Z", carrier_code="I", carrier_text="Departed"
    )
    await orders.scan(sid, "out_for_delivery", "2026-12-02T07:30:00Z", carrier_code="OFD")
    late = await orders.scan(sid, "in_transit", "2026-12-01T20:00:00Z", carrier_text="Arrived hub")
    repeated = await orders.scan(
        sid, "out_for_delivery", "2026-12-02T07:30:00Z", carrier_code="OFD"
    )

    assert late["status"] == "out_for_delivery"
    assert repeated["status"] == "out_for_delivery"
    assert [(e["status"], e["carrier_text"]) for e in repeated["events"]] == [
        ("in_transit", "Departed"),
        ("in_transit", "Arrived hub"),
        ("out_for_delivery", ""),
    ]
    assert repeated["carrier_status_code"] == "OFD"
    changes = await orders.get("/v1/events", type="shipment.*")
    assert [e["type"] for e in reversed(changes["data"])] == [
        "shipment.created",
        "shipment.in_transit",
        "shipment.out_for_delivery",
    ]


async def test_an_order_is_delivered_when_every_shipment_is(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 2))
    line = order["lines"][0]["id"]
    first = await orders.ship(order, items=[{"line_id": line, "quantity": 1}])
    second = await orders.ship(order)

    await orders.scan(first["id"], "delivered", "2026-12-02T10:00:00Z")
    halfway = await orders.get(f"/v1/orders/{order['id']}")
    await orders.scan(second["id"], "delivered", "2026-12-03T10:00:00Z")
    done = await orders.get(f"/v1/orders/{order['id']}")

    assert halfway["status"] == "fulfilled"
    assert done["status"] == "delivered"
    assert done["groups"][0]["status"] == "delivered"


async def test_an_unconfirmed_order_cannot_ship(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1), confirmed=False)

    response = await orders.client.post(
        f"/v1/orders/{order['id']}/shipments",
        json={"group_id": order["groups"][0]["id"], "carrier": "ups"},
    )

    assert response.status_code == 409
    assert "confirm it first" in response.json()["detail"]


async def test_unknown_shipments_and_statuses_are_clear_errors(orders: Orders) -> None:
    missing = await orders.client.post(
        "/v1/shipments/shp_nope/tracking-events",
        json={"status": "delivered", "occurred_at": "2026-12-01T10:00:00Z"},
    )
    await orders.shop.stock(TENT_1__WH=5)
    shipment = await orders.ship(await orders.place(("TENT-1", 1)))
    odd = await orders.client.post(
        f"/v1/shipments/{shipment['id']}/tracking-events",
        json={"status": "teleported", "occurred_at": "2026-12-01T10:00:00Z"},
    )

    assert missing.status_code == 404
    assert missing.json()["code"] == "shipment_not_found"
    assert odd.status_code == 422
    assert odd.json()["errors"][0]["pointer"] == "#/status"


async def test_an_empty_shipment_or_a_naive_scan_time_is_refused(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))

    empty = await orders.client.post(
        f"/v1/orders/{order['id']}/shipments",
        json={"group_id": order["groups"][0]["id"], "carrier": "ups", "items": []},
    )
    shipment = await orders.ship(order)
    naive = await orders.client.post(
        f"/v1/shipments/{shipment['id']}/tracking-events",
        json={"status": "in_transit", "occurred_at": "2026-12-01T10:00:00"},
    )

    assert empty.status_code == 422
    assert empty.json()["errors"][0]["pointer"] == "#/items"
    assert naive.status_code == 422
    assert naive.json()["errors"][0]["pointer"] == "#/occurred_at"


async def test_each_tracking_status_is_its_own_event(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    shipment = await orders.ship(order)
    statuses = ["pending", "info_received", "in_transit", "attempt_fail", "exception", "expired"]

    for hour, status in enumerate(statuses, start=8):
        await orders.scan(shipment["id"], status, f"2026-12-01T{hour:02d}:00:00Z")

    changes = await orders.get("/v1/events", type="shipment.*")
    assert [e["type"] for e in reversed(changes["data"])] == [
        "shipment.created",
        *(f"shipment.{status}" for status in statuses),
    ]
    told = await orders.status(order["id"])
    assert told["code"] == "delivery_problem"
