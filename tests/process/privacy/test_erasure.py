"""GDPR erasure: after it, nothing anywhere in the hub names the person, while everything
else (other customers, other tenants, the money) is exactly as it was."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, ForeignKey, String, Table, Text, func, select
from standardwebhooks import Webhook

from channelhub.hub import Hub
from channelhub.migrations.models import Base
from channelhub.platform.db.base import JSONDocument
from channelhub.platform.events.consumers import ConsumerRegistry
from channelhub.platform.events.models import OutboxEvent
from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.webhooks.models import WebhookAttempt, WebhookDelivery
from channelhub.process.customers.schemas import CustomerUpsert
from channelhub.process.customers.service import upsert_customer
from channelhub.process.notifications.models import NotificationDelivery
from channelhub.process.orders.models import OrderNotice
from channelhub.process.orders.schemas import ExternalRef
from channelhub.process.privacy import erasure, sweep
from channelhub.process.privacy.erasure import ERASED_REASON
from tests.fixtures.connections import connect
from tests.fixtures.events import eventually
from tests.fixtures.hub import TenantKeys, http_client, make_settings, new_tenant
from tests.fixtures.notifications import Mailbox, configure, mail_settings
from tests.fixtures.orders import ADDRESS, Orders
from tests.fixtures.outside import Outside
from tests.fixtures.privacy import Someone, grep_every_table, word
from tests.fixtures.webhooks import (
    FAST_WEBHOOKS,
    Receivers,
    add_endpoint,
    allow_private_targets,
)

pytestmark = pytest.mark.usefixtures("quiet_queue")

SECRET = "whsec_" + base64.b64encode(b"erasure-test-secret-012345").decode()
CART = {"currency": "EUR", "lines": [{"sku": "TENT-1", "quantity": 1, "unit_price": 20000}]}
CRM = "crm.test"


@pytest.fixture
async def hub(
    database_url: str,
    consumers: ConsumerRegistry,
    outside: Outside,
    receivers: Receivers,
    mailbox: Mailbox,
) -> AsyncIterator[Hub]:
    """The test hub, whose webhooks reach ``receivers`` and whose e-mail reaches
    ``mailbox`` (started by the test that needs its background work)."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(outside), timeout=5)
    webhook_http = httpx.AsyncClient(transport=httpx.MockTransport(receivers))
    instance = Hub(
        make_settings(database_url, **FAST_WEBHOOKS, **mail_settings(mailbox)),
        consumers=consumers,
        http=http,
        webhook_http=webhook_http,
    )
    yield instance
    await instance.stop()
    await http.aclose()
    await webhook_http.aclose()


# --- the story ------------------------------------------------------------------------


async def _mail_through_the_inbox(
    hub: Hub, client: httpx.AsyncClient, ana: Someone, order_number: str
) -> None:
    """Ana writes to customer service; the mail arrives through the e-mail connection's
    hook and is stored raw in the inbox: her name only in an RFC 2047 encoded header, her
    words in a base64 part, a file attached."""
    connection = await connect(hub, client, "email", SECRET)
    address = f"care@{connection.id.lower()}.example"
    created = await client.post(
        "/v1/helpdesk/mailboxes", json={"address": address, "connection_id": connection.id}
    )
    assert created.status_code == 201, created.text
    mail = EmailMessage()
    mail["From"] = f"{ana.name} <{ana.email}>"
    mail["To"] = address
    mail["Subject"] = f"Torn tent, order {order_number}"
    mail["Message-ID"] = f"<{word(12)}@mail.example.com>"
    mail.set_content(
        f"Hello, I am {ana.name}. The tent of {order_number} arrived torn.\n"
        f"Please collect it at {ana.street} or call me on {ana.phone}.\n",
        cte="base64",
    )
    mail.add_attachment(
        f"receipt for {ana.name}".encode(), maintype="application", subtype="pdf", filename="r.pdf"
    )
    raw = mail.as_bytes()
    assert ana.name.encode() not in raw.split(b"\n\n", 1)[1], "the body is encoded"
    now = datetime.now(UTC)
    delivery = f"mail-{word(8)}"
    sent = await connection.send(
        raw,
        {
            "webhook-id": delivery,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(SECRET).sign(delivery, now, raw.decode()),
            "content-type": "message/rfc822",
        },
    )
    assert sent.status_code in (200, 202), sent.text


