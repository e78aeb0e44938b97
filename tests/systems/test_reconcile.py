"""Reconciling a storefront's stock with the hub's figures."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from channelhub.platform.clock import utc_now
from channelhub.platform.errors import InvalidError
from channelhub.process.connections import service as connections
from channelhub.systems.reconcile import reconcile
from channelhub.systems.registry import CONNECTORS
from tests.fixtures.connections import Connected, connect
from tests.fixtures.inventory import Shop
from tests.fixtures.outside import Outside

GRAPHQL = "/admin/api/2026-07/graphql.json"


class ShopifyStock:
    """A Shopify stand-in that remembers what it was told about inventory."""

    def __init__(self, available: dict[str, int]) -> None:
        self.available = available

    def __call__(self, request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        if "inventorySetQuantities" in sent["query"]:
            for quantity in sent["variables"]["input"]["quantities"]:
                self.available[quantity["inventoryItemId"]] = quantity["quantity"]
            return httpx.Response(
                200, json={"data": {"inventorySetQuantities": {"userErrors": []}}}
            )
        item = sent["variables"]["id"]
        level = {
            "node": {
                "location": {"id": "gid://shopify/Location/655441491"},
                "quantities": [{"name": "available", "quantity": self.available.get(item, 0)}],
            }
        }
        return httpx.Response(
            200, json={"data": {"inventoryItem": {"inventoryLevels": {"edges": [level]}}}}
        )


@pytest.fixture
async def shopify(hub: Hub, shop: Shop) -> Connected:
    connected = await connect(
        hub,
        shop.client,
        "shopify",
        "secret",
        base_url="https://demo.myshopify.com",
        sales_channel_id=shop.channel_id,
        credentials={"access_token": "shpat"},
        locations=[{"external_id": "655441491", "location": "WH"}],
    )
    async with hub.db.transaction() as session:
        await connections.remember_skus(
            session,
            connected.id,
            {
                "TENT-1": {"inventory_item_id": 808950810},
                "TENT-2": {"inventory_item_id": 808950811},
            },
            utc_now(),
        )
    return connected


async def run(hub: Hub, connection_id: str, *, fix: bool) -> Any:
    return await reconcile(
        hub.db, hub.secret_box, hub.systems.api, dict(CONNECTORS), connection_id, fix=fix
    )


async def test_drift_is_shown_then_healed(
    hub: Hub, shopify: Connected, shop: Shop, outside: Outside
) -> None:
    await shop.stock(TENT_1__WH=6, TENT_2__WH=3)
    stand_in = ShopifyStock(
        {"gid://shopify/InventoryItem/808950810": 25, "gid://shopify/InventoryItem/808950811": 3}
    )
    outside.route("POST", GRAPHQL, stand_in)

    seen = await run(hub, shopify.id, fix=False)
    healed = await run(hub, shopify.id, fix=True)
    after = await run(hub, shopify.id, fix=False)

    assert seen.checked == 2
    assert [(d.sku, d.location, d.hub, d.shop) for d in seen.drifts] == [
        ("TENT-1", "655441491", 6, 25)
    ]
    assert healed.fixed == 1
    assert stand_in.available["gid://shopify/InventoryItem/808950810"] == 6
    assert after.drifts == []


async def test_only_storefronts_have_stock_to_reconcile(hub: Hub, shop: Shop) -> None:
    carrier = await connect(hub, shop.client, "aftership", "secret")

    with pytest.raises(InvalidError, match="not a storefront"):
        await run(hub, carrier.id, fix=False)
