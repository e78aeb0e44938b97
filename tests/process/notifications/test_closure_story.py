"""The store-closure story told by e-mail through a real SMTP server: the customer gets
exactly the right messages, each saying what the status API says, and never "ready for
pickup" once the store has closed."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from channelhub.hub import Hub
from channelhub.process.orders.models import OrderNotice
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.notifications import (
    SENDER,
    Mailbox,
    configure,
    dispatch,
    html_of,
    mail_settings,
    text_of,
)
from tests.fixtures.orders import Orders
from tests.process.orders.test_closure_story import look_up

pytestmark = pytest.mark.usefixtures("quiet_queue")


@pytest.fixture
def settings_overrides(mailbox: Mailbox) -> dict[str, Any]:
    return mail_settings(mailbox)


async def headline(orders: Orders, order_id: str) -> str:
    status = await orders.status(order_id, "pt")
    text: str = status["headline"]
    return text


@pytest.mark.parametrize(
    "ready_sent_before_closure",
    [
        pytest.param(True, id="ready-mail-sent-before"),
        pytest.param(False, id="ready-still-pending"),
    ],
)
async def test_store_closure_story_by_email(
    hub: Hub,
    tenant: TenantKeys,
    orders: Orders,
    mailbox: Mailbox,
    ready_sent_before_closure: bool,
) -> None:
    shop = orders.shop
    await configure(orders.client)
    await shop.stock(TENT_1__ST_PORTO=3, TENT_1__WH=10)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    order_id, group = order["id"], order["groups"][0]
    await dispatch(hub)
    expected = [await headline(orders, order_id)]
    assert expected == ["A sua encomenda NW-1001 está a ser preparada."]

    await orders.post(f"/v1/orders/{order_id}/groups/{group['id']}/ready-for-pickup")
    if ready_sent_before_closure:
        await dispatch(hub)
        expected.append(await headline(orders, order_id))

    await orders.close_store(shop.store_id, "flooding")
    await dispatch(hub)
    closed_headline = await headline(orders, order_id)
    expected.append(closed_headline)
    assert mailbox.subjects() == expected
    closure_mail = mailbox.messages[-1]
    status_now = await orders.status(order_id, "pt")
    assert closure_mail["Subject"] == "A loja de levantamento Porto store está encerrada."
    body = text_of(closure_mail)
    assert status_now["headline"] in body
    assert status_now["next_step"] in body
    assert "O que prefere que façamos?" in body
    for action in status_now["actions"]:
        assert f"- {action['label']}\n" in body
    assert "Entregar gratuitamente em minha casa" in html_of(closure_mail)

    # However the ready-for-pickup notice came back to pending (a withdrawal missed, a
    # redelivery), it is not sent (again): if it went before the closure, its delivery
    # row says so; if not, the re-check against the truth drops it, saying why.
    async with hub.db.transaction() as session:
        await session.execute(
            update(OrderNotice)
            .where(OrderNotice.order_id == order_id, OrderNotice.kind == "ready_for_pickup")
            .values(status="pending", decided_at=None)
        )
    await dispatch(hub)
    assert len(mailbox.messages) == len(expected)
    withdrawn = [
        item
        for item in await orders.timeline(order_id)
        if item["kind"] == "notice_suppressed" and item["actor"] == "notifications"
    ]
    assert [(w["data"]["notice"], w["data"]["reason"]) for w in withdrawn] == (
        [] if ready_sent_before_closure else [("ready_for_pickup", "the pickup store closed")]
    )

    # The customer chooses delivery home from the link; the order ships, then arrives
    # before the dispatcher runs again: "out for delivery" is old news by then.
    async with http_client(hub) as shopper:
        token = await look_up(shopper, tenant, "NW-1001")
        chosen = await shopper.post(
            "/v1/self-service/order/closure-choice",
            json={"option": "ship_home"},
            headers={"X-Order-Token": token},
        )
    assert chosen.status_code == 200, chosen.text
    await dispatch(hub)
    expected.append(await headline(orders, order_id))
    choice = await orders.get(f"/v1/orders/{order_id}")
    shipment = await orders.ship(choice, estimated_delivery="2026-12-03")
    await dispatch(hub)
    expected.append(await headline(orders, order_id))
    on_its_way = await orders.status(order_id, "pt")
    assert on_its_way["next_step"] == "Entrega prevista: quinta-feira, 3 de dezembro de 2026."
    assert on_its_way["next_step"] in text_of(mailbox.messages[-1])
    await orders.scan(shipment["id"], "out_for_delivery", "2026-12-03T08:00:00Z")
    await orders.scan(shipment["id"], "delivered", "2026-12-03T14:00:00Z")
    await dispatch(hub)
    expected.append(await headline(orders, order_id))

    assert mailbox.subjects() == expected
    assert expected[-3:] == [
        "A sua encomenda NW-1001 está a ser preparada.",
        "A sua encomenda NW-1001 está a caminho.",
        "A sua encomenda NW-1001 foi entregue.",
    ]
    assert {to for _, tos in mailbox.envelopes for to in tos} == {"ana@example.com"}
    assert {sender for sender, _ in mailbox.envelopes} == {SENDER}
    assert not any("pronta para levantamento" in s for s in mailbox.subjects()[2:])

    deliveries = await orders.get(f"/v1/orders/{order_id}/notifications")
    told = [(d["kind"], d["status"]) for d in deliveries]
    assert told == [
        ("order_confirmed", "sent"),
        *([("ready_for_pickup", "sent")] if ready_sent_before_closure else []),
        ("store_closed", "sent"),
        ("closure_resolved", "sent"),
        ("shipped", "sent"),
        ("delivered", "sent"),
    ]
    timeline = await orders.timeline(order_id)
    dropped = [
        item["data"]["reason"]
        for item in timeline
        if item["kind"] == "notice_suppressed" and item["data"]["notice"] == "out_for_delivery"
    ]
    assert dropped == ["the order was already delivered"]
    sent = [item["data"]["notice"] for item in timeline if item["kind"] == "notification_sent"]
    assert sent == [kind for kind, _ in told]
