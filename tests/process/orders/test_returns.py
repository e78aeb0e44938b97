"""Returns and refunds: only what reached the customer, never more than was paid."""

from __future__ import annotations

from typing import Any

from tests.fixtures.orders import Orders


async def delivered_order(orders: Orders, quantity: int = 2) -> dict[str, Any]:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", quantity))
    shipment = await orders.ship(order)
    await orders.scan(shipment["id"], "delivered", "2026-11-27T10:00:00Z")
    answer: dict[str, Any] = await orders.get(f"/v1/orders/{order['id']}")
    return answer


async def test_a_return_is_approved_labelled_received_and_refunded(orders: Orders) -> None:
    order = await delivered_order(orders)
    line = order["lines"][0]["id"]

    requested = await orders.post(
        f"/v1/orders/{order['id']}/returns",
        {"items": [{"line_id": line, "quantity": 1}], "reason": "too_small", "note": "tight"},
    )
    asked = await orders.status(order["id"], "en")
    await orders.post(f"/v1/returns/{requested['id']}/approve", {"note": "ok"})
    labelled = await orders.post(
        f"/v1/returns/{requested['id']}/label",
        {"carrier": "ctt", "tracking_number": "RT1", "url": "https://labels.example/rt1.pdf"},
    )
    received = await orders.post(f"/v1/returns/{requested['id']}/receive")
    after = await orders.get(f"/v1/orders/{order['id']}")
    refund = await orders.post(
        f"/v1/orders/{order['id']}/refunds",
        {"amount": 1000, "reason": "returned 1 tent", "return_id": requested["id"]},
    )
    final = await orders.get(f"/v1/orders/{order['id']}")

    assert requested["status"] == "requested"
    assert asked["code"] == "return_requested"
    assert labelled["label"]["url"] == "https://labels.example/rt1.pdf"
    assert received["status"] == "received"
    assert after["status"] == "partially_returned"
    assert after["lines"][0]["returned_quantity"] == 1
    assert refund["amount"] == {"amount": 1000, "currency": "EUR"}
    assert (final["payment_status"], final["refunded_total"]["amount"]) == (
        "partially_refunded",
        1000,
    )
    types = [e["type"] for e in (await orders.get("/v1/events", type="return.*"))["data"]]
    assert types == [
        "return.received",
        "return.label_created",
        "return.approved",
        "return.requested",
    ]


async def test_more_than_was_delivered_cannot_be_returned(orders: Orders) -> None:
    order = await delivered_order(orders, quantity=1)
    line = order["lines"][0]["id"]
    path = f"/v1/orders/{order['id']}/returns"
    body = {"items": [{"line_id": line, "quantity": 1}], "reason": "damaged"}

    too_many = await orders.client.post(
        path, json={**body, "items": [{"line_id": line, "quantity": 2}]}
    )
    first = await orders.client.post(path, json=body)
    twice = await orders.client.post(path, json=body)

    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["pointer"] == "#/items/0/quantity"
    assert first.status_code == 201
    assert twice.status_code == 409
    assert twice.json()["code"] == "nothing_returnable"


async def test_nothing_undelivered_can_be_returned(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))

    response = await orders.client.post(
        f"/v1/orders/{order['id']}/returns",
        json={"items": [{"line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "other"},
    )

    assert response.status_code == 409
    assert response.json()["code"] == "nothing_returnable"


async def test_returns_close_with_the_return_window(orders: Orders) -> None:
    await orders.client.patch("/v1/order-policy", json={"return_window_days": 0})
    order = await delivered_order(orders, quantity=1)

    response = await orders.client.post(
        f"/v1/orders/{order['id']}/returns",
        json={"items": [{"line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "other"},
    )
    status = await orders.status(order["id"], "en")

    assert response.status_code == 409
    assert "start_return" not in [a["action"] for a in status["actions"]]
    assert status["next_step"] == "Thank you for your order."


async def test_return_moves_follow_their_machine(orders: Orders) -> None:
    order = await delivered_order(orders, quantity=1)
    created = await orders.post(
        f"/v1/orders/{order['id']}/returns",
        {"items": [{"line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "other"},
    )

    early_receive = await orders.client.post(f"/v1/returns/{created['id']}/receive")
    early_label = await orders.client.post(
        f"/v1/returns/{created['id']}/label", json={"carrier": "ctt", "url": "https://x.example/l"}
    )
    rejected = await orders.client.post(f"/v1/returns/{created['id']}/reject")
    approve_rejected = await orders.client.post(f"/v1/returns/{created['id']}/approve")

    assert early_receive.status_code == early_label.status_code == 409
    assert rejected.json()["status"] == "rejected"
    assert approve_rejected.status_code == 409
    assert approve_rejected.json()["code"] == "impossible_transition"


async def test_refunds_never_exceed_what_was_paid(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    paid = await orders.place(("TENT-1", 1))
    unpaid = await orders.place(("TENT-1", 1), payment_status="pending")

    too_much = await orders.client.post(
        f"/v1/orders/{paid['id']}/refunds", json={"amount": 1001, "reason": "x"}
    )
    rest = await orders.client.post(f"/v1/orders/{paid['id']}/refunds", json={"reason": "goodwill"})
    again = await orders.client.post(f"/v1/orders/{paid['id']}/refunds", json={"reason": "again"})
    nothing = await orders.client.post(
        f"/v1/orders/{unpaid['id']}/refunds", json={"amount": 1, "reason": "x"}
    )

    assert too_much.status_code == 422
    assert too_much.json()["refundable"] == 1000
    assert rest.status_code == 201
    assert rest.json()["amount"]["amount"] == 1000
    assert again.status_code == 409
    assert nothing.status_code == 409
    assert nothing.json()["code"] == "nothing_to_refund"


async def test_what_arrived_first_can_be_returned_before_the_rest_is_delivered(
    orders: Orders,
) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=1, LAMP_1__WH=1)
    body = orders.body(("TENT-1", 1), ("LAMP-1", 1))
    body["groups"] = [{"method": "pickup", "location": "ST-PORTO"}, {"method": "ship"}]
    body["lines"][1]["group"] = 1
    order = (await orders.client.post("/v1/orders", json=body)).json()
    pickup, lamp_line = order["groups"][0]["id"], order["lines"][1]["id"]
    await orders.post(f"/v1/orders/{order['id']}/groups/{pickup}/ready-for-pickup")
    await orders.post(f"/v1/orders/{order['id']}/groups/{pickup}/picked-up")
    shipment = await orders.ship(await orders.get(f"/v1/orders/{order['id']}"))

    in_transit = await orders.client.post(
        f"/v1/orders/{order['id']}/returns",
        json={"items": [{"line_id": lamp_line, "quantity": 1}], "reason": "changed_mind"},
    )
    tent = await orders.post(
        f"/v1/orders/{order['id']}/returns",
        {"items": [{"line_id": order["lines"][0]["id"], "quantity": 1}], "reason": "damaged"},
    )
    await orders.post(f"/v1/returns/{tent['id']}/approve")
    await orders.post(f"/v1/returns/{tent['id']}/receive")
    delivered = await orders.client.post(
        f"/v1/shipments/{shipment['id']}/tracking-events",
        json={"status": "delivered", "occurred_at": "2026-12-02T10:00:00Z"},
    )

    assert in_transit.status_code == 422
    assert delivered.status_code == 200
    assert (await orders.get(f"/v1/orders/{order['id']}"))["status"] == "partially_returned"
