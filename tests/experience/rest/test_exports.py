"""BI exports: CSV and Parquet, streamed page by page, filtered by date, scoped, without
personal data."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import httpx
import pyarrow.parquet as pq
import pytest

from channelhub.hub import Hub
from channelhub.process.reporting import exports
from tests.fixtures.hub import TenantKeys, http_client, new_tenant
from tests.fixtures.orders import Orders

CART = {"currency": "EUR", "lines": [{"sku": "TENT-1", "quantity": 1, "unit_price": 20000}]}


async def redeemed(client: httpx.AsyncClient, codes: int) -> str:
    made = await client.post(
        "/v1/campaigns",
        json={
            "name": "Export me",
            "type": "vouchers",
            "effect": {"kind": "percentage", "percent": 10},
        },
    )
    campaign_id: str = made.json()["id"]
    for n in range(codes):
        await client.post(f"/v1/campaigns/{campaign_id}/vouchers", json={"code": f"EXP-{n:03}"})
        answer = await client.post(
            "/v1/promotions/redemptions",
            json={"cart": CART, "codes": [f"EXP-{n:03}"], "customer": {"email": "Ana@Example.com"}},
        )
        assert answer.status_code == 201, answer.text
    return campaign_id


def csv_rows(response: httpx.Response) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(response.text)))


async def test_redemptions_export_as_csv_across_pages(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "PAGE", 3)
    campaign_id = await redeemed(client, 7)

    response = await client.get("/v1/exports/redemptions")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="redemptions.csv"'
    rows = csv_rows(response)
    assert len(rows) == 7
    assert len({row["redemption_id"] for row in rows}) == 7
    assert {row["campaign_id"] for row in rows} == {campaign_id}
    assert {row["discount"] for row in rows} == {"2000"}
    assert rows[0]["created_at"].endswith("Z")
    # No personal data: the e-mail address only as a pseudonymous key.
    assert "example.com" not in response.text.lower()
    assert {row["customer_email_sha256"] for row in rows} == {exports.email_key("ana@example.com")}


async def test_vouchers_export_as_typed_parquet(client: httpx.AsyncClient) -> None:
    await redeemed(client, 2)

    response = await client.get("/v1/exports/vouchers", params={"format": "parquet"})

    assert response.status_code == 200
    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == 2
    assert table.schema.field("redemptions").type == "int64"
    assert str(table.schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    assert table.schema.field("code").metadata[b"description"] == b"The code."
    assert sorted(table.column("code").to_pylist()) == ["EXP-000", "EXP-001"]
    assert table.column("redemptions").to_pylist() == [1, 1]


async def test_orders_export_is_filtered_by_creation_time(
    client: httpx.AsyncClient, orders: Orders
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    placed = await orders.place(("TENT-1", 1))
    now = datetime.now(UTC)

    current = await client.get(
        "/v1/exports/orders", params={"since": (now - timedelta(hours=1)).isoformat()}
    )
    future = await client.get(
        "/v1/exports/orders", params={"since": (now + timedelta(hours=1)).isoformat()}
    )
    backwards = await client.get(
        "/v1/exports/orders",
        params={"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()},
    )

    assert [row["id"] for row in csv_rows(current)] == [placed["id"]]
    assert csv_rows(current)[0]["total"] == str(placed["total"]["amount"])
    assert csv_rows(future) == []
    assert future.text.startswith("id,number,sales_channel_id,status")
    assert backwards.status_code == 422
    assert "until must come after since" in backwards.json()["detail"]


async def test_an_export_needs_the_datasets_own_scope(hub: Hub, tenant: TenantKeys) -> None:
    key = await tenant.make_key("orders:read")
    async with http_client(hub, key) as reader:
        allowed = await reader.get("/v1/exports/orders")
        refused = await reader.get("/v1/exports/redemptions")
        unknown = await reader.get("/v1/exports/payroll")

    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "promotions:read"
    assert unknown.status_code == 422
    assert "orders, redemptions, tickets, vouchers" in unknown.json()["detail"]


async def test_a_tenant_exports_only_its_own_rows(hub: Hub, client: httpx.AsyncClient) -> None:
    await redeemed(client, 1)
    other = await new_tenant(hub)
    async with http_client(hub, other.admin_key) as theirs:
        response = await theirs.get("/v1/exports/redemptions")

    assert csv_rows(response) == []


async def test_tickets_export_without_the_requesters_details(client: httpx.AsyncClient) -> None:
    sent = await client.post(
        "/v1/helpdesk/messages",
        json={
            "channel": "chat",
            "external_id": "export-chat-1",
            "requester": {"name": "Ana Silva", "email": "ana@example.com"},
            "text": "Where is my order? It has not arrived yet.",
        },
    )
    assert sent.status_code in (200, 201), sent.text

    response = await client.get("/v1/exports/tickets", params={"format": "parquet"})

    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == 1
    assert table.column("intent").to_pylist() == ["where_is_my_order"]
    assert table.column("channel").to_pylist() == ["chat"]
    assert b"Ana" not in response.content
    assert b"example.com" not in response.content


async def test_a_csv_cell_a_spreadsheet_would_run_is_defused(client: httpx.AsyncClient) -> None:
    made = await client.post(
        "/v1/campaigns",
        json={
            "name": '=HYPERLINK("http://evil.example","x")',
            "type": "automatic",
            "effect": {"kind": "free_shipping"},
        },
    )
    cart = {**CART, "shipping": 500}
    redeemed = await client.post("/v1/promotions/redemptions", json={"cart": cart})
    assert (made.status_code, redeemed.status_code) == (201, 201), redeemed.text

    rows = csv_rows(await client.get("/v1/exports/redemptions"))

    assert rows[0]["campaign_name"] == '\'=HYPERLINK("http://evil.example","x")'
