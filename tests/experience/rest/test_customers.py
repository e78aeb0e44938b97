"""Customer metadata: the merchant's own facts, which promotion rules can match."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from tests.fixtures.customers import known_customer
from tests.fixtures.hub import TenantKeys


async def test_metadata_keys_are_set_merged_and_removed(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    customer_id = await known_customer(hub, tenant, "ana@example.com")
    url = f"/v1/customers/{customer_id}"

    first = await client.patch(url, json={"metadata": {"club": "runners", "visits": 3}})
    second = await client.patch(url, json={"metadata": {"visits": 4, "vip": True, "club": None}})

    assert first.status_code == 200, first.text
    assert first.json()["metadata"] == {"club": "runners", "visits": 3}
    assert second.json()["metadata"] == {"visits": 4, "vip": True}
    assert (await client.get(url)).json()["metadata"] == {"visits": 4, "vip": True}


@pytest.mark.parametrize(
    ("metadata", "pointer"),
    [
        pytest.param({"has space": 1}, "#/metadata/has space", id="bad-key"),
        pytest.param({"notes": "x" * 501}, "#/metadata/notes", id="too-long"),
        pytest.param({"nested": {"a": 1}}, "#/metadata/nested", id="nested"),
    ],
)
async def test_bad_metadata_is_refused_naming_the_key(
    hub: Hub,
    client: httpx.AsyncClient,
    tenant: TenantKeys,
    metadata: dict[str, Any],
    pointer: str,
) -> None:
    customer_id = await known_customer(hub, tenant, "ana@example.com")

    response = await client.patch(f"/v1/customers/{customer_id}", json={"metadata": metadata})

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"].startswith(pointer)


async def test_a_promotion_rule_matches_a_metadata_key(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    member = await known_customer(hub, tenant, "ana@example.com")
    other = await known_customer(hub, tenant, "bob@example.com")
    await client.patch(f"/v1/customers/{member}", json={"metadata": {"club": "runners"}})
    await client.post(
        "/v1/campaigns",
        json={
            "name": "Runners club",
            "type": "automatic",
            "effect": {"kind": "percentage", "percent": 5},
            "rules": {"field": "customer.metadata.club", "op": "eq", "value": "runners"},
        },
    )
    cart = {"currency": "EUR", "lines": [{"sku": "SHOE-1", "quantity": 1, "unit_price": 10000}]}

    async def discount(customer_id: str) -> int:
        answer = await client.post(
            "/v1/promotions/validations", json={"cart": cart, "customer": {"id": customer_id}}
        )
        value: int = answer.json()["discount"]
        return value

    assert await discount(member) == 500
    assert await discount(other) == 0
