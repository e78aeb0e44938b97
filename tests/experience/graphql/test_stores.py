"""Stores and availability over GraphQL: the answers of the REST routes."""

from __future__ import annotations

import httpx

from tests.experience.graphql.conftest import graphql, snake_keys
from tests.fixtures.inventory import PORTO
from tests.fixtures.orders import Orders

STORE_STATUS = (
    "status { locationId code name state openNow opensAt closesAt today { opens closes } "
    "timezone closedReason closedSince reopensAt }"
)


async def test_a_stores_status_is_the_rest_status(orders: Orders) -> None:
    store = orders.shop.store_id
    await orders.post(
        f"/v1/locations/{store}/closure",
        {"reason": "flooding", "reopens_at": "2031-01-01T09:00:00Z"},
    )

    answer = await graphql(
        orders.client,
        "query($id: ID!) { store(id: $id) { code closedReason reopensAt " + STORE_STATUS + " } }",
        {"id": store},
    )
    rest = await orders.get(f"/v1/locations/{store}/status")

    found = answer.data["store"]
    assert snake_keys(found["status"]) == rest
    assert found["status"]["state"] == "temporarily_closed"
    assert (found["code"], found["closedReason"], found["reopensAt"]) == (
        "ST-PORTO",
        "flooding",
        "2031-01-01T09:00:00Z",
    )


async def test_stores_page_with_their_statuses(orders: Orders) -> None:
    answer = await graphql(
        orders.client,
        "{ stores(first: 10) { edges { node { code "
        + STORE_STATUS
        + " } } pageInfo { hasNextPage } } }",
    )
    rest = await orders.get("/v1/locations", limit=10)

    nodes = [edge["node"] for edge in answer.data["stores"]["edges"]]
    assert [node["code"] for node in nodes] == [location["code"] for location in rest["data"]]
    for node in nodes:
        location_id = next(loc["id"] for loc in rest["data"] if loc["code"] == node["code"])
        assert snake_keys(node["status"]) == await orders.get(f"/v1/locations/{location_id}/status")
    assert answer.data["stores"]["pageInfo"] == {"hasNextPage": False}


async def test_availability_is_the_rest_availability(
    orders: Orders, client: httpx.AsyncClient
) -> None:
    await orders.shop.stock(TENT_1__WH=4, TENT_1__ST_PORTO=2, LAMP_1__ST_GAIA=1)
    fields = "sku availableToShip "
    fields += "locations { locationId code name kind ships pickup available distanceKm } "
    fields += "pickup { locationId code available distanceKm }"

    answer = await graphql(
        orders.client,
        'query($c: ID!, $lat: Float, $lon: Float) { availability(skus: ["TENT-1", "LAMP-1"], '
        "salesChannelId: $c, latitude: $lat, longitude: $lon, radiusKm: 20) { " + fields + " } }",
        {"c": orders.shop.channel_id, "lat": PORTO[0], "lon": PORTO[1]},
    )
    rest = (
        await client.get(
            "/v1/availability",
            params={
                "sku": ["TENT-1", "LAMP-1"],
                "sales_channel_id": orders.shop.channel_id,
                "latitude": PORTO[0],
                "longitude": PORTO[1],
                "radius_km": 20,
            },
        )
    ).json()

    for item in rest:
        item["pickup"] = [
            {k: p[k] for k in ("location_id", "code", "available", "distance_km")}
            for p in item["pickup"]
        ]
    assert snake_keys(answer.data["availability"]) == rest
    assert [p["code"] for p in rest[0]["pickup"]] == ["ST-PORTO", "ST-GAIA"]


async def test_an_unknown_channel_is_bad_input_naming_it(orders: Orders) -> None:
    answer = await graphql(
        orders.client,
        '{ availability(skus: ["TENT-1"], salesChannelId: "sch_nope") { sku } }',
    )

    assert answer.data == {"availability": None}
    assert answer.codes == ["BAD_USER_INPUT"]
    assert answer.body["errors"][0]["extensions"]["field"] == "salesChannelId"
