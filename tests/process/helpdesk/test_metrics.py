"""Helpdesk metrics: the figures a merchant reads, from tickets, orders, shipments and
refunds made through the API and the process services, at known times."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from channelhub.process.helpdesk import jobs, schemas
from channelhub.process.helpdesk import service as helpdesk
from channelhub.process.helpdesk.tickets import Answering
from channelhub.process.orders import returns
from channelhub.process.orders.schemas import RefundCreate
from tests.fixtures.helpdesk import Desk
from tests.fixtures.hub import TenantKeys, http_client, new_tenant

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""When the first customer writes: inside the window below, and in the past."""
WINDOW = {"since": "2026-11-01T00:00:00Z", "until": "2026-11-16T00:00:00Z"}
OTHER = "bob@example.org"
"""A requester who bought nothing: their tickets link to no order and merge with none."""


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


async def report(desk: Desk, **params: str) -> dict[str, Any]:
    response = await desk.client.get("/v1/helpdesk/metrics", params=params or WINDOW)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def written(desk: Desk, text: str, minutes: float, **body: Any) -> str:
    """A chat message sent ``minutes`` after T0: the ticket it opened."""
    accepted = await desk.chat(text, sent_at=iso(at(minutes)), email=OTHER, **body)
    ticket_id: str = accepted["ticket_id"]
    return ticket_id


async def answer(
    desk: Desk, tenant: TenantKeys, ticket_id: str, minutes: float, *, resolve: bool = False
) -> None:
    """An agent's reply ``minutes`` after T0."""
    async with desk.hub.db.transaction() as session:
        await helpdesk.reply(
            session,
            tenant.principal,
            ticket_id,
            schemas.Reply(text="It is on its way.", resolve=resolve),
            Answering(),
            clock=lambda: at(minutes),
        )


async def rate(desk: Desk, tenant: TenantKeys, ticket_id: str, score: int) -> None:
    async with desk.hub.db.transaction() as session:
        await helpdesk.rate(
            session, tenant.tenant_id, ticket_id, schemas.Rating(score=score), clock=lambda: at(600)
        )


async def refund(
    desk: Desk, tenant: TenantKeys, order_id: str, amount: int, reason: str, when: datetime
) -> None:
    async with desk.hub.db.transaction() as session:
        await returns.refund(
            session,
            tenant.principal,
            order_id,
            RefundCreate(amount=amount, reason=reason),
            clock=lambda: when,
        )


async def intent_of(desk: Desk, ticket_id: str) -> str:
    intent: str = (await desk.ticket(ticket_id))["ticket"]["intent"]
    return intent


def by_channel(rows: list[dict[str, Any]], channel_id: str | None) -> dict[str, Any]:
    (row,) = [r for r in rows if r["sales_channel_id"] == channel_id]
    return row


async def test_first_response_median_and_p90_per_store(desk: Desk, tenant: TenantKeys) -> None:
    store = desk.orders.shop.channel_id
    quick = await written(desk, "Do you ship to Madeira?", 0, sales_channel_id=store)
    slow = await written(desk, "Can I pay by bank transfer?", 60, sales_channel_id=store)
    await written(desk, "Do you sell gift cards?", 120)
    before = await desk.chat("Do you ship to Azores?", sent_at="2026-10-20T09:00:00Z")
    await written(desk, "Do you deliver on Sundays?", 60 * 24 * 20, sales_channel_id=store)
    await answer(desk, tenant, quick, 30)
    await answer(desk, tenant, slow, 60 + 90)
    await answer(desk, tenant, before["ticket_id"], -18_700)
    other = await new_tenant(desk.hub)
    async with http_client(desk.hub, other.admin_key) as stranger:
        foreign = await stranger.post(
            "/v1/helpdesk/messages",
            json={
                "channel": "chat",
                "external_id": "elsewhere-1",
                "requester": {"email": OTHER},
                "text": "Do you ship to Madeira?",
                "sent_at": iso(at(5)),
            },
        )
    assert foreign.status_code == 201, foreign.text

    first = (await report(desk))["first_response"]

    assert first["overall"] == {
        "tickets": 3,
        "responded": 2,
        "unanswered": 1,
        "median_minutes": 60.0,
        "p90_minutes": 84.0,
    }
    assert by_channel(first["by_sales_channel"], store) == {
        "sales_channel_id": store,
        "sales_channel_name": "Web",
        "tickets": 2,
        "responded": 2,
        "unanswered": 0,
        "median_minutes": 60.0,
        "p90_minutes": 84.0,
    }
    unknown = by_channel(first["by_sales_channel"], None)
    assert (unknown["tickets"], unknown["unanswered"], unknown["median_minutes"]) == (1, 1, None)
    assert [r["sales_channel_id"] for r in first["by_sales_channel"]] == [store, None]


