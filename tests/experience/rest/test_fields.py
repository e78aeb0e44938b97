"""Sparse fieldsets: a mobile client asks for the fields it shows and gets just those."""

from __future__ import annotations

from typing import Any

from tests.fixtures.orders import Orders


async def shipped_order(orders: Orders) -> dict[str, Any]:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    await orders.ship(order, carrier="ctt")
    return order


async def test_a_status_with_fields_is_the_full_status_cut_down(orders: Orders) -> None:
    order = await shipped_order(orders)
    full = await orders.status(order["id"], "en")

    compact = await orders.get(
        f"/v1/orders/{order['id']}/status",
        lang="en",
        fields="code,headline,shipments.carrier,shipments.tracking_number,pickup.name",
    )

    assert compact == {
        "code": full["code"],
        "headline": full["headline"],
        "shipments": [
            {"carrier": s["carrier"], "tracking_number": s["tracking_number"]}
            for s in full["shipments"]
        ],
        "pickup": None,
    }


async def test_fields_apply_to_each_item_of_a_page_and_keep_its_cursor(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    for _ in range(3):
        await orders.place(("TENT-1", 1))

    page = await orders.get("/v1/orders", limit=2, fields="number,status")

    assert [set(item) for item in page["data"]] == [{"number", "status"}] * 2
    assert page["next_cursor"]
    rest = await orders.get("/v1/orders", limit=2, cursor=page["next_cursor"], fields="number")
    assert [set(item) for item in rest["data"]] == [{"number"}]


async def test_an_unknown_field_is_refused_naming_the_known_ones(orders: Orders) -> None:
    order = await shipped_order(orders)

    response = await orders.client.get(
        f"/v1/orders/{order['id']}/status", params={"fields": "code,eta_date"}
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"] == [{"detail": problem["detail"], "parameter": "fields"}]
    assert "'eta_date'" in problem["detail"]
    assert "headline" in problem["detail"]


async def test_malformed_field_names_are_refused_before_any_work(orders: Orders) -> None:
    order = await shipped_order(orders)

    path = f"/v1/orders/{order['id']}/status"
    for fields in ("", "Code", "shipments..carrier", ",".join(["code"] * 101)):
        response = await orders.client.get(path, params={"fields": fields})
        assert response.status_code == 422, fields
        assert response.json()["errors"][0]["parameter"] == "fields"
    stray_commas = await orders.client.get(path, params={"fields": "code,,"})
    assert stray_commas.json() == {"code": "shipped"}


async def test_errors_and_not_modified_answers_pass_through(orders: Orders) -> None:
    order = await shipped_order(orders)
    missing = await orders.client.get("/v1/orders/ord_nope", params={"fields": "number"})
    first = await orders.client.get(f"/v1/orders/{order['id']}", params={"fields": "number"})
    again = await orders.client.get(
        f"/v1/orders/{order['id']}",
        params={"fields": "number"},
        headers={"If-None-Match": first.headers["etag"]},
    )

    assert missing.status_code == 404
    assert missing.json()["code"] == "order_not_found"
    assert first.json() == {"number": order["number"]}
    assert int(first.headers["content-length"]) == len(first.content)
    assert again.status_code == 304
