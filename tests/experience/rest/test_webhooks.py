"""The webhook endpoints API: validation, the SSRF guard, scopes and secrets."""

from __future__ import annotations

import httpx
import pytest

from channelhub.hub import Hub
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.webhooks import allow_private_targets


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://erp.example.com/in", "must start with https://"),
        ("erp.example.com/in", "must start with https://"),
        ("https://user:pw@erp.example.com/in", "credentials in the URL"),
        ("https:///in", "has no host"),
        ("http://127.0.0.1:8080/in", "private, loopback or link-local"),
        ("http://localhost/in", "private, loopback or link-local"),
        ("http://[::1]/in", "private, loopback or link-local"),
        ("http://10.20.0.7/in", "private, loopback or link-local"),
        ("http://169.254.169.254/latest/meta-data", "private, loopback or link-local"),
        ("http://[::ffff:192.168.1.1]/in", "private, loopback or link-local"),
    ],
)
async def test_urls_that_are_not_public_http_are_refused(
    client: httpx.AsyncClient, url: str, why: str
) -> None:
    response = await client.post("/v1/webhook-endpoints", json={"url": url})

    assert response.status_code == 422, response.text
    problem = response.json()
    assert why in problem["detail"]
    assert problem["errors"][0]["pointer"] == "#/url"


async def test_an_admin_may_allow_private_targets(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    writer = await tenant.make_key("webhooks:write")
    async with http_client(hub, writer) as limited:
        refused = await limited.put("/v1/webhook-settings", json={"allow_private_targets": True})
        assert refused.status_code == 403

    await allow_private_targets(client)
    created = await client.post(
        "/v1/webhook-endpoints", json={"url": "http://127.0.0.1:9000/in", "event_types": ["*"]}
    )

    assert created.status_code == 201, created.text
    settings = await client.get("/v1/webhook-settings")
    assert settings.json() == {"allow_private_targets": True}


async def test_an_event_type_filter_must_name_known_types(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://93.184.215.14/in", "event_types": ["order.*", "ordr.created"]},
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/event_types/1"
    assert "matches no event type" in response.json()["detail"]


async def test_the_secret_is_shown_once_and_never_again(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/webhook-endpoints",
        json={"url": "https://93.184.215.14/in", "event_types": ["order.*", "order.*"]},
    )
    assert created.status_code == 201, created.text
    endpoint = created.json()
    assert endpoint["secret"].startswith("whsec_")
    assert endpoint["event_types"] == ["order.*"]
    assert created.headers["location"] == f"/v1/webhook-endpoints/{endpoint['id']}"

    shown = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}")
    listed = await client.get("/v1/webhook-endpoints")

    assert "secret" not in shown.json()
    assert endpoint["secret"] not in shown.text + listed.text
    assert [e["id"] for e in listed.json()["data"]] == [endpoint["id"]]


async def test_an_own_secret_must_have_the_standard_form(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": "https://93.184.215.14/in", "secret": "hunter2"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/secret"


async def test_scopes_are_enforced(hub: Hub, tenant: TenantKeys, client: httpx.AsyncClient) -> None:
    reader = await tenant.make_key("webhooks:read")
    async with http_client(hub, reader) as limited:
        listed = await limited.get("/v1/webhook-endpoints")
        refused = await limited.post(
            "/v1/webhook-endpoints", json={"url": "https://93.184.215.14/in"}
        )

    assert listed.status_code == 200
    assert refused.status_code == 403


async def test_an_endpoint_is_changed_and_removed(client: httpx.AsyncClient) -> None:
    created = (
        await client.post("/v1/webhook-endpoints", json={"url": "https://93.184.215.14/in"})
    ).json()
    path = f"/v1/webhook-endpoints/{created['id']}"

    changed = await client.patch(
        path, json={"description": "ERP", "event_types": ["store.*"], "enabled": False}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["event_types"] == ["store.*"]
    assert changed.json()["enabled"] is False

    assert (await client.patch(path, json={"url": "http://10.0.0.1/"})).status_code == 422
    assert (await client.delete(path)).status_code == 204
    assert (await client.get(path)).status_code == 404
    assert (await client.get(f"{path}/deliveries")).status_code == 404


async def test_a_replay_range_must_run_forward(client: httpx.AsyncClient) -> None:
    created = (
        await client.post("/v1/webhook-endpoints", json={"url": "https://93.184.215.14/in"})
    ).json()

    response = await client.post(
        f"/v1/webhook-endpoints/{created['id']}/replay",
        json={"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"},
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/until"


@pytest.mark.parametrize("url", ["http://xn--a.com/in", "http://☃☃.example/in", "http://[::1/in"])
async def test_urls_that_cannot_be_requested_are_refused(
    client: httpx.AsyncClient, url: str
) -> None:
    response = await client.post("/v1/webhook-endpoints", json={"url": url})

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == "#/url"
