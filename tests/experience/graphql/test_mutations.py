"""The self-service mutations: a shopper's token or an agent's key; refusals come back
typed in the payload and change nothing."""

from __future__ import annotations

from typing import Any

from channelhub.hub import Hub
from tests.experience.graphql.conftest import Answer, graphql, shopper_token
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.orders import Orders

CHOOSE = """mutation($input: ChooseClosureOptionInput!) {
  chooseClosureOption(input: $input) {
    status { code orderStatus actions { action } }
    errors { code field message }
  }
}"""
START_RETURN = """mutation($input: StartReturnInput!) {
  startReturn(input: $input) {
    return { status reason requestedBy items { lineId quantity } }
    status { code }
    errors { code field message }
  }
}"""


async def closed_pickup_order(orders: Orders, **stock: int) -> dict[str, Any]:
    await orders.shop.stock(**stock)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    await orders.close_store(orders.shop.store_id)
    return order


async def delivered_order(orders: Orders) -> dict[str, Any]:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 2))
    shipment = await orders.ship(order)
    await orders.scan(shipment["id"], "delivered", "2026-11-27T10:00:00Z")
    return order


async def as_shopper(hub: Hub, token: str, query: str, variables: dict[str, Any]) -> Answer:
    async with http_client(hub) as shopper:
        return await graphql(shopper, query, variables, headers={"X-Order-Token": token})


async def test_a_shopper_chooses_another_store_after_a_closure(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=1, TENT_1__ST_GAIA=1)
    token = await shopper_token(orders, tenant, order["number"])

    answer = await as_shopper(
        hub, token, CHOOSE, {"input": {"option": "other_store", "location": "ST-GAIA"}}
    )

    payload = answer.data["chooseClosureOption"]
    assert payload["errors"] == []
    assert payload["status"]["code"] == "confirmed"
    after = await orders.get(f"/v1/orders/{order['id']}")
    assert after["action_needed"] is None
    assert after["groups"][0]["location_id"] == orders.other_store_id
    assert await orders.shop.available("TENT-1", "ST-GAIA") == 0


async def test_an_option_not_offered_is_a_typed_error_and_changes_nothing(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=1)
    token = await shopper_token(orders, tenant, order["number"])
    before = await orders.get(f"/v1/orders/{order['id']}")

    answer = await as_shopper(hub, token, CHOOSE, {"input": {"option": "ship_home"}})

    assert "errors" not in answer.body
    assert answer.data["chooseClosureOption"] == {
        "status": None,
        "errors": [
            {
                "code": "option_unavailable",
                "field": "option",
                "message": "the items cannot be shipped from stock now; choose another store "
                "or cancel",
            }
        ],
    }
    assert await orders.get(f"/v1/orders/{order['id']}") == before


