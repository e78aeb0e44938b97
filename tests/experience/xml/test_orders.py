"""The XML order status and timeline say what the REST API says, in XML."""

from __future__ import annotations

from typing import Any

import httpx

from channelhub.hub import Hub
from tests.experience.xml.answers import NS, assert_same_as_json, problem, xml_answer
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.orders import Orders


async def shipped_order(orders: Orders) -> dict[str, Any]:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    shipment = await orders.ship(order, estimated_delivery="2026-12-04")
    await orders.scan(
        shipment["id"],
        "in_transit",
        "2026-12-01T08:00:00Z",
        carrier_text="Departed hub",
        location="Lisboa",
        estimated_delivery="2026-12-03",
    )
    await orders.scan(shipment["id"], "out_for_delivery", "2026-12-03T07:30:00Z")
    return order


async def test_the_status_is_the_rest_status_in_xml(orders: Orders) -> None:
    order = await shipped_order(orders)

    rest = await orders.status(order["id"], "en")
    answer = await orders.client.get(f"/xml/v1/orders/{order['id']}/status?lang=en")

    status = xml_answer(answer, "customer_status")
    assert_same_as_json(status, rest)
    assert status.findtext("ch:code", namespaces=NS) == "out_for_delivery"
    assert status.findtext("ch:headline", namespaces=NS) == rest["headline"]
    assert status.findtext("ch:next_step", namespaces=NS) == rest["next_step"]
    assert status.findtext("ch:eta", namespaces=NS) == "2026-12-03"
    assert status.findtext("ch:eta_text", namespaces=NS) == rest["eta_text"]
    events = status.findall("ch:shipments/ch:shipment/ch:events/ch:event", NS)
    assert [e.findtext("ch:status", namespaces=NS) for e in events] == [
        "in_transit",
        "out_for_delivery",
    ]


async def test_a_closed_pickup_store_shows_the_same_store_and_choices(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__ST_PORTO=2, TENT_1__ST_GAIA=1)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    await orders.close_store(orders.shop.store_id, reason="flooding")

    rest = await orders.status(order["id"], "en")
    answer = await orders.client.get(f"/xml/v1/orders/{order['id']}/status?lang=en")

    status = xml_answer(answer, "customer_status")
    assert_same_as_json(status, rest)
    assert status.findtext("ch:code", namespaces=NS) == "action_needed"
    assert status.findtext("ch:pickup/ch:status/ch:state", namespaces=NS) == "temporarily_closed"
    assert status.findtext("ch:pickup/ch:status/ch:closed_reason", namespaces=NS) == "flooding"
    offered = status.findall("ch:actions/ch:action/ch:stores/ch:store/ch:code", NS)
    assert [store.text for store in offered] == ["ST-GAIA"]
    assert status.find("ch:eta", NS) is None


async def test_the_language_is_lang_then_accept_language_then_the_orders(
    orders: Orders,
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    path = f"/xml/v1/orders/{order['id']}/status"

    by_lang = xml_answer(await orders.client.get(f"{path}?lang=it"), "customer_status")
    by_header = xml_answer(
        await orders.client.get(path, headers={"Accept-Language": "fr;q=0.9, es;q=0.8"}),
        "customer_status",
    )
    default = xml_answer(await orders.client.get(path), "customer_status")

    assert [s.findtext("ch:language", namespaces=NS) for s in (by_lang, by_header, default)] == [
        "it",
        "es",
        "pt",
    ]
    rest_es = await orders.client.get(
        f"/v1/orders/{order['id']}/status", headers={"Accept-Language": "es"}
    )
    assert by_header.findtext("ch:headline", namespaces=NS) == rest_es.json()["headline"]


async def test_text_xml_cannot_carry_is_replaced_not_sent_broken(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    shipment = await orders.ship(order)
    await orders.scan(shipment["id"], "in_transit", "2026-12-01T08:00:00Z", carrier_text="Hub\x07")

    answer = await orders.client.get(f"/xml/v1/orders/{order['id']}/status")

    status = xml_answer(answer, "customer_status")
    event = status.find("ch:shipments/ch:shipment/ch:events/ch:event", NS)
    assert event is not None
    assert event.findtext("ch:carrier_text", namespaces=NS) == "Hub\ufffd"


async def test_an_unchanged_status_is_not_sent_again(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    path = f"/xml/v1/orders/{order['id']}/status"
    first = await orders.client.get(path)

    again = await orders.client.get(path, headers={"If-None-Match": first.headers["ETag"]})
    await orders.ship(order)
    changed = await orders.client.get(path, headers={"If-None-Match": first.headers["ETag"]})

    assert (again.status_code, again.content) == (304, b"")
    assert again.headers["ETag"] == first.headers["ETag"]
    assert xml_answer(changed, "customer_status").findtext("ch:code", namespaces=NS) == "shipped"


async def test_the_timeline_is_the_rest_timeline_page_by_page(orders: Orders) -> None:
    order = await shipped_order(orders)
    rest = await orders.get(f"/v1/orders/{order['id']}/timeline", limit=2)
    rest_all = await orders.timeline(order["id"])

    first = await orders.client.get(f"/xml/v1/orders/{order['id']}/timeline?limit=2")
    page = xml_answer(first, "timeline")
    cursor = page.findtext("ch:next_cursor", namespaces=NS)
    whole = xml_answer(
        await orders.client.get(f"/xml/v1/orders/{order['id']}/timeline?limit=200"), "timeline"
    )

    assert cursor == rest["next_cursor"]
    page_entries = page.findall("ch:entry", NS)
    assert len(page_entries) == 2
    for entry, item in zip(page_entries, rest["data"], strict=True):
        assert_same_as_json(entry, item, item["kind"])
    assert whole.find("ch:next_cursor", NS) is None
    entries = whole.findall("ch:entry", NS)
    assert len(entries) == len(rest_all)
    for entry, item in zip(entries, rest_all, strict=True):
        assert_same_as_json(entry, item, item["kind"])


async def test_an_unknown_order_is_a_404_problem(orders: Orders) -> None:
    answer = await orders.client.get("/xml/v1/orders/ord_00000000000000000000000000/status")

    found = problem(answer, 404)
    assert found["type"] == "/problems/not-found"
    assert found["code"] == "order_not_found"
    assert found["status"] == "404"
    assert found["instance"] == "/xml/v1/orders/ord_00000000000000000000000000/status"
    assert found["request_id"] == answer.headers["X-Request-ID"]


async def test_a_key_is_needed_and_it_needs_the_scope(
    hub: Hub, tenant: TenantKeys, orders: Orders
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    path = f"/xml/v1/orders/{order['id']}/status"
    stores_only = await tenant.make_key("stores:read")

    async with http_client(hub) as anonymous:
        missing = await anonymous.get(path)
        wrong = await anonymous.get(path, headers={"Authorization": "Bearer chk_not_a_key"})
    async with http_client(hub, stores_only) as limited:
        refused = await limited.get(path)

    assert problem(missing, 401)["code"] == "unauthenticated"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert problem(wrong, 401)["type"] == "/problems/unauthenticated"
    denied = problem(refused, 403)
    assert (denied["code"], denied["required_scope"]) == ("forbidden", "orders:read")


async def test_a_path_the_xml_api_does_not_have_is_a_404_problem(
    orders: Orders, client: httpx.AsyncClient
) -> None:
    answer = await client.get("/xml/v1/nothing-here")

    assert problem(answer, 404)["instance"] == "/xml/v1/nothing-here"
