"""Customers: identity across systems (their ids for the customer, then e-mail)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.errors import InvalidError, NotFoundError
from channelhub.platform.ids import new_id
from channelhub.process.customers import schemas
from channelhub.process.customers.models import Customer, CustomerExternalId
from channelhub.process.orders.schemas import ExternalRef

READ = "customers:read"
WRITE = "customers:write"


class CustomerNotFound(NotFoundError):
    code = "customer_not_found"


def to_schema(row: Customer) -> schemas.Customer:
    return schemas.Customer(
        id=row.id,
        email=row.email,
        phone=row.phone,
        name=row.name,
        language=row.language,
        tier=row.tier,
        metadata=dict(row.attributes or {}),
        external_ids=[
            ExternalRef(system=ref.system, id=ref.external_id)
            for ref in sorted(row.external_ids, key=lambda r: (r.system, r.external_id))
        ],
        erased_at=row.erased_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _find(
    session: AsyncSession, tenant_id: str, data: schemas.CustomerUpsert
) -> Customer | None:
    customer_id = await session.scalar(
        select(CustomerExternalId.customer_id).where(
            CustomerExternalId.tenant_id == tenant_id,
            CustomerExternalId.system == data.external_id.system,
            CustomerExternalId.external_id == data.external_id.id,
        )
    )
    statement = select(Customer).options(selectinload(Customer.external_ids))
    if customer_id is not None:
        return (await session.scalars(statement.where(Customer.id == customer_id))).first()
    if data.email:
        return (
            await session.scalars(
                statement.where(Customer.tenant_id == tenant_id, Customer.email == data.email)
                .order_by(Customer.id)
                .limit(1)
            )
        ).first()
    return None


async def upsert_customer(
    session: AsyncSession,
    principal: Principal,
    data: schemas.CustomerUpsert,
    *,
    clock: Clock = utc_now,
) -> tuple[schemas.Customer, bool]:
    """Record or refresh a customer; (customer, created)."""
    principal.require(WRITE)
    now = clock()
    row = await _find(session, principal.tenant_id, data)
    created = row is None
    if row is None:
        row = Customer(
            id=new_id("cus"),
            tenant_id=principal.tenant_id,
            created_at=now,
            updated_at=now,
            external_ids=[],
        )
        session.add(row)
    elif (
        data.source_updated_at is not None
        and row.source_updated_at is not None
        and data.source_updated_at <= row.source_updated_at
    ):
        return to_schema(row), False
    row.email = data.email or row.email
    row.phone = data.phone or row.phone
    row.name = data.name or row.name
    row.language = data.language or row.language
    row.tier = data.tier if data.tier is not None else (row.tier or "")
    row.source_updated_at = data.source_updated_at or row.source_updated_at
    row.updated_at = now
    known = {(ref.system, ref.external_id) for ref in row.external_ids}
    if (data.external_id.system, data.external_id.id) not in known:
        row.external_ids.append(
            CustomerExternalId(
                tenant_id=principal.tenant_id,
                system=data.external_id.system,
                external_id=data.external_id.id,
            )
        )
    await session.flush()
    return to_schema(row), created


async def _owned(session: AsyncSession, tenant_id: str, customer_id: str) -> Customer:
    row = (
        await session.scalars(
            select(Customer)
            .options(selectinload(Customer.external_ids))
            .where(Customer.tenant_id == tenant_id, Customer.id == customer_id)
        )
    ).first()
    if row is None:
        raise CustomerNotFound(f"no customer {customer_id!r}")
    return row


async def get_customer(
    session: AsyncSession, principal: Principal, customer_id: str
) -> schemas.Customer:
    principal.require(READ)
    return to_schema(await _owned(session, principal.tenant_id, customer_id))


async def update_metadata(
    session: AsyncSession,
    principal: Principal,
    customer_id: str,
    data: schemas.MetadataUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.Customer:
    """Set (or, with null, remove) keys of the customer's metadata; the rest stays."""
    principal.require(WRITE)
    row = await _owned(session, principal.tenant_id, customer_id)
    merged = dict(row.attributes or {})
    for key, value in data.metadata.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > schemas.MAX_METADATA_KEYS:
        raise InvalidError(
            f"a customer has {schemas.MAX_METADATA_KEYS} metadata keys at most", field="metadata"
        )
    row.attributes = merged
    row.updated_at = clock()
    await session.flush()
    return to_schema(row)


async def list_customers(
    session: AsyncSession, principal: Principal, page: PageRequest, *, email: str | None = None
) -> Page[schemas.Customer]:
    principal.require(READ)
    statement = (
        select(Customer)
        .options(selectinload(Customer.external_ids))
        .where(Customer.tenant_id == principal.tenant_id)
    )
    if email is not None:
        statement = statement.where(Customer.email == email.strip().lower())
    found = await keyset_page(session, statement, Customer.id, page)
    return Page([to_schema(row) for row in found.items], found.next_cursor)
