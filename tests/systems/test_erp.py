"""ERP stock feeds through the durable inbox: verified, stored, applied once, by owner."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from tests.fixtures.connections import ERP_SECRET, Connected, connect
from tests.fixtures.inventory import Shop


@pytest.fixture
async def erp(hub: Hub, shop: Shop) -> Connected:
    return await connect(
        hub,
        shop.client,
        "erp",
        ERP_SECRET,
        locations=[
            {"external_id": "1000", "location": "WH", "owns_stock": True},
            {"external_id": "2000", "location": "ST-PORTO", "owns_stock": False},
        ],
    )


async def level(shop: Shop, sku: str, code: str) -> dict[str, Any]:
    levels: list[dict[str, Any]] = (await shop.client.get(f"/v1/stock/{sku}")).json()
    return next(item for item in levels if item["location_code"] == code)


async def test_a_snapshot_sets_stock_where_the_erp_owns_it(erp: Connected, shop: Shop) -> None:
    await shop.stock(TENT_1__WH=3, TENT_1__ST_PORTO=4)
    snapshot = {
        "as_of": "2026-11-28T10:00:00Z",
        "items": [
            {"sku": "TENT-1", "location": "1000", "on_hand": 17},
            {"sku": "TENT-1", "location": "2000", "on_hand": 99},
            {"sku": "NOPE-1", "location": "1000", "on_hand": 5},
        ],
    }

    received = await erp.send_erp(snapshot, delivery="snap-1")
    await erp.process()
    [record] = await erp.inbox()

    assert received.status_code == 200
    assert received.json()["duplicate"] is False
    assert (await level(shop, "TENT-1", "WH"))["on_hand"] == 17
    assert (await level(shop, "TENT-1", "ST-PORTO"))["on_hand"] == 4
    assert record["status"] == "processed"
    assert record["reason"] == (
        "stock.snapshot: 1 applied, 0 older than what is applied; "
        "1 at locations this connection does not own; 1 unknown SKUs (NOPE-1)"
    )
    history = (await shop.client.get("/v1/stock/TENT-1/history")).json()["data"]
    assert (history[0]["on_hand_before"], history[0]["on_hand_after"]) == (3, 17)
    assert history[0]["actor"] == f"erp:{erp.id}"


async def test_the_same_delivery_twice_is_applied_once(erp: Connected, shop: Shop) -> None:
    delta = {"items": [{"sku": "TENT-1", "location": "1000", "delta": 5}]}

    first = await erp.send_erp(delta, delivery="delta-1", feed="stock.delta")
    again = await erp.send_erp(delta, delivery="delta-1", feed="stock.delta")
    await erp.process()
    await erp.send_erp(delta, delivery="delta-1", feed="stock.delta")
    await erp.process()

    assert again.json() == {"id": first.json()["id"], "duplicate": True}
    assert (await level(shop, "TENT-1", "WH"))["on_hand"] == 5
    assert len(await erp.inbox()) == 1


async def test_an_older_snapshot_never_overwrites_a_newer_one(erp: Connected, shop: Shop) -> None:
    newer = {
        "as_of": "2026-11-28T12:00:00Z",
        "items": [{"sku": "TENT-1", "location": "1000", "on_hand": 8}],
    }
    older = {
        "as_of": "2026-11-28T11:00:00Z",
        "items": [{"sku": "TENT-1", "location": "1000", "on_hand": 2}],
    }

    await erp.send_erp(newer, delivery="snap-new")
    await erp.send_erp(older, delivery="snap-old")
    await erp.process()

    assert (await level(shop, "TENT-1", "WH"))["on_hand"] == 8
    reasons = [r["reason"] for r in await erp.inbox()]
    assert "stock.snapshot: 0 applied, 1 older than what is applied" in reasons


async def test_a_csv_snapshot_is_accepted(erp: Connected, shop: Shop) -> None:
    csv = "sku,location,on_hand\nTENT-1,1000,12\nTENT-2,1000,3\n"

    await erp.send_erp(csv, delivery="csv-1")
    await erp.process()

    assert (await level(shop, "TENT-1", "WH"))["on_hand"] == 12
    assert (await level(shop, "TENT-2", "WH"))["on_hand"] == 3


async def test_forged_and_missing_signatures_are_refused_and_counted(
    erp: Connected, shop: Shop
) -> None:
    body = b'{"items": []}'

    unsigned = await erp.send(body, {"content-type": "application/json"})
    forged = await erp.send(
        body,
        {
            "webhook-id": "x",
            "webhook-timestamp": "1764322800",
            "webhook-signature": "v1,bm9wZQ==",
        },
    )
    health = (await shop.client.get(f"/v1/connections/{erp.id}/health")).json()

    assert unsigned.status_code == forged.status_code == 401
    assert unsigned.headers["content-type"] == "application/problem+json"
    assert health["rejected_deliveries"] == 2
    assert await erp.inbox() == []


async def test_what_cannot_be_applied_is_parked_and_replayed_after_a_fix(
    erp: Connected, shop: Shop
) -> None:
    broken = await erp.send_erp("{not json", delivery="bad-1", content_type="application/json")
    strange = await erp.send_erp({"items": []}, delivery="odd-1", feed="stock.forecast")
    unmapped = {
        "as_of": "2026-11-28T10:00:00Z",
        "items": [{"sku": "TENT-1", "location": "WH-MAD", "on_hand": 7}],
    }
    await erp.send_erp(unmapped, delivery="unmapped-1")
    await erp.process()
    parked = {r["delivery_id"]: r for r in await erp.inbox(status="parked")}

    assert broken.status_code == strange.status_code == 200
    assert sorted(parked) == ["bad-1", "odd-1"]
    assert (
        parked["bad-1"]["reason"].startswith("the CSV")
        or "not valid JSON" in parked["bad-1"]["reason"]
    )
    assert "unsupported feed type 'stock.forecast'" in parked["odd-1"]["reason"]

    # The far warehouse is mapped and owned now; the parked delivery is replayed.
    await shop.client.patch(
        f"/v1/connections/{erp.id}",
        json={"locations": [{"external_id": "1000", "location": "WH", "owns_stock": True}]},
    )
    replay = await shop.client.post(f"/v1/inbox/{parked['odd-1']['id']}/replay")
    again = await shop.client.post(f"/v1/inbox/{parked['odd-1']['id']}/replay")
    await erp.process()

    assert replay.status_code == 200
    assert replay.json()["status"] == "pending"
    assert again.status_code == 409
    assert (await shop.client.get(f"/v1/inbox/{parked['odd-1']['id']}")).json()[
        "status"
    ] == "parked"


async def test_unknown_and_disabled_connections_are_404(
    erp: Connected, shop: Shop, client: httpx.AsyncClient
) -> None:
    unknown = await client.post("/hooks/con_nope", content=b"{}")
    await client.patch(f"/v1/connections/{erp.id}", json={"enabled": False})
    disabled = await erp.send_erp({"items": []}, delivery="late-1")

    assert unknown.status_code == disabled.status_code == 404


async def test_secrets_never_come_back(erp: Connected, shop: Shop) -> None:
    shown = (await shop.client.get(f"/v1/connections/{erp.id}")).json()

    assert shown["secrets_set"] == ["webhook_secret"]
    assert ERP_SECRET not in str(shown)
    assert shown["hook_url"] == f"/hooks/{erp.id}"
