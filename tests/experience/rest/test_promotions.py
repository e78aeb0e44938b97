"""The promotions API: campaigns with rules checked when saved, codes one by one, generated
or imported, validation with machine-readable reasons, all-or-nothing redemption, rollback
(by request, and by itself when the order is cancelled)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from tests.fixtures.customers import known_customer
from tests.fixtures.events import eventually
from tests.fixtures.hub import TenantKeys
from tests.fixtures.inventory import Shop
from tests.fixtures.orders import Orders

CART = {
    "currency": "EUR",
    "lines": [
        {"sku": "TENT-1", "quantity": 1, "unit_price": 20000, "categories": ["camping"]},
        {"sku": "SOCK-1", "quantity": 2, "unit_price": 500, "categories": ["apparel"]},
    ],
    "shipping": 499,
}


async def campaign(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "name": f"Campaign {uuid.uuid4().hex[:8]}",
        "type": "vouchers",
        "effect": {"kind": "percentage", "percent": 10},
    }
    response = await client.post("/v1/campaigns", json={**defaults, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def code(client: httpx.AsyncClient, campaign_id: str, value: str, **body: Any) -> None:
    response = await client.post(
        f"/v1/campaigns/{campaign_id}/vouchers", json={"code": value, **body}
    )
    assert response.status_code == 201, response.text


async def validate(client: httpx.AsyncClient, *codes: str, **body: Any) -> dict[str, Any]:
    response = await client.post(
        "/v1/promotions/validations", json={"cart": CART, "codes": list(codes), **body}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def redeem(client: httpx.AsyncClient, *codes: str, **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/promotions/redemptions", json={"cart": CART, "codes": list(codes), **body}
    )


@pytest.mark.parametrize(
    ("rules", "pointer"),
    [
        pytest.param(
            {"all": [{"field": "cart.total", "op": "gte", "value": 5000}]},
            "#/rules/all/0",
            id="unknown-field",
        ),
        pytest.param(
            {"any": [{"field": "cart.subtotal", "op": "gte", "value": "5000"}]},
            "#/rules/any/0",
            id="wrong-type",
        ),
        pytest.param(
            {"not": {"field": "cart.skus", "op": "contains"}},
            "#/rules/not/value",
            id="missing-value",
        ),
    ],
)
async def test_a_rule_that_cannot_work_is_refused_at_save_with_its_path(
    client: httpx.AsyncClient, rules: dict[str, Any], pointer: str
) -> None:
    response = await client.post(
        "/v1/campaigns",
        json={
            "name": "Bad",
            "type": "automatic",
            "effect": {"kind": "free_shipping"},
            "rules": rules,
        },
    )

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == pointer
    assert (await client.get("/v1/campaigns")).json()["data"] == []


async def test_an_effect_fault_points_at_the_effects_own_field(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/campaigns",
        json={"name": "Bad", "type": "vouchers", "effect": {"kind": "percentage", "percent": 120}},
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/effect/percent"


async def test_an_amount_without_a_currency_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/campaigns",
        json={
            "name": "Ten off",
            "type": "vouchers",
            "effect": {"kind": "fixed_amount", "amount": 1000},
        },
    )

    assert response.status_code == 422
    assert "currency is required" in response.text


async def test_a_code_is_validated_then_redeemed_for_the_same_amount(
    client: httpx.AsyncClient,
) -> None:
    spring = await campaign(client, effect={"kind": "percentage", "percent": "12.5"})
    await code(client, spring["id"], "spring-26")

    checked = await validate(client, " Spring-26 ")
    redeemed = await redeem(client, "SPRING-26", customer={"email": "ana@example.com"})

    assert checked["valid"] is True
    assert (checked["subtotal"], checked["discount"], checked["total"]) == (21000, 2625, 18874)
    assert checked["applied"][0]["line_discounts"] == [2500, 125]
    assert redeemed.status_code == 201, redeemed.text
    assert redeemed.json()["discount"] == 2625
    voucher = (await client.get("/v1/vouchers/spring-26")).json()
    assert voucher["redemptions"] == 1
    assert (await client.get(f"/v1/campaigns/{spring['id']}")).json()["spent"] == 2625


async def test_a_used_up_code_is_refused_with_its_reason_and_nothing_is_redeemed(
    client: httpx.AsyncClient,
) -> None:
    once = await campaign(client)
    other = await campaign(client, effect={"kind": "free_shipping"})
    await code(client, once["id"], "ONCE-ONLY")
    await code(client, other["id"], "SHIP-FREE")
    assert (await redeem(client, "ONCE-ONLY")).status_code == 201

    second = await redeem(client, "SHIP-FREE", "ONCE-ONLY")

    assert second.status_code == 409
    problem = second.json()
    assert problem["code"] == "code_exhausted"
    assert [r["code"] for r in problem["refused"]] == ["ONCE-ONLY"]
    # All or nothing: the good code was not spent either.
    assert (await client.get("/v1/vouchers/SHIP-FREE")).json()["redemptions"] == 0


async def test_why_a_code_does_not_apply(client: httpx.AsyncClient, shop: Shop) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    ended = await campaign(
        client, ends_at=past.isoformat(), starts_at=(past - timedelta(1)).isoformat()
    )
    app_only = await campaign(client, channel_ids=[shop.channel_id])
    big_carts = await campaign(
        client, rules={"field": "cart.subtotal", "op": "gte", "value": 50000}
    )
    dollars = await campaign(client, currency="USD", effect={"kind": "fixed_amount", "amount": 500})
    await code(client, ended["id"], "OLD-CODE")
    await code(client, app_only["id"], "WEB-ONLY")
    await code(client, big_carts["id"], "BIG-CART")
    await code(client, dollars["id"], "FIVE-USD")

    answer = await validate(client, "OLD-CODE", "WEB-ONLY", "BIG-CART", "FIVE-USD", "NO-SUCH")

    assert answer["valid"] is False
    assert {r["code"]: r["reason"] for r in answer["refused"]} == {
        "OLD-CODE": "campaign_ended",
        "WEB-ONLY": "channel_required",
        "BIG-CART": "rules_not_met",
        "FIVE-USD": "currency_mismatch",
        "NO-SUCH": "voucher_not_found",
    }
    assert answer["discount"] == 0
    in_web = await validate(client, "WEB-ONLY", channel_id=shop.channel_id)
    assert in_web["valid"] is True


async def test_exclusive_offers_do_not_stack_and_priority_orders_the_rest(
    client: httpx.AsyncClient,
) -> None:
    first = await campaign(client, priority=10, effect={"kind": "percentage", "percent": 10})
    then = await campaign(client, currency="EUR", effect={"kind": "fixed_amount", "amount": 1000})
    alone = await campaign(
        client, stacking="exclusive", effect={"kind": "percentage", "percent": 50}
    )
    await code(client, first["id"], "FIRST-10")
    await code(client, then["id"], "THEN-TEN")
    await code(client, alone["id"], "HALF-OFF")

    stacked = await validate(client, "THEN-TEN", "FIRST-10")
    clash = await validate(client, "FIRST-10", "HALF-OFF")

    assert [a["code"] for a in stacked["applied"]] == ["FIRST-10", "THEN-TEN"]
    # 10 % of 210.00 = 21.00, then 10.00 off the 189.00 left.
    assert stacked["discount"] == 2100 + 1000
    assert clash["valid"] is False
    assert clash["refused"][0] == {
        "campaign_id": alone["id"],
        "code": "HALF-OFF",
        "reason": "not_combinable",
        "detail": "an exclusive offer cannot be combined",
    }


async def test_too_many_codes_for_one_order(client: httpx.AsyncClient) -> None:
    settings = await client.put("/v1/promotion-settings", json={"max_codes_per_order": 2})
    response = await client.post(
        "/v1/promotions/validations", json={"cart": CART, "codes": ["A-1X", "B-2X", "C-3X"]}
    )

    assert settings.status_code == 200
    assert response.status_code == 422
    assert response.json()["code"] == "too_many_codes"


async def test_automatic_offers_apply_by_themselves_and_qualification_lists_them(
    client: httpx.AsyncClient,
) -> None:
    await campaign(
        client,
        type="automatic",
        effect={"kind": "free_shipping"},
        rules={"field": "cart.subtotal", "op": "gte", "value": 5000},
    )
    unpublished = await campaign(client, effect={"kind": "percentage", "percent": 20})
    await code(client, unpublished["id"], "NOBODYS-CODE")

    answer = await validate(client)
    offers = (await client.post("/v1/promotions/qualifications", json={"cart": CART})).json()

    assert answer["discount"] == 499
    assert answer["applied"][0]["shipping_discount"] == 499
    assert [o["kind"] for o in offers["offers"]] == ["free_shipping"]
    assert offers["best"]["total"] == 21000


async def test_generated_codes_are_unique_and_a_small_pattern_is_refused(
    client: httpx.AsyncClient,
) -> None:
    batch = await campaign(client)

    made = await client.post(
        f"/v1/campaigns/{batch['id']}/voucher-batches",
        json={"count": 500, "code": {"pattern": "XMAS-####-####"}},
    )
    tiny = await client.post(
        f"/v1/campaigns/{batch['id']}/voucher-batches",
        json={"count": 10, "code": {"pattern": "AB-####", "charset": "01"}},
    )
    listed = await client.get("/v1/vouchers", params={"campaign_id": batch["id"], "limit": 200})

    assert made.status_code == 201, made.text
    assert made.json() == {"campaign_id": batch["id"], "created": 500, "skipped": 0}
    assert tiny.status_code == 422
    assert tiny.json()["code"] == "pattern_too_small"
    codes = [v["code"] for v in listed.json()["data"]]
    assert len(codes) == len(set(codes)) == 200
    assert all(c.startswith("XMAS-") and len(c) == 14 for c in codes)


async def test_codes_are_imported_from_csv_and_a_bad_line_refuses_the_file(
    client: httpx.AsyncClient,
) -> None:
    imported = await campaign(client)
    await code(client, imported["id"], "TAKEN-1")
    good = "code,max_redemptions,expires_at\nvip-001,3,2030-01-01T00:00:00Z\nTAKEN-1,,\nvip-002,,\n"
    bad = "code,max_redemptions\nvip-003,1\nvip 004,2\n"
    headers = {"content-type": "text/csv"}
    url = f"/v1/campaigns/{imported['id']}/voucher-imports"

    first = await client.post(url, content=good.encode(), headers=headers)
    refused = await client.post(url, content=bad.encode(), headers=headers)

    assert first.status_code == 201, first.text
    assert first.json()["created"] == 2
    assert first.json()["skipped"] == 1
    assert (await client.get("/v1/vouchers/VIP-001")).json()["max_redemptions"] == 3
    assert refused.status_code == 422
    assert "line 3" in refused.json()["detail"]
    assert (await client.get("/v1/vouchers/VIP-003")).status_code == 404


async def test_a_published_code_is_only_for_its_customer(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    customer = {"id": await known_customer(hub, tenant, "ana@example.com")}
    gift = await campaign(client, effect={"kind": "percentage", "percent": 15})
    await code(client, gift["id"], "FOR-ANA")

    published = await client.post(
        "/v1/vouchers/FOR-ANA/publication", json={"customer_id": customer["id"]}
    )
    stranger = await validate(client, "FOR-ANA", customer={"email": "bob@example.com"})
    owner = await validate(client, "FOR-ANA", customer=customer)
    by_email = await validate(client, "FOR-ANA", customer={"email": "Ana@Example.com"})
    offers = (
        await client.post(
            "/v1/promotions/qualifications", json={"cart": CART, "customer": customer}
        )
    ).json()

    assert published.status_code == 200
    assert stranger["refused"][0]["reason"] == "not_your_voucher"
    assert owner["valid"] is True
    assert by_email["valid"] is True
    assert [o["code"] for o in offers["offers"]] == ["FOR-ANA"]


async def test_per_customer_limits_count_by_customer(client: httpx.AsyncClient) -> None:
    welcome = await campaign(client, per_customer=1, voucher_redemptions=None)
    await code(client, welcome["id"], "WELCOME")

    anonymous = await redeem(client, "WELCOME")
    ana = await redeem(client, "WELCOME", customer={"email": "ana@example.com"})
    ana_again = await redeem(client, "WELCOME", customer={"email": "ANA@example.com"})
    bob = await redeem(client, "WELCOME", customer={"email": "bob@example.com"})

    assert anonymous.json()["code"] == "customer_required"
    assert ana.status_code == 201
    assert ana_again.json()["code"] == "customer_limit_reached"
    assert bob.status_code == 201


async def test_a_rollback_gives_every_use_back_once(client: httpx.AsyncClient) -> None:
    capped = await campaign(client, budget={"redemptions": 1}, per_customer=1)
    await code(client, capped["id"], "ONE-SHOT")
    redeemed = (await redeem(client, "ONE-SHOT", customer={"email": "ana@example.com"})).json()

    undone = await client.post(
        f"/v1/promotions/redemptions/{redeemed['id']}/rollback", json={"reason": "test order"}
    )
    twice = await client.post(f"/v1/promotions/redemptions/{redeemed['id']}/rollback", json={})
    again = await redeem(client, "ONE-SHOT", customer={"email": "ana@example.com"})

    assert undone.status_code == 200, undone.text
    assert undone.json()["status"] == "rolled_back"
    assert undone.json()["rollback_reason"] == "test order"
    assert twice.status_code == 409
    assert twice.json()["code"] == "already_rolled_back"
    assert again.status_code == 201, again.text


async def test_cancelling_the_order_rolls_its_redemption_back(
    hub: Hub, client: httpx.AsyncClient, orders: Orders
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    once = await campaign(client)
    capped = await campaign(client, budget={"redemptions": 5}, voucher_redemptions=None)
    await code(client, once["id"], "CANCEL-ME")
    await code(client, capped["id"], "CAPPED-TOO")
    redeemed = (await redeem(client, "CANCEL-ME", order_id=order["id"])).json()
    second = (await redeem(client, "CAPPED-TOO", order_id=order["id"])).json()
    await hub.start()

    await orders.post(f"/v1/orders/{order['id']}/cancel", {"reason": "changed my mind"})

    async def rolled_back() -> bool:
        found = await client.get(f"/v1/promotions/redemptions/{redeemed['id']}")
        return bool(found.json()["status"] == "rolled_back")

    await eventually(rolled_back, what="the redemption rolled back")
    assert (await client.get("/v1/vouchers/CANCEL-ME")).json()["redemptions"] == 0
    after = await client.get(f"/v1/promotions/redemptions/{second['id']}")
    assert after.json()["status"] == "rolled_back"
    assert (await client.get(f"/v1/campaigns/{capped['id']}")).json()["redemptions"] == 0
    assert (await redeem(client, "CANCEL-ME")).status_code == 201


async def test_concurrent_redeems_of_a_single_use_code_succeed_once(
    client: httpx.AsyncClient,
) -> None:
    single = await campaign(client)
    await code(client, single["id"], "RACE-ONE")

    answers = await asyncio.gather(*(redeem(client, "RACE-ONE") for _ in range(40)))

    statuses = sorted(answer.status_code for answer in answers)
    assert statuses.count(201) == 1
    assert set(statuses) == {201, 409}
    assert (await client.get("/v1/vouchers/RACE-ONE")).json()["redemptions"] == 1


async def test_a_budget_is_never_exceeded_by_concurrent_redeems(client: httpx.AsyncClient) -> None:
    budget = await campaign(
        client,
        currency="EUR",
        effect={"kind": "fixed_amount", "amount": 1000},
        budget={"amount": 4500},
        voucher_redemptions=None,
    )
    await code(client, budget["id"], "BUDGET-45")

    answers = await asyncio.gather(*(redeem(client, "BUDGET-45") for _ in range(30)))

    assert sum(answer.status_code == 201 for answer in answers) == 4
    after = (await client.get(f"/v1/campaigns/{budget['id']}")).json()
    assert after["spent"] == 4000
    assert after["spent"] <= 4500
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"budget_exhausted"}


async def test_a_disabled_or_expired_code_is_refused(client: httpx.AsyncClient) -> None:
    spring = await campaign(client)
    await code(client, spring["id"], "OFF-SOON")
    await code(client, spring["id"], "OLD-ONE", expires_at="2020-01-01T00:00:00Z")

    disabled = await client.patch("/v1/vouchers/off-soon", json={"active": False})
    answer = await validate(client, "OFF-SOON", "OLD-ONE")

    assert disabled.status_code == 200
    assert disabled.json()["active"] is False
    assert [r["reason"] for r in answer["refused"]] == ["voucher_disabled", "voucher_expired"]


async def test_a_budget_added_later_counts_what_was_given_before(
    client: httpx.AsyncClient,
) -> None:
    later = await campaign(client, voucher_redemptions=None)
    await code(client, later["id"], "LATER-CAP")
    first = (await redeem(client, "LATER-CAP")).json()
    await redeem(client, "LATER-CAP")
    await client.post(f"/v1/promotions/redemptions/{first['id']}/rollback", json={})

    capped = await client.patch(f"/v1/campaigns/{later['id']}", json={"budget": {"redemptions": 2}})
    allowed = await redeem(client, "LATER-CAP")
    refused = await redeem(client, "LATER-CAP")

    assert capped.json()["redemptions"] == 1
    assert capped.json()["spent"] == 2100
    assert allowed.status_code == 201
    assert refused.json()["code"] == "budget_exhausted"
    assert (await client.get(f"/v1/campaigns/{later['id']}")).json()["state"] == "exhausted"


async def test_a_limit_per_customer_set_later_counts_earlier_uses(
    client: httpx.AsyncClient,
) -> None:
    later = await campaign(client, voucher_redemptions=None)
    await code(client, later["id"], "LIMIT-LATER")
    ana = {"email": "ana@example.com"}
    before = (await redeem(client, "LIMIT-LATER", customer=ana)).json()

    await client.patch(f"/v1/campaigns/{later['id']}", json={"per_customer": 1})
    refused = await redeem(client, "LIMIT-LATER", customer=ana)
    await client.post(f"/v1/promotions/redemptions/{before['id']}/rollback", json={})
    allowed = await redeem(client, "LIMIT-LATER", customer=ana)
    again = await redeem(client, "LIMIT-LATER", customer=ana)

    assert refused.json()["code"] == "customer_limit_reached"
    assert allowed.status_code == 201
    assert again.json()["code"] == "customer_limit_reached"


async def test_two_codes_of_one_campaign_never_stack(client: httpx.AsyncClient) -> None:
    twice = await campaign(client, per_customer=1)
    await code(client, twice["id"], "TWIN-ONE")
    await code(client, twice["id"], "TWIN-TWO")

    answer = await validate(client, "TWIN-ONE", "TWIN-TWO", customer={"email": "a@b.example"})
    redeemed = await redeem(client, "TWIN-ONE", "TWIN-TWO", customer={"email": "a@b.example"})

    assert answer["valid"] is False
    assert [a["code"] for a in answer["applied"]] == ["TWIN-ONE"]
    assert answer["refused"][0]["reason"] == "campaign_already_applied"
    assert redeemed.json()["code"] == "campaign_already_applied"


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
async def test_a_rule_value_that_is_not_a_number_is_refused(
    client: httpx.AsyncClient, value: str
) -> None:
    body = (
        '{"name": "Odd", "type": "automatic", "effect": {"kind": "free_shipping"}, '
        f'"rules": {{"field": "cart.subtotal", "op": "lt", "value": {value}}}}}'
    )

    response = await client.post(
        "/v1/campaigns", content=body, headers={"content-type": "application/json"}
    )

    assert response.status_code == 422, response.text
    assert (await client.get("/v1/campaigns")).json()["data"] == []


async def test_an_offer_for_a_segment_applies_to_its_members_only(
    hub: Hub, tenant: TenantKeys, client: httpx.AsyncClient
) -> None:
    key = f"vip-{uuid.uuid4().hex[:6]}"
    await client.post(
        "/v1/segments",
        json={
            "key": key,
            "name": "VIP",
            "rules": {"field": "customer.metadata.vip", "op": "eq", "value": True},
        },
    )
    await campaign(
        client,
        type="automatic",
        rules={"field": "customer.segments", "op": "contains", "value": key},
    )
    member = await known_customer(hub, tenant, f"{key}@example.com")
    stranger = await known_customer(hub, tenant, f"not-{key}@example.com")
    await client.patch(f"/v1/customers/{member}", json={"metadata": {"vip": True}})

    for_member = await validate(client, customer={"id": member})
    for_stranger = await validate(client, customer={"id": stranger})

    assert for_member["discount"] > 0
    assert for_stranger["discount"] == 0
