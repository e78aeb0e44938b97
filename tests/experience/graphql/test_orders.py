"""Orders over GraphQL: the same answers as REST, for the callers REST would answer."""

from __future__ import annotations

import httpx

from channelhub.hub import Hub
from tests.experience.graphql.conftest import (
    STATUS_FIELDS,
    graphql,
    shopper_token,
    snake_keys,
)
from tests.fixtures.hub import TenantKeys, http_client, new_tenant
from tests.fixtures.orders import Orders

ORDER_NUMBER = "query($id: ID!) { order(id: $id) { number } }"
ORDER_STATUS = "query($id: ID!, $lang: String) { order(id: $id) { status(language: $lang) {"
ORDER_STATUS += STATUS_FIELDS + "} } }"


async def test_the_status_is_the_rest_status_of_the_same_order(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5, TENT_1__ST_PORTO=1)
    shipped = await orders.place(("TENT-1", 1))
    shipment = await orders.ship(shipped, carrier="ctt", estimated_delivery="2026-12-04")
    await orders.scan(shipment["id"], "in_transit", "2026-12-01T08:00:00Z", location="Lisboa")
    closed = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    await orders.close_store(orders.shop.store_id)

    for order, language in ((shipped, "es"), (closed, None)):
        rest = await orders.status(order["id"], language)
        answer = await graphql(orders.client, ORDER_STATUS, {"id": order["id"], "lang": language})

        assert answer.status_code == 200
        assert "errors" not in answer.body
        assert snake_keys(answer.data["order"]["status"]) == rest
    assert rest["code"] == "action_needed"


async def test_an_order_carries_its_lines_totals_and_shipments_as_rest_does(
    orders: Orders,
) -> None:
    await orders.shop.stock(TENT_1__WH=5, LAMP_1__WH=5)
    order = await orders.place(("TENT-1", 2), ("LAMP-1", 1))
    shipment = await orders.ship(order)
    await orders.scan(shipment["id"], "delivered", "2026-11-27T10:00:00Z", carrier_code="DL")

    answer = await graphql(
        orders.client,
        """query($id: ID!) { order(id: $id) {
            id number orderStatus total { amount currency } subtotal { amount currency }
            lines { id sku quantity total { amount currency } fulfilledQuantity }
            shipments { id status carrierStatusCode items { lineId quantity }
              events { status carrierCode occurredAt } }
        } }""",
        {"id": order["id"]},
    )
    rest_order = await orders.get(f"/v1/orders/{order['id']}")
    rest_shipments = await orders.get(f"/v1/orders/{order['id']}/shipments")

    found = answer.data["order"]
    assert found["orderStatus"] == rest_order["status"] == "delivered"
    assert found["total"] == rest_order["total"] == {"amount": 3000, "currency": "EUR"}
    assert snake_keys(found["lines"]) == [
        {k: line[k] for k in ("id", "sku", "quantity", "total", "fulfilled_quantity")}
        for line in rest_order["lines"]
    ]
    assert found["shipments"][0]["carrierStatusCode"] == "DL"
    assert found["shipments"][0]["events"][0]["status"] == "delivered"
    assert found["shipments"][0]["items"] == [
        {"lineId": item["line_id"], "quantity": item["quantity"]}
        for item in rest_shipments[0]["items"]
    ]


async def test_orders_page_newest_first_with_a_cursor(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    placed = [await orders.place(("TENT-1", 1)) for _ in range(3)]
    query = """query($after: String) { orders(first: 2, after: $after) {
        edges { cursor node { number } } pageInfo { hasNextPage endCursor } } }"""

    first = (await graphql(orders.client, query)).data["orders"]
    rest = (await graphql(orders.client, query, {"after": first["pageInfo"]["endCursor"]})).data

    assert [e["node"]["number"] for e in first["edges"]] == [p["number"] for p in placed[:0:-1]]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["number"] for e in rest["orders"]["edges"]] == [placed[0]["number"]]
    assert rest["orders"]["pageInfo"] == {"hasNextPage": False, "endCursor": None}


