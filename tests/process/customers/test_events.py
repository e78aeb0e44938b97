"""customer.created / customer.updated: recorded with each change, naming what changed."""

from __future__ import annotations

from typing import Any

from channelhub.hub import Hub
from channelhub.process.customers.schemas import CustomerUpsert, MetadataUpdate
from channelhub.process.customers.service import update_metadata, upsert_customer
from channelhub.process.orders.schemas import ExternalRef
from tests.fixtures.customers import recorded
from tests.fixtures.hub import TenantKeys

CHANGES = ("customer.created", "customer.updated")


async def _upsert(hub: Hub, tenant: TenantKeys, system: str = "shopify:s", **fields: Any) -> str:
    async with hub.db.transaction() as session:
        customer, _ = await upsert_customer(
            session,
            tenant.principal,
            CustomerUpsert(external_id=ExternalRef(system=system, id="42"), **fields),
        )
    return customer.id


async def _patch(hub: Hub, tenant: TenantKeys, customer_id: str, **metadata: Any) -> None:
    async with hub.db.transaction() as session:
        await update_metadata(
            session, tenant.principal, customer_id, MetadataUpdate(metadata=metadata)
        )


async def _changed(hub: Hub, tenant: TenantKeys) -> list[tuple[str, list[str] | None]]:
    return [
        (type_, data.get("changed")) for type_, _, data in await recorded(hub, tenant, *CHANGES)
    ]


async def test_a_system_upsert_names_what_it_changed(hub: Hub, tenant: TenantKeys) -> None:
    customer_id = await _upsert(hub, tenant, email="ana@example.com", name="Ana")
    await _upsert(hub, tenant, email="ana@example.com", name="Ana Silva", tier="vip")
    await _upsert(hub, tenant, system="pos", email="ana@example.com", phone="+351912345678")

    events = await recorded(hub, tenant, *CHANGES)

    assert await _changed(hub, tenant) == [
        ("customer.created", None),
        ("customer.updated", ["name", "tier"]),
        ("customer.updated", ["phone", "external_ids"]),
    ]
    assert {subject for _, subject, _ in events} == {customer_id}
    assert events[1][2]["customer"]["name"] == "Ana Silva"
    assert events[2][2]["customer"]["phone"] == "+351912345678"


async def test_nothing_changed_records_nothing(hub: Hub, tenant: TenantKeys) -> None:
    customer_id = await _upsert(hub, tenant, email="ana@example.com", name="Ana")
    await _patch(hub, tenant, customer_id, club="runners")

    await _upsert(hub, tenant, email="ANA@example.com", name="")
    await _patch(hub, tenant, customer_id, club="runners", gone=None)

    assert await _changed(hub, tenant) == [
        ("customer.created", None),
        ("customer.updated", ["metadata.club"]),
    ]


async def test_metadata_changes_name_each_key_set_changed_or_removed(
    hub: Hub, tenant: TenantKeys
) -> None:
    customer_id = await _upsert(hub, tenant, email="ana@example.com")
    await _patch(hub, tenant, customer_id, club="runners", visits=3, vip=True)

    await _patch(hub, tenant, customer_id, club="runners", visits=4, vip=None, store="porto")

    (_, _, last) = (await recorded(hub, tenant, "customer.updated"))[-1]
    assert last["changed"] == ["metadata.visits", "metadata.vip", "metadata.store"]
    assert last["customer"]["metadata"] == {"club": "runners", "visits": 4, "store": "porto"}
