"""Segments over REST: rules validated on save, members kept and listed, pagination."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from tests.fixtures.customers import known_customer, recorded
from tests.fixtures.hub import TenantKeys, http_client

RUNNERS = {"field": "customer.metadata.club", "op": "eq", "value": "runners"}


async def _create(client: httpx.AsyncClient, key: str, rules: Any = RUNNERS) -> dict[str, Any]:
    response = await client.post(
        "/v1/segments", json={"key": key, "name": key.title(), "rules": rules}
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_segment_lists_its_members_and_customers_show_their_segments(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ana = await known_customer(hub, tenant, "ana@example.com")
    bob = await known_customer(hub, tenant, "bob@example.com")
    await client.patch(f"/v1/customers/{ana}", json={"metadata": {"club": "runners"}})

    segment = await _create(client, "runners")
    members = await client.get(f"/v1/segments/{segment['id']}/customers")
    ana_view = (await client.get(f"/v1/customers/{ana}")).json()
    bob_view = (await client.get(f"/v1/customers/{bob}")).json()

    assert (segment["key"], segment["members"], segment["rules"]) == ("runners", 1, RUNNERS)
    assert [c["id"] for c in members.json()["data"]] == [ana]
    assert (ana_view["segments"], bob_view["segments"]) == (["runners"], [])


async def test_a_metadata_change_over_rest_moves_the_customer(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ana = await known_customer(hub, tenant, "ana@example.com")
    segment = await _create(client, "runners")

    joined = await client.patch(f"/v1/customers/{ana}", json={"metadata": {"club": "runners"}})
    left = await client.patch(f"/v1/customers/{ana}", json={"metadata": {"club": None}})

    assert (joined.json()["segments"], left.json()["segments"]) == (["runners"], [])
    moves = await recorded(hub, tenant, "customer.segment_entered", "customer.segment_left")
    assert [(t, d["segment_id"], d["customer_id"]) for t, _, d in moves] == [
        ("customer.segment_entered", segment["id"], ana),
        ("customer.segment_left", segment["id"], ana),
    ]


@pytest.mark.parametrize(
    ("rules", "pointer"),
    [
        pytest.param(
            {"field": "cart.subtotal", "op": "gte", "value": 1}, "#/rules", id="cart-field"
        ),
        pytest.param(
            {"all": [RUNNERS, {"field": "customer.tier", "op": "gt", "value": "gold"}]},
            "#/rules/all/1",
            id="ordered-text",
        ),
        pytest.param(
            {"any": [{"field": "customer.orders_count", "op": "gte", "value": "3"}]},
            "#/rules/any/0",
            id="number-as-text",
        ),
        pytest.param(
            {"field": "customer.total_spent.eur", "op": "gte", "value": 1},
            "#/rules",
            id="currency-lower-case",
        ),
    ],
)
async def test_rules_are_validated_on_save(
    client: httpx.AsyncClient, rules: dict[str, Any], pointer: str
) -> None:
    response = await client.post("/v1/segments", json={"key": "bad", "name": "Bad", "rules": rules})

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == pointer
    assert (await client.get("/v1/segments")).json()["data"] == []


async def test_keys_are_unique_and_permanent(client: httpx.AsyncClient) -> None:
    first = await _create(client, "runners")

    again = await client.post(
        "/v1/segments", json={"key": "runners", "name": "Again", "rules": RUNNERS}
    )
    rekey = await client.patch(f"/v1/segments/{first['id']}", json={"key": "joggers"})
    renamed = await client.patch(f"/v1/segments/{first['id']}", json={"name": "Joggers"})

    assert again.status_code == 409
    assert rekey.status_code == 422
    assert (renamed.json()["key"], renamed.json()["name"]) == ("runners", "Joggers")


async def test_segments_and_members_are_paginated(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    customers = [await known_customer(hub, tenant, f"c{n}@example.com") for n in range(3)]
    everyone = {"field": "customer.email_domain", "op": "eq", "value": "example.com"}
    segments = [(await _create(client, f"s{n}", everyone))["id"] for n in range(3)]

    async def walk(path: str) -> list[str]:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get(path, params=params)).json()
            seen += [item["id"] for item in page["data"]]
            cursor = page["next_cursor"]
            if cursor is None:
                return seen

    assert await walk("/v1/segments") == segments[::-1]
    assert await walk(f"/v1/segments/{segments[0]}/customers") == customers[::-1]


async def test_deleting_a_segment_removes_it_from_its_customers(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ana = await known_customer(hub, tenant, "ana@example.com")
    segment = await _create(
        client, "everyone", {"field": "customer.email", "op": "ne", "value": ""}
    )

    deleted = await client.delete(f"/v1/segments/{segment['id']}")
    gone = await client.get(f"/v1/segments/{segment['id']}")

    assert (deleted.status_code, gone.status_code) == (204, 404)
    assert (await client.get(f"/v1/customers/{ana}")).json()["segments"] == []
    left = await recorded(hub, tenant, "customer.segment_left")
    assert [(subject, data["segment_key"]) for _, subject, data in left] == [(ana, "everyone")]


async def test_segments_need_customers_scopes(hub: Hub, tenant: TenantKeys) -> None:
    key = await tenant.make_key("customers:read")
    async with http_client(hub, key) as reader:
        listed = await reader.get("/v1/segments")
        created = await reader.post(
            "/v1/segments", json={"key": "x", "name": "X", "rules": RUNNERS}
        )

    assert (listed.status_code, created.status_code) == (200, 403)
