"""Who wrote, and which order they mean.

The customer is found by what the channel proves (the e-mail address it came from, the
marketplace buyer id) within the tenant the message arrived at, never across tenants. An
order is linked when the channel names it (a marketplace's own order reference) or the
text mentions its number; it counts as *verified* only when the requester is the order's
buyer (same e-mail or phone, or the marketplace vouched). Agents see any linked order; the
hub answers with an order's details on its own only when the link is verified, so a
stranger who types someone's order number learns nothing.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass

import regex
import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.process.customers.contacts import normalise_phone
from channelhub.process.customers.models import Customer, CustomerExternalId
from channelhub.process.orders import repository as orders
from channelhub.process.orders.models import Order
from channelhub.process.orders.schemas import ExternalRef

log = structlog.get_logger(__name__)

_NUMBER = re.compile(
    r"(?<![\w@/.-])#?((?:[A-Za-z]{1,5}-?)?\d{3,12}(?:-\d{1,4})?)(?![\w@])",
)
"""Order numbers as customers write them: #1001, NW-1234, 100045321, SHOP-1001-2."""
_MAX_CANDIDATES = 20
_SEARCHED = 5_000
"""Characters of a message searched for order numbers (the request is at the top)."""
_PATTERN_TIMEOUT_S = 0.05


@dataclass(frozen=True)
class Identity:
    email: str = ""
    phone: str = ""
    buyer: str = ""
    """``marketplace:buyer id``."""


@dataclass(frozen=True)
class OrderLink:
    order: Order
    verified: bool


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)[-9:]


async def find_customer(
    session: AsyncSession, tenant_id: str, who: Identity
) -> tuple[str | None, str]:
    """(customer id, tier) of the requester, or (None, "")."""
    if who.buyer:
        system, _, external = who.buyer.partition(":")
        found = await session.scalar(
            select(CustomerExternalId.customer_id).where(
                CustomerExternalId.tenant_id == tenant_id,
                CustomerExternalId.system == system,
                CustomerExternalId.external_id == external,
            )
        )
        if found is not None:
            tier = await session.scalar(select(Customer.tier).where(Customer.id == found))
            return found, tier or ""
    clauses = []
    if who.email:
        clauses.append(Customer.email == who.email)
    if who.phone:
        with contextlib.suppress(ValueError):  # not a phone the hub can read: not a key
            clauses.append(Customer.phone == normalise_phone(who.phone))
    if not clauses:
        return None, ""
    row = (
        await session.execute(
            select(Customer.id, Customer.tier)
            .where(Customer.tenant_id == tenant_id, or_(*clauses))
            .order_by(Customer.id)
            .limit(1)
        )
    ).first()
    return (row.id, row.tier) if row else (None, "")


def mentioned_numbers(text: str, pattern: str = "") -> list[str]:
    """Candidate order numbers in ``text``, as written and upper-cased, first mention first.
    Only the start of a long message is searched; the tenant's own ``pattern`` runs with a
    time limit (a pattern that backtracks badly finds nothing rather than hold the hub)."""
    text = text[:_SEARCHED]
    found: list[str] = []
    if pattern:
        try:
            found.extend(
                m.group(0) for m in regex.finditer(pattern, text, timeout=_PATTERN_TIMEOUT_S)
            )
        except TimeoutError:
            log.warning("helpdesk.order_pattern_timed_out", pattern=pattern)
    found.extend(m.group(1) for m in _NUMBER.finditer(text))
    seen: dict[str, None] = {}
    for number in found:
        for variant in (number, number.upper(), number.lstrip("#")):
            seen.setdefault(variant, None)
    return list(seen)[:_MAX_CANDIDATES]


def is_buyer(order: Order, who: Identity) -> bool:
    if who.email and order.customer_email and who.email == order.customer_email.lower():
        return True
    return bool(
        who.phone
        and order.customer_phone
        and len(_digits(who.phone)) >= 6
        and _digits(who.phone) == _digits(order.customer_phone)
    )


async def find_order(
    session: AsyncSession,
    tenant_id: str,
    who: Identity,
    text: str,
    *,
    vouched: ExternalRef | None = None,
    pattern: str = "",
) -> OrderLink | None:
    """The order the message is about: the one the channel vouches for, else the first
    mentioned number that is an order of the tenant (the requester's own orders first)."""
    if vouched is not None:
        order = await orders.by_external_ids(session, tenant_id, [vouched])
        if order is not None:
            return OrderLink(order, verified=True)
    numbers = mentioned_numbers(text, pattern)
    if not numbers:
        return None
    rows = (
        await session.scalars(
            orders.whole().where(Order.tenant_id == tenant_id, Order.number.in_(numbers))
        )
    ).all()
    if not rows:
        return None
    rank = {number: position for position, number in enumerate(numbers)}

    def order_key(order: Order) -> tuple[bool, int]:
        position = rank.get(order.number, rank.get(order.number.upper(), len(rank)))
        return (not is_buyer(order, who), position)

    best = min(rows, key=order_key)
    return OrderLink(best, verified=is_buyer(best, who))
