"""Locations: validated on the way in, linked to the channels they serve."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.inventory import Shop

BASE: dict[str, Any] = {
    "code": "ST-BRAGA",
    "name": "Braga store",
    "kind": "store",
    "address": {"line1": "Avenida Central 1", "city": "Braga", "country": "PT"},
    "latitude": 41.5454,
    "longitude": -8.4265,
    "timezone": "Europe/Lisbon",
    "ships": False,
    "pickup": True,
}


async def count(client: httpx.AsyncClient) -> int:
    return len((await client.get("/v1/locations", params={"limit": 200})).json()["data"])


async def test_create_and_read_back_with_channel_links(shop: Shop) -> None:
    body = {**BASE, "channels": [{"sales_channel_id": shop.channel_id, "priority": 5}]}

    created = await shop.client.post("/v1/locations", json=body)
    fetched = await shop.client.get(created.headers["location"])

    assert created.status_code == 201
    location = fetched.json()
    assert location == created.json()
    assert (location["code"], location["kind"], location["pickup"], location["active"]) == (
        "ST-BRAGA",
        "store",
        True,
        True,
    )
    assert location["channels"] == [{"sales_channel_id": shop.channel_id, "priority": 5}]
    assert location["address"]["city"] == "Braga"


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        pytest.param({"timezone": "Mars/Olympus"}, "#/timezone", id="unknown-time-zone"),
        pytest.param({"latitude": 91}, "#/latitude", id="latitude-out-of-range"),
        pytest.param({"kind": "depot"}, "#/kind", id="unknown-kind"),
        pytest.param({"address": {"country": "Portugal"}}, "#/address/country", id="country"),
        pytest.param({"code": "has space"}, "#/code", id="code-pattern"),
        pytest.param(
            {"channels": [{"sales_channel_id": "sch_nope"}]},
            "#/channels/0/sales_channel_id",
            id="unknown-channel",
        ),
    ],
)
async def test_invalid_locations_are_refused(
    shop: Shop, change: dict[str, Any], pointer: str
) -> None:
    before = await count(shop.client)

    response = await shop.client.post("/v1/locations", json={**BASE, **change})

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == pointer
    assert await count(shop.client) == before


async def test_coordinates_come_in_pairs(shop: Shop) -> None:
    response = await shop.client.post("/v1/locations", json={**BASE, "longitude": None})

    assert response.status_code == 422


async def test_duplicate_code_is_a_conflict(shop: Shop) -> None:
    response = await shop.client.post("/v1/locations", json={**BASE, "code": "WH"})

    assert response.status_code == 409
    assert response.json()["errors"][0]["pointer"] == "#/code"


async def test_deactivated_location_is_not_allocated_from(shop: Shop) -> None:
    await shop.stock(TENT_1__WH=5, TENT_1__WH_MAD=5)

    updated = await shop.client.patch(f"/v1/locations/{shop.warehouse_id}", json={"active": False})
    reservation = (await shop.reserve(("TENT-1", 1), key="after-close")).json()

    assert updated.json()["active"] is False
    assert reservation["allocations"][0]["location_id"] == shop.far_warehouse_id
