"""Calling /graphql as a client would, and translating GraphQL names back to REST's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import event

from channelhub.hub import Hub
from tests.fixtures.hub import TenantKeys
from tests.fixtures.orders import Orders

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


@dataclass
class Answer:
    status_code: int
    body: dict[str, Any]

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def codes(self) -> list[str]:
        return [error["extensions"]["code"] for error in self.body.get("errors", [])]


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = variables
    response = await client.post("/graphql", json=payload, headers=headers or {})
    return Answer(response.status_code, response.json())


def snake_keys(value: Any) -> Any:
    """A GraphQL answer with REST's snake_case names, to compare the two channels."""
    if isinstance(value, dict):
        return {_CAMEL.sub("_", key).lower(): snake_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_keys(item) for item in value]
    return value


@contextmanager
def statements(hub: Hub) -> Iterator[list[str]]:
    """Every SQL statement the hub sends while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(hub.db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(hub.db.engine.sync_engine, "before_cursor_execute", record)


async def shopper_token(orders: Orders, tenant: TenantKeys, number: str) -> str:
    """The token a shopper gets by looking their order up with its number and e-mail."""
    response = await orders.client.post(
        f"/v1/self-service/{tenant.slug}/orders/lookup",
        json={"number": number, "email": "ana@example.com"},
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


STATUS_FIELDS = """
  orderId number language code headline nextStep eta etaText orderStatus paymentStatus
  updatedAt
  pickup { locationId name address status { locationId code name state openNow opensAt
    closesAt today { opens closes } timezone closedReason closedSince reopensAt } }
  shipments { id carrier service trackingNumber trackingUrl status statusText
    estimatedDelivery events { status text carrierText location occurredAt } }
  actions { action label stores { locationId code name distanceKm
    status { locationId code name state openNow opensAt closesAt today { opens closes }
      timezone closedReason closedSince reopensAt } } }
"""
"""Every field of the customer status, as a client asking for all of it would write."""
