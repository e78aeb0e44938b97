"""The loyalty API: programs with earning rules and tiers, points from paid orders and
offline receipts (pending through the return window), taken back on refunds, rewards
bought with points, adjustments, and points that expire."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pyarrow.parquet as pq
import pytest

from channelhub.hub import Hub
from channelhub.platform.clock import utc_now
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.process.loyalty import earning
from channelhub.process.loyalty.jobs import expire_points, review_tiers
from tests.fixtures.customers import known_customer
from tests.fixtures.events import eventually
from tests.fixtures.hub import TenantKeys
from tests.fixtures.orders import Orders

BUYER = "ana@example.com"
"""The e-mail of the orders the ``orders`` fixture places."""


async def program(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "name": f"Club {uuid.uuid4().hex[:8]}",
        "currency": "EUR",
        "earning": {
            "orders": {"rate": {"points": 1, "per_amount": 100}},
            "events": [{"name": "receipt_scanned", "rate": {"points": 1, "per_amount": 100}}],
        },
        "tiers": {
            "basis": "points",
            "levels": [
                {"key": "silver", "name": "Silver", "min_points": 50},
                {"key": "gold", "name": "Gold", "min_points": 200, "multiplier_percent": 150},
            ],
        },
    }
    response = await client.post("/v1/loyalty/programs", json={**defaults, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def offer(client: httpx.AsyncClient, effect: dict[str, Any], **body: Any) -> str:
    """A vouchers campaign for rewards to issue codes of; its id."""
    created = await client.post(
        "/v1/campaigns",
        json={
            "name": f"Offer {uuid.uuid4().hex[:8]}",
            "type": "vouchers",
            "effect": effect,
            **body,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    return campaign_id


async def add_reward(
    client: httpx.AsyncClient, program_id: str, campaign_id: str, **body: Any
) -> httpx.Response:
    defaults = {"name": "Reward", "kind": "discount_voucher", "cost_points": 10}
    return await client.post(
        f"/v1/loyalty/programs/{program_id}/rewards",
        json={**defaults, **body, "campaign_id": campaign_id},
    )


async def member_of(client: httpx.AsyncClient, program_id: str, customer_id: str) -> Any:
    found = await client.get(
        "/v1/loyalty/members", params={"program_id": program_id, "customer_id": customer_id}
    )
    assert found.status_code == 200, found.text
    items = found.json()["data"]
    return items[0] if items else None


async def receipt(
    client: httpx.AsyncClient, program_id: str, amount: int, **customer: Any
) -> httpx.Response:
    return await client.post(
        "/v1/loyalty/events",
        json={
            "id": f"R-{uuid.uuid4().hex[:10]}",
            "program_id": program_id,
            "name": "receipt_scanned",
            "customer": customer,
            "amount": amount,
            "currency": "EUR",
            "location_id": "loc_lisbon",
        },
    )


async def test_a_paid_order_earns_points_for_its_buyer_pending_through_the_return_window(
    hub: Hub, tenant: TenantKeys, client: httpx.AsyncClient, orders: Orders
) -> None:
    club = await program(client, pending_days=14)
    customer_id = await known_customer(hub, tenant, BUYER)
    await orders.shop.stock(TENT_1__WH=5)
    await hub.start()

    await orders.place(("TENT-1", 3))

    async def earned() -> bool:
        return await member_of(client, club["id"], customer_id) is not None

    await eventually(earned, what="the buyer to be enrolled and earn")
    member = await member_of(client, club["id"], customer_id)
    assert member["balance"]["pending"] == 30
    assert member["balance"]["available"] == 0
    ledger = (await client.get(f"/v1/loyalty/members/{member['id']}/ledger")).json()["data"]
    (entry,) = ledger
    assert (entry["kind"], entry["source"], entry["points"]) == ("earn", "order", 30)


async def test_an_offline_receipt_earns_once_and_a_new_shopper_becomes_a_customer(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)
    body = {
        "id": "TILL-7-0001",
        "program_id": club["id"],
        "name": "receipt_scanned",
        "customer": {"phone": "+351912345678"},
        "amount": 4599,
        "currency": "EUR",
    }

    first = await client.post("/v1/loyalty/events", json=body)
    again = await client.post("/v1/loyalty/events", json=body)

    assert first.status_code == 200, first.text
    assert [e["points"] for e in first.json()["entries"]] == [45]
    assert again.json()["entries"] == []
    assert again.json()["member"]["balance"]["available"] == 45
    customer = await client.get(f"/v1/customers/{first.json()['member']['customer_id']}")
    assert customer.json()["phone"] == "+351912345678"


async def test_an_event_the_program_does_not_know_is_refused_with_its_field(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)

    response = await client.post(
        "/v1/loyalty/events",
        json={
            "id": "X-1",
            "program_id": club["id"],
            "name": "tree_planted",
            "customer": {"email": BUYER},
        },
    )

    assert response.status_code == 422
    assert response.json()["code"] == "unknown_event"
    assert response.json()["errors"][0]["pointer"] == "#/name"


async def test_earning_enough_moves_a_member_up_and_the_higher_tier_earns_more(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)

    first = await receipt(client, club["id"], 6000, email="bo@example.com")
    member = first.json()["member"]
    assert member["tier"] == "silver"
    assert member["progress"] == {
        "points_in_period": 60,
        "next_tier": "gold",
        "points_to_next": 140,
    }
    second = await receipt(client, club["id"], 15000, email="bo@example.com")
    third = await receipt(client, club["id"], 1000, email="bo@example.com")

    assert second.json()["member"]["tier"] == "gold"
    assert [e["points"] for e in third.json()["entries"]] == [15]
    events = await client.get("/v1/events", params={"type": "loyalty.tier_upgraded"})
    (upgrade,) = [e for e in events.json()["data"] if e["subject"] == member["id"]]
    assert (upgrade["data"]["previous"], upgrade["data"]["tier"]) == ("silver", "gold")


async def test_a_reward_is_bought_with_points_and_its_code_is_for_that_customer_only(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)
    five_off = await offer(client, {"kind": "fixed_amount", "amount": 500}, currency="EUR")
    reward = await add_reward(
        client, club["id"], five_off, name="5 EUR off", kind="points_to_money", cost_points=100
    )
    assert reward.status_code == 201, reward.text
    member = (await receipt(client, club["id"], 9000, email="cy@example.com")).json()["member"]
    request = {"member_id": member["id"], "reward_id": reward.json()["id"]}

    short = await client.post("/v1/loyalty/reward-redemptions", json=request)
    await receipt(client, club["id"], 2000, email="cy@example.com")
    bought = await client.post("/v1/loyalty/reward-redemptions", json=request)

    assert short.status_code == 409
    assert short.json()["code"] == "not_enough_points"
    assert bought.status_code == 201, bought.text
    assert bought.json()["balance"]["available"] == 10
    code = bought.json()["code"]
    voucher = (await client.get(f"/v1/vouchers/{code}")).json()
    assert (voucher["customer_id"], voucher["max_redemptions"]) == (member["customer_id"], 1)
    cart = {"currency": "EUR", "lines": [{"sku": "A", "quantity": 1, "unit_price": 2000}]}
    stranger = await client.post(
        "/v1/promotions/validations",
        json={"cart": cart, "codes": [code], "customer": {"email": "eve@example.com"}},
    )
    owner = await client.post(
        "/v1/promotions/validations",
        json={"cart": cart, "codes": [code], "customer": {"id": member["customer_id"]}},
    )
    assert stranger.json()["valid"] is False
    assert owner.json()["discount"] == 500


async def test_a_reward_for_a_higher_tier_is_refused_and_nothing_is_spent(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)
    twenty_off = await offer(client, {"kind": "percentage", "percent": 20})
    reward = await add_reward(
        client,
        club["id"],
        twenty_off,
        name="Gold 20%",
        kind="discount_voucher",
        cost_points=10,
        min_tier="gold",
    )
    member = (await receipt(client, club["id"], 6000, email="di@example.com")).json()["member"]

    refused = await client.post(
        "/v1/loyalty/reward-redemptions",
        json={"member_id": member["id"], "reward_id": reward.json()["id"]},
    )

    assert refused.status_code == 409
    assert refused.json()["code"] == "tier_too_low"
    after = await client.get(f"/v1/loyalty/members/{member['id']}")
    assert after.json()["balance"]["available"] == 60


async def test_a_free_product_reward_needs_a_campaign_that_gives_one(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)
    percent = await offer(client, {"kind": "percentage", "percent": 10})

    response = await add_reward(
        client, club["id"], percent, name="Free socks", kind="free_product", cost_points=10
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/campaign_id"


async def test_refunds_take_back_points_in_proportion_and_a_full_refund_all_of_them(
    hub: Hub, tenant: TenantKeys, client: httpx.AsyncClient, orders: Orders
) -> None:
    club = await program(client)
    customer_id = await known_customer(hub, tenant, BUYER)
    await orders.shop.stock(TENT_1__WH=5)
    await hub.start()
    order = await orders.place(("TENT-1", 4))

    async def balance_is(points: int) -> bool:
        member = await member_of(client, club["id"], customer_id)
        return member is not None and member["balance"]["available"] == points

    await eventually(lambda: balance_is(40), what="40 points earned")
    await orders.post(f"/v1/orders/{order['id']}/refunds", {"amount": 1000, "reason": "one"})
    await eventually(lambda: balance_is(30), what="a quarter taken back")
    await orders.post(f"/v1/orders/{order['id']}/refunds", {"reason": "the rest"})
    await eventually(lambda: balance_is(0), what="all taken back")
    member = await member_of(client, club["id"], customer_id)
    assert member["balance"]["earned"] == 0


async def test_taking_off_more_points_than_are_available_is_refused(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)
    member = (await receipt(client, club["id"], 1000, email="ed@example.com")).json()["member"]
    path = f"/v1/loyalty/members/{member['id']}/adjustments"

    refused = await client.post(path, json={"points": -11, "reason": "oops", "reference": "A1"})
    gift = await client.post(path, json={"points": 5, "reason": "sorry", "reference": "A2"})
    again = await client.post(path, json={"points": 5, "reason": "sorry", "reference": "A2"})

    assert refused.status_code == 422
    assert refused.json()["code"] == "not_enough_points"
    assert gift.json()["balance"]["available"] == 15
    assert again.json()["balance"]["available"] == 15


async def test_unspent_points_expire_and_the_expiry_is_recorded_once(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    club = await program(client, expiry_days=30)
    member = (await receipt(client, club["id"], 5000, email="fi@example.com")).json()["member"]
    later = utc_now() + timedelta(days=31)

    assert await expire_points(hub.db, clock=lambda: later) >= 1
    await expire_points(hub.db, clock=lambda: later)

    ledger = (await client.get(f"/v1/loyalty/members/{member['id']}/ledger")).json()["data"]
    assert [(e["kind"], e["points"]) for e in ledger] == [("expire", -50), ("earn", 50)]
    events = await client.get("/v1/events", params={"type": "loyalty.points_expired"})
    assert [e["data"]["points"] for e in events.json()["data"]] == [-50]


@pytest.mark.parametrize(
    ("tiers", "pointer"),
    [
        (
            {
                "basis": "points",
                "levels": [
                    {"key": "gold", "name": "Gold", "min_points": 500},
                    {"key": "silver", "name": "Silver", "min_points": 100},
                ],
            },
            "#/tiers",
        ),
        ({"basis": "metadata", "levels": []}, "#/tiers"),
    ],
)
async def test_tiers_that_cannot_work_are_refused_at_save(
    client: httpx.AsyncClient, tiers: dict[str, Any], pointer: str
) -> None:
    response = await client.post(
        "/v1/loyalty/programs", json={"name": "Bad", "currency": "EUR", "tiers": tiers}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == pointer


async def test_the_ledger_exports_for_bi_with_each_movement_and_its_customer(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)
    first = (await receipt(client, club["id"], 3000, email="gu@example.com")).json()
    member = first["member"]
    await client.post(
        f"/v1/loyalty/members/{member['id']}/adjustments",
        json={"points": -10, "reason": "correction", "reference": "C-1"},
    )

    response = await client.get("/v1/exports/loyalty_ledger", params={"format": "parquet"})

    assert response.status_code == 200, response.text
    table = pq.read_table(io.BytesIO(response.content))
    assert table.column("points").to_pylist() == [30, -10]
    assert table.column("kind").to_pylist() == ["earn", "adjust"]
    assert set(table.column("customer_id").to_pylist()) == {member["customer_id"]}
    assert "gu@example.com" not in response.content.decode("latin-1")


async def test_tiers_by_points_follow_new_thresholds_and_the_moving_period_down(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    club = await program(client)
    member = (await receipt(client, club["id"], 25000, email="ha@example.com")).json()["member"]
    assert member["tier"] == "gold"
    levels = [
        {"key": "silver", "name": "Silver", "min_points": 50},
        {"key": "gold", "name": "Gold", "min_points": 300},
    ]
    await client.patch(
        f"/v1/loyalty/programs/{club['id']}", json={"tiers": {"basis": "points", "levels": levels}}
    )

    await review_tiers(hub.db, clock=lambda: utc_now() + timedelta(days=2))
    silver = (await client.get(f"/v1/loyalty/members/{member['id']}")).json()
    await review_tiers(hub.db, clock=lambda: utc_now() + timedelta(days=400))
    gone = (await client.get(f"/v1/loyalty/members/{member['id']}")).json()

    assert silver["tier"] == "silver"
    assert gone["tier"] is None
    changes = await client.get("/v1/events", params={"subject": member["id"]})
    assert [e["type"] for e in changes.json()["data"] if "tier" in e["type"]][:2] == [
        "loyalty.tier_left",
        "loyalty.tier_downgraded",
    ]


async def test_entering_a_segment_earns_its_points_once_per_customer(
    hub: Hub, tenant: TenantKeys, client: httpx.AsyncClient
) -> None:
    key = f"runners-{uuid.uuid4().hex[:6]}"
    club = await program(
        client, earning={"orders": {"rate": None}, "segments": [{"segment": key, "points": 100}]}
    )
    segment = await client.post(
        "/v1/segments",
        json={
            "key": key,
            "name": "Runners",
            "rules": {"field": "customer.metadata.club", "op": "eq", "value": "runners"},
        },
    )
    assert segment.status_code == 201, segment.text
    customer_id = await known_customer(hub, tenant, "jo@example.com")
    await hub.start()
    path = f"/v1/customers/{customer_id}"

    await client.patch(path, json={"metadata": {"club": "runners"}})

    async def earned() -> bool:
        member = await member_of(client, club["id"], customer_id)
        return member is not None and member["balance"]["available"] == 100

    await eventually(earned, what="points for entering the segment")
    other_id = await known_customer(hub, tenant, "jp@example.com")
    await client.patch(f"/v1/customers/{other_id}", json={"metadata": {"club": "runners"}})

    async def other_earned() -> bool:
        member = await member_of(client, club["id"], other_id)
        return member is not None and member["balance"]["available"] == 100

    await eventually(other_earned, what="a second customer's points for the same segment")
    await client.patch(path, json={"metadata": {"club": None}})
    await client.patch(path, json={"metadata": {"club": "runners"}})
    events = await client.get("/v1/events", params={"type": "customer.segment_entered"})
    entered = [e for e in events.json()["data"] if e["subject"] == customer_id]
    assert len(entered) == 2
    async with hub.db.transaction() as session:
        await earning.earn_for_segment(session, EventEnvelope.model_validate(entered[0]))
    ledger = (await client.get("/v1/exports/loyalty_ledger")).text
    assert ledger.count(customer_id) == 1


async def test_a_receipt_finds_its_customer_by_phone_however_it_is_written(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)
    first = await receipt(client, club["id"], 1000, phone="+351 912 345 001")
    second = await receipt(client, club["id"], 1000, phone="00351-912-345-001")
    wrong = await receipt(client, club["id"], 1000, phone="912 345 001")

    assert second.json()["member"]["id"] == first.json()["member"]["id"]
    assert second.json()["member"]["balance"]["available"] == 20
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["pointer"] == "#/customer/phone"


async def test_a_program_can_make_its_tier_the_customers_tier_for_promotions(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client, sets_customer_tier=True)
    silver_only = await client.post(
        "/v1/campaigns",
        json={
            "name": f"Silver {uuid.uuid4().hex[:6]}",
            "type": "automatic",
            "effect": {"kind": "percentage", "percent": 5},
            "rules": {"field": "customer.tier", "op": "eq", "value": "silver"},
        },
    )
    assert silver_only.status_code == 201, silver_only.text

    member = (await receipt(client, club["id"], 6000, email="ki@example.com")).json()["member"]

    customer = (await client.get(f"/v1/customers/{member['customer_id']}")).json()
    assert customer["tier"] == "silver"
    cart = {"currency": "EUR", "lines": [{"sku": "A", "quantity": 1, "unit_price": 10000}]}
    validated = await client.post(
        "/v1/promotions/validations",
        json={"cart": cart, "codes": [], "customer": {"id": member["customer_id"]}},
    )
    assert validated.json()["discount"] == 500
    changes = await client.get("/v1/events", params={"subject": member["customer_id"]})
    assert ["tier"] in [e["data"].get("changed") for e in changes.json()["data"]]


async def test_one_adjustment_reference_is_one_per_member_not_one_per_program(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)
    first = (await receipt(client, club["id"], 1000, email="la@example.com")).json()["member"]
    second = (await receipt(client, club["id"], 1000, email="lb@example.com")).json()["member"]
    body = {"points": 50, "reason": "ticket 1", "reference": "TICKET-1"}

    for member in (first, second):
        adjusted = await client.post(f"/v1/loyalty/members/{member['id']}/adjustments", json=body)
        assert adjusted.json()["balance"]["available"] == 60


async def test_a_reward_whose_campaign_is_used_up_is_refused_before_points_are_spent(
    client: httpx.AsyncClient,
) -> None:
    club = await program(client)
    capped = await offer(
        client, {"kind": "fixed_amount", "amount": 500}, currency="EUR", budget={"redemptions": 1}
    )
    await client.post(f"/v1/campaigns/{capped}/vouchers", json={"code": "ONLY-ONE"})
    cart = {"currency": "EUR", "lines": [{"sku": "A", "quantity": 1, "unit_price": 2000}]}
    await client.post("/v1/promotions/redemptions", json={"cart": cart, "codes": ["ONLY-ONE"]})
    reward = await add_reward(
        client, club["id"], capped, name="5 off", kind="points_to_money", cost_points=10
    )
    member = (await receipt(client, club["id"], 2000, email="mo@example.com")).json()["member"]

    refused = await client.post(
        "/v1/loyalty/reward-redemptions",
        json={"member_id": member["id"], "reward_id": reward.json()["id"]},
    )

    assert refused.status_code == 409
    assert refused.json()["code"] == "campaign_exhausted"
    after = await client.get(f"/v1/loyalty/members/{member['id']}")
    assert after.json()["balance"]["available"] == 20


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"id": "R" * 100, "name": "n" * 32}, None),
        ({"amount": 2**62}, "#/amount"),
        ({"occurred_at": "0001-01-01T00:00:00+01:00"}, "#/occurred_at"),
        ({"occurred_at": "2020-01-01T00:00:00Z"}, "#/occurred_at"),
    ],
)
async def test_odd_events_are_refused_or_recorded_never_a_server_error(
    client: httpx.AsyncClient, change: dict[str, Any], pointer: str | None
) -> None:
    name = change.get("name", "receipt_scanned")
    club = await program(
        client,
        earning={"events": [{"name": name, "rate": {"points": 10, "per_amount": 1}}]},
    )
    body = {
        "id": "E-1",
        "program_id": club["id"],
        "name": name,
        "customer": {"email": "no@example.com"},
        "amount": 100,
        "currency": "EUR",
        **change,
    }

    response = await client.post("/v1/loyalty/events", json=body)

    if pointer is None:
        assert response.status_code == 200, response.text
    else:
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["pointer"] == pointer


async def test_an_order_refunded_in_part_before_it_earns_earns_only_its_kept_share(
    hub: Hub, tenant: TenantKeys, client: httpx.AsyncClient, orders: Orders
) -> None:
    club = await program(client)
    customer_id = await known_customer(hub, tenant, BUYER)
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 4))
    await orders.post(f"/v1/orders/{order['id']}/refunds", {"amount": 1, "reason": "a cent"})
    await orders.post(f"/v1/orders/{order['id']}/refunds", {"amount": 150, "reason": "some"})

    await hub.start()

    async def settled() -> bool:
        member = await member_of(client, club["id"], customer_id)
        return member is not None and member["balance"]["available"] == 39

    # 1.51 of 40.00 refunded takes back 1 point of 40 (rounded in the customer's favour).
    await eventually(settled, what="40 points earned and 1 taken back")
    member = await member_of(client, club["id"], customer_id)
    assert (member["balance"]["earned"], member["balance"]["available"]) == (39, 39)


async def test_lowered_thresholds_reach_members_without_a_tier_at_the_next_review(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    club = await program(client)
    member = (await receipt(client, club["id"], 4000, email="nu@example.com")).json()["member"]
    assert member["tier"] is None
    levels = [{"key": "silver", "name": "Silver", "min_points": 30}]
    await client.patch(
        f"/v1/loyalty/programs/{club['id']}", json={"tiers": {"basis": "points", "levels": levels}}
    )

    await review_tiers(hub.db, limit=10_000, clock=lambda: utc_now() + timedelta(days=2))

    after = (await client.get(f"/v1/loyalty/members/{member['id']}")).json()
    assert after["tier"] == "silver"
