"""Live order updates over real HTTP: the Server-Sent Events stream behind the order page."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import orjson

from channelhub.experience.web.live import PER_ORDER
from tests.experience.web.conftest import find_order, page, ready_pickup_order
from tests.fixtures.hub import TenantKeys
from tests.fixtures.orders import Orders

ENGLISH = {"Accept-Language": "en"}


async def next_block(lines: AsyncIterator[str]) -> list[str]:
    """The lines of the stream's next event or comment (up to the blank line)."""
    block: list[str] = []
    async with asyncio.timeout(15):
        async for line in lines:
            if line == "" and block:
                return block
            if line:
                block.append(line)
    raise AssertionError(f"the stream ended after {block}")


def event(block: list[str]) -> tuple[str, str, dict[str, str]]:
    fields = dict(line.split(": ", 1) for line in block)
    return fields["id"], fields["event"], orjson.loads(fields["data"])


async def test_the_order_page_stream_pushes_the_closure_as_it_happens(
    served: str, orders: Orders, tenant: TenantKeys
) -> None:
    order = await ready_pickup_order(orders)
    async with httpx.AsyncClient(base_url=served, headers=ENGLISH, timeout=10) as browser:
        await find_order(browser, tenant)
        shown = page(await browser.get(f"/portal/{tenant.slug}/order"))
        live_url = shown.first("main").attrs["data-live"]
        async with browser.stream("GET", live_url) as stream:
            lines = stream.aiter_lines()
            opening = await next_block(lines)
            current = await next_block(lines)
            await orders.close_store(orders.shop.store_id)
            pushed = await next_block(lines)

    version, kind, data = event(pushed)
    told = await orders.status(order["id"], "en")
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert opening == ["retry: 3000"]
    assert current == [": up to date"]
    assert kind == "status"
    assert (data["code"], data["headline"]) == ("action_needed", told["headline"])
    assert f'action="/portal/{tenant.slug}/order/closure-choice"' in data["html"]
    assert version != live_url.split("seen=")[1]


async def test_a_reconnecting_page_gets_only_what_it_missed(
    served: str, orders: Orders, tenant: TenantKeys
) -> None:
    await ready_pickup_order(orders)
    async with httpx.AsyncClient(base_url=served, headers=ENGLISH, timeout=10) as browser:
        await find_order(browser, tenant)
        live_url = f"/portal/{tenant.slug}/order/events"
        async with browser.stream("GET", live_url) as first:
            lines = first.aiter_lines()
            await next_block(lines)
            seen, _, before = event(await next_block(lines))
        async with browser.stream("GET", live_url, headers={"Last-Event-ID": seen}) as again:
            lines = again.aiter_lines()
            await next_block(lines)
            caught_up = await next_block(lines)
            await orders.close_store(orders.shop.store_id)
            _, _, after = event(await next_block(lines))

    assert before["code"] == "ready_for_pickup"
    assert caught_up == [": up to date"]
    assert after["code"] == "action_needed"


async def test_one_order_cannot_hold_more_than_a_few_streams_open(
    served: str, orders: Orders, tenant: TenantKeys
) -> None:
    """Each open stream re-reads the order every two seconds: one cookie opening streams
    by the thousand must not take the database's connections from everyone else."""
    await ready_pickup_order(orders)
    async with httpx.AsyncClient(base_url=served, headers=ENGLISH, timeout=10) as browser:
        await find_order(browser, tenant)
        live_url = f"/portal/{tenant.slug}/order/events"
        async with contextlib.AsyncExitStack() as tabs:
            reading = []  # a dropped line iterator would close its stream
            for _ in range(PER_ORDER):
                tab = await tabs.enter_async_context(browser.stream("GET", live_url))
                reading.append(tab.aiter_lines())
                await next_block(reading[-1])
            refused = await browser.get(live_url)
        reopened = browser.stream("GET", live_url)
        async with reopened as tab:
            opening = await next_block(tab.aiter_lines())

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert opening == ["retry: 3000"]