async def test_the_timeline_is_the_orders_history(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    await orders.ship(order)

    answer = await graphql(
        orders.client,
        "query($id: ID!) { order(id: $id) { timeline(first: 50) { edges { node { "
        "kind summary } } } } }",
        {"id": order["id"]},
    )

    rest = await orders.timeline(order["id"])
    assert [e["node"] for e in answer.data["order"]["timeline"]["edges"]] == [
        {"kind": item["kind"], "summary": item["summary"]} for item in rest
    ]


async def test_without_credentials_nothing_is_read(hub: Hub, orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    async with http_client(hub) as anonymous, http_client(hub, "chk_not_a_key") as forged:
        missing = await graphql(anonymous, ORDER_NUMBER, {"id": order["id"]})
        wrong = await graphql(forged, "{ orders { edges { node { number } } } }")

    assert (missing.status_code, wrong.status_code) == (200, 200)
    assert missing.data == {"order": None}
    assert wrong.data == {"orders": None}
    assert missing.codes == wrong.codes == ["UNAUTHENTICATED"]


async def test_a_key_without_the_scope_is_forbidden(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    key = await tenant.make_key("stores:read")
    async with http_client(hub, key) as stores_only:
        answer = await graphql(stores_only, ORDER_NUMBER, {"id": order["id"]})

    assert answer.codes == ["FORBIDDEN"]
    assert answer.body["errors"][0]["path"] == ["order"]


async def test_another_tenants_order_is_not_found(hub: Hub, orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    other = await new_tenant(hub)
    async with http_client(hub, other.admin_key) as outsider:
        answer = await graphql(outsider, ORDER_NUMBER, {"id": order["id"]})

    assert answer.data == {"order": None}
    assert answer.codes == ["NOT_FOUND"]


async def test_a_shopper_sees_their_own_order_only(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    mine = await orders.place(("TENT-1", 1))
    theirs = await orders.place(("TENT-1", 1))
    token = await shopper_token(orders, tenant, mine["number"])
    headers = {"X-Order-Token": token}

    async with http_client(hub) as shopper:
        own = await graphql(
            shopper,
            "{ myOrder { id number total { amount } status { code orderId } } }",
            headers=headers,
        )
        other = await graphql(shopper, ORDER_NUMBER, {"id": theirs["id"]}, headers=headers)
        listing = await graphql(shopper, "{ orders { edges { node { id } } } }", headers=headers)
        forged = await graphql(
            shopper, "{ myOrder { id } }", headers={"X-Order-Token": token[:-2] + "xx"}
        )
        no_token = await graphql(shopper, "{ myOrder { id } }")

    assert own.data == {
        "myOrder": {
            "id": mine["id"],
            "number": mine["number"],
            "total": {"amount": 1000},
            "status": {"code": "confirmed", "orderId": mine["id"]},
        }
    }
    assert other.codes == listing.codes == ["UNAUTHENTICATED"]
    assert other.data == {"order": None}
    assert forged.codes == no_token.codes == ["UNAUTHENTICATED"]
    assert forged.body["errors"][0]["message"] == "this link is not valid"


async def test_a_shoppers_order_shows_no_internal_fields(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1), notes="customer was rude")
    token = await shopper_token(orders, tenant, order["number"])
    async with http_client(hub) as shopper:
        answer = await graphql(shopper, "{ myOrder { notes } }", headers={"X-Order-Token": token})

    assert answer.codes == ["GRAPHQL_VALIDATION_FAILED"]
    assert "customer was rude" not in str(answer.body)


async def test_shoppers_and_agents_get_the_same_status(
    hub: Hub, orders: Orders, tenant: TenantKeys, client: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    token = await shopper_token(orders, tenant, order["number"])
    query = '{ myOrder { status(language: "it") {' + STATUS_FIELDS + "} } }"
    async with http_client(hub) as shopper:
        answer = await graphql(shopper, query, headers={"X-Order-Token": token})

    assert snake_keys(answer.data["myOrder"]["status"]) == await orders.status(order["id"], "it")
