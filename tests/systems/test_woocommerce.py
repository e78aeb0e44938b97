"""WooCommerce: orders and products as WooCommerce sends them, and stock pushed back."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from tests.fixtures.connections import FIXTURES, Connected, base64_hmac, connect, payload
from tests.fixtures.events import eventually
from tests.fixtures.inventory import Shop
from tests.fixtures.outside import Outside

SECRET = "channelhub-test-secret"
HEADERS = payload("woocommerce", "webhook_headers.json")["deliveries"]


async def deliver(woo: Connected, name: str) -> httpx.Response:
    body = (FIXTURES / "woocommerce" / name).read_bytes()
    return await woo.send(body, HEADERS[name])


@pytest.fixture
async def woo(hub: Hub, shop: Shop) -> Connected:
    return await connect(
        hub,
        shop.client,
        "woocommerce",
        SECRET,
        base_url="https://shop.example.com",
        sales_channel_id=shop.channel_id,
        order_number_prefix="WC-",
        credentials={"consumer_key": "ck_test", "consumer_secret": "cs_test"},
    )


async def order_of(shop: Shop) -> dict[str, Any]:
    [order] = (await shop.client.get("/v1/orders")).json()["data"]
    return dict(order)


async def test_an_order_as_woocommerce_sends_it(woo: Connected, shop: Shop) -> None:
    await shop.stock(TENT_1__WH=5, LAMP_1__WH=5)

    created = await deliver(woo, "order_created.json")
    await woo.process()
    order = await order_of(shop)

    assert created.status_code == 200
    assert order["number"] == "WC-727"
    assert order["external_ids"] == [{"system": f"woocommerce:{woo.id}", "id": "727"}]
    assert (order["status"], order["payment_status"]) == ("confirmed", "paid")
    assert order["customer"]["email"] == "bob.norman@example.com"
    assert [
        (line["sku"], line["quantity"], line["unit_price"]["amount"]) for line in order["lines"]
    ] == [
        ("TENT-1", 1, 20000),
        ("LAMP-1", 2, 2500),
    ]
    assert (order["shipping_total"]["amount"], order["tax_total"]["amount"]) == (1000, 5200)
    assert order["total"] == {"amount": 31200, "currency": "EUR"}
    assert order["shipping_address"]["city"] == "Berlin"
    assert await shop.available("TENT-1", "WH") == 4


async def test_completed_means_handed_over(woo: Connected, shop: Shop) -> None:
    await shop.stock(TENT_1__WH=5, LAMP_1__WH=5)
    await deliver(woo, "order_created.json")
    await deliver(woo, "order_updated.json")
    await woo.process()
    late = await deliver(woo, "order_created.json")
    await woo.process()

    order = await order_of(shop)
    assert order["status"] == "fulfilled"
    assert order["groups"][0]["status"] == "shipped"
    assert late.json()["duplicate"] is True


async def test_an_order_arriving_before_its_stock_is_kept_and_flagged(
    woo: Connected, shop: Shop
) -> None:
    await deliver(woo, "order_created.json")
    await woo.process()

    order = await order_of(shop)
    assert order["action_needed"] == "stock_short"
    assert order["groups"][0]["reservation_id"] is None


async def test_an_order_with_an_unknown_sku_is_parked(woo: Connected, shop: Shop) -> None:
    body = payload("woocommerce", "order_created.json")
    body["line_items"][0]["sku"] = "GHOST-1"
    raw = httpx.Request("POST", "/", json=body).content
    await woo.send(
        raw, {**HEADERS["order_created.json"], "X-WC-Webhook-Signature": base64_hmac(SECRET, raw)}
    )
    await woo.process()

    [parked] = await woo.inbox(status="parked")
    assert parked["reason"] == "no SKU 'GHOST-1' in the catalog (lines.0.sku)"


async def test_the_ping_is_acknowledged_and_ignored(woo: Connected) -> None:
    ping = (FIXTURES / "woocommerce" / "ping_body.txt").read_bytes()

    response = await woo.send(ping, {"content-type": "application/x-www-form-urlencoded"})
    await woo.process()

    assert response.status_code == 200
    [record] = await woo.inbox()
    assert (record["topic"], record["status"], record["reason"]) == (
        "ping",
        "processed",
        "webhook ping",
    )


async def test_stock_changes_are_pushed_to_the_shop(
    hub: Hub, woo: Connected, shop: Shop, outside: Outside
) -> None:
    outside.route(
        "POST",
        "/wp-json/wc/v3/products/batch",
        json=payload("woocommerce", "products_batch_response.json") | {"update": []},
    )
    await deliver(woo, "product_updated.json")
    await woo.process()
    await hub.start()

    await shop.stock(TENT_1__WH=7, TENT_1__WH_MAD=2)
    await eventually(
        lambda: bool(outside.sent("POST", "/wp-json/wc/v3/products/batch")), what="a push"
    )
    await eventually(
        lambda: any(
            body["update"] == [{"id": 93, "manage_stock": True, "stock_quantity": 9}]
            for body in outside.json_sent("POST", "/wp-json/wc/v3/products/batch")
        ),
        what="the channel's 9 units pushed",
    )
    request = outside.sent("POST", "/wp-json/wc/v3/products/batch")[-1]
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(b"ck_test:cs_test").decode()
    )

    async def pushed() -> bool:
        health = (await shop.client.get(f"/v1/connections/{woo.id}/health")).json()
        return health["last_pushed_at"] is not None and health["last_push_error"] is None

    await eventually(pushed, what="the push recorded in the connection's health")
