"""Segment membership: recomputed when a customer changes, when a segment is created or its
rules change, and when the customer's orders do; each move recorded as an event."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from channelhub.hub import Hub
from channelhub.platform.events.models import OutboxEvent
from channelhub.platform.events.outbox import envelope_of
from channelhub.process.customers import membership
from channelhub.process.customers.membership import reevaluate_for_order, segment_keys_of
from channelhub.process.customers.schemas import (
    CustomerUpsert,
    MetadataUpdate,
    SegmentCreate,
    SegmentUpdate,
)
from channelhub.process.customers.segments import create_segment, delete_segment, update_segment
from channelhub.process.customers.service import update_metadata, upsert_customer
from channelhub.process.orders.schemas import ExternalRef
from tests.fixtures.customers import known_customer, recorded
from tests.fixtures.hub import TenantKeys
from tests.fixtures.orders import Orders

MOVES = ("customer.segment_entered", "customer.segment_left")
RUNNERS = {"field": "customer.metadata.club", "op": "eq", "value": "runners"}


async def _segment(hub: Hub, tenant: TenantKeys, key: str, rules: dict[str, Any]) -> str:
    async with hub.db.transaction() as session:
        segment = await create_segment(
            session,
            tenant.principal,
            SegmentCreate.model_validate({"key": key, "name": key.title(), "rules": rules}),
        )
    return segment.id


async def _patch(hub: Hub, tenant: TenantKeys, customer_id: str, **metadata: Any) -> None:
    async with hub.db.transaction() as session:
        await update_metadata(
            session, tenant.principal, customer_id, MetadataUpdate(metadata=metadata)
        )


async def _keys(hub: Hub, tenant: TenantKeys, customer_id: str) -> list[str]:
    async with hub.db.transaction() as session:
        return await segment_keys_of(session, tenant.tenant_id, customer_id)


async def _moves(hub: Hub, tenant: TenantKeys) -> list[tuple[str, str, str]]:
    return sorted(
        (type_.removeprefix("customer.segment_"), data["segment_key"], subject)
        for type_, subject, data in await recorded(hub, tenant, *MOVES)
    )


async def test_a_metadata_change_moves_the_customer_in_and_out(
    hub: Hub, tenant: TenantKeys
) -> None:
    ana = await known_customer(hub, tenant, "ana@example.com")
    segment_id = await _segment(hub, tenant, "runners", RUNNERS)

    await _patch(hub, tenant, ana, club="runners")
    keys_in = await _keys(hub, tenant, ana)
    await _patch(hub, tenant, ana, club="swimmers")

    events = await recorded(hub, tenant, "customer.updated", *MOVES)
    assert keys_in == ["runners"]
    assert await _keys(hub, tenant, ana) == []
    assert [type_ for type_, _, _ in events] == [
        "customer.updated",
        "customer.segment_entered",
        "customer.updated",
        "customer.segment_left",
    ]
    entered = events[1][2]
    assert (entered["segment_id"], entered["segment_key"], entered["customer_id"]) == (
        segment_id,
        "runners",
        ana,
    )
    assert events[0][2]["customer"]["segments"] == ["runners"]
    assert events[2][2]["customer"]["segments"] == []


async def test_a_segment_created_later_finds_existing_customers_page_by_page(
    hub: Hub, tenant: TenantKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(membership, "PAGE_SIZE", 2)
    emails = [f"c{n}@{'shop.pt' if n % 2 else 'example.com'}" for n in range(7)]
    ids = {email: await known_customer(hub, tenant, email) for email in emails}

    await _segment(
        hub, tenant, "pt", {"field": "customer.email_domain", "op": "eq", "value": "shop.pt"}
    )

    assert await _moves(hub, tenant) == sorted(
        ("entered", "pt", ids[email]) for email in emails if email.endswith("shop.pt")
    )


async def test_new_rules_move_customers_both_ways_and_deleting_empties(
    hub: Hub, tenant: TenantKeys
) -> None:
    ana = await known_customer(hub, tenant, "ana@example.com")
    bob = await known_customer(hub, tenant, "bob@example.com")
    await _patch(hub, tenant, ana, club="runners")
    await _patch(hub, tenant, bob, club="swimmers")
    segment_id = await _segment(hub, tenant, "club", RUNNERS)

    async with hub.db.transaction() as session:
        changed = await update_segment(
            session,
            tenant.principal,
            segment_id,
            SegmentUpdate.model_validate({"rules": {**RUNNERS, "value": "swimmers"}}),
        )
    async with hub.db.transaction() as session:
        await delete_segment(session, tenant.principal, segment_id)

    assert changed.members == 1
    assert await _moves(hub, tenant) == sorted(
        [
            ("entered", "club", ana),
            ("left", "club", ana),
            ("entered", "club", bob),
            ("left", "club", bob),
        ]
    )
    assert await _keys(hub, tenant, bob) == []


async def test_a_new_customer_enters_matching_segments_when_created(
    hub: Hub, tenant: TenantKeys
) -> None:
    await _segment(hub, tenant, "vip", {"field": "customer.tier", "op": "eq", "value": "vip"})

    async with hub.db.transaction() as session:
        customer, _ = await upsert_customer(
            session,
            tenant.principal,
            CustomerUpsert(
                external_id=ExternalRef(system="crm", id="1"), email="v@example.com", tier="vip"
            ),
        )

    assert customer.segments == ["vip"]
    assert await _moves(hub, tenant) == [("entered", "vip", customer.id)]


async def test_orders_move_their_customer(hub: Hub, tenant: TenantKeys, orders: Orders) -> None:
    """The order consumer re-evaluates the customer whose e-mail the order carries; a
    redelivered event changes nothing."""
    ana = await known_customer(hub, tenant, "ana@example.com")
    await _segment(
        hub,
        tenant,
        "big-spenders",
        {
            "all": [
                {"field": "customer.orders_count", "op": "gte", "value": 1},
                {"field": "customer.total_spent.EUR", "op": "gte", "value": 5000},
            ]
        },
    )
    await orders.shop.stock(TENT_1__WH=10)

    order = await orders.place(("TENT-1", 6))  # 6 x 1000: 6000 cents, for Ana@Example.com
    await _deliver(hub, tenant, "order.created")
    await _deliver(hub, tenant, "order.created")
    keys_after_order = await _keys(hub, tenant, ana)
    await orders.post(f"/v1/orders/{order['id']}/cancel", {"reason": "changed mind"})
    await _deliver(hub, tenant, "order.cancelled")

    assert keys_after_order == ["big-spenders"]
    assert await _moves(hub, tenant) == [
        ("entered", "big-spenders", ana),
        ("left", "big-spenders", ana),
    ]


async def _deliver(hub: Hub, tenant: TenantKeys, event_type: str) -> None:
    """Hand the consumer the tenant's last event of this type, as the bus would."""
    async with hub.db.transaction() as session:
        row = (
            await session.scalars(
                select(OutboxEvent)
                .where(OutboxEvent.tenant_id == tenant.tenant_id, OutboxEvent.type == event_type)
                .order_by(OutboxEvent.time.desc())
                .limit(1)
            )
        ).one()
        await reevaluate_for_order(session, envelope_of(row))