async def test_resolution_time_and_csat_per_intent_and_store(
    desk: Desk, tenant: TenantKeys
) -> None:
    store = desk.orders.shop.channel_id
    fast = await written(desk, "Where is my parcel? It has not arrived yet.", 0)
    slow = await written(
        desk, "Where is my parcel? It has still not arrived.", 30, sales_channel_id=store
    )
    still_open = await written(desk, "Where is my parcel? Nothing arrived.", 60)
    wismo = await intent_of(desk, fast)
    assert [await intent_of(desk, t) for t in (slow, still_open)] == [wismo, wismo]
    await answer(desk, tenant, fast, 120, resolve=True)
    await answer(desk, tenant, slow, 30 + 360, resolve=True)
    await rate(desk, tenant, fast, 5)
    await rate(desk, tenant, slow, 2)

    figures = await report(desk)

    (resolution,) = figures["resolution"]["by_intent"]
    assert resolution == {
        "intent": wismo,
        "tickets": 3,
        "resolved": 2,
        "unresolved": 1,
        "median_hours": 4.0,
        "p90_hours": 5.6,
    }
    csat = figures["csat"]
    assert csat["overall"] == {
        "rated": 2,
        "average_score": 3.5,
        "satisfied": 1,
        "satisfied_share": 0.5,
    }
    assert csat["by_intent"] == [{"intent": wismo, **csat["overall"]}]
    rated_at_store = by_channel(csat["by_sales_channel"], store)
    assert (rated_at_store["rated"], rated_at_store["average_score"]) == (1, 2.0)
    assert rated_at_store["satisfied_share"] == 0.0
    assert by_channel(csat["by_sales_channel"], None)["average_score"] == 5.0


async def test_wismo_share_beside_on_time_delivery(desk: Desk) -> None:
    first = await written(desk, "Where is my order? It has not arrived.", 0)
    second = await written(desk, "Where is my parcel? Still nothing.", 10)
    merged = await written(desk, "Where is my package? No news.", 20)
    await written(desk, "Do you sell the tent in green?", 30)
    assert {await intent_of(desk, t) for t in (first, second, merged)} == {"where_is_my_order"}
    merging = await desk.client.post(f"/v1/tickets/{first}/merge", json={"source_id": merged})
    assert merging.status_code == 201, merging.text
    await desk.orders.shop.stock(TENT_1__WH=10)
    deliveries = [
        ("2026-11-04T15:00:00Z", "2026-11-05"),
        ("2026-11-05T23:30:00Z", "2026-11-05"),
        ("2026-11-07T10:00:00Z", "2026-11-05"),
        ("2026-11-06T10:00:00Z", None),
        ("2026-10-20T10:00:00Z", "2026-10-18"),
        ("2026-11-20T10:00:00Z", "2026-11-25"),
    ]
    for delivered, estimate in deliveries:
        order = await desk.orders.place(("TENT-1", 1))
        shipment = await desk.orders.ship(order, estimated_delivery=estimate)
        await desk.orders.scan(shipment["id"], "delivered", delivered)

    wismo = (await report(desk))["wismo"]

    assert wismo == {
        "tickets": 3,
        "wismo_tickets": 2,
        "wismo_share": 0.6667,
        "delivered_shipments": 4,
        "with_estimate": 3,
        "on_time": 2,
        "late": 1,
        "without_estimate": 1,
        "on_time_rate": 0.6667,
    }


