"""Issue 9's story, end to end on both databases: a customer earns points from an online
order and from a receipt scanned at a till, moves up to a tier defined on a metadata
field, buys a reward voucher with the points and uses it on a new order; the order is
refunded and the voucher comes back, with the points that order earned. Finally she asks
for her data, then for its erasure, and nothing in any table names her any more."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import httpx

from channelhub.hub import Hub
from tests.fixtures.customers import known_customer
from tests.fixtures.events import eventually
from tests.fixtures.hub import TenantKeys
from tests.fixtures.orders import ADDRESS, Orders
from tests.fixtures.privacy import Someone, grep_every_table


def as_buyer(ana: Someone) -> dict[str, Any]:
    """Order fields that make ``ana`` the buyer."""
    return {
        "customer": {"email": ana.email, "name": ana.name, "phone": ana.phone},
        "shipping_address": {**ADDRESS, "name": ana.name, "line1": ana.street},
    }


async def ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def test_points_from_two_channels_a_metadata_tier_and_a_reward_rolled_back_on_refund(
    hub: Hub, tenant: TenantKeys, client: httpx.AsyncClient, orders: Orders
) -> None:
    gold_offer = await ok(
        await client.post(
            "/v1/campaigns",
            json={
                "name": "Gold members: 10 EUR",
                "type": "vouchers",
                "currency": "EUR",
                "effect": {"kind": "fixed_amount", "amount": 1000},
            },
        )
    )
    club = await ok(
        await client.post(
            "/v1/loyalty/programs",
            json={
                "name": "Club",
                "currency": "EUR",
                "earning": {
                    "orders": {"rate": {"points": 1, "per_amount": 100}},
                    "events": [
                        {"name": "receipt_scanned", "rate": {"points": 1, "per_amount": 100}}
                    ],
                },
                "tiers": {
                    "basis": "metadata",
                    "metadata_key": "club_level",
                    "levels": [
                        {"key": "silver", "name": "Silver", "values": ["silver"]},
                        {"key": "gold", "name": "Gold", "values": ["gold", "black"]},
                    ],
                },
            },
        )
    )
    reward = await ok(
        await client.post(
            f"/v1/loyalty/programs/{club['id']}/rewards",
            json={
                "name": "10 EUR off",
                "kind": "points_to_money",
                "cost_points": 60,
                "campaign_id": gold_offer["id"],
                "min_tier": "gold",
            },
        )
    )
    ana = Someone.new("Ana")
    customer_id = await known_customer(hub, tenant, ana.email, ana.phone)
    await orders.shop.stock(TENT_1__WH=10)
    await hub.start()

    async def member() -> Any:
        found = await ok(
            await client.get("/v1/loyalty/members", params={"customer_id": customer_id})
        )
        return found["data"][0] if found["data"] else None

    async def available_is(points: int) -> bool:
        now = await member()
        return now is not None and now["balance"]["available"] == points

    # 1. An online order earns 30 points (3 x 10.00 EUR).
    await orders.place(("TENT-1", 3), **as_buyer(ana))
    await eventually(lambda: available_is(30), what="points from the online order")

    # 2. A receipt scanned at a till, which knows her by phone, earns 45 more (45.99 EUR).
    scanned = await ok(
        await client.post(
            "/v1/loyalty/events",
            json={
                "id": "TILL-3-20261129-0042",
                "program_id": club["id"],
                "name": "receipt_scanned",
                "customer": {"phone": ana.phone},
                "amount": 4599,
                "currency": "EUR",
                "location_id": orders.shop.store_id,
            },
        )
    )
    assert scanned["member"]["balance"]["available"] == 75

    # 3. The CRM sets the club level: the member is Gold at once.
    refused = await client.post(
        "/v1/loyalty/reward-redemptions",
        json={"member_id": scanned["member"]["id"], "reward_id": reward["id"]},
    )
    assert refused.json()["code"] == "tier_too_low"
    await ok(
        await client.patch(
            f"/v1/customers/{customer_id}", json={"metadata": {"club_level": "gold"}}
        )
    )

    async def is_gold() -> bool:
        return bool((await member())["tier"] == "gold")

    await eventually(is_gold, what="the tier from the metadata")

    # 4. The reward is bought with 60 points and its code used on a new order.
    bought = await ok(
        await client.post(
            "/v1/loyalty/reward-redemptions",
            json={"member_id": scanned["member"]["id"], "reward_id": reward["id"]},
        )
    )
    assert bought["balance"]["available"] == 15
    order = await orders.place(("TENT-1", 2), **as_buyer(ana))
    redemption = await ok(
        await client.post(
            "/v1/promotions/redemptions",
            json={
                "cart": {
                    "currency": "EUR",
                    "lines": [{"sku": "TENT-1", "quantity": 2, "unit_price": 1000}],
                },
                "codes": [bought["code"]],
                "customer": {"id": customer_id},
                "order_id": order["id"],
            },
        )
    )
    assert redemption["discount"] == 1000
    await eventually(lambda: available_is(35), what="points from the second order")

    # 5. The order is refunded in full: the code can be used again, its points go back.
    await orders.post(f"/v1/orders/{order['id']}/refunds", {"reason": "did not fit"})

    async def rolled_back() -> bool:
        found = await ok(await client.get(f"/v1/promotions/redemptions/{redemption['id']}"))
        return bool(found["status"] == "rolled_back")

    await eventually(rolled_back, what="the voucher's redemption rolled back")
    voucher = await ok(await client.get(f"/v1/vouchers/{bought['code']}"))
    assert (voucher["redemptions"], voucher["customer_id"]) == (0, customer_id)
    await eventually(lambda: available_is(15), what="the refunded order's points taken back")
    ledger = await ok(await client.get(f"/v1/loyalty/members/{bought['member_id']}/ledger"))
    assert [(e["kind"], e["points"]) for e in reversed(ledger["data"])] == [
        ("earn", 30),
        ("earn", 45),
        ("spend", -60),
        ("earn", 20),
        ("reverse", -20),
    ]

    # 6. Her data, then its erasure: no table names her any more; the points stay.
    archive = await client.post(f"/v1/customers/{customer_id}/export")
    assert archive.status_code == 200
    with zipfile.ZipFile(io.BytesIO(archive.content)) as bundle:
        mine = json.loads(bundle.read("loyalty_ledger.json"))
    assert len(mine) == 5
    assert await grep_every_table(hub, ana.needles()), "she was on record before"
    erased = await ok(await client.post(f"/v1/customers/{customer_id}/erase"))
    assert erased["already_erased"] is False
    assert await grep_every_table(hub, ana.needles()) == []
    after = await ok(await client.get(f"/v1/loyalty/members/{bought['member_id']}"))
    assert after["balance"]["available"] == 15
