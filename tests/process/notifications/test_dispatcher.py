"""Delivering notices: once per channel however often they are looked at, never what the
truth overtook, only with consent, SMS never in quiet hours, every decision on the
timeline."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from channelhub.hub import Hub
from channelhub.process.orders.models import OrderNotice
from tests.fixtures.events import eventually
from tests.fixtures.notifications import (
    PUBLIC_URL,
    Mailbox,
    configure,
    dispatch,
    html_of,
    mail_settings,
    text_of,
)
from tests.fixtures.orders import Orders
from tests.fixtures.outside import Outside

pytestmark = pytest.mark.usefixtures("quiet_queue")

SMS_URL = "https://sms.example/v1/messages"
PUSH_URL = "https://push.example/v1/notify"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture
def settings_overrides(mailbox: Mailbox) -> dict[str, Any]:
    return mail_settings(mailbox)


@pytest.fixture(autouse=True)
def _providers_resolve(dns: Callable[[str, str], None]) -> None:
    """The stand-in providers' names resolve to a public address."""


async def decisions(orders: Orders, order_id: str) -> list[tuple[str, str, str, str]]:
    """(timeline kind, notice, channel, reason) of the dispatcher's entries."""
    return [
        (
            item["kind"],
            item["data"]["notice"],
            item["data"].get("channel", ""),
            item["data"]["reason"],
        )
        for item in await orders.timeline(order_id)
        if item["actor"] == "notifications"
    ]


async def reset_to_pending(hub: Hub, order_id: str) -> None:
    """As if every notice of the order were delivered to the dispatcher again."""
    async with hub.db.transaction() as session:
        await session.execute(
            update(OrderNotice)
            .where(OrderNotice.order_id == order_id)
            .values(status="pending", decided_at=None, claimed_until=None, due_at=None)
        )


def later(hub: Hub, delta: timedelta) -> None:
    hub.notifications.clock = lambda: datetime.now(UTC) + delta


async def test_a_notice_redelivered_or_dispatched_twice_is_sent_once(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))

    await dispatch(hub)
    await dispatch(hub)
    await reset_to_pending(hub, order["id"])
    await dispatch(hub)

    assert mailbox.subjects() == ["A sua encomenda NW-1001 está a ser preparada."]
    message = mailbox.messages[0]
    assert message["Message-ID"].startswith("<ndl_")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith(f"<{PUBLIC_URL}/v1/self-service/unsubscribe?")
    assert message["From"] == "Northwind <orders@northwind.example>"
    sent = await orders.get(f"/v1/orders/{order['id']}/notifications")
    assert [(d["kind"], d["status"], d["attempts"]) for d in sent] == [
        ("order_confirmed", "sent", 1)
    ]
    assert sent[0]["provider_message_id"] == "2.0.0 Ok: queued as Q1"


