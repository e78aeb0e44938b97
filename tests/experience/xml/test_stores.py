"""Stores (open now? hours) and availability in XML say what the REST API says."""

from __future__ import annotations

from typing import Any

import pytest

from tests.experience.xml.answers import NS, assert_same_as_json, problem, xml_answer
from tests.fixtures.inventory import PORTO
from tests.fixtures.orders import Orders

EVERY_DAY = [{"opens": "00:00", "closes": "24:00"}]
HOURS = {
    "weekly": dict.fromkeys(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), EVERY_DAY
    ),
    "exceptions": [
        {"date": "2031-12-25", "closed": True, "note": "Christmas Day"},
        {"date": "2031-12-24", "hours": [{"opens": "09:00", "closes": "13:00"}]},
    ],
}


async def open_all_day(orders: Orders, location_id: str) -> dict[str, Any]:
    response = await orders.client.put(f"/v1/locations/{location_id}/hours", json=HOURS)
    assert response.status_code == 200, response.text
    location: dict[str, Any] = response.json()
    return location


async def test_a_store_status_is_the_rest_status(orders: Orders) -> None:
    store = orders.shop.store_id
    await open_all_day(orders, store)
    rest = await orders.get(f"/v1/locations/{store}/status")

    answer = await orders.client.get(f"/xml/v1/stores/{store}/status")

    status = xml_answer(answer, "store_status")
    assert_same_as_json(status, rest)
    assert status.findtext("ch:open_now", namespaces=NS) == "true"
    assert [
        r.findtext("ch:opens", namespaces=NS) for r in status.findall("ch:today/ch:range", NS)
    ] == ["00:00"]


async def test_the_stores_are_listed_with_hours_and_whether_each_is_open(
    orders: Orders,
) -> None:
    await open_all_day(orders, orders.shop.store_id)
    await orders.close_store(orders.other_store_id, reason="stocktaking")
    porto = await orders.get(f"/v1/locations/{orders.shop.store_id}")
    gaia = await orders.get(f"/v1/locations/{orders.other_store_id}")
    porto_status = await orders.get(f"/v1/locations/{orders.shop.store_id}/status")
    gaia_status = await orders.get(f"/v1/locations/{orders.other_store_id}/status")

    answer = await orders.client.get("/xml/v1/stores")

    stores = xml_answer(answer, "stores").findall("ch:store", NS)
    assert [s.findtext("ch:code", namespaces=NS) for s in stores] == ["ST-GAIA", "ST-PORTO"]
    assert_same_as_json(stores[0], gaia | {"status": gaia_status})
    assert_same_as_json(stores[1], porto | {"status": porto_status})
    assert stores[0].findtext("ch:status/ch:state", namespaces=NS) == "temporarily_closed"
    assert stores[1].findtext("ch:status/ch:state", namespaces=NS) == "open"
    christmas = stores[1].find("ch:hours/ch:exceptions/ch:exception", NS)
    assert christmas is not None
    assert christmas.findtext("ch:note", namespaces=NS) == "Christmas Day"


async def test_the_stores_come_a_page_at_a_time(orders: Orders) -> None:
    first = xml_answer(await orders.client.get("/xml/v1/stores?limit=1"), "stores")
    cursor = first.findtext("ch:next_cursor", namespaces=NS)
    second = xml_answer(
        await orders.client.get("/xml/v1/stores", params={"limit": 1, "cursor": cursor}),
        "stores",
    )

    codes = [page.findtext("ch:store/ch:code", namespaces=NS) for page in (first, second)]
    assert codes == ["ST-GAIA", "ST-PORTO"]
    assert second.find("ch:next_cursor", NS) is None


async def test_an_unknown_store_is_a_404_problem(orders: Orders) -> None:
    answer = await orders.client.get("/xml/v1/stores/loc_00000000000000000000000000/status")

    assert problem(answer, 404)["code"] == "location_not_found"


async def test_availability_is_the_rest_availability(orders: Orders) -> None:
    await orders.shop.stock(TENT_1__WH=3, TENT_1__ST_PORTO=2, TENT_2__WH_MAD=1)
    params = {
        "sku": ["TENT-1", "TENT-2"],
        "sales_channel_id": orders.shop.channel_id,
        "latitude": PORTO[0],
        "longitude": PORTO[1],
        "radius_km": 20,
    }
    rest = await orders.get("/v1/availability", **params)

    answer = await orders.client.get("/xml/v1/availability", params=params)

    entries = xml_answer(answer, "availability").findall("ch:sku_availability", NS)
    assert len(entries) == 2
    for entry, expected in zip(entries, rest, strict=True):
        assert_same_as_json(entry, expected, expected["sku"])
    assert entries[0].findtext("ch:available_to_ship", namespaces=NS) == "3"
    assert [
        p.findtext("ch:code", namespaces=NS)
        for p in entries[0].findall("ch:pickup/ch:location", NS)
    ] == ["ST-PORTO", "ST-GAIA"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        pytest.param({"latitude": 41.1}, "latitude", id="latitude-without-longitude"),
        pytest.param({"radius_km": 0}, "radius_km", id="radius-zero"),
        pytest.param({"longitude": "east"}, "longitude", id="longitude-not-a-number"),
    ],
)
async def test_wrong_availability_parameters_are_422_naming_the_parameter(
    orders: Orders, query: dict[str, Any], parameter: str
) -> None:
    params = {"sku": "TENT-1", "sales_channel_id": orders.shop.channel_id, **query}

    answer = await orders.client.get("/xml/v1/availability", params=params)

    refused = problem(answer, 422)
    assert refused["type"] == "/problems/validation"
    [error] = refused["errors"]
    assert parameter in (error.get("parameter"), error.get("pointer", "").removeprefix("#/"))


async def test_availability_needs_the_skus_and_the_channel(orders: Orders) -> None:
    answer = await orders.client.get("/xml/v1/availability")

    refused = problem(answer, 422)
    assert [error["parameter"] for error in refused["errors"]] == ["sku", "sales_channel_id"]
