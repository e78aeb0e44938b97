"""Customers: identity across systems (see ``identity``), their details and metadata.

Every change ends in ``changes.record_change``: ``customer.created`` or
``customer.updated`` (naming what changed) and the segment events it causes, in the
transaction of the change. Nothing is recorded when nothing changed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.errors import InvalidError, NotFoundError
from channelhub.process.customers import schemas
from channelhub.process.customers.changes import record_change, view
from channelhub.process.customers.contacts import normalise_email
from channelhub.process.customers.identity import create_customer, phone_or_refuse, resolve_customer
from channelhub.process.customers.membership import segment_keys_by_customer, segment_keys_of
from channelhub.process.customers.metadata_schema import check_metadata, same_value
from channelhub.process.customers.models import Customer, CustomerExternalId

READ = "customers:read"
WRITE = "customers:write"
_DETAILS = ("email", "phone", "name", "language", "tier")


class CustomerNotFound(NotFoundError):
    code = "customer_not_found"


async def views(
    session: AsyncSession, tenant_id: str, rows: list[Customer]
) -> list[schemas.Customer]:
    """The customers as the API shows them, their segments read in one query."""
    keys = await segment_keys_by_customer(session, tenant_id, [row.id for row in rows])
    return [view(row, keys.get(row.id, [])) for row in rows]


async def upsert_customer(
    session: AsyncSession,
    principal: Principal,
    data: schemas.CustomerUpsert,
    *,
    clock: Clock = utc_now,
) -> tuple[schemas.Customer, bool]:
    """Record or refresh a customer as a system of record sees them; (customer, created).
    Found by ``identity.resolve_customer``; the system's id is attached to whoever is
    found. Empty details leave what is known; an update older than the last one applied
    (``source_updated_at``) changes nothing."""
    principal.require(WRITE)
    now = clock()
    tenant_id = principal.tenant_id
    row = await resolve_customer(
        session, tenant_id, external_id=data.external_id, email=data.email, phone=data.phone
    )
    if row is None:
        _, created = await create_customer(
            session,
            tenant_id,
            external_id=data.external_id,
            email=data.email or "",
            phone=data.phone,
            name=data.name,
            language=data.language or "",
            tier=data.tier or "",
            source_updated_at=data.source_updated_at,
            now=now,
        )
        return created, True
    if (
        data.source_updated_at is not None
        and row.source_updated_at is not None
        and data.source_updated_at <= row.source_updated_at
    ):
        return view(row, await segment_keys_of(session, tenant_id, row.id)), False
    before = {name: getattr(row, name) for name in _DETAILS}
    row.email = data.email or row.email
    row.phone = data.phone or row.phone
    row.name = data.name or row.name
    row.language = data.language or row.language
    row.tier = data.tier if data.tier is not None else (row.tier or "")
    row.source_updated_at = data.source_updated_at or row.source_updated_at
    changed = [name for name in _DETAILS if getattr(row, name) != before[name]]
    known = {(ref.system, ref.external_id) for ref in row.external_ids}
    if (data.external_id.system, data.external_id.id) not in known:
        row.external_ids.append(
            CustomerExternalId(
                tenant_id=tenant_id, system=data.external_id.system, external_id=data.external_id.id
            )
        )
        changed.append("external_ids")
    if not changed:
        await session.flush()
        return view(row, await segment_keys_of(session, tenant_id, row.id)), False
    row.updated_at = now
    await session.flush()
    return await record_change(session, row, created=False, changed=changed, now=now), False


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
    row = await _owned(session, principal.tenant_id, customer_id)
    return view(row, await segment_keys_of(session, principal.tenant_id, row.id))


async def update_metadata(
    session: AsyncSession,
    principal: Principal,
    customer_id: str,
    data: schemas.MetadataUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.Customer:
    """Set (or, with null, remove) keys of the customer's metadata; the rest stays. Checked
    against the tenant's metadata schema, if it has one. ``customer.updated`` names each
    key set to a new value or removed (``metadata.<key>``)."""
    principal.require(WRITE)
    tenant_id = principal.tenant_id
    row = await _owned(session, tenant_id, customer_id)
    before: dict[str, Any] = dict(row.attributes or {})
    merged = dict(before)
    for key, value in data.metadata.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > schemas.MAX_METADATA_KEYS:
        raise InvalidError(
            f"a customer has {schemas.MAX_METADATA_KEYS} metadata keys at most", field="metadata"
        )
    await check_metadata(session, tenant_id, merged, data.metadata)
    changed = [f"metadata.{key}" for key in data.metadata if _differs(before, merged, key)]
    if not changed:
        return view(row, await segment_keys_of(session, tenant_id, row.id))
    row.attributes = merged
    row.updated_at = clock()
    await session.flush()
    return await record_change(session, row, created=False, changed=changed, now=row.updated_at)


def _differs(before: dict[str, Any], after: dict[str, Any], key: str) -> bool:
    if (key in before) != (key in after):
        return True
    return key in before and not same_value(before[key], after[key])


async def list_customers(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    email: str | None = None,
    phone: str | None = None,
) -> Page[schemas.Customer]:
    """Customers newest first; only those with the e-mail address (any case) or the phone
    number (any way it is written, with its country code) when given."""
    principal.require(READ)
    statement = (
        select(Customer)
        .options(selectinload(Customer.external_ids))
        .where(Customer.tenant_id == principal.tenant_id)
    )
    if email is not None:
        statement = statement.where(Customer.email == normalise_email(email))
    if phone is not None:
        statement = statement.where(Customer.phone == phone_or_refuse(phone))
    found = await keyset_page(session, statement, Customer.id, page)
    return Page(await views(session, principal.tenant_id, list(found.items)), found.next_cursor)
