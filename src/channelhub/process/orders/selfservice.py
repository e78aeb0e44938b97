"""Shoppers serving themselves: find an order with its number and e-mail, then act on it
as the customer (see the closure options, choose one, start a return).

A wrong e-mail and an unknown order number get the same answer, so nobody can learn which
order numbers exist; the edge adds rate limits and signed links.
"""

from __future__ import annotations

import hmac

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.models import Tenant
from channelhub.platform.auth.principal import Principal
from channelhub.process.orders.models import Order
from channelhub.process.orders.repository import OrderNotFound
from channelhub.process.orders.service import READ, WRITE

CUSTOMER = "customer"
NOT_FOUND = "no order matches this number and e-mail address"


def customer(tenant_id: str) -> Principal:
    """The shopper of an order they proved to know: may read it and act on it as its
    customer, nothing else (the caller limits them to that one order)."""
    return Principal(
        tenant_id=tenant_id, key_id=None, scopes=frozenset({READ, WRITE}), name=CUSTOMER
    )


async def find(session: AsyncSession, tenant_slug: str, number: str, email: str) -> tuple[str, str]:
    """(tenant id, order id) of the order with this number and customer e-mail, or
    OrderNotFound with one message for every cause."""
    row = (
        await session.execute(
            select(Order.tenant_id, Order.id, Order.customer_email)
            .join(Tenant, Tenant.id == Order.tenant_id)
            .where(Tenant.slug == tenant_slug, Order.number == number.strip())
        )
    ).first()
    given = email.strip().lower().encode()
    expected = row.customer_email.encode() if row is not None else b"\0" * len(given)
    if row is None or not hmac.compare_digest(given, expected):
        raise OrderNotFound(NOT_FOUND)
    return row.tenant_id, row.id