async def _chat(client: httpx.AsyncClient, who: Someone, text: str) -> None:
    sent = await client.post(
        "/v1/helpdesk/messages",
        json={
            "channel": "chat",
            "external_id": f"chat-{word(10)}",
            "requester": {"name": who.name, "email": who.email},
            "text": text,
        },
    )
    assert sent.status_code == 201, sent.text


async def _customer(hub: Hub, tenant: TenantKeys, who: Someone, shopify_id: str = "") -> str:
    async with hub.db.transaction() as session:
        customer, _ = await upsert_customer(
            session,
            tenant.principal,
            CustomerUpsert(
                external_id=ExternalRef(system="shopify", id=shopify_id or f"gid-{word(8)}"),
                email=who.email,
                phone=who.phone,
                name=who.name,
            ),
        )
    return customer.id


def _address(who: Someone) -> dict[str, Any]:
    return {**ADDRESS, "name": who.name, "line1": who.street, "phone": who.phone}


async def _settled(hub: Hub, tenant_id: str, receivers: Receivers) -> bool:
    """Every event of the tenant published and delivered to the webhook receiver, with
    its attempt logged; the inbox and the notifications done."""
    async with hub.db.reader() as session:
        events = (
            await session.execute(
                select(OutboxEvent.id, OutboxEvent.published_at)
                .where(OutboxEvent.tenant_id == tenant_id)
                .order_by(OutboxEvent.position)
            )
        ).all()
        deliveries = await session.scalar(
            select(func.count()).where(
                WebhookDelivery.tenant_id == tenant_id, WebhookDelivery.status == "delivered"
            )
        )
        attempts = await session.scalar(
            select(func.count())
            .select_from(WebhookAttempt)
            .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
            .where(WebhookDelivery.tenant_id == tenant_id)
        )
        pending = await session.scalar(
            select(func.count()).where(
                InboxRecord.tenant_id == tenant_id, InboxRecord.status != "processed"
            )
        )
        sent = await session.scalar(
            select(func.count()).where(
                NotificationDelivery.tenant_id == tenant_id, NotificationDelivery.status == "sent"
            )
        )
    published = all(at is not None for _, at in events)
    return (
        published
        and events[-1][0] in receivers.ids(CRM)
        and deliveries == attempts == len(receivers.ids(CRM))
        and pending == 0
        and bool(sent)
    )


def _unsigned(view: dict[str, Any]) -> dict[str, Any]:
    """A ticket's view without its rating link (signed afresh, with the time, each read)."""
    return {key: value for key, value in view.items() if key != "csat_url"}


def _money(order: dict[str, Any]) -> dict[str, Any]:
    return {
        key: order[key]
        for key in (
            "number",
            "status",
            "payment_status",
            "subtotal",
            "shipping_total",
            "discount_total",
            "tax_total",
            "total",
            "refunded_total",
            "lines",
        )
    }


