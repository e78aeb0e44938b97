"""Orders: recorded once with their stock, validated, confirmed, cancelled, updated."""

from __future__ import annotations

import pytest

from channelhub.hub import Hub
from tests.fixtures.hub import http_client, new_tenant
from tests.fixtures.orders import Orders


async def test_an_order_is_recorded_with_totals_and_its_stock_reserved(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5, LAMP_1__WH=5)
    body = orders.body(("TENT-1", 2), ("LAMP-1", 1), tax_total=690, discount_total=500)
    body["groups"] = [{"method": "ship", "shipping_fee": 495}]
    body["lines"][0]["discount"] = 200

    response = await orders.client.post("/v1/orders", json=body)

    assert response.status_code == 201, response.text
    order = response.json()
    assert response.headers["Location"] == f"/v1/orders/{order['id']}"
    assert response.headers["ETag"] == f'"{order["version"]}"'
    eur = {"currency": "EUR"}
    assert order["subtotal"] == {"amount": 2800, **eur}  # 2 x 1000 - 200 + 1000
    assert order["shipping_total"] == {"amount": 495, **eur}
    assert order["total"] == {"amount": 2800 - 500 + 495 + 690, **eur}
    assert order["customer"]["email"] == "ana@example.com"
    assert order["status"] == "confirmed"
    assert order["groups"][0]["reservation_id"].startswith("rsv_")
    assert await orders.shop.available("TENT-1", "WH") == 3
    assert await orders.shop.available("LAMP-1", "WH") == 4


async def test_the_same_external_id_returns_the_existing_order(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    body = orders.body(("TENT-1", 1), external_ids=[{"system": "shopify", "id": "450789469"}])
    first = await orders.client.post("/v1/orders", json=body)
    again = {**body, "number": "NW-OTHER"}

    second = await orders.client.post("/v1/orders", json=again)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    assert await orders.shop.available("TENT-1", "WH") == 4
    listed = await orders.get("/v1/orders")
    assert len(listed["data"]) == 1


async def test_bad_orders_are_refused_and_nothing_is_kept(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=1)
    client = orders.client

    unknown = await client.post("/v1/orders", json=orders.body(("TENT-1", 1), ("NOPE", 1)))
    short = await client.post("/v1/orders", json=orders.body(("TENT-1", 2)))
    wrong_total = await client.post("/v1/orders", json=orders.body(("TENT-1", 1), total=1))
    no_address = await client.post(
        "/v1/orders", json=orders.body(("TENT-1", 1), shipping_address=None)
    )
    bad_store = await client.post("/v1/orders", json=orders.body(("TENT-1", 1), pickup="WH"))

    assert unknown.status_code == 422
    assert unknown.json()["errors"][0]["pointer"] == "#/lines/1/sku"
    assert short.status_code == 409
    assert (short.json()["code"], short.json()["sku"], short.json()["available"]) == (
        "insufficient_stock",
        "TENT-1",
        1,
    )
    assert wrong_total.status_code == 422
    assert wrong_total.json()["errors"][0]["pointer"] == "#/total"
    assert no_address.status_code == 422
    assert bad_store.status_code == 422
    assert "does not offer pickup" in bad_store.json()["detail"]
    assert (await orders.get("/v1/orders"))["data"] == []
    assert await orders.shop.available("TENT-1", "WH") == 1


async def test_order_numbers_are_unique(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    await orders.place(("TENT-1", 1), number="NW-7")

    again = await orders.client.post("/v1/orders", json=orders.body(("TENT-1", 1), number="NW-7"))

    assert again.status_code == 409
    assert again.json()["code"] == "order_number_taken"


async def test_a_placed_order_is_confirmed_once(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1), confirmed=False, payment_status="pending")
    assert order["status"] == "placed"

    confirmed = await orders.post(f"/v1/orders/{order['id']}/confirm")
    again = await orders.post(f"/v1/orders/{order['id']}/confirm")

    assert confirmed["status"] == again["status"] == "confirmed"
    assert again["version"] == confirmed["version"]
    events = await orders.get("/v1/events", type="order.*")
    assert [e["type"] for e in reversed(events["data"])] == [
        "order.created",
        "order.confirmed",
        "order.status_changed",
    ]


async def test_cancelling_releases_stock_and_refunds_in_full(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 2))

    cancelled = await orders.post(f"/v1/orders/{order['id']}/cancel", {"reason": "changed mind"})

    assert cancelled["status"] == "cancelled"
    assert cancelled["payment_status"] == "refunded"
    assert cancelled["refunded_total"] == cancelled["total"]
    assert cancelled["groups"][0]["status"] == "cancelled"
    assert await orders.shop.available("TENT-1", "WH") == 5
    refunds = await orders.get("/v1/events", type="refund.issued")
    assert refunds["data"][0]["data"]["amount"] == cancelled["total"]


