"""The one way a change to a customer is finished: memberships recomputed and the change
recorded, in the transaction that made it.

Every path that creates or changes a customer (system upsert, metadata, identity
resolution) ends here, so that ``customer.created`` / ``customer.updated`` and the
segment events it causes can never be forgotten by one of them. The change event comes
first, then the segment events it caused, and the customer in it shows their segments
after the change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.events.outbox import PendingEvent, record_events
from channelhub.process.customers import schemas
from channelhub.process.customers.events import CUSTOMER_CREATED, CUSTOMER_UPDATED, CustomerChanged
from channelhub.process.customers.membership import recompute_customer
from channelhub.process.customers.models import Customer
from channelhub.process.orders.schemas import ExternalRef


def view(row: Customer, segments: Sequence[str]) -> schemas.Customer:
    """The customer as the API shows them (``row.external_ids`` must be loaded)."""
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
        segments=list(segments),
        erased_at=row.erased_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def record_change(
    session: AsyncSession,
    row: Customer,
    *,
    created: bool,
    changed: Sequence[str] = (),
    now: datetime,
) -> schemas.Customer:
    """Recompute the customer's memberships and record ``customer.created`` (``created``)
    or ``customer.updated`` naming ``changed``, then the segment events; the customer now.
    The caller has made the change and decided that something did change."""
    segments, membership_events = await recompute_customer(session, row, at=now)
    customer = view(row, segments)
    event = (
        PendingEvent(CUSTOMER_CREATED, row.tenant_id, row.id, customer)
        if created
        else PendingEvent(
            CUSTOMER_UPDATED,
            row.tenant_id,
            row.id,
            CustomerChanged(changed=list(changed), customer=customer),
        )
    )
    await record_events(session, [event, *membership_events], clock=lambda: now)
    return customer
