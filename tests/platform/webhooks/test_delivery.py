"""Outbound webhooks as a receiver sees them: signed, filtered, retried, isolated."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.experience.rest.test_catalog import create
from tests.fixtures.events import eventually
from tests.fixtures.webhooks import Receivers, add_endpoint


async def deliveries(client: httpx.AsyncClient, endpoint_id: str, **params: Any) -> list[Any]:
    response = await client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()["data"]
    return found


async def test_a_receiver_verifies_every_delivery_with_the_official_library(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    endpoint = await add_endpoint(webhook_client, receivers.url("erp.test"), "product.*")
    products = [await create(webhook_client, f"SKU-{n}") for n in range(3)]

    await eventually(lambda: len(receivers.received("erp.test")) == 3, what="3 deliveries")

    receiver = Webhook(endpoint["secret"])
    payloads = [receiver.verify(r.content, dict(r.headers)) for r in receivers.received("erp.test")]
    assert sorted(p["subject"] for p in payloads) == sorted(p["id"] for p in products)
    assert {p["type"] for p in payloads} == {"product.created"}
    assert [p["id"] for p in payloads] == receivers.ids("erp.test")
    assert endpoint["secret"].startswith("whsec_")
    forged = receivers.received("erp.test")[0]
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(forged.content + b" ", dict(forged.headers))


async def test_an_endpoint_gets_only_the_types_its_filter_takes(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    await add_endpoint(webhook_client, receivers.url("orders.test"), "order.*")
    await add_endpoint(webhook_client, receivers.url("all.test"))
    await create(webhook_client, "LAMP-1")

    await eventually(lambda: len(receivers.received("all.test")) == 1, what="the catch-all")
    assert receivers.received("orders.test") == []


async def test_a_failed_delivery_is_retried_with_the_same_id_and_logged(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer("flaky.test", 500, 503, 200)
    endpoint = await add_endpoint(webhook_client, receivers.url("flaky.test"))
    await create(webhook_client, "CUP-1")

    await eventually(lambda: len(receivers.received("flaky.test")) == 3, what="three attempts")
    assert len(set(receivers.ids("flaky.test"))) == 1

    async def delivered() -> bool:
        return [d["status"] for d in await deliveries(webhook_client, endpoint["id"])] == [
            "delivered"
        ]

    await eventually(delivered, what="the delivery to be recorded as delivered")
    (delivery,) = await deliveries(webhook_client, endpoint["id"])
    detail = (
        await webhook_client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}"
        )
    ).json()
    assert detail["attempts"] == 3
    assert detail["event_id"] == receivers.ids("flaky.test")[0]
    assert [a["status_code"] for a in detail["attempt_log"]] == [500, 503, 200]
    assert detail["attempt_log"][0]["response"] == "answer 500"
    assert all(a["latency_ms"] >= 0 for a in detail["attempt_log"])
    log = (await webhook_client.get(f"/v1/webhook-endpoints/{endpoint['id']}/attempts")).json()
    assert [a["status_code"] for a in log["data"]] == [200, 503, 500]


async def test_after_the_schedule_a_delivery_fails_and_can_be_sent_again(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer("down.test", 500)
    endpoint = await add_endpoint(webhook_client, receivers.url("down.test"))
    await create(webhook_client, "MUG-1")

    async def failed() -> list[Any]:
        return await deliveries(webhook_client, endpoint["id"], status="failed")

    await eventually(lambda: _nonempty(failed()), what="the delivery to fail")
    assert len(receivers.received("down.test")) == 4, "the first attempt and three retries"
    (delivery,) = await failed()
    assert delivery["last_error"] == "HTTP 500"
    assert delivery["next_attempt_at"] is None

    receivers.answer("down.test", 200)
    retried = await webhook_client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/retry"
    )
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "pending"
    await eventually(lambda: len(receivers.received("down.test")) == 5, what="the manual retry")
    await eventually(
        lambda: _nonempty(deliveries(webhook_client, endpoint["id"], status="delivered")),
        what="delivered",
    )


async def _nonempty(found: Any) -> bool:
    return bool(await found)


async def test_retry_after_is_honoured(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer("busy.test", 429, 200, **{"Retry-After": "1"})
    await add_endpoint(webhook_client, receivers.url("busy.test"))
    await create(webhook_client, "BOX-1")

    await eventually(lambda: len(receivers.arrived["busy.test"]) == 2, what="the retry")
    first, second = receivers.arrived["busy.test"]
    assert second.at - first.at >= 0.9, "the schedule says 0.05 s, Retry-After says 1 s"


@pytest.mark.parametrize("webhook_overrides", [{"webhook_timeout_s": 5.0}], ids=["5 s deadline"])
async def test_a_slow_endpoint_does_not_hold_up_the_others(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer("slow.test", 200, delay_s=2.5)
    await add_endpoint(webhook_client, receivers.url("slow.test"))
    await add_endpoint(webhook_client, receivers.url("fast.test"))
    for n in range(12):
        await create(webhook_client, f"PEG-{n}")

    await eventually(lambda: len(set(receivers.ids("fast.test"))) == 12, what="the fast endpoint")
    assert len(set(receivers.ids("slow.test"))) <= 8, "four at a time, 2.5 s each"
    await eventually(
        lambda: len(set(receivers.ids("slow.test"))) == 12, within=30, what="the slow one"
    )


async def test_a_rotated_secret_overlaps_with_the_old_one(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    endpoint = await add_endpoint(webhook_client, receivers.url("rot.test"))
    rotated = await webhook_client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", json={"overlap_hours": 1}
    )
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["previous_secret_until"] is not None
    await create(webhook_client, "ROT-1")
    await eventually(lambda: len(receivers.received("rot.test")) == 1, what="a delivery")
    (request,) = receivers.received("rot.test")
    for secret in (endpoint["secret"], rotated.json()["secret"]):
        Webhook(secret).verify(request.content, dict(request.headers))

    await webhook_client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret", json={"overlap_hours": 0}
    )
    await create(webhook_client, "ROT-2")
    await eventually(lambda: len(receivers.received("rot.test")) == 2, what="a second delivery")
    latest = receivers.received("rot.test")[1]
    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint["secret"]).verify(latest.content, dict(latest.headers))


async def test_a_time_range_is_replayed_with_the_original_ids(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    endpoint = await add_endpoint(webhook_client, receivers.url("replay.test"), "product.created")
    for n in range(3):
        await create(webhook_client, f"RE-{n}")
    await eventually(lambda: len(receivers.received("replay.test")) == 3, what="first sending")
    events = (await webhook_client.get("/v1/events", params={"type": "product.created"})).json()
    since = min(e["time"] for e in events["data"])

    replayed = await webhook_client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/replay", json={"since": since}
    )

    assert replayed.status_code == 200, replayed.text
    assert replayed.json() == {"queued": 3}
    await eventually(lambda: len(receivers.received("replay.test")) == 6, what="the replay")
    ids = receivers.ids("replay.test")
    assert sorted(ids[3:]) == sorted(ids[:3])


async def test_a_disabled_endpoint_gets_nothing(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    endpoint = await add_endpoint(webhook_client, receivers.url("off.test"))
    await add_endpoint(webhook_client, receivers.url("on.test"))
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    assert (await webhook_client.patch(path, json={"enabled": False})).status_code == 200
    await create(webhook_client, "OFF-1")
    await create(webhook_client, "ON-1")

    await eventually(lambda: len(receivers.received("on.test")) == 2, what="the enabled one")
    assert receivers.received("off.test") == []


@pytest.mark.parametrize(
    "webhook_overrides",
    [{"webhook_disable_after_hours": 0.0002, "webhook_retry_schedule_s": [0.4] * 5}],
    ids=["disabled after 0.72 s"],
)
async def test_an_endpoint_failing_long_enough_is_disabled_with_an_event(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer("dead.test", 500)
    watcher = await add_endpoint(webhook_client, receivers.url("watch.test"), "endpoint.disabled")
    dead = await add_endpoint(webhook_client, receivers.url("dead.test"), "product.*")
    await create(webhook_client, "DEAD-1")

    await eventually(lambda: len(receivers.received("watch.test")) == 1, what="endpoint.disabled")
    event = Webhook(watcher["secret"]).verify(
        receivers.received("watch.test")[0].content,
        dict(receivers.received("watch.test")[0].headers),
    )
    assert event["type"] == "endpoint.disabled"
    assert event["data"]["id"] == dead["id"]
    shown = (await webhook_client.get(f"/v1/webhook-endpoints/{dead['id']}")).json()
    assert shown["enabled"] is False
    assert shown["disabled_reason"].startswith("every attempt failed since")


@pytest.mark.parametrize(
    "webhook_overrides",
    [{"webhook_retry_schedule_s": [5.0, 0.05, 0.05, 0.05], "webhook_max_in_flight": 2}],
    ids=["paused 5 s"],
)
async def test_an_endpoint_that_keeps_failing_is_paused_and_its_backlog_goes_when_it_is_back(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer("down.test", 503)
    await add_endpoint(webhook_client, receivers.url("down.test"))
    await add_endpoint(webhook_client, receivers.url("up.test"))
    for n in range(20):
        await create(webhook_client, f"BRK-{n}")

    await eventually(lambda: len(set(receivers.ids("up.test"))) == 20, what="the healthy one")
    # Five failures in a row pause it: a few requests in flight, not one per event.
    assert len(receivers.received("down.test")) <= 5 + 2
    receivers.answer("down.test", 200)
    before = len(receivers.received("down.test"))
    await eventually(
        lambda: set(receivers.ids("down.test")[before:]) >= set(receivers.ids("up.test")),
        within=30,
        what="the backlog after the outage",
    )