async def test_refund_rate_and_reasons(desk: Desk, tenant: TenantKeys) -> None:
    await desk.orders.shop.stock(TENT_1__WH=10)
    placed = "2026-11-03T10:00:00Z"
    damaged, halved, refunded_later, _kept = [
        await desk.orders.place(("TENT-1", 1), placed_at=placed) for _ in range(4)
    ]
    older = await desk.orders.place(("TENT-1", 1), placed_at="2026-10-15T10:00:00Z")
    await desk.orders.place(("TENT-1", 1), placed_at="2026-11-20T10:00:00Z")
    await refund(desk, tenant, damaged["id"], 1000, "damaged in transit", at(60))
    await refund(desk, tenant, halved["id"], 500, "damaged in transit", at(120))
    await refund(desk, tenant, older["id"], 200, "late, box torn", at(180))
    await refund(desk, tenant, refunded_later["id"], 100, "wrong size", at(60 * 24 * 20))

    refunds = (await report(desk))["refunds"]

    assert (refunds["orders_placed"], refunds["orders_refunded"]) == (4, 3)
    assert refunds["refund_rate"] == 0.75
    assert refunds["refunds"] == 3
    assert refunds["amounts"] == [{"amount": 1700, "currency": "EUR", "refunds": 3}]
    assert refunds["by_reason"] == [
        {
            "reason": "damaged in transit",
            "refunds": 2,
            "amounts": [{"amount": 1500, "currency": "EUR", "refunds": 2}],
        },
        {
            "reason": "late, box torn",
            "refunds": 1,
            "amounts": [{"amount": 200, "currency": "EUR", "refunds": 1}],
        },
    ]


async def test_auto_answered_tickets_count_as_deflected(desk: Desk) -> None:
    order = await desk.shipped_order()
    queue = await desk.queue("Orders", auto_answer_wismo=True)
    await desk.rule("WISMO", conditions={"intents": ["where_is_my_order"]}, queue_id=queue["id"])
    answered = await desk.chat(f"Hi, where is my order {order['number']}? It has not arrived.")
    await desk.chat("Do you sell gift cards?", email=OTHER)
    assert (await desk.ticket(answered["ticket_id"]))["ticket"]["deflected"] is True

    figures = await report(desk, until=iso(datetime.now(UTC) + timedelta(minutes=1)))

    assert figures["deflection"] == {"tickets": 2, "deflected": 1, "share": 0.5}
    assert figures["first_response"]["overall"]["unanswered"] == 1


async def test_the_default_window_is_the_last_30_days(desk: Desk) -> None:
    await desk.chat("Do you sell gift cards?", email=OTHER)
    await desk.chat("Do you ship to Madeira?", email=OTHER, sent_at="2026-01-02T09:00:00Z")

    response = await desk.client.get("/v1/helpdesk/metrics")

    assert response.status_code == 200, response.text
    figures = response.json()
    since = datetime.fromisoformat(figures["window"]["since"])
    until = datetime.fromisoformat(figures["window"]["until"])
    assert until - since == timedelta(days=30)
    assert abs(until - datetime.now(UTC)) < timedelta(minutes=1)
    assert figures["tickets"] == 1


async def test_sla_breaches_are_counted_even_after_the_clock_restarts(
    desk: Desk, tenant: TenantKeys
) -> None:
    strict = await desk.queue("Strict", first_response_minutes=60)
    relaxed = await desk.queue("Relaxed")
    await desk.rule("Everything", queue_id=strict["id"])
    late = await written(desk, "Do you ship to Madeira?", 0)
    await written(desk, "Do you sell gift cards?", 30)
    await answer(desk, tenant, (await written(desk, "Can I pay later?", 40)), 50)
    async with desk.hub.db.transaction() as session:
        announced = await jobs.announce_slas(session, at(125))
    assert announced >= 2, "both unanswered tickets ran past their first response"
    moved = await desk.client.patch(f"/v1/tickets/{late}", json={"queue_id": relaxed["id"]})
    assert moved.status_code == 200, moved.text

    sla = (await report(desk))["sla"]

    assert sla == [
        {"clock": "first_response", "breaches": 2, "tickets": 2},
        {"clock": "next_response", "breaches": 0, "tickets": 0},
        {"clock": "resolution", "breaches": 0, "tickets": 0},
    ]