async def test_a_message_whose_send_was_cut_short_is_never_sent_again(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    await dispatch(hub)  # other tests' leftovers: this order's notice is in the next batch
    order = await orders.place(("TENT-1", 1))
    real_send = hub.notifications.transport.send_email

    sending = asyncio.Event()

    async def stuck(_email: Any) -> str:
        sending.set()
        await asyncio.sleep(3600)
        return ""

    hub.notifications.transport.send_email = stuck  # type: ignore[method-assign]
    dying = asyncio.create_task(hub.notifications.dispatch_due())
    await asyncio.wait_for(sending.wait(), 10)
    dying.cancel()  # the process dies mid-send
    with pytest.raises(asyncio.CancelledError):
        await dying
    hub.notifications.transport.send_email = real_send  # type: ignore[method-assign]

    await dispatch(hub)
    (claimed,) = await orders.get(f"/v1/orders/{order['id']}/notifications")
    assert claimed["status"] == "sending"  # its lease still holds: nobody touches it
    later(hub, timedelta(minutes=10))
    await dispatch(hub)

    assert mailbox.messages == []
    (delivery,) = await orders.get(f"/v1/orders/{order['id']}/notifications")
    assert delivery["status"] == "failed"
    assert "outcome of an earlier attempt is unknown" in delivery["reason"]
    assert [d[:3] for d in await decisions(orders, order["id"])] == [
        ("notification_failed", "order_confirmed", "email")
    ]


async def test_a_notice_the_order_outgrew_is_dropped_with_the_reason(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__ST_PORTO=2)
    order = await orders.place(("TENT-1", 1), pickup="ST-PORTO")
    group = order["groups"][0]["id"]
    await dispatch(hub)
    await orders.post(f"/v1/orders/{order['id']}/groups/{group}/ready-for-pickup")
    await orders.post(f"/v1/orders/{order['id']}/groups/{group}/picked-up")

    await dispatch(hub)

    assert mailbox.subjects() == ["A sua encomenda NW-1001 está a ser preparada."]
    assert await decisions(orders, order["id"]) == [
        ("notification_sent", "order_confirmed", "email", ""),
        ("notice_suppressed", "ready_for_pickup", "", "the order was already collected"),
    ]
    async with hub.db.reader() as session:
        notice = await session.scalar(
            select(OrderNotice).where(
                OrderNotice.order_id == order["id"], OrderNotice.kind == "ready_for_pickup"
            )
        )
    assert notice is not None
    assert (notice.status, notice.reason) == ("suppressed", "the order was already collected")


async def test_a_cancelled_order_gets_the_cancellation_and_refund_only(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1), customer={"email": "bo@example.com", "name": ""})
    await orders.post(f"/v1/orders/{order['id']}/cancel", {"reason": "out of stock"})

    await dispatch(hub)

    cancelled = await orders.status(order["id"], "en")
    assert mailbox.subjects() == [cancelled["headline"], cancelled["headline"]]
    assert cancelled["headline"] == "Your order NW-1001 was cancelled."
    assert text_of(mailbox.messages[0]).startswith("Hello,\n")
    sent = await orders.get(f"/v1/orders/{order['id']}/notifications")
    assert [(d["kind"], d["status"]) for d in sent] == [
        ("cancelled", "sent"),
        ("refund_issued", "sent"),
    ]


