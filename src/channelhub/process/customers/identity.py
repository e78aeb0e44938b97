"""TEMPORARY until the customers branch lands (replaced by its identity.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.ids import new_id
from channelhub.process.customers.models import Customer, CustomerExternalId
from channelhub.process.orders.schemas import ExternalRef


async def resolve_customer(
    session: AsyncSession,
    tenant_id: str,
    *,
    external_id: ExternalRef | None = None,
    email: str | None = None,
    phone: str | None = None,
    name: str = "",
    create: bool = False,
    clock: Clock = utc_now,
) -> Customer | None:
    if external_id is not None:
        found = await session.scalar(
            select(CustomerExternalId.customer_id).where(
                CustomerExternalId.tenant_id == tenant_id,
                CustomerExternalId.system == external_id.system,
                CustomerExternalId.external_id == external_id.id,
            )
        )
        if found is not None:
            return await session.get(Customer, found)
    for column, value in ((Customer.email, email), (Customer.phone, phone)):
        if value:
            row = await session.scalar(
                select(Customer).where(Customer.tenant_id == tenant_id, column == value).limit(1)
            )
            if row is not None:
                return row
    if not create:
        return None
    now = clock()
    row = Customer(
        id=new_id("cus"),
        tenant_id=tenant_id,
        email=(email or "").lower(),
        phone=phone or "",
        name=name,
        language="",
        tier="",
        attributes={},
        created_at=now,
        updated_at=now,
        external_ids=[],
    )
    session.add(row)
    await session.flush()
    return row
