"""The catalog slice over REST, as a merchant's integration uses it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from channelhub.hub import Hub
from tests.fixtures.hub import TenantKeys, http_client, new_tenant


def product_body(*skus: str, title: str = "Trail tent", **extra: Any) -> dict[str, Any]:
    return {
        "title": title,
        "variants": [
            {
                "sku": sku,
                "title": f"Variant {sku}",
                "price": {"amount": 24900, "currency": "EUR"},
                "attributes": {"colour": "green"},
            }
            for sku in skus
        ],
        **extra,
    }


async def create(client: httpx.AsyncClient, *skus: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/v1/products", json=product_body(*skus, **extra))
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def product_count(client: httpx.AsyncClient) -> int:
    response = await client.get("/v1/products", params={"limit": 200})
    return len(response.json()["data"])


async def test_create_returns_product_with_location_and_etag(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/products", json=product_body("TENT-1", "TENT-2", attributes={"season": "3"})
    )

    assert response.status_code == 201
    product = response.json()
    assert response.headers["location"] == f"/v1/products/{product['id']}"
    assert response.headers["etag"] == '"1"'
    assert product["id"].startswith("prd_")
    assert product["version"] == 1
    assert product["status"] == "active"
    assert product["attributes"] == {"season": "3"}
    assert [v["sku"] for v in product["variants"]] == ["TENT-1", "TENT-2"]
    assert product["variants"][0]["price"] == {"amount": 24900, "currency": "EUR"}


async def test_get_answers_304_when_etag_matches(client: httpx.AsyncClient) -> None:
    product = await create(client, "LAMP-1")

    first = await client.get(f"/v1/products/{product['id']}")
    again = await client.get(
        f"/v1/products/{product['id']}", headers={"If-None-Match": first.headers["etag"]}
    )

    assert first.status_code == 200
    assert first.json() == product
    assert again.status_code == 304
    assert again.content == b""


async def test_update_changes_only_given_fields_and_bumps_version(
    client: httpx.AsyncClient,
) -> None:
    product = await create(client, "BAG-1", description="Warm")

    response = await client.patch(f"/v1/products/{product['id']}", json={"title": "Summit bag"})

    assert response.status_code == 200
    updated = response.json()
    assert updated["title"] == "Summit bag"
    assert updated["description"] == "Warm"
    assert updated["version"] == 2
    assert response.headers["etag"] == '"2"'


async def test_update_with_stale_if_match_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    product = await create(client, "SOCK-1")
    await client.patch(f"/v1/products/{product['id']}", json={"title": "Second"})

    response = await client.patch(
        f"/v1/products/{product['id']}", json={"title": "Third"}, headers={"If-Match": '"1"'}
    )

    assert response.status_code == 412
    assert response.json()["code"] == "version_mismatch"
    assert response.json()["current_version"] == 2
    current = (await client.get(f"/v1/products/{product['id']}")).json()
    assert (current["title"], current["version"]) == ("Second", 2)


async def test_variants_can_be_added_changed_and_removed(client: httpx.AsyncClient) -> None:
    product = await create(client, "CUP-S")
    path = f"/v1/products/{product['id']}/variants"

    added = await client.post(
        path,
        json={"sku": "CUP-L", "title": "Large", "price": {"amount": 1500, "currency": "EUR"}},
    )
    large = added.json()["variants"][1]
    changed = await client.patch(
        f"{path}/{large['id']}", json={"price": {"amount": 1700, "currency": "EUR"}}
    )
    small_id = product["variants"][0]["id"]
    removed = await client.delete(f"{path}/{small_id}")

    assert added.status_code == 201
    assert changed.json()["variants"][1]["price"] == {"amount": 1700, "currency": "EUR"}
    assert [v["sku"] for v in removed.json()["variants"]] == ["CUP-L"]
    assert removed.json()["version"] == 4


async def test_last_variant_cannot_be_removed(client: httpx.AsyncClient) -> None:
    product = await create(client, "ONLY-1")

    response = await client.delete(
        f"/v1/products/{product['id']}/variants/{product['variants'][0]['id']}"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "last_variant"
    assert len((await client.get(f"/v1/products/{product['id']}")).json()["variants"]) == 1


async def test_taken_sku_is_a_conflict_naming_field_and_owner(client: httpx.AsyncClient) -> None:
    first = await create(client, "DUP-1")
    before = await product_count(client)

    response = await client.post("/v1/products", json=product_body("NEW-1", "DUP-1"))

    assert response.status_code == 409
    problem = response.json()
    assert problem["code"] == "sku_taken"
    assert problem["errors"][0]["pointer"] == "#/variants/1/sku"
    assert problem["existing_variant_id"] == first["variants"][0]["id"]
    assert await product_count(client) == before


async def test_same_sku_may_exist_in_two_tenants(hub: Hub, client: httpx.AsyncClient) -> None:
    other = await new_tenant(hub)
    await create(client, "SHARED-1")

    async with http_client(hub, other.admin_key) as other_client:
        response = await other_client.post("/v1/products", json=product_body("SHARED-1"))

    assert response.status_code == 201


async def test_list_pages_newest_first_with_cursor(client: httpx.AsyncClient) -> None:
    created = [await create(client, f"PAGE-{i}") for i in range(5)]

    first = (await client.get("/v1/products", params={"limit": 2})).json()
    second = (
        await client.get("/v1/products", params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    third = (
        await client.get("/v1/products", params={"limit": 2, "cursor": second["next_cursor"]})
    ).json()

    newest_first = [p["id"] for p in reversed(created)]
    assert [p["id"] for p in first["data"] + second["data"] + third["data"]] == newest_first
    assert third["next_cursor"] is None


async def test_list_filters_by_sku_and_status(client: httpx.AsyncClient) -> None:
    wanted = await create(client, "FIND-ME", "FIND-ME-TOO")
    await create(client, "OTHER-1", status="draft")

    by_sku = (await client.get("/v1/products", params={"sku": "FIND-ME-TOO"})).json()
    drafts = (await client.get("/v1/products", params={"status": "draft"})).json()

    assert [p["id"] for p in by_sku["data"]] == [wanted["id"]]
    assert [p["variants"][0]["sku"] for p in drafts["data"]] == ["OTHER-1"]


async def test_list_answers_304_for_unchanged_page(client: httpx.AsyncClient) -> None:
    await create(client, "ETAG-1")
    first = await client.get("/v1/products")

    unchanged = await client.get("/v1/products", headers={"If-None-Match": first.headers["etag"]})
    await create(client, "ETAG-2")
    changed = await client.get("/v1/products", headers={"If-None-Match": first.headers["etag"]})

    assert unchanged.status_code == 304
    assert changed.status_code == 200


async def test_another_tenants_product_is_not_found(hub: Hub, client: httpx.AsyncClient) -> None:
    product = await create(client, "MINE-1")
    other = await new_tenant(hub)

    async with http_client(hub, other.admin_key) as intruder:
        read = await intruder.get(f"/v1/products/{product['id']}")
        write = await intruder.patch(f"/v1/products/{product['id']}", json={"title": "Stolen"})
        listed = await intruder.get("/v1/products")

    assert read.status_code == 404
    assert write.status_code == 404
    assert read.json()["code"] == "product_not_found"
    assert listed.json()["data"] == []
    assert (await client.get(f"/v1/products/{product['id']}")).json()["title"] == "Trail tent"


async def test_brand_of_another_tenant_is_refused(hub: Hub, client: httpx.AsyncClient) -> None:
    other = await new_tenant(hub)
    async with http_client(hub, other.admin_key) as other_client:
        brand = (
            await other_client.post("/v1/brands", json={"name": "Theirs", "slug": "theirs"})
        ).json()

    response = await client.post("/v1/products", json=product_body("B-1", brand_id=brand["id"]))

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/brand_id"
    assert await product_count(client) == 0


@pytest.mark.parametrize(
    ("scopes", "method", "status"),
    [
        pytest.param(("catalog:read",), "get", 200, id="read-scope-reads"),
        pytest.param(("catalog:read",), "post", 403, id="read-scope-cannot-write"),
        pytest.param(("catalog:write",), "get", 200, id="write-implies-read"),
        pytest.param(("channels:write",), "get", 403, id="other-resource"),
    ],
)
async def test_scopes_decide_what_a_key_may_do(
    hub: Hub, tenant: TenantKeys, scopes: tuple[str, ...], method: str, status: int
) -> None:
    key = await tenant.make_key(*scopes)
    async with http_client(hub, key) as scoped:
        if method == "get":
            response = await scoped.get("/v1/products")
        else:
            response = await scoped.post("/v1/products", json=product_body("SCOPE-1"))

    assert response.status_code == status
    if status == 403:
        assert response.json()["type"] == "/problems/forbidden"
    async with http_client(hub, tenant.admin_key) as admin:
        assert await product_count(admin) == 0


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="missing"),
        pytest.param("Bearer chk_not-a-real-key", id="unknown"),
        pytest.param("Basic dXNlcjpwYXNz", id="wrong-scheme"),
    ],
)
async def test_requests_without_a_valid_key_are_401(
    client: httpx.AsyncClient, hub: Hub, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    async with http_client(hub) as anonymous:
        response = await anonymous.post(
            "/v1/products", json=product_body("ANON-1"), headers=headers
        )

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == "application/problem+json"
    assert await product_count(client) == 0


async def test_revoked_key_stops_working_at_once(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    key = await tenant.make_key("catalog:write")
    async with http_client(hub, key) as scoped:
        assert (await scoped.get("/v1/products")).status_code == 200
        key_id = next(
            k["id"] for k in (await client.get("/v1/api-keys")).json() if k["name"] == "scoped"
        )
        revoked = await client.delete(f"/v1/api-keys/{key_id}")
        refused = await scoped.post("/v1/products", json=product_body("REV-1"))

    assert revoked.json()["revoked_at"] is not None
    assert refused.status_code == 401
    assert await product_count(client) == 0
