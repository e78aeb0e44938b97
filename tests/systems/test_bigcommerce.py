"""BigCommerce: callbacks with ids only; the order is fetched from the store's API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from channelhub.platform.clock import utc_now
from channelhub.process.connections import service as connections
from tests.fixtures.connections import Connected, connect, payload
from tests.fixtures.inventory import Shop
from tests.fixtures.outside import Outside

SECRET = "bc-hook-header-value"
BASE = "https://api.bigcommerce.com/stores/abc123"
API = "/stores/abc123"


@pytest.fixture
async def bigcommerce(hub: Hub, shop: Shop, outside: Outside) -> Connected:
    outside.route(
        "GET",
        f"{API}/v2/orders/250/products",
        json=payload("bigcommerce", "order_250_products.json"),
    )
    outside.route(
        "GET",
        f"{API}/v2/orders/250/shipping_addresses",
        json=payload("bigcommerce", "order_250_shipping_addresses.json"),
    )
    outside.route(
        "GET",
        f"{API}/v2/orders/250/shipments",
        json=payload("bigcommerce", "order_250_shipments.json"),
    )
    return await connect(
        hub,
        shop.client,
        "bigcommerce",
        SECRET,
        base_url=BASE,
        sales_channel_id=shop.channel_id,
        order_number_prefix="BC-",
        credentials={"access_token": "bc-token"},
    )


def order(**changes: Any) -> dict[str, Any]:
    return {**payload("bigcommerce", "order_250.json"), **changes}


async def callback(bigcommerce: Connected, name: str) -> httpx.Response:
    body = json.dumps(payload("bigcommerce", name)).encode()
    return await bigcommerce.send(body, {"X-Channelhub-Token": SECRET})


async def the_order(shop: Shop) -> dict[str, Any]:
    [found] = (await shop.client.get("/v1/orders")).json()["data"]
    return dict(found)


async def test_an_order_is_fetched_and_recorded(
    bigcommerce: Connected, shop: Shop, outside: Outside
) -> None:
    await shop.stock(TENT_1__WH=5, LAMP_1__WH=5)
    outside.route("GET", f"{API}/v2/orders/250", json=order())

    await callback(bigcommerce, "order_created.json")
    await bigcommerce.process()
    recorded = await the_order(shop)

    assert recorded["number"] == "BC-250"
    assert (recorded["status"], recorded["payment_status"]) == ("confirmed", "paid")
    assert recorded["total"]["amount"] == 31200
    assert recorded["tax_total"]["amount"] == 5200
    assert recorded["shipping_address"]["country"] == "DE"
    fetch = outside.sent("GET", f"{API}/v2/orders/250")[0]
    assert fetch.headers["X-Auth-Token"] == "bc-token"


async def test_shipped_status_brings_the_shipment(
    bigcommerce: Connected, shop: Shop, outside: Outside
) -> None:
    await shop.stock(TENT_1__WH=5, LAMP_1__WH=5)
    outside.route(
        "GET",
        f"{API}/v2/orders/250",
        httpx.Response(200, json=order()),
        httpx.Response(
            200,
            json=order(
                status_id=2, status="Shipped", date_modified="Wed, 15 May 2024 14:02:11 +0000"
            ),
        ),
    )
    await callback(bigcommerce, "order_created.json")
    await bigcommerce.process()

    await callback(bigcommerce, "order_status_updated.json")
    await bigcommerce.process()
    shipped = await the_order(shop)
    [parcel] = (await shop.client.get(f"/v1/orders/{shipped['id']}/shipments")).json()

    assert shipped["status"] == "fulfilled"
    assert (parcel["carrier"], parcel["tracking_number"]) == ("dhl-germany", "00340434161234567890")
    assert sorted(item["quantity"] for item in parcel["items"]) == [1, 2]


async def test_a_throttled_store_is_waited_for(
    bigcommerce: Connected, shop: Shop, outside: Outside
) -> None:
    await shop.stock(TENT_1__WH=5, LAMP_1__WH=5)
    outside.route(
        "GET",
        f"{API}/v2/orders/250",
        httpx.Response(429, headers={"Retry-After": "0"}),
        httpx.Response(503),
        httpx.Response(200, json=order()),
    )

    await callback(bigcommerce, "order_created.json")
    await bigcommerce.process()

    assert (await the_order(shop))["number"] == "BC-250"
    assert len(outside.sent("GET", f"{API}/v2/orders/250")) == 3


async def test_a_store_that_stays_down_is_retried_later_not_lost(
    hub: Hub, bigcommerce: Connected, shop: Shop, outside: Outside
) -> None:
    outside.route("GET", f"{API}/v2/orders/250", httpx.Response(503))
    hub.inbox.retry_base_s = 60

    await callback(bigcommerce, "order_created.json")
    await bigcommerce.process()
    [record] = await bigcommerce.inbox()

    assert record["status"] == "pending"
    assert record["reason"].startswith("will retry: bigcommerce:")
    assert record["attempts"] == 1


async def test_a_callback_without_the_token_is_refused(bigcommerce: Connected) -> None:
    body = json.dumps(payload("bigcommerce", "order_created.json")).encode()

    response = await bigcommerce.send(body, {"X-Channelhub-Token": "wrong"})

    assert response.status_code == 401


async def test_stock_is_pushed_as_absolute_adjustments(
    hub: Hub, bigcommerce: Connected, shop: Shop, outside: Outside
) -> None:
    outside.route("PUT", f"{API}/v3/inventory/adjustments/absolute", json={"transaction_id": "t-1"})
    await shop.stock(TENT_1__WH=6)
    async with hub.db.transaction() as session:
        refs = {"TENT-1": {"product_id": 111, "variant_id": 201}}
        await connections.remember_skus(session, bigcommerce.id, refs, utc_now())
        await connections.mark_skus_dirty(session, bigcommerce.id, utc_now())

    pushed = await hub.systems.pusher.push_due()
    again = await hub.systems.pusher.push_due()

    assert (pushed, again) == (1, 0)
    assert outside.json_sent("PUT", f"{API}/v3/inventory/adjustments/absolute") == [
        {
            "reason": "channelhub stock sync",
            "items": [{"location_id": 1, "variant_id": 201, "quantity": 6}],
        }
    ]