async def test_the_csv_is_one_row_per_figure(desk: Desk, tenant: TenantKeys) -> None:
    quick = await written(desk, "Do you ship to Madeira?", 0)
    slow = await written(desk, "Can I pay by bank transfer?", 60)
    await answer(desk, tenant, quick, 30)
    await answer(desk, tenant, slow, 60 + 90)
    await desk.orders.shop.stock(TENT_1__WH=10)
    order = await desk.orders.place(("TENT-1", 2), placed_at="2026-11-03T10:00:00Z")
    await refund(desk, tenant, order["id"], 1250, "late, box torn", at(60))

    response = await desk.client.get("/v1/helpdesk/metrics.csv", params=WINDOW)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="helpdesk-metrics-20261101T000000Z-20261116T000000Z.csv"'
    )
    assert response.text.startswith("metric,dimension,value,count\r\n")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    figures = {(r["metric"], r["dimension"]): (r["value"], r["count"]) for r in rows}
    assert len(figures) == len(rows), "one row per figure"
    assert figures["first_response_minutes_median", "all"] == ("60.0", "2")
    assert figures["first_response_minutes_p90", "sales_channel:none"] == ("84.0", "2")
    assert figures["refunds", "reason:late, box torn"] == ("1", "1")
    assert figures["refund_amount.EUR", "reason:late, box torn"] == ("12.50", "1")
    assert figures["refund_rate", "all"] == ("1.0", "1")
    assert figures["csat_average", "all"] == ("", "0")


async def test_a_wrong_window_is_refused_naming_the_parameter(desk: Desk) -> None:
    cases = {
        "reversed": ({"since": "2026-11-10T00:00:00Z", "until": "2026-11-01T00:00:00Z"}, "until"),
        "empty": ({"since": "2026-11-10T00:00:00Z", "until": "2026-11-10T00:00:00Z"}, "until"),
        "too long": ({"since": "2025-01-01T00:00:00Z", "until": "2026-01-03T00:00:00Z"}, "until"),
        "no offset": ({"since": "2026-11-01T00:00:00", "until": "2026-11-10T00:00:00Z"}, "since"),
        "not a time": ({"since": "last week"}, "since"),
    }
    for name, (params, field) in cases.items():
        for path in ("/v1/helpdesk/metrics", "/v1/helpdesk/metrics.csv"):
            response = await desk.client.get(path, params=params)

            assert response.status_code == 422, (name, path, response.text)
            problem = response.json()
            assert response.headers["content-type"] == "application/problem+json"
            assert problem["errors"][0]["parameter"] == field, (name, problem)
            assert problem["detail"].startswith(f"{field}: "), (name, problem)
    exactly_366 = {"since": "2025-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}
    assert (await desk.client.get("/v1/helpdesk/metrics", params=exactly_366)).status_code == 200


async def test_metrics_need_helpdesk_read(desk: Desk, tenant: TenantKeys) -> None:
    orders_only = await tenant.make_key("orders:read")
    readers = await tenant.make_key("helpdesk:read")

    async with http_client(desk.hub, orders_only) as refused:
        denied = await refused.get("/v1/helpdesk/metrics.csv", params=WINDOW)
    async with http_client(desk.hub, readers) as allowed:
        granted = await allowed.get("/v1/helpdesk/metrics", params=WINDOW)

    assert denied.status_code == 403
    assert denied.json()["required_scope"] == "helpdesk:read"
    assert granted.status_code == 200, granted.text
