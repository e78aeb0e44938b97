"""GDPR access: one archive with everything held about a customer, and nothing about
anyone else; the request itself is audited without personal data."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import httpx

from channelhub.hub import Hub
from channelhub.process.privacy import export
from tests.fixtures.customers import known_customer
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.orders import Orders

CART = {"currency": "EUR", "lines": [{"sku": "TENT-1", "quantity": 1, "unit_price": 20000}]}


async def chat(client: httpx.AsyncClient, email: str, text: str, external_id: str) -> None:
    sent = await client.post(
        "/v1/helpdesk/messages",
        json={
            "channel": "chat",
            "external_id": external_id,
            "requester": {"name": email.split("@")[0], "email": email},
            "text": text,
        },
    )
    assert sent.status_code in (200, 201), sent.text


def unpacked(response: httpx.Response) -> dict[str, Any]:
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        return {
            name: (json.loads(bundle.read(name)) if name.endswith(".json") else bundle.read(name))
            for name in bundle.namelist()
        }


async def test_an_export_holds_everything_about_the_customer_and_nothing_else(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys, orders: Orders
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    ana = await known_customer(hub, tenant, "ana@example.com")
    runners = {"field": "customer.metadata.club", "op": "eq", "value": "runners"}
    segment = (
        await client.post("/v1/segments", json={"key": "run", "name": "Run", "rules": runners})
    ).json()
    await client.patch(f"/v1/customers/{ana}", json={"metadata": {"club": "runners"}})
    order = await orders.place(("TENT-1", 1))
    await orders.place(("TENT-1", 1), customer={"email": "bob@example.com", "name": "Bob"})
    await chat(client, "ana@example.com", "Where is my tent? Order NW-1001.", "gdpr-ana")
    await chat(client, "bob@example.com", "Bob here, a question about boots.", "gdpr-bob")
    campaign = (
        await client.post(
            "/v1/campaigns",
            json={"name": "Thanks", "type": "vouchers", "effect": {"kind": "free_shipping"}},
        )
    ).json()
    await client.post(
        f"/v1/campaigns/{campaign['id']}/vouchers", json={"code": "ANA-GIFT", "customer_id": ana}
    )
    await client.post(
        "/v1/promotions/redemptions",
        json={"cart": {**CART, "shipping": 500}, "codes": ["ANA-GIFT"], "customer": {"id": ana}},
    )

    response = await client.post(f"/v1/customers/{ana}/export")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    files = unpacked(response)
    assert files["customer.json"][0]["attributes"] == {"club": "runners"}
    assert [m["segment_id"] for m in files["customer_segment_members.json"]] == [segment["id"]]
    assert [o["id"] for o in files["orders.json"]] == [order["id"]]
    assert len(files["order_lines.json"]) == 1
    assert files["order_timeline.json"]
    assert [m["text"] for m in files["ticket_messages.json"]] == [
        "Where is my tent? Order NW-1001."
    ]
    assert [v["code"] for v in files["vouchers.json"]] == ["ANA-GIFT"]
    assert len(files["redemptions.json"]) == 1
    assert files["manifest.json"]["files"]["orders.json"] == 1
    everything = response.content + b"".join(
        json.dumps(value).encode() for value in files.values() if not isinstance(value, bytes)
    )
    assert b"bob@example.com" not in everything
    assert b"boots" not in everything


async def test_the_export_is_audited_without_personal_data(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ana = await known_customer(hub, tenant, "ana@example.com")

    await client.post(f"/v1/customers/{ana}/export")
    events = (await client.get("/v1/events", params={"type": "customer.data_exported"})).json()

    (event,) = events["data"]
    assert event["subject"] == ana
    assert event["data"]["files"]["customer.json"] == 1
    assert "ana@example.com" not in json.dumps(event)


async def test_an_export_needs_the_privacy_scope(hub: Hub, tenant: TenantKeys) -> None:
    ana = await known_customer(hub, tenant, "ana@example.com")
    reader = await tenant.make_key("customers:read", "orders:read")
    async with http_client(hub, reader) as client:
        refused = await client.post(f"/v1/customers/{ana}/export")
    async with http_client(hub, await tenant.make_key("privacy:write")) as client:
        unknown = await client.post("/v1/customers/cus_nobody/export")

    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "privacy:write"
    assert unknown.status_code == 404


def test_attached_files_go_into_the_archive_under_a_safe_name() -> None:
    name = f"attachments/tat_1-{export._safe('../../etc/passwd')}"
    content = export.archive({"tickets.json": []}, {name: b"%PDF-1.7"}, {"files": {}})

    with zipfile.ZipFile(io.BytesIO(content)) as bundle:
        assert bundle.read(name) == b"%PDF-1.7"
        assert all(not entry.startswith(("/", "..")) for entry in bundle.namelist())
    assert "/" not in name.removeprefix("attachments/")