async def test_a_choice_with_nothing_to_choose_is_a_typed_error(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    token = await shopper_token(orders, tenant, order["number"])

    answer = await as_shopper(hub, token, CHOOSE, {"input": {"option": "cancel"}})

    assert [e["code"] for e in answer.data["chooseClosureOption"]["errors"]] == [
        "no_choice_pending"
    ]
    assert (await orders.get(f"/v1/orders/{order['id']}"))["status"] == "confirmed"


async def test_input_the_process_refuses_is_a_typed_error_naming_the_field(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=1)
    token = await shopper_token(orders, tenant, order["number"])

    answer = await as_shopper(
        hub,
        token,
        CHOOSE,
        {
            "input": {
                "option": "ship_home",
                "shippingAddress": {"line1": "x", "city": "y", "country": "Portugal"},
            }
        },
    )

    errors = answer.data["chooseClosureOption"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("invalid", "shippingAddress.country")]


async def test_a_shopper_starts_a_return(hub: Hub, orders: Orders, tenant: TenantKeys) -> None:
    order = await delivered_order(orders)
    token = await shopper_token(orders, tenant, order["number"])
    line = order["lines"][0]["id"]

    answer = await as_shopper(
        hub,
        token,
        START_RETURN,
        {"input": {"items": [{"lineId": line, "quantity": 1}], "reason": "damaged"}},
    )

    assert answer.data["startReturn"] == {
        "return": {
            "status": "requested",
            "reason": "damaged",
            "requestedBy": "customer",
            "items": [{"lineId": line, "quantity": 1}],
        },
        "status": {"code": "return_requested"},
        "errors": [],
    }
    assert len(await orders.get(f"/v1/orders/{order['id']}/returns")) == 1


async def test_returning_more_than_was_bought_is_a_typed_error(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    order = await delivered_order(orders)
    token = await shopper_token(orders, tenant, order["number"])
    line = order["lines"][0]["id"]

    answer = await as_shopper(
        hub,
        token,
        START_RETURN,
        {"input": {"items": [{"lineId": line, "quantity": 3}], "reason": "damaged"}},
    )

    payload = answer.data["startReturn"]
    assert payload["return"] is None
    assert payload["errors"] == [
        {
            "code": "invalid",
            "field": "items.0.quantity",
            "message": f"line {line}: 3 to return, 2 can be",
        }
    ]
    assert await orders.get(f"/v1/orders/{order['id']}/returns") == []


async def test_an_order_with_nothing_delivered_has_nothing_returnable(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    token = await shopper_token(orders, tenant, order["number"])

    answer = await as_shopper(
        hub,
        token,
        START_RETURN,
        {
            "input": {
                "items": [{"lineId": order["lines"][0]["id"], "quantity": 1}],
                "reason": "changed_mind",
            }
        },
    )

    assert [e["code"] for e in answer.data["startReturn"]["errors"]] == ["nothing_returnable"]


async def test_a_shopper_cannot_act_on_another_order(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=2)
    mine = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    theirs = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    await orders.close_store(orders.shop.store_id)
    token = await shopper_token(orders, tenant, mine["number"])

    answer = await as_shopper(
        hub, token, CHOOSE, {"input": {"option": "cancel", "orderId": theirs["id"]}}
    )

    assert answer.data["chooseClosureOption"]["errors"][0]["code"] == "order_not_found"
    assert answer.data["chooseClosureOption"]["errors"][0]["field"] == "orderId"
    assert (await orders.get(f"/v1/orders/{theirs['id']}"))["status"] != "cancelled"


async def test_an_agent_acts_with_a_write_key_and_names_the_order(
    hub: Hub, orders: Orders, tenant: TenantKeys
) -> None:
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=1)
    reader = await tenant.make_key("orders:read")

    unnamed = await graphql(orders.client, CHOOSE, {"input": {"option": "cancel"}})
    async with http_client(hub, reader) as read_only:
        forbidden = await graphql(
            read_only, CHOOSE, {"input": {"option": "cancel", "orderId": order["id"]}}
        )
    cancelled = await graphql(
        orders.client, CHOOSE, {"input": {"option": "cancel", "orderId": order["id"]}}
    )

    assert unnamed.data["chooseClosureOption"]["errors"][0]["field"] == "orderId"
    assert forbidden.codes == ["FORBIDDEN"]
    assert cancelled.data["chooseClosureOption"]["status"]["orderStatus"] == "cancelled"
    assert (await orders.get(f"/v1/orders/{order['id']}"))["status"] == "cancelled"


async def test_nobody_may_act_without_credentials(hub: Hub, orders: Orders) -> None:
    order = await closed_pickup_order(orders, TENT_1__ST_PORTO=1)
    async with http_client(hub) as anonymous:
        answer = await graphql(
            anonymous, CHOOSE, {"input": {"option": "cancel", "orderId": order["id"]}}
        )

    assert answer.status_code == 200
    assert answer.codes == ["UNAUTHENTICATED"]
    assert answer.data == {"chooseClosureOption": None}
    assert (await orders.get(f"/v1/orders/{order['id']}"))["action_needed"] == "store_closed"