async def test_an_unsubscribed_customer_gets_no_email_and_the_timeline_says_why(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    answer = await orders.client.put(
        "/v1/notification-consents",
        json={
            "channel": "email",
            "contact": "ANA@example.com",
            "subscribed": False,
            "source": "call",
        },
    )
    assert answer.status_code == 200, answer.text
    order = await orders.place(("TENT-1", 1))

    await dispatch(hub)

    assert mailbox.messages == []
    assert await decisions(orders, order["id"]) == [
        (
            "notification_suppressed",
            "order_confirmed",
            "email",
            "the customer opted out of email (call)",
        )
    ]


async def test_the_one_click_unsubscribe_link_stops_the_next_emails(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    first = await orders.place(("TENT-1", 1))
    await dispatch(hub)
    link = mailbox.messages[0]["List-Unsubscribe"].strip("<>")
    assert link in html_of(mailbox.messages[0])

    response = await orders.client.post(
        link.removeprefix(PUBLIC_URL),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Authorization": ""},
    )
    assert response.status_code == 200, response.text
    second = await orders.place(("TENT-1", 1))
    await dispatch(hub)

    assert len(mailbox.messages) == 1
    assert await decisions(orders, second["id"]) == [
        (
            "notification_suppressed",
            "order_confirmed",
            "email",
            "the customer opted out of email (unsubscribe_link)",
        )
    ]
    assert first["id"] != second["id"]


async def test_without_a_sender_address_emails_are_suppressed_saying_so(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))

    await dispatch(hub)

    assert mailbox.messages == []
    assert await decisions(orders, order["id"]) == [
        (
            "notification_suppressed",
            "order_confirmed",
            "email",
            "e-mail is not set up: no sender address in the notification settings",
        )
    ]


async def test_a_temporary_smtp_refusal_is_retried_then_sent_once(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    mailbox.refuse_data.append("451 4.3.0 Try again later")

    await dispatch(hub)
    (waiting,) = await orders.get(f"/v1/orders/{order['id']}/notifications")
    later(hub, timedelta(seconds=61))
    await dispatch(hub)

    assert (waiting["status"], waiting["attempts"]) == ("deferred", 1)
    assert waiting["reason"] == "will retry: the SMTP server answered 451 4.3.0 Try again later"
    assert mailbox.subjects() == ["A sua encomenda NW-1001 está a ser preparada."]
    (done,) = await orders.get(f"/v1/orders/{order['id']}/notifications")
    assert (done["status"], done["attempts"]) == ("sent", 2)


async def test_a_refused_recipient_is_a_failure_on_the_timeline(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1))
    mailbox.refuse_rcpt.append("550 5.1.1 No such user")

    await dispatch(hub)

    assert mailbox.messages == []
    assert await decisions(orders, order["id"]) == [
        (
            "notification_failed",
            "order_confirmed",
            "email",
            "the SMTP server refused the recipient (550)",
        )
    ]


def verified(outside: Outside, url_path: str) -> list[dict[str, Any]]:
    """What the provider received, each verified as its own library would."""
    bodies = []
    for request in outside.sent("POST", url_path):
        headers = dict(request.headers.items())
        bodies.append(Webhook(SECRET).verify(request.content, headers))
    return bodies


async def test_sms_waits_for_the_end_of_quiet_hours_then_goes_if_still_true(
    hub: Hub, orders: Orders, mailbox: Mailbox, outside: Outside
) -> None:
    await configure(
        orders.client,
        sms={"url": SMS_URL, "secret": SECRET},
        quiet_hours={"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon"},
    )
    outside.route("POST", "/v1/messages", json={"id": "sms-1"})
    await orders.client.put(
        "/v1/notification-consents",
        json={"channel": "sms", "contact": "+351 912 345 678", "subscribed": True},
    )
    await orders.shop.stock(TENT_1__WH=5)
    night = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)  # 23:30 in Lisbon
    hub.notifications.clock = lambda: night
    order = await orders.place(
        ("TENT-1", 1), customer={"email": "ana@example.com", "phone": "+351912345678"}
    )

    await dispatch(hub)
    assert outside.sent("POST", "/v1/messages") == []
    assert len(mailbox.messages) == 1  # e-mail knows no quiet hours
    hub.notifications.clock = lambda: datetime(2026, 12, 2, 7, 59, tzinfo=UTC)
    await dispatch(hub)
    assert outside.sent("POST", "/v1/messages") == []
    hub.notifications.clock = lambda: datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    await dispatch(hub)

    (sms,) = verified(outside, "/v1/messages")
    status = await orders.status(order["id"])
    assert sms["text"] == f"{status['headline']} {status['next_step']}"
    assert (sms["channel"], sms["to"]["phone"], sms["notice"]) == (
        "sms",
        "+351912345678",
        "order_confirmed",
    )
    deferred = [d for d in await decisions(orders, order["id"]) if d[0] == "notification_deferred"]
    assert deferred == [("notification_deferred", "order_confirmed", "sms", "SMS quiet hours")]
    by_channel = {
        d["channel"]: d for d in await orders.get(f"/v1/orders/{order['id']}/notifications")
    }
    assert (by_channel["sms"]["status"], by_channel["sms"]["provider_message_id"]) == (
        "sent",
        "sms-1",
    )


async def test_sms_and_push_need_an_opt_in_unless_the_tenant_says_otherwise(
    hub: Hub, orders: Orders, mailbox: Mailbox, outside: Outside
) -> None:
    await configure(
        orders.client,
        sms={"url": SMS_URL, "secret": SECRET},
        push={"url": PUSH_URL, "secret": SECRET},
        push_requires_opt_in=False,
    )
    outside.route("POST", "/v1/notify", httpx.Response(503, json={}), httpx.Response(202, json={}))
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(
        ("TENT-1", 1), customer={"email": "ana@example.com", "phone": "+351912345678"}
    )

    await dispatch(hub)
    later(hub, timedelta(seconds=61))
    await dispatch(hub)

    (push,) = verified(outside, "/v1/notify")[1:]
    assert push["title"] == (await orders.status(order["id"]))["headline"]
    assert len(outside.sent("POST", "/v1/notify")) == 2
    assert outside.sent("POST", "/v1/messages") == []
    by_channel = {
        d["channel"]: (d["status"], d["reason"], d["attempts"])
        for d in await orders.get(f"/v1/orders/{order['id']}/notifications")
    }
    assert by_channel == {
        "email": ("sent", "", 1),
        "sms": ("suppressed", "the customer has not opted in to sms", 0),
        "push": ("sent", "", 2),
    }
    body = json.loads(outside.sent("POST", "/v1/notify")[0].content)
    assert outside.sent("POST", "/v1/notify")[0].headers["webhook-id"] == body["id"]


