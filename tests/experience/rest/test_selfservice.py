"""Self-service: a shopper with an order number and e-mail, and nothing else."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from channelhub.hub import Hub
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.orders import Orders


@pytest.fixture
async def shopper(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client(hub) as client:
        yield client


def lookup(tenant: TenantKeys, number: str, email: str) -> tuple[str, dict[str, str]]:
    return f"/v1/self-service/{tenant.slug}/orders/lookup", {"number": number, "email": email}


async def look_up(
    shopper: httpx.AsyncClient, tenant: TenantKeys, number: str, email: str
) -> httpx.Response:
    path, body = lookup(tenant, number, email)
    return await shopper.post(path, json=body)


async def test_the_right_number_and_email_give_the_status_and_a_token(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    path, body = lookup(tenant, "NW-1001", " ANA@example.com ")

    found = await shopper.post(path, json=body, headers={"Accept-Language": "es-ES,es;q=0.9"})
    token = found.json()["token"]
    again = await shopper.get("/v1/self-service/order", headers={"X-Order-Token": token})

    assert found.status_code == 200
    assert found.json()["status"]["order_id"] == order["id"]
    assert found.json()["status"]["language"] == "es"
    assert again.status_code == 200
    assert again.json()["language"] == "pt"
    assert again.json()["code"] == "confirmed"


async def test_a_wrong_email_and_an_unknown_order_look_the_same(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    await orders.place(("TENT-1", 1))

    wrong_email = await look_up(shopper, tenant, "NW-1001", "eve@example.com")
    unknown = await look_up(shopper, tenant, "NW-9999", "ana@example.com")
    other_shop = await shopper.post(
        "/v1/self-service/no-such-shop/orders/lookup",
        json={"number": "NW-1001", "email": "ana@example.com"},
    )

    answers = [r.json() for r in (wrong_email, unknown, other_shop)]
    for answer in answers:
        answer.pop("request_id")
        answer.pop("instance")
    assert {r.status_code for r in (wrong_email, unknown, other_shop)} == {404}
    assert answers[0] == answers[1] == answers[2]


async def test_guessing_is_rate_limited_per_order_number(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    await orders.place(("TENT-1", 1))
    path, _ = lookup(tenant, "NW-1001", "x@example.com")

    answers = [
        await shopper.post(path, json={"number": "NW-1001", "email": f"guess{i}@example.com"})
        for i in range(6)
    ]
    right = await shopper.post(path, json={"number": "NW-1001", "email": "ana@example.com"})

    assert [a.status_code for a in answers] == [404] * 5 + [429]
    assert right.status_code == 429
    assert int(right.headers["Retry-After"]) > 0
    assert right.json()["type"] == "/problems/too-many-requests"


async def test_tokens_must_be_genuine(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    await orders.place(("TENT-1", 1))
    found = await look_up(shopper, tenant, "NW-1001", "ana@example.com")
    token: str = found.json()["token"]

    forged = await shopper.get(
        "/v1/self-service/order", headers={"X-Order-Token": token[:-2] + "xx"}
    )
    missing = await shopper.get("/v1/self-service/order")

    assert forged.status_code == 401
    assert forged.json()["detail"] == "this link is not valid"
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["parameter"] == "X-Order-Token"


async def test_an_agent_link_lets_the_shopper_start_a_return(
    orders: Orders, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    shipment = await orders.ship(order)
    await orders.scan(shipment["id"], "delivered", "2026-11-27T10:00:00Z")
    link = await orders.post(f"/v1/orders/{order['id']}/customer-link")

    started = await shopper.post(
        "/v1/self-service/order/returns?lang=en",
        json={"items": [{"line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "damaged"},
        headers={"X-Order-Token": link["token"]},
    )
    returns = await orders.get(f"/v1/orders/{order['id']}/returns")

    assert started.status_code == 201, started.text
    assert started.json()["code"] == "return_requested"
    assert returns[0]["requested_by"] == "customer"


async def test_a_shopper_cannot_choose_what_is_not_offered(
    orders: Orders, tenant: TenantKeys, shopper: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=1)
    await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    await orders.close_store(orders.shop.store_id)
    token = (await look_up(shopper, tenant, "NW-1001", "ana@example.com")).json()["token"]

    refused = await shopper.post(
        "/v1/self-service/order/closure-choice",
        json={"option": "ship_home"},
        headers={"X-Order-Token": token},
    )

    assert refused.status_code == 409
    assert refused.json()["code"] == "option_unavailable"
