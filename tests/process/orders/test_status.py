"""The order-status API: one answer per order, in the customer's language."""

from __future__ import annotations

import pytest

from tests.fixtures.orders import Orders

HEADLINES = {
    "en": "Your order NW-1001 is on its way.",
    "pt": "A sua encomenda NW-1001 está a caminho.",
    "es": "Tu pedido NW-1001 está en camino.",
    "it": "Il tuo ordine NW-1001 è in viaggio.",
    "cs": "Vaše objednávka NW-1001 je na cestě.",
}


@pytest.mark.parametrize("language", sorted(HEADLINES))
async def test_the_status_speaks_each_language(orders: Orders, language: str) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    await orders.ship(order, carrier="ctt")

    status = await orders.status(order["id"], language)

    assert status["code"] == "shipped"
    assert status["language"] == language
    assert status["headline"] == HEADLINES[language]
    assert status["shipments"][0]["status_text"]


async def test_the_order_language_is_the_default_and_unknown_ones_fall_back(
    orders: Orders,
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    portuguese = await orders.place(("TENT-1", 1))
    german = await orders.place(
        ("TENT-1", 1), customer={"email": "kim@example.com", "language": "de-AT"}
    )

    assert (await orders.status(portuguese["id"]))["language"] == "pt"
    assert (await orders.status(german["id"]))["language"] == "en"
    by_header = await orders.client.get(
        f"/v1/orders/{german['id']}/status", headers={"Accept-Language": "fr;q=0.9, it;q=0.8"}
    )
    assert by_header.json()["language"] == "it"


async def test_the_status_follows_the_order(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1), confirmed=False)
    codes = [(await orders.status(order["id"], "en"))["code"]]
    await orders.post(f"/v1/orders/{order['id']}/confirm")
    codes.append((await orders.status(order["id"], "en"))["code"])
    shipment = await orders.ship(order)
    for scan, at in [
        ("in_transit", "2026-12-01T08:00:00Z"),
        ("exception", "2026-12-01T12:00:00Z"),
        ("available_for_pickup", "2026-12-02T09:00:00Z"),
        ("delivered", "2026-12-03T09:00:00Z"),
    ]:
        await orders.scan(shipment["id"], scan, at)
        codes.append((await orders.status(order["id"], "en"))["code"])

    assert codes == [
        "placed",
        "confirmed",
        "shipped",
        "delivery_problem",
        "at_pickup_point",
        "delivered",
    ]
    final = await orders.status(order["id"], "en")
    assert [a["action"] for a in final["actions"]] == ["start_return"]
    assert final["next_step"] == "You can return items within 30 days."


async def test_a_cancelled_unpaid_order_says_nothing_was_charged(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1), payment_status="authorized")

    await orders.post(f"/v1/orders/{order['id']}/cancel", {"reason": "fraud check"})
    status = await orders.status(order["id"], "en")

    assert status["code"] == "cancelled"
    assert status["payment_status"] == "voided"
    assert status["next_step"] == "Nothing was charged."