async def test_an_erasure_leaves_nothing_of_the_person_anywhere_and_nothing_else_changes(
    hub: Hub,
    client: httpx.AsyncClient,
    tenant: TenantKeys,
    orders: Orders,
    receivers: Receivers,
    mailbox: Mailbox,
) -> None:
    ana, bob = Someone.new("Ana"), Someone.new("Bob")
    await hub.start()
    await allow_private_targets(client)
    receivers.answer(CRM, 200, body=json.dumps({"ok": True, "seen": ana.email}))
    await add_endpoint(client, receivers.url(CRM))
    await configure(client)
    await orders.shop.stock(TENT_1__WH=10)
    # As a guest first: her uses of the campaign are counted by e-mail address.
    campaign = (
        await client.post(
            "/v1/campaigns",
            json={
                "name": f"Spring {word(6)}",
                "type": "vouchers",
                "effect": {"kind": "free_shipping"},
                "per_customer": 3,
            },
        )
    ).json()
    await client.post(f"/v1/campaigns/{campaign['id']}/vouchers", json={"code": "SPRING-TENT"})
    redeemed = await client.post(
        "/v1/promotions/redemptions",
        json={
            "cart": {**CART, "shipping": 500},
            "codes": ["SPRING-TENT"],
            "customer": {"email": ana.email},
        },
    )
    assert redeemed.status_code == 201, redeemed.text
    ana_id = await _customer(hub, tenant, ana)
    bob_id = await _customer(hub, tenant, bob)
    patched = await client.patch(f"/v1/customers/{ana_id}", json={"metadata": {"club": "run"}})
    assert patched.status_code == 200, patched.text
    placed = await client.post(
        "/v1/orders",
        json=orders.body(
            ("TENT-1", 2),
            customer={"email": ana.email.upper(), "name": ana.name, "phone": ana.phone},
            shipping_address=_address(ana),
            billing_address=_address(ana),
            notes=f"{ana.name.split()[0]} asked for gift wrap",
        ),
        headers={"Idempotency-Key": f"order-{word(8)}"},
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    bob_order = await orders.place(
        ("TENT-1", 1),
        customer={"email": bob.email, "name": bob.name, "phone": bob.phone},
        shipping_address=_address(bob),
    )
    shipment = await orders.ship(order)
    await orders.scan(shipment["id"], "delivered", "2026-11-27T10:00:00Z")
    line = order["lines"][0]["id"]
    returned = await orders.post(
        f"/v1/orders/{order['id']}/returns",
        {"items": [{"line_id": line, "quantity": 1}], "reason": "damaged", "note": "torn seam"},
    )
    await orders.post(f"/v1/returns/{returned['id']}/approve", {"note": "ok"})
    await orders.post(f"/v1/returns/{returned['id']}/receive")
    await orders.post(
        f"/v1/orders/{order['id']}/refunds",
        {
            "amount": 1000,
            "reason": f"torn tent, refunded to {ana.name}",
            "return_id": returned["id"],
        },
    )
    consent = await client.put(
        "/v1/notification-consents",
        json={"channel": "sms", "contact": ana.phone, "subscribed": False, "source": "call"},
    )
    assert consent.status_code == 200, consent.text
    await _mail_through_the_inbox(hub, client, ana, order["number"])
    await _chat(client, ana, f"Hi, {ana.name} here: can I pick the new tent up instead?")
    await _chat(client, bob, "Bob here, a question about boots.")
    other = await new_tenant(hub, "other")
    async with http_client(hub, other.admin_key) as other_client:
        other_ana = await _customer(hub, other, ana)
        await _chat(other_client, ana, f"{ana.name} writing to the other shop.")
    await eventually(lambda: _settled(hub, tenant.tenant_id, receivers), what="all settled")
    receivers.answer(CRM, 200)  # the receiver stops naming her in its answers (the log's)
    tickets = (await orders.get("/v1/tickets", limit=50))["data"]
    (bob_ticket,) = [t["id"] for t in tickets if t["requester"]["email"] == bob.email]
    before = {
        "order": _money(await orders.get(f"/v1/orders/{order['id']}")),
        "bob_order": await orders.get(f"/v1/orders/{bob_order['id']}"),
        "bob": await orders.get(f"/v1/customers/{bob_id}"),
        "campaign": await orders.get(f"/v1/campaigns/{campaign['id']}"),
        "voucher": await orders.get("/v1/vouchers/SPRING-TENT"),
        "bob_ticket": _unsigned(await orders.get(f"/v1/tickets/{bob_ticket}")),
        "redemption": await orders.get(f"/v1/promotions/redemptions/{redeemed.json()['id']}"),
    }
    hits_before = await grep_every_table(hub, ana.needles())
    assert {table for table, _, _, t in hits_before if t != other.tenant_id} >= {
        "customers",
        "orders",
        "order_timeline",
        "tickets",
        "ticket_messages",
        "ticket_attachments",
        "inbox",
        "outbox",
        "webhook_messages",
        "webhook_attempts",
        "notification_deliveries",
        "notification_consents",
        "promotion_redemptions",
        "promotion_customer_usage",
        "idempotency_keys",
    }, "the story put the person in every context"

    erased = await client.post(f"/v1/customers/{ana_id}/erase")

    assert erased.status_code == 200, erased.text
    report = erased.json()
    assert report["already_erased"] is False
    assert report["tables"]["customers"] == 1
    assert report["tables"]["orders"] == 1
    assert report["tables"]["inbox"] == 1
    assert report["tables"]["ticket_attachments"] == 1
    assert report["tables"]["promotion_customer_usage"] == 1
    hits = await grep_every_table(hub, ana.needles())
    assert [hit for hit in hits if hit[3] != other.tenant_id] == [], "only B's records name her"
    async with http_client(hub, other.admin_key) as other_client:
        theirs = (await other_client.get(f"/v1/customers/{other_ana}")).json()
    assert (theirs["email"], theirs["name"], theirs["erased_at"]) == (ana.email, ana.name, None)

    after_order = await orders.get(f"/v1/orders/{order['id']}")
    assert _money(after_order) == before["order"], "figures, number and status unchanged"
    assert after_order["customer"]["email"].endswith("@erased.invalid")
    assert after_order["shipping_address"]["city"] == ADDRESS["city"]
    assert await orders.get(f"/v1/orders/{bob_order['id']}") == before["bob_order"]
    assert await orders.get(f"/v1/customers/{bob_id}") == before["bob"]
    assert await orders.get(f"/v1/campaigns/{campaign['id']}") == before["campaign"]
    assert await orders.get("/v1/vouchers/SPRING-TENT") == before["voucher"]
    redemption = await orders.get(f"/v1/promotions/redemptions/{redeemed.json()['id']}")
    assert redemption == {**before["redemption"], "customer_email": redemption["customer_email"]}
    assert redemption["customer_email"] == after_order["customer"]["email"]
    assert _unsigned(await orders.get(f"/v1/tickets/{bob_ticket}")) == before["bob_ticket"]
    customer = await orders.get(f"/v1/customers/{ana_id}")
    assert customer["erased_at"] == report["erased_at"]
    assert (customer["metadata"], customer["external_ids"][0]["id"].startswith("erased-")) == (
        {},
        True,
    )

    events = await orders.get("/v1/events", type="customer.erased")
    (event,) = events["data"]
    assert event["subject"] == ana_id
    assert event["data"]["tables"] == report["tables"]
    assert event["data"]["requested_by"] != "system"
    assert all(needle not in json.dumps(event).lower() for needle in ana.needles().values())

    again = await client.post(f"/v1/customers/{ana_id}/erase")
    anew = await client.post(
        "/v1/orders",
        json=orders.body(("TENT-1", 1), customer={"email": ana.email, "name": ana.name}),
    )
    assert again.json() == {**report, "already_erased": True, "tables": {}}
    assert anew.status_code == 201, anew.text
    assert anew.json()["customer"]["email"] == ana.email, "a new order is a new person's"


async def test_erasure_needs_the_privacy_scope_and_repeats_as_a_no_op(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ana = Someone.new("Ana")
    ana_id = await _customer(hub, tenant, ana, shopify_id="gid-ana")
    async with http_client(hub, await tenant.make_key("customers:write")) as writer:
        refused = await writer.post(f"/v1/customers/{ana_id}/erase")
    async with http_client(hub, await tenant.make_key("privacy:write")) as privacy:
        unknown = await privacy.post("/v1/customers/cus_nobody/erase")
        first = await privacy.post(f"/v1/customers/{ana_id}/erase")
        second = await privacy.post(f"/v1/customers/{ana_id}/erase")
    other = await new_tenant(hub, "other")
    async with http_client(hub, other.admin_key) as stranger:
        elsewhere = await stranger.post(f"/v1/customers/{ana_id}/erase")

    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "privacy:write"
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "customer_not_found"
    assert elsewhere.status_code == 404
    assert first.status_code == 200, first.text
    assert first.json()["already_erased"] is False
    # The outbox holds customer.created, which named her.
    assert first.json()["tables"] == {"customer_external_ids": 1, "customers": 1, "outbox": 1}
    assert second.status_code == 200
    assert second.json() == {**first.json(), "already_erased": True, "tables": {}}
    events = (await client.get("/v1/events", params={"type": "customer.erased"})).json()
    assert len(events["data"]) == 1, "a repeat changes nothing and records nothing"
    shown = (await client.get(f"/v1/customers/{ana_id}")).json()
    assert shown["email"] != ana.email
    assert shown["email"].endswith("@erased.invalid")
    again = await _customer(hub, tenant, ana, shopify_id="gid-ana")
    assert again != ana_id, "the storefront telling of her again makes a new customer"


@pytest.fixture
async def later_tables(hub: Hub) -> AsyncIterator[tuple[Table, Table]]:
    """Two tables the erasure code has never heard of, as a context written later would
    add them: a tenant's loyalty ledger, and segment members tied to orders by a key."""
    suffix = word(8)
    ledger = Table(
        f"loyalty_ledger_{suffix}",
        Base.metadata,
        Column("id", String(40), primary_key=True),
        Column("tenant_id", String(40), ForeignKey("tenants.id")),
        Column("member", String(254)),
        Column("memo", Text),
        Column("extra", JSONDocument),
    )
    members = Table(
        f"segment_members_{suffix}",
        Base.metadata,
        Column("order_id", String(40), ForeignKey("orders.id"), primary_key=True),
        Column("segment", String(64), primary_key=True),
        Column("label", Text),
    )
    async with hub.db.engine.begin() as connection:
        await connection.run_sync(lambda sync: Base.metadata.create_all(sync, [ledger, members]))
    yield ledger, members
    async with hub.db.engine.begin() as connection:
        await connection.run_sync(lambda sync: Base.metadata.drop_all(sync, [members, ledger]))
    Base.metadata.remove(members)
    Base.metadata.remove(ledger)


async def test_a_table_added_later_is_covered_without_being_named(
    hub: Hub,
    client: httpx.AsyncClient,
    tenant: TenantKeys,
    orders: Orders,
    later_tables: tuple[Table, Table],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger, members = later_tables
    # One row a page: every table is read across page boundaries (composite keys too).
    monkeypatch.setattr(sweep, "PAGE", 1)
    monkeypatch.setattr(sweep, "BINARY_PAGE", 1)
    monkeypatch.setattr(erasure, "BINARY_PAGE", 1)
    ana, bob = Someone.new("Ana"), Someone.new("Bob")
    other = await new_tenant(hub, "other")
    await orders.shop.stock(TENT_1__WH=5)
    ana_id = await _customer(hub, tenant, ana)
    order = await orders.place(
        ("TENT-1", 1),
        customer={"email": ana.email, "name": ana.name},
        shipping_address=_address(ana),
    )
    bob_order = await orders.place(("TENT-1", 1), customer={"email": bob.email, "name": bob.name})
    rows = [
        {
            "id": "led_ana",
            "tenant_id": tenant.tenant_id,
            "member": ana.email.upper(),
            "memo": f"120 points for {ana.name}",
            "extra": {"phone": ana.phone.replace(" ", ""), "tier": "gold"},
        },
        {
            "id": "led_bob",
            "tenant_id": tenant.tenant_id,
            "member": bob.email,
            "memo": f"80 points for {bob.name}",
            "extra": {"tier": "silver"},
        },
        {
            "id": "led_other",
            "tenant_id": other.tenant_id,
            "member": ana.email,
            "memo": f"10 points for {ana.name}",
            "extra": {},
        },
    ]
    segments = [
        {"order_id": order["id"], "segment": "campers", "label": f"{ana.name}, {ana.street}"},
        {"order_id": bob_order["id"], "segment": "campers", "label": bob.name},
    ]
    async with hub.db.transaction() as session:
        await session.execute(ledger.insert(), rows)
        await session.execute(members.insert(), segments)

    erased = await client.post(f"/v1/customers/{ana_id}/erase")

    assert erased.status_code == 200, erased.text
    assert erased.json()["tables"][ledger.name] == 1
    assert erased.json()["tables"][members.name] == 1
    async with hub.db.reader() as session:
        stored = {
            row["id"]: dict(row)
            for row in (await session.execute(select(ledger).order_by(ledger.c.id))).mappings()
        }
        labels = dict((await session.execute(select(members.c.order_id, members.c.label))).all())
        notices = [
            tuple(row)
            for row in await session.execute(
                select(OrderNotice.kind, OrderNotice.status, OrderNotice.reason).where(
                    OrderNotice.order_id == order["id"]
                )
            )
        ]
        bob_notices = [
            tuple(row)
            for row in await session.execute(
                select(OrderNotice.kind, OrderNotice.status).where(
                    OrderNotice.order_id == bob_order["id"]
                )
            )
        ]
    ana_row = stored["led_ana"]
    assert ana_row["member"].endswith("@erased.invalid")
    assert ana_row["memo"].startswith("120 points for erased-")
    assert ana_row["extra"]["tier"] == "gold"
    assert ana_row["extra"]["phone"].startswith("erased-")
    assert stored["led_bob"] == rows[1]
    assert stored["led_other"] == rows[2], "another tenant's row is not the erasure's"
    assert all(needle not in labels[order["id"]].lower() for needle in ana.needles().values())
    assert labels[bob_order["id"]] == bob.name
    assert notices == [("order_confirmed", "suppressed", ERASED_REASON)], (
        "nobody is left to tell: the pending confirmation is not sent to the pseudonym"
    )
    assert bob_notices == [("order_confirmed", "pending")]


async def test_erasure_keeps_to_the_person_and_leaves_whoever_shares_a_name_or_an_address(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys, orders: Orders
) -> None:
    maria, bob = Someone.new("Maria"), Someone.new("Bob")
    namesake = Someone(
        email=f"{word(9)}@example.com", phone="+351 911 000 222", name=maria.name, street=""
    )
    await orders.shop.stock(TENT_1__WH=5)
    maria_id = await _customer(hub, tenant, maria)
    namesake_id = await _customer(hub, tenant, namesake)
    bob_id = await _customer(hub, tenant, bob)
    # Maria sends a gift to Bob's address; Bob orders for himself there too.
    await orders.place(
        ("TENT-1", 1),
        customer={"email": maria.email, "name": maria.name},
        shipping_address=_address(bob),
    )
    bob_order = await orders.place(
        ("TENT-1", 1),
        customer={"email": bob.email, "name": bob.name},
        shipping_address=_address(bob),
    )
    # One phone, stored in two spellings by two consents; and a chat from her typed phone.
    for contact in (maria.phone, maria.phone.replace("+351 ", "")):
        consent = await client.put(
            "/v1/notification-consents",
            json={"channel": "sms", "contact": contact, "subscribed": True, "source": "till"},
        )
        assert consent.status_code == 200, consent.text
    chat = await client.post(
        "/v1/helpdesk/messages",
        json={
            "channel": "chat",
            "external_id": f"chat-{word(10)}",
            "requester": {"phone": maria.phone},
            "text": "My IBAN is PT50 0002 0123 1234 5678 9015 4, please refund there.",
        },
    )
    assert chat.status_code in (200, 201), chat.text

    erased = await client.post(f"/v1/customers/{maria_id}/erase")

    assert erased.status_code == 200, erased.text
    assert await grep_every_table(hub, {"e-mail": maria.email, "iban": "pt50 0002"}) == []
    for other_id, who in ((namesake_id, namesake), (bob_id, bob)):
        shown = (await client.get(f"/v1/customers/{other_id}")).json()
        assert (shown["name"], shown["erased_at"]) == (who.name, None)
    kept = (await client.get(f"/v1/orders/{bob_order['id']}")).json()
    assert kept["shipping_address"]["line1"] == bob.street
    assert kept["customer"]["name"] == bob.name


async def test_an_erased_customer_leaves_the_segments_their_data_put_them_in(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    ana = Someone.new("Ana")
    ana_id = await _customer(hub, tenant, ana)
    await client.post(
        "/v1/segments",
        json={
            "key": "club",
            "name": "Club",
            "rules": {"field": "customer.metadata.club", "op": "exists", "value": True},
        },
    )
    await client.patch(f"/v1/customers/{ana_id}", json={"metadata": {"club": "gold"}})
    assert (await client.get(f"/v1/customers/{ana_id}")).json()["segments"] == ["club"]

    await client.post(f"/v1/customers/{ana_id}/erase")

    assert (await client.get(f"/v1/customers/{ana_id}")).json()["segments"] == []
    left = await client.get(
        "/v1/events", params={"type": "customer.segment_left", "subject": ana_id}
    )
    assert [e["data"]["segment_key"] for e in left.json()["data"]] == ["club"]
