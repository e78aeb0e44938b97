"""Listing orders with their lines and shipments runs the same statements for 1 order as
for 10: what each order needs is fetched for the whole page at once."""

from __future__ import annotations

from channelhub.hub import Hub
from tests.experience.graphql.conftest import graphql, statements
from tests.fixtures.orders import Orders

PAGE = """query($n: Int!) { orders(first: $n) { edges { node {
  number total { amount } lines { sku quantity }
  shipments { trackingNumber status items { quantity } events { status occurredAt } }
} } } }"""
STATUS_PAGE = "query($n: Int!) { orders(first: $n) { edges { node { status { code } } } } }"


async def shipped_orders(orders: Orders, count: int) -> None:
    for index in range(count):
        order = await orders.place(("TENT-1", 1))
        shipment = await orders.ship(order, tracking_number=f"T{index}")
        await orders.scan(shipment["id"], "in_transit", "2026-12-01T08:00:00Z")


async def test_a_page_of_orders_with_shipments_costs_the_same_for_1_and_10(
    hub: Hub, orders: Orders
) -> None:
    await orders.shop.stock(TENT_1__WH=20)
    await shipped_orders(orders, 1)
    with statements(hub) as one:
        single = await graphql(orders.client, PAGE, {"n": 1})
    await shipped_orders(orders, 9)
    with statements(hub) as ten:
        page = await graphql(orders.client, PAGE, {"n": 10})

    assert len(single.data["orders"]["edges"]) == 1
    assert len(page.data["orders"]["edges"]) == 10
    assert {
        e["node"]["shipments"][0]["events"][0]["status"] for e in page.data["orders"]["edges"]
    } == {"in_transit"}
    assert len(ten) == len(one)


async def test_statuses_of_a_page_cost_the_same_for_1_and_10(hub: Hub, orders: Orders) -> None:
    """What the customer status is decided from (shipments, returns, the return policy,
    the pickup stores) is loaded for the whole page at once."""
    await orders.shop.stock(TENT_1__WH=20, TENT_1__ST_PORTO=20)
    await shipped_orders(orders, 1)
    await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    with statements(hub) as two:
        small = await graphql(orders.client, STATUS_PAGE, {"n": 2})
    await shipped_orders(orders, 9)
    await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    with statements(hub) as twelve:
        page = await graphql(orders.client, STATUS_PAGE, {"n": 12})

    assert [e["node"]["status"]["code"] for e in small.data["orders"]["edges"]] == [
        "confirmed",
        "shipped",
    ]
    codes = [e["node"]["status"]["code"] for e in page.data["orders"]["edges"]]
    assert sorted(codes) == ["confirmed"] * 2 + ["shipped"] * 10
    assert len(twelve) == len(two)
