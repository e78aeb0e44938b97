"""Identity resolution: which customer a system, an e-mail address or a phone number means.

Resolution order (the first that finds someone wins):

1. the system's own id for the customer (``ExternalRef``: system and id), exact;
2. the e-mail address, stripped and lower-cased;
3. the phone number, in E.164 (see ``contacts.normalise_phone``), unless the customer
   found has another e-mail address than the one given (two people sharing a phone).

When several customers share an e-mail address or a phone number (systems may have
recorded them apart), the one first seen wins. With ``create=True`` and no match, a
customer is created from what was given (with the external id attached) and
``customer.created`` is recorded; otherwise nobody is None.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.errors import InvalidError
from channelhub.platform.ids import new_id
from channelhub.process.customers import schemas
from channelhub.process.customers.changes import record_change
from channelhub.process.customers.contacts import normalise_email, normalise_phone
from channelhub.process.customers.models import Customer, CustomerExternalId
from channelhub.process.orders.schemas import ExternalRef


def phone_or_refuse(phone: str) -> str:
    """The phone in E.164, or a 422 naming ``phone``."""
    try:
        return normalise_phone(phone)
    except ValueError as exc:
        raise InvalidError(str(exc), field="phone") from exc


def _another_address(row: Customer, email: str | None) -> bool:
    """A phone shared by a household or an office is not the same person when the e-mail
    addresses differ: the phone only identifies someone whose address is not known."""
    return email is not None and bool(row.email) and row.email != email


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
    """The customer these facts identify (external ids loaded), in the order the module
    describes; with ``create``, a new one when nobody matches."""
    email = normalise_email(email) if email and email.strip() else None
    phone = phone_or_refuse(phone) if phone and phone.strip() else None
    found = select(Customer).options(selectinload(Customer.external_ids))
    if external_id is not None:
        customer_id = await session.scalar(
            select(CustomerExternalId.customer_id).where(
                CustomerExternalId.tenant_id == tenant_id,
                CustomerExternalId.system == external_id.system,
                CustomerExternalId.external_id == external_id.id,
            )
        )
        if customer_id is not None:
            return (await session.scalars(found.where(Customer.id == customer_id))).first()
    for column, value in ((Customer.email, email), (Customer.phone, phone)):
        if value is None:
            continue
        row = (
            await session.scalars(
                found.where(Customer.tenant_id == tenant_id, column == value)
                .order_by(Customer.id)
                .limit(1)
            )
        ).first()
        if row is not None and not _another_address(row, email):
            return row
    if not create:
        return None
    row, _ = await create_customer(
        session,
        tenant_id,
        external_id=external_id,
        email=email or "",
        phone=phone or "",
        name=name,
        now=clock(),
    )
    return row


async def create_customer(
    session: AsyncSession,
    tenant_id: str,
    *,
    external_id: ExternalRef | None,
    email: str,
    phone: str,
    name: str,
    language: str = "",
    tier: str = "",
    source_updated_at: datetime | None = None,
    now: datetime,
) -> tuple[Customer, schemas.Customer]:
    """A new customer (e-mail and phone already normalised), recorded as
    ``customer.created`` and placed in the segments they match; the row and its view."""
    row = Customer(
        id=new_id("cus"),
        tenant_id=tenant_id,
        email=email,
        phone=phone,
        name=name,
        language=language,
        tier=tier,
        attributes={},
        source_updated_at=source_updated_at,
        created_at=now,
        updated_at=now,
        external_ids=[]
        if external_id is None
        else [
            CustomerExternalId(
                tenant_id=tenant_id, system=external_id.system, external_id=external_id.id
            )
        ],
    )
    session.add(row)
    await session.flush()
    return row, await record_change(session, row, created=True, now=now)
