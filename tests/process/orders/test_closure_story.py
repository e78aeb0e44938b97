"""The seeds' story, end to end: a pickup order, the store closes, nobody is told "ready
for pickup", the customer chooses delivery home, the stock moves, shipping is free, the
parcel is delivered; and the status API tells it right at every step, in two languages."""

from __future__ import annotations

from typing import Any

import httpx

from channelhub.hub import Hub
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.orders import Orders

PORTO_ADDRESS = "Rua de Santa Catarina 10, Porto"


async def pending_notices(orders: Orders, order_id: str) -> list[str]:
    """Notices still to be sent, from the timeline (scheduled, not since withdrawn)."""
    scheduled: dict[str, str] = {}
    for item in await orders.timeline(order_id):
        if item["kind"] == "notice_scheduled":
            scheduled[item["data"]["notice_id"]] = item["data"]["notice"]
        if item["kind"] == "notice_suppressed":
            scheduled.pop(item["data"]["notice_id"], None)
    return sorted(scheduled.values())


async def told(orders: Orders, order_id: str) -> dict[str, tuple[str, str, str]]:
    """(code, headline, next step) of the status in English and in Portuguese."""
    answers = {}
    for language in ("en", "pt"):
        status = await orders.status(order_id, language)
        answers[language] = (status["code"], status["headline"], status["next_step"])
    return answers


async def look_up(shopper: httpx.AsyncClient, tenant: TenantKeys, number: str) -> str:
    """The shopper finds their order with its number and e-mail; returns their token."""
    found = await shopper.post(
        f"/v1/self-service/{tenant.slug}/orders/lookup",
        json={"number": number, "email": "ana@example.com"},
    )
    assert found.status_code == 200, found.text
    token: str = found.json()["token"]
    return token


async def test_store_closure_story(hub: Hub, tenant: TenantKeys, orders: Orders) -> None:
    shop = orders.shop
    await shop.stock(TENT_1__ST_PORTO=3, TENT_1__WH=10)

    # A shopper orders a tent online for pickup at the Porto store.
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    order_id, group = order["id"], order["groups"][0]
    assert (order["status"], group["method"], group["location_id"]) == (
        "confirmed",
        "pickup",
        shop.store_id,
    )
    assert await shop.available("TENT-1", "ST-PORTO") == 2

    ready = await orders.post(f"/v1/orders/{order_id}/groups/{group['id']}/ready-for-pickup")
    assert ready["status"] == "ready_for_pickup"
    assert "ready_for_pickup" in await pending_notices(orders, order_id)
    assert await told(orders, order_id) == {
        "en": (
            "ready_for_pickup",
            "Your order NW-1001 is ready for pickup at Porto store.",
            f"Collect it at {PORTO_ADDRESS}. Bring your order number.",
        ),
        "pt": (
            "ready_for_pickup",
            "A sua encomenda NW-1001 está pronta para levantamento em Porto store.",
            f"Levante-a em {PORTO_ADDRESS}. Traga o número da encomenda.",
        ),
    }

    # The store closes.
    closed = await orders.close_store(shop.store_id, "flooding")
    assert closed["orders"] == [order_id]
    assert closed["store"]["state"] == "temporarily_closed"

    flagged = await orders.get(f"/v1/orders/{order_id}")
    assert flagged["action_needed"] == "store_closed"
    # No "ready for pickup" message will go out any more; the options will.
    assert await pending_notices(orders, order_id) == ["order_confirmed", "store_closed"]
    kinds = [item["kind"] for item in await orders.timeline(order_id)]
    assert "notice_suppressed" in kinds

    english = await orders.status(order_id, "en")
    portuguese = await orders.status(order_id, "pt")
    assert (english["code"], portuguese["code"]) == ("action_needed", "action_needed")
    assert english["headline"] == "Your pickup store Porto store is closed."
    assert portuguese["headline"] == "A loja de levantamento Porto store está encerrada."
    assert english["pickup"]["status"]["open_now"] is False
    assert [a["action"] for a in english["actions"]] == ["choose_ship_home", "cancel"]
    assert [a["label"] for a in portuguese["actions"]] == [
        "Entregar gratuitamente em minha casa",
        "Cancelar e receber o reembolso total",
    ]

    # The shopper looks the order up and chooses delivery home, themselves.
    async with http_client(hub) as shopper:
        token = await look_up(shopper, tenant, "NW-1001")
        seen = await shopper.get(
            "/v1/self-service/order", headers={"X-Order-Token": token, "Accept-Language": "pt"}
        )
        assert seen.json() == {**portuguese, "updated_at": seen.json()["updated_at"]}
        chosen = await shopper.post(
            "/v1/self-service/order/closure-choice",
            json={"option": "ship_home"},
            headers={"X-Order-Token": token},
        )
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["code"] == "confirmed"
    choice = await orders.get(f"/v1/orders/{order_id}")
    assert choice["action_needed"] is None
    rerouted = choice["groups"][0]
    assert (rerouted["method"], rerouted["status"]) == ("ship", "open")
    assert rerouted["shipping_waived"] is True
    assert rerouted["shipping_fee"] == {"amount": 0, "currency": "EUR"}
    assert choice["status"] == "confirmed"
    # The store's units are free again; the warehouse holds one for this order.
    assert await shop.available("TENT-1", "ST-PORTO") == 3
    assert await shop.available("TENT-1", "WH") == 9

    assert await told(orders, order_id) == {
        "en": (
            "confirmed",
            "Your order NW-1001 is being prepared.",
            "We will tell you when it ships.",
        ),
        "pt": (
            "confirmed",
            "A sua encomenda NW-1001 está a ser preparada.",
            "Avisaremos quando for enviada.",
        ),
    }

    shipment = await orders.ship(choice, estimated_delivery="2026-12-03")
    assert shipment["status"] == "info_received"
    shipped = await orders.status(order_id, "en")
    assert shipped["code"] == "shipped"
    assert shipped["eta"] == "2026-12-03"
    assert shipped["next_step"] == "Expected delivery: Thursday, December 3, 2026."
    assert (await orders.status(order_id, "pt"))[
        "eta_text"
    ] == "quinta-feira, 3 de dezembro de 2026"

    await orders.scan(shipment["id"], "in_transit", "2026-12-01T10:00:00Z", carrier_code="IT")
    await orders.scan(shipment["id"], "out_for_delivery", "2026-12-03T08:00:00Z")
    out = await told(orders, order_id)
    assert out["en"][:2] == ("out_for_delivery", "Your order NW-1001 is out for delivery.")
    assert out["pt"][:2] == ("out_for_delivery", "A sua encomenda NW-1001 saiu para entrega.")
    await orders.scan(shipment["id"], "delivered", "2026-12-03T14:00:00Z", carrier_code="KB")

    delivered = await orders.get(f"/v1/orders/{order_id}")
    assert delivered["status"] == "delivered"
    assert await told(orders, order_id) == {
        "en": (
            "delivered",
            "Your order NW-1001 was delivered.",
            "You can return items within 30 days.",
        ),
        "pt": (
            "delivered",
            "A sua encomenda NW-1001 foi entregue.",
            "Pode devolver artigos no prazo de 30 dias.",
        ),
    }
    final_en = await orders.status(order_id, "en")
    assert [e["status"] for e in final_en["shipments"][0]["events"]] == [
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    # The warehouse's unit left with the parcel.
    levels: list[dict[str, Any]] = await orders.get("/v1/stock/TENT-1")
    warehouse = next(level for level in levels if level["location_code"] == "WH")
    assert (warehouse["on_hand"], warehouse["reserved"]) == (9, 0)
