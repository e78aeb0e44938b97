"""Outbound webhooks when endpoints misbehave or change under way: nothing wedges, nothing
is sent twice for one lease, and the SSRF guard holds when DNS changes."""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from channelhub.platform.webhooks import targets
from tests.experience.rest.test_catalog import create
from tests.fixtures.events import eventually
from tests.fixtures.webhooks import Receivers, add_endpoint


async def deliveries(client: httpx.AsyncClient, endpoint_id: str, **params: Any) -> list[Any]:
    response = await client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()["data"]
    return found


async def statuses(client: httpx.AsyncClient, endpoint_id: str) -> list[str]:
    return [d["status"] for d in await deliveries(client, endpoint_id)]


async def until_statuses(
    client: httpx.AsyncClient, endpoint_id: str, expected: list[str], *, what: str
) -> None:
    """Wait until the endpoint's deliveries are recorded with exactly ``expected``."""

    async def reached() -> bool:
        return await statuses(client, endpoint_id) == expected

    await eventually(reached, what=what)


async def test_an_answer_with_a_nul_byte_is_logged_and_holds_up_nothing(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer("nul.test", 200, body="ok\x00then")
    odd = await add_endpoint(webhook_client, receivers.url("nul.test"))
    fine = await add_endpoint(webhook_client, receivers.url("fine.test"))
    for n in range(3):
        await create(webhook_client, f"NUL-{n}")

    async def all_delivered() -> bool:
        return (
            await statuses(webhook_client, odd["id"]) == ["delivered"] * 3
            and await statuses(webhook_client, fine["id"]) == ["delivered"] * 3
        )

    await eventually(all_delivered, what="every delivery recorded")
    (delivery, *_) = await deliveries(webhook_client, odd["id"])
    detail = (
        await webhook_client.get(f"/v1/webhook-endpoints/{odd['id']}/deliveries/{delivery['id']}")
    ).json()
    assert detail["attempt_log"][0]["response"] == "ok\ufffdthen"
    assert len(receivers.received("nul.test")) == 3


async def test_removing_an_endpoint_mid_request_holds_up_nothing(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer("going.test", 200, delay_s=0.5)
    going = await add_endpoint(webhook_client, receivers.url("going.test"))
    staying = await add_endpoint(webhook_client, receivers.url("staying.test"))
    await create(webhook_client, "GONE-1")
    await eventually(lambda: len(receivers.received("going.test")) == 1, what="a request")

    assert (await webhook_client.delete(f"/v1/webhook-endpoints/{going['id']}")).status_code == 204
    await create(webhook_client, "GONE-2")

    await until_statuses(
        webhook_client,
        staying["id"],
        ["delivered"] * 2,
        what="the other endpoint's deliveries recorded",
    )


async def test_a_request_has_an_overall_deadline(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer_each("stuck.test", (200, 10.0), (200, 0.0))
    endpoint = await add_endpoint(webhook_client, receivers.url("stuck.test"))
    await create(webhook_client, "STUCK-1")

    await until_statuses(
        webhook_client, endpoint["id"], ["delivered"], what="the retry to get through"
    )
    (delivery,) = await deliveries(webhook_client, endpoint["id"])
    detail = (
        await webhook_client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}"
        )
    ).json()
    first, second = detail["attempt_log"]
    assert first["error"] == "no complete answer within 1 s"
    assert first["status_code"] is None
    assert 900 <= first["latency_ms"] < 5000, "cut at about 1 s, not left for 10 s"
    assert second["status_code"] == 200


@pytest.mark.parametrize("webhook_overrides", [{"webhook_timeout_s": 5.0}], ids=["5 s deadline"])
async def test_an_outcome_overtaken_by_a_retry_does_not_count(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    receivers.answer_each("race.test", (500, 3.0), (200, 0.0))
    endpoint = await add_endpoint(webhook_client, receivers.url("race.test"))
    await create(webhook_client, "RACE-1")
    await eventually(lambda: len(receivers.received("race.test")) == 1, what="a slow request")
    (delivery,) = await deliveries(webhook_client, endpoint["id"])

    retried = await webhook_client.post(
        f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{delivery['id']}/retry"
    )
    assert retried.status_code == 200, retried.text
    await eventually(lambda: len(receivers.received("race.test")) == 2, what="the retry")

    await until_statuses(
        webhook_client, endpoint["id"], ["delivered"], what="the retry's 200 recorded"
    )
    slow_answer_back = receivers.arrived["race.test"][0].at + 3.5
    await asyncio.sleep(max(0.0, slow_answer_back - time.monotonic()))

    assert await statuses(webhook_client, endpoint["id"]) == ["delivered"]
    assert len(receivers.received("race.test")) == 2, "the late 500 caused no resend"


async def test_a_disabled_endpoint_cannot_be_retried(
    webhook_client: httpx.AsyncClient, receivers: Receivers
) -> None:
    endpoint = await add_endpoint(webhook_client, receivers.url("idle.test"))
    await create(webhook_client, "IDLE-1")

    await until_statuses(webhook_client, endpoint["id"], ["delivered"], what="a delivery")
    (delivery,) = await deliveries(webhook_client, endpoint["id"])
    path = f"/v1/webhook-endpoints/{endpoint['id']}"
    await webhook_client.patch(path, json={"enabled": False})

    refused = await webhook_client.post(f"{path}/deliveries/{delivery['id']}/retry")

    assert refused.status_code == 409
    assert refused.json()["code"] == "webhook_endpoint_disabled"


NameSetter = Callable[[str, str], None]


@pytest.fixture
def dns() -> Iterator[NameSetter]:
    """``dns(name, address)``: the name resolves to the address from now on (the
    resolver's cache, filled by hand; no real lookup happens)."""
    saved = dict(targets._resolved)

    def resolve_as(name: str, address: str) -> None:
        targets._resolved[name] = (time.monotonic() + 3600, (ipaddress.ip_address(address),))

    yield resolve_as
    targets._resolved.clear()
    targets._resolved.update(saved)


async def test_requests_go_to_the_checked_address_and_rebinding_is_refused(
    webhook_client: httpx.AsyncClient, receivers: Receivers, dns: NameSetter
) -> None:
    await webhook_client.put("/v1/webhook-settings", json={"allow_private_targets": False})
    dns("erp.example.com", "93.184.215.14")
    endpoint = await add_endpoint(webhook_client, "http://erp.example.com:8080/hooks")
    await create(webhook_client, "DNS-1")
    await eventually(
        lambda: len(receivers.received("erp.example.com:8080")) == 1, what="a pinned request"
    )
    (request,) = receivers.received("erp.example.com:8080")
    assert str(request.url) == "http://93.184.215.14:8080/hooks"

    dns("erp.example.com", "169.254.169.254")
    await create(webhook_client, "DNS-2")

    async def refused() -> bool:
        found = await deliveries(webhook_client, endpoint["id"], event_type="product.created")
        return any("private, loopback" in d["last_error"] for d in found)

    await eventually(refused, what="the rebound name to be refused")
    assert len(receivers.received("erp.example.com:8080")) == 1
