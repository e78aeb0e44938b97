"""Bad input and broken dependencies answer with problem+json, never a stack trace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import Request
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from channelhub.experience.app import create_app
from channelhub.hub import Hub
from tests.fixtures.hub import TenantKeys, http_client, make_settings

UNREACHABLE_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:9/nowhere"


async def test_malformed_json_is_400_and_creates_nothing(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/products", content=b'{"title": "x",', headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/malformed-request"
    assert problem["detail"].startswith("the request body is not valid JSON")
    assert (await client.get("/v1/products")).json()["data"] == []


async def test_unknown_and_invalid_fields_are_named(client: httpx.AsyncClient) -> None:
    body = {
        "title": "Tent",
        "colour": "green",
        "variants": [{"sku": "T-1", "title": "T", "price": {"amount": 1.5, "currency": "EUR"}}],
    }

    response = await client.post("/v1/products", json=body)

    assert response.status_code == 422
    pointers = {e["pointer"] for e in response.json()["errors"]}
    assert pointers == {"#/colour", "#/variants/0/price/amount"}


async def test_invalid_query_parameter_is_named(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/products", params={"limit": 1000})

    assert response.status_code == 422
    assert response.json()["errors"][0]["parameter"] == "limit"


async def test_forged_cursor_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/products", params={"cursor": "not-ours!"})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"detail": "cursor is not one this API issued", "parameter": "cursor"}
    ]


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    echoed = await client.get("/v1/products", headers={"X-Request-ID": "abc-123"})
    generated = await client.get("/v1/products/prd_missing")

    assert echoed.headers["x-request-id"] == "abc-123"
    assert generated.headers["x-request-id"].startswith("req_")
    assert generated.json()["request_id"] == generated.headers["x-request-id"]


async def test_problem_types_are_documented(client: httpx.AsyncClient) -> None:
    problem = (await client.get("/v1/products/prd_missing")).json()

    explained = await client.get(problem["type"])

    assert explained.status_code == 200
    assert explained.json()["title"] == "Not found"


@pytest.fixture
async def hub_without_database() -> AsyncIterator[Hub]:
    hub = Hub(make_settings(UNREACHABLE_POSTGRES))
    yield hub
    await hub.stop()


async def test_database_down_is_503_on_reads_and_writes(hub_without_database: Hub) -> None:
    async with http_client(hub_without_database, "chk_any") as client:
        read = await client.get("/v1/products")
        write = await client.post("/v1/products", json={"title": "x"})

    for response in (read, write):
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "5"
        assert response.json()["detail"] == "the database is unavailable; retry shortly"


async def test_readyz_names_the_failing_database(hub_without_database: Hub) -> None:
    async with http_client(hub_without_database) as client:
        live = await client.get("/healthz")
        ready = await client.get("/readyz")

    assert live.json() == {"status": "ok"}
    assert ready.status_code == 503
    checks = {c["name"]: c["ok"] for c in ready.json()["checks"]}
    assert checks == {"database": False, "bus": True}
    assert ready.json()["detail"].startswith("not ready: database")


async def test_readyz_names_the_failing_bus(database_url: str) -> None:
    hub = Hub(make_settings(database_url, bus_url="nats://127.0.0.1:9"))
    try:
        async with http_client(hub) as client:
            ready = await client.get("/readyz")
    finally:
        await hub.stop()

    assert ready.status_code == 503
    checks = {c["name"]: c["ok"] for c in ready.json()["checks"]}
    assert checks == {"database": True, "bus": False}


async def test_metrics_count_requests(client: httpx.AsyncClient) -> None:
    await client.get("/v1/products")

    metrics = (await client.get("/metrics")).text

    assert 'channelhub_http_requests_total{method="GET",route="/v1/products",status="200"}' in (
        metrics
    )


async def test_oversized_body_is_413_and_creates_nothing(hub: Hub, tenant: TenantKeys) -> None:
    hub.settings = make_settings(hub.settings.database_url, max_request_body_bytes=2048)
    async with http_client(hub, tenant.admin_key) as client:
        response = await client.post("/v1/products", json={"title": "x" * 4096, "variants": []})
        listed = await client.get("/v1/products")

    assert response.status_code == 413
    assert response.json()["type"] == "/problems/payload-too-large"
    assert listed.json()["data"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param('{"title": null}', "title", id="null-title"),
        pytest.param('{"description": null}', "description", id="null-description"),
        pytest.param('{"attributes": null}', "attributes", id="null-attributes"),
        pytest.param('{"attributes": {"weight": NaN}}', "attributes", id="nan-attribute"),
        pytest.param('{"attributes": {"w": Infinity}}', "attributes", id="infinite-attribute"),
        pytest.param('{"title": "bad\\u0000title"}', None, id="nul-character"),
    ],
)
async def test_unstorable_updates_are_422_and_change_nothing(
    client: httpx.AsyncClient, change: str, field: str | None
) -> None:
    created = await client.post(
        "/v1/products",
        json={
            "title": "Stove",
            "variants": [{"sku": "ST-1", "title": "G", "price": {"amount": 1, "currency": "EUR"}}],
        },
    )
    product_id = created.json()["id"]

    response = await client.patch(
        f"/v1/products/{product_id}",
        content=change.encode(),
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 422
    if field is not None:
        assert response.json()["errors"][0]["pointer"].startswith(f"#/{field}")
    assert (await client.get(f"/v1/products/{product_id}")).json() == created.json()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param(
            "/v1/products",
            {
                "title": "Yacht",
                "variants": [
                    {"sku": "Y-1", "title": "Y", "price": {"amount": 2**70, "currency": "EUR"}}
                ],
            },
            id="amount-beyond-64-bits",
        ),
        pytest.param(
            "/v1/products",
            {
                "title": "Nul\x00 byte",
                "variants": [
                    {"sku": "N-1", "title": "N", "price": {"amount": 1, "currency": "EUR"}}
                ],
            },
            id="nul-character",
        ),
    ],
)
async def test_values_a_database_cannot_store_are_refused(
    client: httpx.AsyncClient, path: str, body: dict[str, object]
) -> None:
    response = await client.post(path, json=body)

    assert response.status_code == 422
    assert (await client.get("/v1/products")).json()["data"] == []


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("/v1/products/prd_a%00b", id="path"),
        pytest.param("/v1/products?sku=A%00B", id="query"),
        pytest.param("/v1/events?subject=%00", id="event-query"),
    ],
)
async def test_nul_in_a_url_is_422(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)

    assert response.status_code == 422
    assert response.json()["detail"] == "text may not contain NUL characters (\\u0000 or %00)"


async def test_concurrent_creates_of_one_slug_give_one_brand_and_conflicts(
    client: httpx.AsyncClient,
) -> None:
    responses = await asyncio.gather(
        *(client.post("/v1/brands", json={"name": "Race", "slug": "race"}) for _ in range(4))
    )

    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert len((await client.get("/v1/brands")).json()["data"]) == 1


async def test_a_deadlock_is_a_retryable_503(hub: Hub, tenant: TenantKeys) -> None:
    app = create_app(hub, run_background=False)

    @app.get("/v1/test-deadlock")
    async def deadlock(request: Request) -> None:
        session = request.state.session
        if session.get_bind().dialect.name != "postgresql":
            raise DBAPIError("x", {}, _Deadlock())
        await session.execute(text("DO $$ BEGIN RAISE EXCEPTION USING ERRCODE = '40P01'; END $$"))

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://hub.test"
    ) as client:
        response = await client.get("/v1/test-deadlock")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["code"] == "concurrent_update"


class _Deadlock(Exception):
    sqlstate = "40P01"
