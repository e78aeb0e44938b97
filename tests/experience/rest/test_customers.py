"""Customer metadata: the merchant's own facts, which promotion rules can match."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from channelhub.process.customers.schemas import CustomerUpsert
from channelhub.process.customers.service import upsert_customer
from channelhub.process.orders.schemas import ExternalRef
from tests.fixtures.customers import known_customer
from tests.fixtures.hub import TenantKeys, http_client


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


async def test_customers_are_found_by_phone_written_any_way(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    async with hub.db.transaction() as session:
        ana, _ = await upsert_customer(
            session,
            tenant.principal,
            CustomerUpsert(external_id=ExternalRef(system="pos", id="1"), phone="+351 912 345 678"),
        )
    await known_customer(hub, tenant, "bob@example.com")

    found = await client.get("/v1/customers", params={"phone": "00351 912-345-678"})
    refused = await client.get("/v1/customers", params={"phone": "912345678"})

    assert found.status_code == 200, found.text
    assert [(c["id"], c["phone"]) for c in found.json()["data"]] == [(ana.id, "+351912345678")]
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["parameter"] == "phone"


SCHEMA = {
    "fields": [
        {"key": "club", "type": "string", "values": ["runners", "swimmers"]},
        {"key": "visits", "type": "integer", "description": "Store visits"},
        {"key": "birthday", "type": "date"},
        {"key": "member", "type": "boolean", "required": True},
    ],
    "additional": False,
}


async def test_the_metadata_schema_is_empty_until_set(client: httpx.AsyncClient) -> None:
    before = await client.get("/v1/customer-metadata-schema")
    put = await client.put("/v1/customer-metadata-schema", json=SCHEMA)
    after = await client.get("/v1/customer-metadata-schema")

    assert before.json() == {"fields": [], "additional": True, "updated_at": None}
    assert put.status_code == 200, put.text
    assert after.json()["fields"][1] == {
        "key": "visits",
        "type": "integer",
        "description": "Store visits",
        "required": False,
        "values": None,
    }
    assert after.json()["additional"] is False


@pytest.mark.parametrize(
    ("metadata", "pointer"),
    [
        pytest.param({"member": True, "visits": "3"}, "#/metadata/visits", id="wrong-type"),
        pytest.param({"member": True, "visits": 2.5}, "#/metadata/visits", id="not-integer"),
        pytest.param({"member": True, "club": "golfers"}, "#/metadata/club", id="not-listed"),
        pytest.param({"member": True, "birthday": "1990-02-30"}, "#/metadata/birthday", id="date"),
        pytest.param({"member": True, "shoe.size": 42}, "#/metadata/shoe.size", id="unknown"),
        pytest.param({"visits": 3}, "#/metadata/member", id="required-missing"),
        pytest.param({"member": None}, "#/metadata/member", id="required-removed"),
    ],
)
async def test_metadata_not_fitting_the_schema_is_refused_naming_the_key(
    hub: Hub,
    client: httpx.AsyncClient,
    tenant: TenantKeys,
    metadata: dict[str, Any],
    pointer: str,
) -> None:
    customer_id = await known_customer(hub, tenant, "ana@example.com")
    url = f"/v1/customers/{customer_id}"
    await client.patch(url, json={"metadata": {"visits": 1}})
    await client.put("/v1/customer-metadata-schema", json=SCHEMA)

    response = await client.patch(url, json={"metadata": metadata})

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == pointer
    assert (await client.get(url)).json()["metadata"] == {"visits": 1}


async def test_metadata_fitting_the_schema_is_kept_and_old_values_are_not_rewritten(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    customer_id = await known_customer(hub, tenant, "ana@example.com")
    url = f"/v1/customers/{customer_id}"
    await client.patch(url, json={"metadata": {"member": "yes", "club": "golfers"}})
    await client.put("/v1/customer-metadata-schema", json={**SCHEMA, "additional": True})

    response = await client.patch(
        url, json={"metadata": {"member": True, "birthday": "1990-02-28", "shoe": 42}}
    )

    assert response.status_code == 200, response.text
    assert response.json()["metadata"] == {
        "member": True,
        "club": "golfers",
        "birthday": "1990-02-28",
        "shoe": 42,
    }


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        pytest.param(
            [{"key": "club", "type": "string"}, {"key": "club", "type": "integer"}],
            "#/fields/1/key",
            id="twice",
        ),
        pytest.param(
            [{"key": "size", "type": "integer", "values": [38, "40"]}],
            "#/fields/0/values/1",
            id="value-of-wrong-type",
        ),
        pytest.param([{"key": "size", "type": "colour"}], "#/fields/0/type", id="unknown-type"),
    ],
)
async def test_a_bad_schema_is_refused_with_its_pointer(
    client: httpx.AsyncClient, fields: list[dict[str, Any]], pointer: str
) -> None:
    response = await client.put("/v1/customer-metadata-schema", json={"fields": fields})

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == pointer
    assert (await client.get("/v1/customer-metadata-schema")).json()["fields"] == []


async def test_reading_the_schema_needs_read_and_changing_it_write(
    hub: Hub, tenant: TenantKeys
) -> None:
    key = await tenant.make_key("customers:read")
    async with http_client(hub, key) as reader:
        read = await reader.get("/v1/customer-metadata-schema")
        write = await reader.put("/v1/customer-metadata-schema", json=SCHEMA)

    assert (read.status_code, write.status_code) == (200, 403)
