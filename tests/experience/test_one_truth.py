"""One truth, proven: whatever happened to an order, every channel tells the same story.

Hypothesis draws random order histories - placements for delivery or pickup, partial and
full shipments, tracking scans, store closures and reopenings, the customer's choice,
cancellations, returns and refunds, in any order (steps the order refuses are refused,
never a 5xx) - and then reads the customer-facing status through every channel: the REST
API an agent uses, the shopper's self-service API, GraphQL (an agent's and a shopper's),
XML and the self-service portal. For every history and language they must say the same thing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channelhub.hub import Hub
from tests.fixtures.channels import (
    read_graphql,
    read_graphql_shopper,
    read_portal,
    read_rest,
    read_self_service,
    read_xml,
)
from tests.fixtures.hub import TenantKeys, http_client
from tests.fixtures.orders import Orders

LANGUAGES = ("en", "pt", "es", "it", "cs")
SCANS = (
    "info_received",
    "in_transit",
    "out_for_delivery",
    "attempt_fail",
    "available_for_pickup",
    "exception",
    "delivered",
)
STEPS = st.one_of(
    st.sampled_from(
        [
            ("confirm",),
            ("ready_for_pickup",),
            ("picked_up",),
            ("ship_one",),
            ("ship_rest",),
            ("close_store",),
            ("reopen_store",),
            ("choose", "ship_home"),
            ("choose", "other_store"),
            ("choose", "cancel"),
            ("cancel",),
            ("request_return",),
            ("approve_return",),
            ("receive_return",),
            ("refund_part",),
            ("refund_all",),
        ]
    ),
    st.tuples(st.just("scan"), st.sampled_from(SCANS)),
)
STORY = {
    "ship": [
        ("confirm",),
        ("ship_one",),
        ("scan", "in_transit"),
        ("scan", "delivered"),
        ("ship_rest",),
        ("scan", "out_for_delivery"),
        ("scan", "delivered"),
        ("request_return",),
        ("approve_return",),
        ("receive_return",),
        ("refund_all",),
    ],
    "pickup": [
        ("confirm",),
        ("ready_for_pickup",),
        ("close_store",),
        ("choose",),
        ("ship_rest",),
        ("scan", "in_transit"),
        ("scan", "delivered"),
        ("picked_up",),
        ("request_return",),
        ("approve_return",),
        ("receive_return",),
        ("refund_part",),
    ],
}
"""The usual course of each kind of order; a history follows it for a while, with random
steps mixed in, so that deep states (action needed, delivered, returned, refunded) are
reached as often as odd ones."""


@st.composite
def histories(draw: st.DrawFn) -> tuple[str, bool, list[tuple[str, ...]], str]:
    method = draw(st.sampled_from(sorted(STORY)))
    story = STORY[method][: draw(st.integers(0, len(STORY[method])))]
    story = [
        ("choose", draw(st.sampled_from(["ship_home", "other_store", "cancel"])))
        if step == ("choose",)
        else step
        for step in story
    ]
    for step in draw(st.lists(STEPS, max_size=4)):
        story.insert(draw(st.integers(0, len(story))), step)
    return method, draw(st.booleans()), story, draw(st.sampled_from(LANGUAGES))


@dataclass
class History:
    """Plays one drawn history against the REST API."""

    orders: Orders
    order: dict[str, Any]
    scans: int = 0
    shipments: list[str] = field(default_factory=list)
    returns: list[str] = field(default_factory=list)

    @property
    def order_id(self) -> str:
        return str(self.order["id"])

    def group(self, method: str) -> dict[str, Any] | None:
        return next((g for g in self.order["groups"] if g["method"] == method), None)

    async def refresh(self) -> None:
        self.order = await self.orders.get(f"/v1/orders/{self.order_id}")

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        response = await self.orders.client.post(path, json=body if body is not None else {})
        assert response.status_code < 500, f"{path}: {response.status_code} {response.text}"
        return response

    async def play(self, step: tuple[str, ...]) -> None:
        await self.refresh()
        act: Callable[..., Awaitable[None]] = getattr(self, f"_{step[0]}")
        await act(*step[1:])

    async def _confirm(self) -> None:
        await self.post(f"/v1/orders/{self.order_id}/confirm")

    async def _ready_for_pickup(self) -> None:
        if group := self.group("pickup"):
            await self.post(f"/v1/orders/{self.order_id}/groups/{group['id']}/ready-for-pickup")

    async def _picked_up(self) -> None:
        if group := self.group("pickup"):
            await self.post(f"/v1/orders/{self.order_id}/groups/{group['id']}/picked-up")

    async def _ship(self, items: list[dict[str, Any]] | None) -> None:
        group = self.group("ship")
        if group is None:
            return
        body: dict[str, Any] = {
            "group_id": group["id"],
            "carrier": "ctt",
            "tracking_number": f"CT{len(self.shipments)}PT",
        }
        if items is not None:
            body["items"] = items
        response = await self.post(f"/v1/orders/{self.order_id}/shipments", body)
        if response.status_code == 201:
            self.shipments.append(response.json()["id"])

    async def _ship_one(self) -> None:
        line = self.order["lines"][0]
        await self._ship([{"line_id": line["id"], "quantity": 1}])

    async def _ship_rest(self) -> None:
        await self._ship(None)

    async def _scan(self, status: str) -> None:
        if not self.shipments:
            return
        self.scans += 1
        at = datetime(2026, 12, 1, 8, tzinfo=UTC) + timedelta(hours=self.scans)
        body: dict[str, Any] = {"status": status, "occurred_at": at.isoformat()}
        if status in ("info_received", "in_transit"):
            body["estimated_delivery"] = (at + timedelta(days=2)).date().isoformat()
        await self.post(f"/v1/shipments/{self.shipments[-1]}/tracking-events", body)

    async def _close_store(self) -> None:
        await self.post(f"/v1/locations/{self.orders.shop.store_id}/closure", {"reason": "flood"})

    async def _reopen_store(self) -> None:
        response = await self.orders.client.delete(
            f"/v1/locations/{self.orders.shop.store_id}/closure"
        )
        assert response.status_code < 500, response.text

    async def _choose(self, option: str) -> None:
        body: dict[str, Any] = {"option": option}
        if option == "other_store":
            body["location"] = "ST-GAIA"
        await self.post(f"/v1/orders/{self.order_id}/closure-choice", body)

    async def _cancel(self) -> None:
        await self.post(f"/v1/orders/{self.order_id}/cancel", {"reason": "customer asked"})

    async def _request_return(self) -> None:
        line = self.order["lines"][0]
        response = await self.post(
            f"/v1/orders/{self.order_id}/returns",
            {"items": [{"line_id": line["id"], "quantity": 1}], "reason": "too_small"},
        )
        if response.status_code == 201:
            self.returns.append(response.json()["id"])

    async def _approve_return(self) -> None:
        if self.returns:
            await self.post(f"/v1/returns/{self.returns[-1]}/approve")

    async def _receive_return(self) -> None:
        if self.returns:
            await self.post(f"/v1/returns/{self.returns[-1]}/receive")

    async def _refund_part(self) -> None:
        await self.post(f"/v1/orders/{self.order_id}/refunds", {"amount": 500, "reason": "late"})

    async def _refund_all(self) -> None:
        await self.post(f"/v1/orders/{self.order_id}/refunds", {"reason": "goodwill"})


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=histories())
async def test_every_channel_tells_the_same_status(
    hub: Hub, tenant: TenantKeys, orders: Orders, history: tuple[Any, ...]
) -> None:
    method, confirmed, steps, language = history
    plenty = 10 + 2 * len(orders.made)  # on hand; earlier examples' orders hold some
    await orders.shop.stock(TENT_1__WH=plenty, TENT_1__ST_PORTO=plenty, TENT_1__ST_GAIA=plenty)
    await orders.client.delete(f"/v1/locations/{orders.shop.store_id}/closure")
    pickup = {"pickup": "ST-PORTO"} if method == "pickup" else {}
    placed = await orders.place(("TENT-1", 2), confirmed=confirmed, **pickup)
    played = History(orders, placed)
    for step in steps:
        await played.play(step)

    link = await orders.post(f"/v1/orders/{played.order_id}/customer-link")
    async with http_client(hub) as anonymous:
        answers = {
            "rest": await read_rest(orders.client, played.order_id, language),
            "self-service": await read_self_service(anonymous, link["token"], language),
            "graphql": await read_graphql(orders.client, played.order_id, language),
            "graphql-shopper": await read_graphql_shopper(anonymous, link["token"], language),
            "xml": await read_xml(orders.client, played.order_id, language),
            "portal": await read_portal(anonymous, tenant, link["token"], language),
        }

    reference = answers["rest"]
    assert {name: answer for name, answer in answers.items() if answer != reference} == {}, (
        f"history {history} -> REST says {reference}"
    )