async def test_impossible_moves_are_refused_and_change_nothing(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5, TENT_1__ST_PORTO=5)
    pickup = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    group = pickup["groups"][0]["id"]
    shipped = await orders.place(("TENT-1", 1))
    await orders.ship(shipped)
    client = orders.client

    early = await client.post(f"/v1/orders/{pickup['id']}/groups/{group}/picked-up")
    ship_a_pickup = await client.post(
        f"/v1/orders/{pickup['id']}/shipments", json={"group_id": group, "carrier": "ups"}
    )
    cancel_shipped = await client.post(
        f"/v1/orders/{shipped['id']}/cancel", json={"reason": "too late"}
    )

    assert early.status_code == 409
    assert early.json()["code"] == "impossible_transition"
    assert "cannot pick_up" in early.json()["detail"]
    assert ship_a_pickup.status_code == 409
    assert "pickup group" in ship_a_pickup.json()["detail"]
    assert cancel_shipped.status_code == 409
    assert (await orders.get(f"/v1/orders/{shipped['id']}"))["status"] == "fulfilled"
    assert (await orders.get(f"/v1/orders/{pickup['id']}"))["status"] == "confirmed"


async def test_updates_from_an_older_source_version_are_ignored(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    path = f"/v1/orders/{order['id']}"
    newer = {"notes": "call first", "source_updated_at": "2026-11-28T12:00:00Z"}
    older = {"notes": "leave at door", "source_updated_at": "2026-11-28T11:00:00Z"}

    first = await orders.client.patch(path, json=newer)
    late = await orders.client.patch(path, json=older)

    assert (first.status_code, late.status_code) == (200, 200)
    assert late.json()["notes"] == "call first"
    assert late.json()["version"] == first.json()["version"]


async def test_if_match_protects_against_lost_updates(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    path = f"/v1/orders/{order['id']}"
    await orders.client.patch(path, json={"notes": "first"})

    stale = await orders.client.patch(
        path, json={"notes": "second"}, headers={"If-Match": f'"{order["version"]}"'}
    )
    not_modified = await orders.client.get(
        path, headers={"If-None-Match": f'"{order["version"] + 1}"'}
    )

    assert stale.status_code == 412
    assert not_modified.status_code == 304


async def test_orders_are_listed_and_filtered(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5, TENT_1__ST_PORTO=5)
    shipped = await orders.place(("TENT-1", 1))
    pickup = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    await orders.close_store(orders.shop.store_id)

    waiting = await orders.get("/v1/orders", action_needed="true")
    by_email = await orders.get("/v1/orders", email="ANA@example.com", limit=1)

    assert [o["id"] for o in waiting["data"]] == [pickup["id"]]
    assert [o["id"] for o in by_email["data"]] == [pickup["id"]]
    page_two = await orders.get(
        "/v1/orders", email="ana@example.com", cursor=by_email["next_cursor"]
    )
    assert [o["id"] for o in page_two["data"]] == [shipped["id"]]


async def test_another_tenant_cannot_see_the_order(hub: Hub, orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    other = await new_tenant(hub)

    async with http_client(hub, other.admin_key) as client:
        response = await client.get(f"/v1/orders/{order['id']}")

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"placed_at": "2026-11-28T10:00:00"}, "#/placed_at"),
        ({"lines": [{"sku": "TENT-1", "quantity": 2, "unit_price": 2**63 - 1}]}, "#/"),
        (
            {
                "lines": [
                    {"sku": "TENT-1", "quantity": 600_000, "unit_price": 1},
                    {"sku": "TENT-1", "quantity": 600_000, "unit_price": 2},
                ]
            },
            "#/",
        ),
    ],
    ids=["naive-time", "overflowing-amount", "too-many-units-of-a-sku"],
)
async def test_out_of_range_input_is_a_clear_422(
    orders: Orders, change: dict[str, object], field: str
) -> None:
    response = await orders.client.post("/v1/orders", json=orders.body(("TENT-1", 1), **change))

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == field
