"""Idempotency-Key makes POST safe to retry."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from channelhub.hub import Hub
from channelhub.platform import idempotency
from tests.fixtures.hub import TenantKeys, http_client, new_tenant

BODY = {
    "title": "Kettle",
    "variants": [{"sku": "KET-1", "title": "Steel", "price": {"amount": 2500, "currency": "EUR"}}],
}


async def count(client: httpx.AsyncClient) -> int:
    return len((await client.get("/v1/products")).json()["data"])


async def test_same_key_and_body_replays_the_first_response(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "order-sync-42"}

    first = await client.post("/v1/products", json=BODY, headers=headers)
    again = await client.post("/v1/products", json=BODY, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count(client) == 1


async def test_same_key_with_another_body_is_refused(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-1"}
    await client.post("/v1/products", json=BODY, headers=headers)

    other = {**BODY, "title": "Teapot"}
    response = await client.post("/v1/products", json=other, headers=headers)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert response.json()["errors"][0]["parameter"] == "Idempotency-Key"
    assert await count(client) == 1


async def test_failed_request_does_not_consume_the_key(client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "k-2"}
    await client.post("/v1/products", json={**BODY, "variants": []}, headers=headers)

    fixed = await client.post("/v1/products", json=BODY, headers=headers)

    assert fixed.status_code == 201
    assert "idempotent-replayed" not in fixed.headers


async def test_keys_are_scoped_to_the_tenant(hub: Hub, client: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    other = await new_tenant(hub)
    await client.post("/v1/products", json=BODY, headers=headers)

    async with http_client(hub, other.admin_key) as other_client:
        response = await other_client.post("/v1/products", json=BODY, headers=headers)

    assert response.status_code == 201
    assert "idempotent-replayed" not in response.headers


async def test_without_a_key_each_post_acts(client: httpx.AsyncClient) -> None:
    first = await client.post("/v1/products", json=BODY)
    second = await client.post("/v1/products", json=BODY)

    assert first.status_code == 201
    assert second.status_code == 409
    assert await count(client) == 1


async def test_another_key_cannot_replay_a_response(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    headers = {"Idempotency-Key": "made-by-admin"}
    await client.post("/v1/products", json=BODY, headers=headers)
    writer = await tenant.make_key("catalog:write")

    async with http_client(hub, writer) as other_key:
        response = await other_key.post("/v1/products", json=BODY, headers=headers)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"


async def test_key_creation_never_stores_its_secret_for_replay(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    body = {"name": "integration", "scopes": ["admin"]}
    headers = {"Idempotency-Key": "key-1"}

    first = await client.post("/v1/api-keys", json=body, headers=headers)
    second = await client.post("/v1/api-keys", json=body, headers=headers)

    assert first.status_code == second.status_code == 201
    assert first.json()["secret"] != second.json()["secret"]
    assert "idempotent-replayed" not in second.headers
    async with hub.db.reader() as session:
        stored = (await session.scalars(select(idempotency.IdempotencyRecord.body))).all()
    assert not any(first.json()["secret"].encode() in (body or b"") for body in stored)
