"""Shopify: an order, its fulfilments, carrier tracking and a refund, sent as Shopify and
the carriers send them; stock moved by the ERP pushed to a Shopify stand-in."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from tests.fixtures.connections import (
    ERP_SECRET,
    FIXTURES,
    Connected,
    base64_hmac,
    connect,
    payload,
)
from tests.fixtures.events import eventually
from tests.fixtures.inventory import Shop
from tests.fixtures.outside import Outside

SECRET = "channelhub-test-secret"
HEADERS = payload("shopify", "webhook_headers.json")["deliveries"]
GRAPHQL = "/admin/api/2026-07/graphql.json"
SHOPIFY_LOCATION = "655441491"
THROTTLED = {
    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
    "extensions": {
        "cost": {
            "requestedQueryCost": 10,
            "actualQueryCost": None,
            "throttleStatus": {
                "maximumAvailable": 1000,
                "currentlyAvailable": 9,
                "restoreRate": 100,
            },
        }
    },
}
"""A throttled GraphQL answer: 1 point short, at 100 points a second (wait 0.01 s)."""


async def deliver(shopify: Connected, name: str) -> httpx.Response:
    response = await shopify.send((FIXTURES / "shopify" / name).read_bytes(), HEADERS[name])
    assert response.status_code == 200, response.text
    return response


@pytest.fixture
async def shopify(hub: Hub, shop: Shop) -> Connected:
    return await connect(
        hub,
        shop.client,
        "shopify",
        SECRET,
        base_url="https://channelhub-demo.myshopify.com",
        sales_channel_id=shop.channel_id,
        order_number_prefix="SH-",
        credentials={"access_token": "shpat_test"},
        locations=[{"external_id": SHOPIFY_LOCATION, "location": "WH", "owns_stock": False}],
    )


async def the_order(shop: Shop) -> dict[str, Any]:
    [found] = (await shop.client.get("/v1/orders")).json()["data"]
    return dict(found)


async def test_an_order_from_placement_to_refund(hub: Hub, shopify: Connected, shop: Shop) -> None:
    await shop.stock(TENT_1__WH=5, LAMP_1__WH=5)
    easypost = await connect(hub, shop.client, "easypost", "A1B2C3")

    for name in ("products_create.json", "orders_create.json", "orders_paid.json"):
        await deliver(shopify, name)
    await shopify.process()
    paid = await the_order(shop)
    # a late "updated" (older than the payment) changes nothing
    await deliver(shopify, "orders_updated.json")
    await shopify.process()
    still_paid = await the_order(shop)

    assert paid["number"] == "SH-1001"
    assert (paid["status"], paid["payment_status"]) == ("confirmed", "paid")
    assert paid["customer"]["language"] == "pt-PT"
    assert paid["total"] == {"amount": 33470, "currency": "EUR"}
    assert (paid["shipping_total"]["amount"], paid["tax_total"]["amount"]) == (590, 0)
    assert still_paid["payment_status"] == "paid"
    assert still_paid["version"] == paid["version"]

    await deliver(shopify, "fulfillments_create.json")
    await deliver(shopify, "orders_partially_fulfilled.json")
    await deliver(shopify, "fulfillments_update.json")
    await shopify.process()
    partial = await the_order(shop)
    [tent] = (await shop.client.get(f"/v1/orders/{partial['id']}/shipments")).json()

    assert partial["status"] == "partially_fulfilled"
    assert (tent["carrier"], tent["tracking_number"], tent["status"]) == (
        "UPS",
        "1Z999AA10123456784",
        "in_transit",
    )

    # The carrier's own tracking, through EasyPost, for the same parcel, a day later.
    delivered = payload("easypost", "tracker_updated_delivered.json")
    delivered["result"]["tracking_details"][-1]["datetime"] = "2026-06-18T10:00:00Z"
    body = json.dumps(delivered).encode()
    signature = hmac.new(b"A1B2C3", body, hashlib.sha256).hexdigest()
    await easypost.send(body, {"X-Hmac-Signature": f"hmac-sha256-hex={signature}"})
    await easypost.process()
    await deliver(shopify, "orders_fulfilled.json")
    await deliver(shopify, "refunds_create.json")
    await shopify.process()
    done = await the_order(shop)
    shipments = (await shop.client.get(f"/v1/orders/{done['id']}/shipments")).json()
    refunds = (await shop.client.get("/v1/events", params={"type": "refund.issued"})).json()

    assert [(s["tracking_number"], s["status"]) for s in shipments] == [
        ("1Z999AA10123456784", "delivered"),
        ("1Z999AA10123456795", "info_received"),
    ]
    assert done["status"] == "fulfilled"
    assert (done["payment_status"], done["refunded_total"]["amount"]) == (
        "partially_refunded",
        3990,
    )
    assert refunds["data"][0]["data"]["amount"] == {"amount": 3990, "currency": "EUR"}
    processed = await shopify.inbox(status="processed")
    assert len(processed) == 9


async def test_a_cancelled_order_releases_its_stock(shopify: Connected, shop: Shop) -> None:
    await shop.stock(TENT_1__WH=5, LAMP_1__WH=5)

    await deliver(shopify, "orders_create.json")
    await deliver(shopify, "orders_cancelled.json")
    await shopify.process()

    order = await the_order(shop)
    assert order["status"] == "cancelled"
    assert await shop.available("TENT-1", "WH") == 5


async def test_products_map_skus_and_add_new_ones_to_the_catalog(
    shopify: Connected, shop: Shop
) -> None:
    product = payload("shopify", "products_create.json")
    product["variants"][1]["sku"] = "TENT-9"
    body = json.dumps(product).encode()
    headers = {
        **HEADERS["products_create.json"],
        "X-Shopify-Hmac-Sha256": base64_hmac(SECRET, body),
    }
    await shopify.send(body, headers)
    await shopify.process()
    [record] = await shopify.inbox()
    created = (await shop.client.get("/v1/products", params={"sku": "TENT-9"})).json()["data"]

    assert record["reason"].endswith("2 SKUs mapped, 1 added to the catalog")
    assert created[0]["variants"][0]["price"] == {"amount": 32900, "currency": "EUR"}


async def test_customers_are_recognised_across_updates(shopify: Connected, shop: Shop) -> None:
    await deliver(shopify, "customers_create.json")
    await deliver(shopify, "customers_update.json")
    await shopify.process()

    [customer] = (await shop.client.get("/v1/customers")).json()["data"]
    assert customer["email"] == "bob.norman@example.com"
    assert customer["external_ids"] == [{"system": f"shopify:{shopify.id}", "id": "207119551"}]


async def test_an_order_that_cannot_be_mapped_is_parked_at_once_with_its_reason(
    shopify: Connected, shop: Shop
) -> None:
    order = payload("shopify", "orders_create.json")
    del order["shipping_address"]
    body = json.dumps(order).encode()
    headers = {
        **HEADERS["orders_create.json"],
        "X-Shopify-Hmac-Sha256": base64_hmac(SECRET, body),
    }
    await shopify.send(body, headers)
    await shopify.process()

    [record] = await shopify.inbox()
    assert record["status"] == "parked"
    assert record["attempts"] == 1
    assert record["reason"] == (
        "does not map to a valid OrderCreate: shipping_address is needed to ship"
    )
    assert (await shop.client.get("/v1/orders")).json()["data"] == []


async def test_a_forged_webhook_is_refused(shopify: Connected) -> None:
    body = (FIXTURES / "shopify" / "orders_create.json").read_bytes()

    forged = await shopify.send(body + b" ", HEADERS["orders_create.json"])

    assert forged.status_code == 401
    assert await shopify.inbox() == []


async def test_an_erp_snapshot_reaches_the_shopify_stand_in(
    hub: Hub, shopify: Connected, shop: Shop, outside: Outside
) -> None:
    throttled: set[str] = set()

    def graphql(request: httpx.Request) -> httpx.Response:
        """Shopify's throttle on the first push of each connection, then success."""
        sent = json.loads(request.content)
        reference = sent["variables"]["input"]["referenceDocumentUri"]
        if reference not in throttled:
            throttled.add(reference)
            return httpx.Response(200, json=THROTTLED)
        return httpx.Response(200, json={"data": {"inventorySetQuantities": {"userErrors": []}}})

    outside.route("POST", GRAPHQL, graphql)
    erp = await connect(
        hub,
        shop.client,
        "erp",
        ERP_SECRET,
        locations=[{"external_id": "1000", "location": "WH", "owns_stock": True}],
    )
    await deliver(shopify, "products_create.json")
    await shopify.process()
    await hub.start()

    await erp.send_erp(
        {
            "as_of": "2026-06-18T07:00:00Z",
            "items": [{"sku": "TENT-1", "location": "1000", "on_hand": 24}],
        },
        delivery="snapshot-1",
    )

    def pushed() -> list[Any]:
        """This connection's pushes (the started hub also serves earlier tests' tenants)."""
        return [
            body["variables"]["input"]["quantities"]
            for body in outside.json_sent("POST", GRAPHQL)
            if "inventorySetQuantities" in body["query"]
            and body["variables"]["input"]["referenceDocumentUri"].endswith(shopify.id)
        ]

    await eventually(lambda: len(pushed()) >= 2, what="a throttled push, then its retry")
    assert pushed()[-1] == [
        {
            "inventoryItemId": "gid://shopify/InventoryItem/808950810",
            "locationId": f"gid://shopify/Location/{SHOPIFY_LOCATION}",
            "quantity": 24,
            "changeFromQuantity": None,
        }
    ]
    request = outside.sent("POST", GRAPHQL)[-1]
    assert request.headers["X-Shopify-Access-Token"] == "shpat_test"
    assert "@idempotent(key:" in json.loads(request.content)["query"]
