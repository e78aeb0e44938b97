"""Identity resolution: the system's id, then e-mail, then phone; creation on request."""

from __future__ import annotations

import pytest

from channelhub.hub import Hub
from channelhub.platform.errors import InvalidError
from channelhub.process.customers.contacts import normalise_phone
from channelhub.process.customers.identity import resolve_customer
from channelhub.process.customers.schemas import CustomerUpsert
from channelhub.process.customers.service import upsert_customer
from channelhub.process.orders.schemas import ExternalRef
from tests.fixtures.customers import recorded
from tests.fixtures.hub import TenantKeys

SHOPIFY = "shopify:shop-1"


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        pytest.param("+351 912 345 678", "+351912345678", id="spaces"),
        pytest.param("(+351) 912-345-678", "+351912345678", id="brackets-and-dashes"),
        pytest.param("00351.912.345.678", "+351912345678", id="international-prefix"),
        pytest.param(" +1 (613) 555-0142 ", "+16135550142", id="north-america"),
    ],
)
def test_phones_are_stored_in_e164(written: str, stored: str) -> None:
    assert normalise_phone(written) == stored


@pytest.mark.parametrize(
    "written",
    [
        pytest.param("912 345 678", id="no-country-code"),
        pytest.param("+0 912 345 678", id="country-code-zero"),
        pytest.param("+351 912 ABC 678", id="letters"),
        pytest.param("+12345", id="too-short"),
        pytest.param("+1234567890123456", id="too-long"),
        pytest.param("+351 912 345 678 ext 2", id="extension"),
    ],
)
def test_nonsense_is_not_a_phone(written: str) -> None:
    with pytest.raises(ValueError, match="international form"):
        normalise_phone(written)


async def _upsert(hub: Hub, tenant: TenantKeys, external: str, **fields: str) -> str:
    async with hub.db.transaction() as session:
        customer, _ = await upsert_customer(
            session,
            tenant.principal,
            CustomerUpsert(external_id=ExternalRef(system=SHOPIFY, id=external), **fields),
        )
    return customer.id


async def _resolve(hub: Hub, tenant: TenantKeys, **facts: object) -> str | None:
    async with hub.db.transaction() as session:
        row = await resolve_customer(session, tenant.tenant_id, **facts)  # type: ignore[arg-type]
        return None if row is None else row.id


async def test_each_key_finds_the_customer(hub: Hub, tenant: TenantKeys) -> None:
    ana = await _upsert(hub, tenant, "1", email="ana@example.com", phone="+351 912 345 678")
    await _upsert(hub, tenant, "2", email="bob@example.com", phone="+351 912 000 000")

    by_external = await _resolve(hub, tenant, external_id=ExternalRef(system=SHOPIFY, id="1"))
    by_email = await _resolve(hub, tenant, email="  ANA@Example.COM ")
    by_phone = await _resolve(hub, tenant, phone="00351 912-345-678")
    nobody = await _resolve(hub, tenant, email="carla@example.com", phone="+351 913 333 333")

    assert (by_external, by_email, by_phone, nobody) == (ana, ana, ana, None)


async def test_the_systems_id_wins_over_email_and_email_over_phone(
    hub: Hub, tenant: TenantKeys
) -> None:
    ana = await _upsert(hub, tenant, "1", email="ana@example.com", phone="+351912345678")
    bob = await _upsert(hub, tenant, "2", email="bob@example.com", phone="+351919999999")

    external_first = await _resolve(
        hub, tenant, external_id=ExternalRef(system=SHOPIFY, id="2"), email="ana@example.com"
    )
    email_first = await _resolve(hub, tenant, email="ana@example.com", phone="+351919999999")
    unknown_external_then_phone = await _resolve(
        hub, tenant, external_id=ExternalRef(system="pos", id="77"), phone="+351 919 999 999"
    )

    assert (external_first, email_first, unknown_external_then_phone) == (bob, ana, bob)


async def test_create_makes_the_customer_and_records_it(hub: Hub, tenant: TenantKeys) -> None:
    async with hub.db.transaction() as session:
        row = await resolve_customer(
            session,
            tenant.tenant_id,
            external_id=ExternalRef(system="pos", id="A-9"),
            email="Carla@Example.com",
            phone="+351 913 333 333",
            name="Carla Reis",
            create=True,
        )
        assert row is not None
        created = (row.id, row.email, row.phone, [r.external_id for r in row.external_ids])

    again = await _resolve(hub, tenant, phone="+351913333333", create=True)
    events = await recorded(hub, tenant, "customer.created", "customer.updated")

    assert created == (again, "carla@example.com", "+351913333333", ["A-9"])
    assert [(type_, subject) for type_, subject, _ in events] == [("customer.created", again)]
    assert events[0][2]["name"] == "Carla Reis"
    assert events[0][2]["external_ids"] == [{"system": "pos", "id": "A-9"}]


async def test_a_phone_that_is_not_one_is_refused(hub: Hub, tenant: TenantKeys) -> None:
    with pytest.raises(InvalidError) as refused:
        await _resolve(hub, tenant, phone="call me", create=True)

    assert refused.value.field == "phone"
    assert await recorded(hub, tenant, "customer.created") == []


async def test_a_system_upsert_found_by_phone_gains_the_systems_id(
    hub: Hub, tenant: TenantKeys
) -> None:
    ana = await _upsert(hub, tenant, "1", phone="+351 912 345 678", name="Ana")
    async with hub.db.transaction() as session:
        customer, created = await upsert_customer(
            session,
            tenant.principal,
            CustomerUpsert(external_id=ExternalRef(system="pos", id="P-1"), phone="00351912345678"),
        )

    assert (customer.id, created) == (ana, False)
    assert [ref.system for ref in customer.external_ids] == ["pos", SHOPIFY]


async def test_two_people_sharing_a_phone_stay_two_customers(hub: Hub, tenant: TenantKeys) -> None:
    async with hub.db.transaction() as session:
        ana, _ = await upsert_customer(
            session,
            tenant.principal,
            CustomerUpsert(
                external_id=ExternalRef(system="shop", id="ana-shared"),
                email="ana.shared@example.com",
                phone="+351 933 000 111",
                name="Ana Costa",
            ),
        )
        bob, created = await upsert_customer(
            session,
            tenant.principal,
            CustomerUpsert(
                external_id=ExternalRef(system="crm", id="bob-shared"),
                email="bob.shared@example.com",
                phone="+351 933 000 111",
                name="Bob Costa",
            ),
        )
        by_phone_only = await resolve_customer(session, tenant.tenant_id, phone="+351933000111")

    assert created
    assert bob.id != ana.id
    assert by_phone_only is not None
    assert by_phone_only.id == ana.id


def test_a_trunk_zero_in_brackets_is_not_part_of_the_number() -> None:
    assert normalise_phone("+44 (0)20 7946 0958") == normalise_phone("+44 20 7946 0958")