async def test_a_running_hub_sends_as_soon_as_the_notice_is_committed(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    hub.notifications.poll_interval_s = 3600  # only the commit's wake-up can deliver it
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    await hub.start()

    await orders.place(("TENT-1", 1))
    await eventually(lambda: bool(mailbox.messages), what="the e-mail")

    assert mailbox.subjects() == ["A sua encomenda NW-1001 está a ser preparada."]


async def sms_opt_in(orders: Orders, **settings: Any) -> None:
    await configure(orders.client, sms={"url": SMS_URL, "secret": SECRET}, **settings)
    answer = await orders.client.put(
        "/v1/notification-consents",
        json={"channel": "sms", "contact": "+351912345678", "subscribed": True},
    )
    assert answer.status_code == 200, answer.text


async def test_a_crash_while_the_email_is_sent_does_not_lose_the_sms(
    hub: Hub, orders: Orders, mailbox: Mailbox, outside: Outside
) -> None:
    await sms_opt_in(orders)
    outside.route("POST", "/v1/messages", json={"id": "sms-1"})
    await orders.shop.stock(TENT_1__WH=5)
    await dispatch(hub)
    order = await orders.place(
        ("TENT-1", 1), customer={"email": "ana@example.com", "phone": "+351912345678"}
    )
    real_send = hub.notifications.transport.send_email

    sending = asyncio.Event()

    async def stuck(_email: Any) -> str:
        sending.set()
        await asyncio.sleep(3600)
        return ""

    hub.notifications.transport.send_email = stuck  # type: ignore[method-assign]
    dying = asyncio.create_task(hub.notifications.dispatch_due())
    await asyncio.wait_for(sending.wait(), 10)
    dying.cancel()  # the process dies mid e-mail
    with pytest.raises(asyncio.CancelledError):
        await dying
    during = {
        d["channel"]: d["status"]
        for d in await orders.get(f"/v1/orders/{order['id']}/notifications")
    }
    hub.notifications.transport.send_email = real_send  # type: ignore[method-assign]
    later(hub, timedelta(minutes=10))
    await dispatch(hub)

    assert during == {"email": "sending"}  # the SMS was not claimed as being sent
    by_channel = {
        d["channel"]: (d["status"], d["attempts"])
        for d in await orders.get(f"/v1/orders/{order['id']}/notifications")
    }
    assert by_channel == {"email": ("failed", 1), "sms": ("sent", 1)}
    assert len(outside.sent("POST", "/v1/messages")) == 1


async def test_a_late_outcome_never_overwrites_what_another_dispatcher_decided(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    await dispatch(hub)
    order = await orders.place(("TENT-1", 1))
    real_send = hub.notifications.transport.send_email
    sending, release = asyncio.Event(), asyncio.Event()

    async def slow(email: Any) -> str:
        sending.set()
        await release.wait()
        return await real_send(email)

    hub.notifications.transport.send_email = slow  # type: ignore[method-assign]
    first = asyncio.create_task(hub.notifications.dispatch_due())
    await asyncio.wait_for(sending.wait(), 10)
    later(hub, timedelta(minutes=10))  # its lease ran out: another dispatcher looks
    await hub.notifications.dispatch_due()
    release.set()
    await first

    (delivery,) = await orders.get(f"/v1/orders/{order['id']}/notifications")
    assert delivery["status"] == "failed"
    assert "outcome of an earlier attempt is unknown" in delivery["reason"]
    assert [d[0] for d in await decisions(orders, order["id"])] == ["notification_failed"]


async def test_one_slow_send_does_not_hold_the_other_notices(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    await dispatch(hub)
    slow_order = await orders.place(("TENT-1", 1), customer={"email": "slow@example.com"})
    await orders.place(("TENT-1", 1), customer={"email": "bo@example.com"})
    real_send = hub.notifications.transport.send_email
    release = asyncio.Event()

    async def slow_for_one(email: Any) -> str:
        if email.to == "slow@example.com":
            await release.wait()
        return await real_send(email)

    hub.notifications.transport.send_email = slow_for_one  # type: ignore[method-assign]
    batch = asyncio.create_task(hub.notifications.dispatch_due())
    await eventually(lambda: bool(mailbox.messages), what="the e-mail")
    arrived_first = [str(m["To"]) for m in mailbox.messages]
    release.set()
    await batch

    assert arrived_first == ["bo@example.com"]
    assert [str(m["To"]) for m in mailbox.messages] == ["bo@example.com", "slow@example.com"]
    (delivery,) = await orders.get(f"/v1/orders/{slow_order['id']}/notifications")
    assert delivery["status"] == "sent"


async def test_a_send_that_never_ends_is_cut_off_at_the_deadline(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    await dispatch(hub)
    order = await orders.place(("TENT-1", 1))

    async def endless(_email: Any) -> str:
        await asyncio.sleep(3600)
        return ""

    hub.notifications.transport.send_email = endless  # type: ignore[method-assign]
    hub.notifications.send_timeout_s = 0.2
    await asyncio.wait_for(hub.notifications.dispatch_due(), 5)

    (delivery,) = await orders.get(f"/v1/orders/{order['id']}/notifications")
    assert (delivery["status"], delivery["reason"]) == (
        "failed",
        "no outcome within 0.2 s; outcome unknown",
    )


async def test_a_notice_that_keeps_crashing_is_given_up_with_the_reason_on_the_timeline(
    hub: Hub, orders: Orders, mailbox: Mailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__WH=5)
    await dispatch(hub)
    order = await orders.place(("TENT-1", 1))

    async def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("cannot cope with this order")

    monkeypatch.setattr(hub.notifications, "_compose", broken)
    for lease in range(1, 8):
        await hub.notifications.dispatch_due()
        later(hub, timedelta(minutes=10 * lease))

    async with hub.db.reader() as session:
        notice = await session.scalar(
            select(OrderNotice).where(OrderNotice.order_id == order["id"])
        )
    assert notice is not None
    why = "gave up after 5 failed attempts: RuntimeError: cannot cope with this order"
    assert (notice.status, notice.reason) == ("failed", why)
    assert await decisions(orders, order["id"]) == [("notice_failed", "order_confirmed", "", why)]
    assert mailbox.messages == []


async def test_a_withdrawal_after_the_email_went_settles_the_deferred_sms_truthfully(
    hub: Hub, orders: Orders, mailbox: Mailbox, outside: Outside
) -> None:
    await sms_opt_in(
        orders, quiet_hours={"start": "21:00", "end": "08:00", "timezone": "Europe/Lisbon"}
    )
    outside.route("POST", "/v1/messages", json={"id": "sms-1"})
    await orders.shop.stock(TENT_1__WH=5)
    hub.notifications.clock = lambda: datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    await dispatch(hub)
    order = await orders.place(
        ("TENT-1", 1), customer={"email": "ana@example.com", "phone": "+351912345678"}
    )
    await dispatch(hub)  # e-mail sent, SMS deferred to 08:00

    await orders.post(f"/v1/orders/{order['id']}/cancel", {"reason": "out of stock"})
    hub.notifications.clock = lambda: datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    await dispatch(hub)

    confirmed = [
        d
        for d in await orders.get(f"/v1/orders/{order['id']}/notifications")
        if d["kind"] == "order_confirmed"
    ]
    assert {d["channel"]: (d["status"], d["reason"]) for d in confirmed} == {
        "email": ("sent", ""),
        "sms": ("suppressed", "order cancelled"),
    }
    told = [
        item["summary"]
        for item in await orders.timeline(order["id"])
        if item["data"].get("notice") == "order_confirmed"
        and item["kind"] in ("notice_suppressed", "notification_suppressed")
    ]
    assert told == ["order_confirmed by sms not sent to +351912345678: order cancelled"]
    async with hub.db.reader() as session:
        notice = await session.scalar(
            select(OrderNotice).where(
                OrderNotice.order_id == order["id"], OrderNotice.kind == "order_confirmed"
            )
        )
    assert notice is not None
    assert notice.status == "sent"
    sms_notices = [sms["notice"] for sms in verified(outside, "/v1/messages")]
    assert "order_confirmed" not in sms_notices


async def test_a_mixed_order_gets_ready_for_pickup_while_its_parcel_is_on_the_way(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    await orders.shop.stock(TENT_1__ST_PORTO=1, LAMP_1__WH=1)
    body = orders.body(("LAMP-1", 1), ("TENT-1", 1))
    body["groups"] = [{"method": "ship"}, {"method": "pickup", "location": "ST-PORTO"}]
    body["lines"][1]["group"] = 1
    response = await orders.client.post("/v1/orders", json=body)
    assert response.status_code == 201, response.text
    order = response.json()
    await dispatch(hub)
    await orders.ship(order)
    await orders.post(
        f"/v1/orders/{order['id']}/groups/{order['groups'][1]['id']}/ready-for-pickup"
    )

    await dispatch(hub)

    status = await orders.status(order["id"])
    assert status["code"] in ("shipped", "partially_shipped")  # the API's code is unchanged
    sent = {
        d["kind"]: d["status"] for d in await orders.get(f"/v1/orders/{order['id']}/notifications")
    }
    assert sent == {"order_confirmed": "sent", "shipped": "sent", "ready_for_pickup": "sent"}
    ready = next(m for m in mailbox.messages if "pronta" in str(m["Subject"]))
    assert "Porto store" in str(ready["Subject"])


@pytest.mark.parametrize(
    ("consent", "phone"),
    [
        pytest.param("00351912345678", "+351 912 345 678", id="00-vs-spaced"),
        pytest.param("+351 912 345 678", "00351912345678", id="spaced-vs-00"),
        pytest.param("+351-912-345-678", "+351912345678", id="dashes"),
    ],
)
async def test_an_sms_opt_out_matches_the_number_however_it_is_written(
    hub: Hub, orders: Orders, mailbox: Mailbox, outside: Outside, consent: str, phone: str
) -> None:
    await configure(
        orders.client, sms={"url": SMS_URL, "secret": SECRET}, sms_requires_opt_in=False
    )
    outside.route("POST", "/v1/messages", json={"id": "sms-1"})
    answer = await orders.client.put(
        "/v1/notification-consents",
        json={"channel": "sms", "contact": consent, "subscribed": False, "source": "call"},
    )
    assert answer.status_code == 200, answer.text
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(("TENT-1", 1), customer={"email": "ana@example.com", "phone": phone})

    await dispatch(hub)

    assert outside.sent("POST", "/v1/messages") == []
    by_channel = {
        d["channel"]: (d["status"], d["reason"])
        for d in await orders.get(f"/v1/orders/{order['id']}/notifications")
    }
    assert by_channel["sms"] == ("suppressed", "the customer opted out of sms (call)")


async def test_a_saved_template_that_fails_on_an_order_falls_back_to_the_built_in_one(
    hub: Hub, orders: Orders, mailbox: Mailbox
) -> None:
    await configure(orders.client)
    template = {
        "kind": "order_confirmed",
        "channel": "email",
        "language": "pt",
        "subject": "{{ status.headline }}",
        "text": "{{ customer.name[0] }} {{ status.headline }}",
    }
    saved = await orders.client.post("/v1/notification-templates", json=template)
    assert saved.status_code == 201, saved.text
    await orders.shop.stock(TENT_1__WH=5)
    order = await orders.place(
        ("TENT-1", 1), customer={"email": "bo@example.com", "name": "", "language": "pt-PT"}
    )

    await dispatch(hub)

    assert mailbox.subjects() == ["A sua encomenda NW-1001 está a ser preparada."]
    assert text_of(mailbox.messages[0]).startswith("Olá,\n")
    kinds = [d[0] for d in await decisions(orders, order["id"])]
    assert kinds == ["notification_template_failed", "notification_sent"]
