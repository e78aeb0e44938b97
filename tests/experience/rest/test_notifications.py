"""The notifications REST API: settings with write-only secrets, templates checked when
saved, consents, what an order's customer was sent, and the unsubscribe page."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from channelhub.hub import Hub
from channelhub.process.notifications.models import NotificationSettings
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.notifications import Mailbox, configure, dispatch, mail_settings
from tests.fixtures.webhooks import allow_private_targets

pytestmark = pytest.mark.usefixtures("quiet_queue")

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TEMPLATE = {
    "kind": "ready_for_pickup",
    "channel": "email",
    "language": "pt",
    "subject": "{{ status.headline }}",
    "text": "{{ words.greeting }}\n{{ status.headline }}\n",
    "html": "",
}


@pytest.fixture
def settings_overrides(mailbox: Mailbox) -> dict[str, Any]:
    return mail_settings(mailbox)


async def test_settings_keep_secrets_sealed_and_never_show_them(
    hub: Hub, client: httpx.AsyncClient, tenant: TenantKeys
) -> None:
    before = await client.get("/v1/notification-settings")
    first = await configure(client, sms={"url": "https://sms.example/send", "secret": SECRET})
    kept = await configure(client, sms={"url": "https://sms.example/v2/send"})

    assert before.json()["email_from"] is None
    assert first["sms"] == {"url": "https://sms.example/send", "secret_set": True}
    assert kept["sms"] == {"url": "https://sms.example/v2/send", "secret_set": True}
    assert SECRET not in (await client.get("/v1/notification-settings")).text
    async with hub.db.reader() as session:
        row = await session.scalar(
            select(NotificationSettings).where(NotificationSettings.tenant_id == tenant.tenant_id)
        )
    assert row is not None
    assert row.sms_secret is not None
    assert SECRET.encode() not in row.sms_secret
    assert hub.secret_box.open(row.sms_secret) == {"secret": SECRET}


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        pytest.param({"sms": {"url": "https://sms.example/send"}}, "#/sms/secret", id="no-secret"),
        pytest.param(
            {"sms": {"url": "https://sms.example", "secret": "hunter2"}},
            "#/sms/secret",
            id="not-whsec",
        ),
        pytest.param({"order_page_url": "https://shop.example/o"}, "#/order_page_url", id="token"),
        pytest.param(
            {"quiet_hours": {"start": "21:00", "end": "08:00", "timezone": "Mars/Olympus"}},
            "#/quiet_hours/timezone",
            id="zone",
        ),
    ],
)
async def test_bad_settings_are_refused_naming_the_field(
    client: httpx.AsyncClient, body: dict[str, Any], pointer: str
) -> None:
    response = await client.put("/v1/notification-settings", json=body)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == pointer
    assert (await client.get("/v1/notification-settings")).json()["updated_at"] is None


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        pytest.param(
            {"sms": {"url": "http://127.0.0.1:8080/send", "secret": SECRET}},
            "#/sms/url",
            id="sms-loopback",
        ),
        pytest.param(
            {"push": {"url": "http://169.254.169.254/latest/meta-data", "secret": SECRET}},
            "#/push/url",
            id="push-cloud-metadata",
        ),
        pytest.param(
            {"sms": {"url": "http://localhost/send", "secret": SECRET}},
            "#/sms/url",
            id="sms-localhost",
        ),
        pytest.param(
            {"push": {"url": "https://[::ffff:10.0.0.1]/notify", "secret": SECRET}},
            "#/push/url",
            id="push-mapped-private",
        ),
    ],
)
async def test_a_provider_url_inside_the_network_is_refused_unless_the_tenant_allows_it(
    client: httpx.AsyncClient, body: dict[str, Any], pointer: str
) -> None:
    refused = await client.put("/v1/notification-settings", json=body)
    unchanged = (await client.get("/v1/notification-settings")).json()
    await allow_private_targets(client)
    allowed = await client.put("/v1/notification-settings", json=body)

    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "webhook_target_refused"
    assert [e["pointer"] for e in refused.json()["errors"]] == [pointer]
    assert (unchanged["sms"], unchanged["push"]) == (None, None)
    assert allowed.status_code == 200, allowed.text


async def test_a_template_error_is_a_422_with_the_part_and_line(client: httpx.AsyncClient) -> None:
    broken = {**TEMPLATE, "html": "<p>\n{{ status.headline }\n</p>"}

    response = await client.post("/v1/notification-templates", json=broken)

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "template_invalid"
    assert problem["line"] == 2
    assert problem["errors"][0]["pointer"] == "#/html"
    assert problem["detail"].startswith("html template, line 2: ")
    assert (await client.get("/v1/notification-templates")).json()["data"] == []


async def test_templates_are_created_changed_previewed_and_deleted(
    client: httpx.AsyncClient,
) -> None:
    created = await client.post("/v1/notification-templates", json=TEMPLATE)
    again = await client.post("/v1/notification-templates", json=TEMPLATE)
    template_id = created.json()["id"]
    changed = await client.put(
        f"/v1/notification-templates/{template_id}",
        json={"subject": "Pronta: {{ status.number }}", "text": "{{ status.next_step }}"},
    )
    preview = await client.post(
        "/v1/notification-templates/preview",
        json={**TEMPLATE, "subject": "Olá {{ customer.name }}!"},
    )
    deleted = await client.delete(f"/v1/notification-templates/{template_id}")

    assert created.status_code == 201, created.text
    assert created.headers["Location"] == f"/v1/notification-templates/{template_id}"
    assert again.status_code == 409
    assert again.json()["code"] == "template_exists"
    assert (changed.json()["version"], changed.json()["subject"]) == (
        2,
        "Pronta: {{ status.number }}",
    )
    assert preview.json()["subject"] == "Olá Ana Silva!"
    assert deleted.status_code == 204
    gone = await client.get(f"/v1/notification-templates/{template_id}")
    assert gone.status_code == 404


async def test_a_tenant_template_words_the_message(
    hub: Hub, client: httpx.AsyncClient, orders: Any, mailbox: Mailbox
) -> None:
    await configure(client)
    confirmed = {
        **TEMPLATE,
        "kind": "order_confirmed",
        "subject": "Encomenda {{ status.number }} confirmada",
    }
    assert (await client.post("/v1/notification-templates", json=confirmed)).status_code == 201
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))

    await dispatch(hub)

    status = await orders.status(order["id"], "pt")
    assert mailbox.subjects() == ["Encomenda NW-1001 confirmada"]
    body = mailbox.messages[0].get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == f"Olá Ana Silva,\n{status['headline']}\n"  # type: ignore[attr-defined]


async def test_consents_are_recorded_and_listed(client: httpx.AsyncClient) -> None:
    put = await client.put(
        "/v1/notification-consents",
        json={
            "channel": "sms",
            "contact": "+351 912-345-678",
            "subscribed": True,
            "source": "checkout",
        },
    )
    wrong = await client.put(
        "/v1/notification-consents",
        json={"channel": "sms", "contact": "ana@example.com", "subscribed": True},
    )
    listed = await client.get("/v1/notification-consents", params={"contact": "+351912345678"})

    assert put.status_code == 200, put.text
    assert (put.json()["contact"], put.json()["subscribed"]) == ("+351912345678", True)
    assert wrong.status_code == 422
    assert [c["id"] for c in listed.json()["data"]] == [put.json()["id"]]


async def test_the_unsubscribe_page_asks_first_and_one_click_unsubscribes(
    hub: Hub, client: httpx.AsyncClient, orders: Any, mailbox: Mailbox
) -> None:
    await configure(client)
    await orders.shop.stock(TENT_1__WH=5)
    await orders.place(("TENT-1", 1))
    await dispatch(hub)
    link = (
        mailbox.messages[0]["List-Unsubscribe"].strip("<>").removeprefix("https://hub.example.com")
    )

    async with http_client(hub) as shopper:
        page = await shopper.get(link)
        consents_after_page = (await client.get("/v1/notification-consents")).json()["data"]
        done = await shopper.post(link)
        forged = await shopper.post(link[:-3] + "abc")

    assert page.status_code == 200
    assert "Deixar de receber e-mails sobre as suas encomendas de" in page.text
    assert consents_after_page == []
    assert done.status_code == 200
    assert "Deixará de receber e-mails" in done.text
    (consent,) = (await client.get("/v1/notification-consents")).json()["data"]
    assert (consent["channel"], consent["contact"], consent["subscribed"], consent["source"]) == (
        "email",
        "ana@example.com",
        False,
        "unsubscribe_link",
    )
    assert forged.status_code == 401


async def test_notifications_need_their_scope(hub: Hub, tenant: TenantKeys) -> None:
    key = await tenant.make_key("orders:read")
    async with http_client(hub, key) as limited:
        response = await limited.get("/v1/notification-settings")

    assert response.status_code == 403
    assert response.json()["required_scope"] == "notifications:read"
