"""``connections`` and ``inbox``: keys, listing, replaying parked deliveries, and the stock
drift of a storefront, against a small local stand-in of Shopify's API."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from cryptography.fernet import Fernet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from channelhub.hub import Hub
from channelhub.platform.clock import utc_now
from channelhub.platform.inbox import store as inbox
from channelhub.platform.inbox.store import Delivery
from channelhub.process.connections import service as connections
from tests.cli.runner import Cli, create_acme, table_rows
from tests.fixtures.hub import ENCRYPTION_KEY, http_client, make_settings
from tests.fixtures.outside import free_port

ENV = {"CHANNELHUB_ENCRYPTION_KEY": ENCRYPTION_KEY}


def test_new_key_prints_a_usable_fernet_key(cli: Cli) -> None:
    outcome = cli("connections", "new-key")

    assert outcome.code == 0
    Fernet(outcome.stdout.strip().encode())


@pytest.fixture
def shopify_stand_in() -> Iterator[tuple[str, dict[str, int]]]:
    """Shopify's GraphQL endpoint on a local port: reads and sets "available"."""
    available = {"gid://shopify/InventoryItem/808950810": 25}

    async def graphql(request: Request) -> JSONResponse:
        sent = json.loads(await request.body())
        if "inventorySetQuantities" in sent["query"]:
            for quantity in sent["variables"]["input"]["quantities"]:
                available[quantity["inventoryItemId"]] = quantity["quantity"]
            return JSONResponse({"data": {"inventorySetQuantities": {"userErrors": []}}})
        node = {
            "location": {"id": "gid://shopify/Location/655441491"},
            "quantities": [{"name": "available", "quantity": available[sent["variables"]["id"]]}],
        }
        return JSONResponse(
            {"data": {"inventoryItem": {"inventoryLevels": {"edges": [{"node": node}]}}}}
        )

    app = Starlette(routes=[Route("/admin/api/2026-07/graphql.json", graphql, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", available
    server.should_exit = True
    thread.join(timeout=5)


def set_up(cli: Cli, base_url: str) -> tuple[str, str]:
    """A tenant with a warehouse holding 6 tents, a Shopify connection mapping it, and one
    parked delivery; returns (tenant slug, connection id)."""
    tenant_id, key = create_acme(cli)

    async def main() -> str:
        hub = Hub(make_settings(cli.database_url))
        try:
            async with http_client(hub, key) as client:
                brand = (await client.post("/v1/brands", json={"name": "B", "slug": "b"})).json()
                channel = (
                    await client.post(
                        "/v1/sales-channels",
                        json={
                            "brand_id": brand["id"],
                            "name": "W",
                            "slug": "w",
                            "kind": "web",
                            "currency": "EUR",
                        },
                    )
                ).json()
                await client.post(
                    "/v1/locations",
                    json={
                        "code": "WH",
                        "name": "W",
                        "kind": "warehouse",
                        "address": {"country": "PT"},
                        "timezone": "Europe/Lisbon",
                        "ships": True,
                        "channels": [{"sales_channel_id": channel["id"]}],
                    },
                )
                await client.post(
                    "/v1/products",
                    json={
                        "title": "Tent",
                        "variants": [
                            {
                                "sku": "TENT-1",
                                "title": "T",
                                "price": {"amount": 1, "currency": "EUR"},
                            }
                        ],
                    },
                )
                await client.post(
                    "/v1/stock/updates",
                    json={"updates": [{"sku": "TENT-1", "location": "WH", "on_hand": 6}]},
                )
                connection: dict[str, Any] = (
                    await client.post(
                        "/v1/connections",
                        json={
                            "system": "shopify",
                            "name": "Shop",
                            "webhook_secret": "s",
                            "base_url": base_url,
                            "sales_channel_id": channel["id"],
                            "credentials": {"access_token": "shpat"},
                            "locations": [{"external_id": "655441491", "location": "WH"}],
                        },
                    )
                ).json()
            async with hub.db.transaction() as session:
                await connections.remember_skus(
                    session,
                    connection["id"],
                    {"TENT-1": {"inventory_item_id": 808950810}},
                    utc_now(),
                )
                arrival = inbox.Arrival(
                    tenant_id,
                    connection["id"],
                    "shopify",
                    Delivery("d-1", "orders/delete"),
                    {},
                    b"{}",
                )
                await inbox.store_many(session, [(arrival, utc_now())])
            await hub.inbox.process_due()
            return str(connection["id"])
        finally:
            await hub.stop()

    return "acme", asyncio.run(main())


def test_reconcile_shows_drift_and_fixes_it(
    cli: Cli, shopify_stand_in: tuple[str, dict[str, int]]
) -> None:
    base_url, available = shopify_stand_in
    _, connection_id = set_up(cli, base_url)

    seen = cli("connections", "reconcile", connection_id, env=ENV)
    fixed = cli("connections", "reconcile", connection_id, "--fix", env=ENV)
    after = cli("connections", "reconcile", connection_id, env=ENV)

    assert seen.code == 1
    assert table_rows(seen.stdout) == [["TENT-1", "655441491", "6", "25", "+19"]]
    assert seen.stdout.splitlines()[-1] == "1 SKUs checked, 1 drifting"
    assert fixed.code == 0
    assert fixed.stdout.splitlines()[-1] == "1 SKUs checked, 1 drifting, 1 fixed"
    assert available["gid://shopify/InventoryItem/808950810"] == 6
    assert (after.code, after.stdout.splitlines()[-1]) == (0, "1 SKUs checked, 0 drifting")


def test_parked_deliveries_are_listed_and_replayed(
    cli: Cli, shopify_stand_in: tuple[str, dict[str, int]]
) -> None:
    slug, connection_id = set_up(cli, shopify_stand_in[0])

    listed = cli("inbox", "list", "--tenant", slug, "--parked", env=ENV)
    replayed = cli("inbox", "replay", "--tenant", slug, env=ENV)
    again = cli("inbox", "replay", "--tenant", slug, env=ENV)

    [row] = table_rows(listed.stdout)
    assert row[1:4] == ["shopify", "orders/delete", "parked"]
    assert "unsupported topic 'orders/delete'" in row[4]
    assert replayed.stdout == "1 parked deliveries queued again\n"
    assert again.stdout == "0 parked deliveries queued again\n"
    listed_connections = cli("connections", "list", "--tenant", slug, env=ENV)
    assert table_rows(listed_connections.stdout)[0][:2] == [connection_id, "shopify"]


def test_rekey_moves_secrets_to_the_new_key(
    cli: Cli, shopify_stand_in: tuple[str, dict[str, int]]
) -> None:
    slug, _ = set_up(cli, shopify_stand_in[0])
    newer = Fernet.generate_key().decode()

    rekeyed = cli(
        "connections", "rekey", env={"CHANNELHUB_ENCRYPTION_KEY": f"{newer},{ENCRYPTION_KEY}"}
    )
    only_new = cli(
        "connections", "list", "--tenant", slug, env={"CHANNELHUB_ENCRYPTION_KEY": newer}
    )
    reconciled = cli(
        "connections",
        "reconcile",
        table_rows(only_new.stdout)[0][0],
        env={"CHANNELHUB_ENCRYPTION_KEY": newer},
    )

    assert rekeyed.stdout == "1 connections re-sealed with the newest key\n"
    assert reconciled.code == 1  # it could open the secrets and call the shop


def test_reconciling_an_unknown_connection_is_one_error_line(cli: Cli) -> None:
    create_acme(cli)

    outcome = cli("connections", "reconcile", "con_nope", env=ENV)

    assert outcome.code == 3
    assert outcome.stderr == "error: no connection 'con_nope'\n"
