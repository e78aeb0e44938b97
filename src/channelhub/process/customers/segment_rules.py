"""What segment rules may say about a customer, and the facts they are checked against.

Segment rules are the promotion rules' condition trees (``all`` / ``any`` / ``not``, the
same operators and the same type checks, see ``promotions.rules``) over the fields of a
customer instead of a cart:

- ``customer.email``, ``customer.email_domain``, ``customer.tier``, ``customer.language``:
  text (lower-case e-mail and domain; empty counts as absent);
- ``customer.created_at``: the day the hub first saw the customer, ``YYYY-MM-DD`` in UTC,
  which ``gt`` / ``gte`` / ``lt`` / ``lte`` compare as dates;
- ``customer.metadata.<key>``: any metadata key (``exists`` tests whether it is set);
- ``customer.orders_count`` and ``customer.total_spent.<CUR>``: from the orders placed with
  the customer's e-mail address that were not cancelled; total spent is in minor units of
  that currency, net of refunds.

Nothing here depends on the clock: membership only changes when a customer, their orders
or the segment change, so a rule such as "created before 2026-01-01" stays exact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import Discriminator, Field, Tag
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.process.orders.models import Order
from channelhub.process.orders.schemas import OrderStatus
from channelhub.process.promotions import rules

_METADATA = "customer.metadata."
_TOTAL_SPENT = "customer.total_spent."

CUSTOMER_FIELDS = rules.Vocabulary(
    number={"customer.orders_count": "Orders placed with the customer's e-mail, not cancelled."},
    text={
        "customer.email": "The customer's e-mail address (lower-case).",
        "customer.email_domain": "The part of the e-mail address after @ (lower-case).",
        "customer.tier": "The customer's tier.",
        "customer.language": "The customer's preferred language (BCP 47 tag).",
        "customer.created_at": "The day the customer was first seen, YYYY-MM-DD (UTC).",
    },
    ordered_text=frozenset({"customer.created_at"}),
    families={
        _METADATA: ("metadata", "<key>", re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")),
        _TOTAL_SPENT: ("number", "<CURRENCY>", re.compile(r"^[A-Z]{3}$")),
    },
)


class CustomerCondition(rules.Condition):
    """One comparison of a customer fact with a value."""

    vocabulary: ClassVar[rules.Vocabulary] = CUSTOMER_FIELDS
    of: rules.Target | None = Field(
        default=None, exclude=True, description="Not used by segment rules (refused)."
    )


class CustomerAll(rules.All):
    all: list[CustomerRule] = Field(  # type: ignore[assignment]
        min_length=1, max_length=50, description="Every one holds."
    )


class CustomerAnyOf(rules.AnyOf):
    any: list[CustomerRule] = Field(  # type: ignore[assignment]
        min_length=1, max_length=50, description="At least one holds."
    )


class CustomerNot(rules.Not):
    not_: CustomerRule = Field(alias="not", description="It does not hold.")


CustomerRule = Annotated[
    Annotated[CustomerAll, Tag("all")]
    | Annotated[CustomerAnyOf, Tag("any")]
    | Annotated[CustomerNot, Tag("not")]
    | Annotated[CustomerCondition, Tag("condition")],
    Discriminator(rules.rule_kind),
]
"""A condition on a customer, or ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``."""

CustomerAll.model_rebuild()
CustomerAnyOf.model_rebuild()
CustomerNot.model_rebuild()


def conditions(rule: rules.Rule) -> Iterable[rules.Condition]:
    """Every condition of the tree."""
    if isinstance(rule, rules.All):
        for child in rule.all:
            yield from conditions(child)
    elif isinstance(rule, rules.AnyOf):
        for child in rule.any:
            yield from conditions(child)
    elif isinstance(rule, rules.Not):
        yield from conditions(rule.not_)
    else:
        yield rule


def uses_orders(rule: rules.Rule) -> bool:
    """Whether the rule looks at order statistics (which cost a query to gather)."""
    return any(
        c.field == "customer.orders_count" or c.field.startswith(_TOTAL_SPENT)
        for c in conditions(rule)
    )


@dataclass(frozen=True)
class OrderStats:
    count: int = 0
    spent: dict[str, int] = field(default_factory=dict)
    """Currency -> minor units."""


@dataclass(frozen=True)
class Profile:
    """One customer as segment rules see them."""

    id: str
    email: str
    tier: str
    language: str
    metadata: dict[str, Any]
    created_at: datetime
    orders: OrderStats = field(default_factory=OrderStats)

    def value_of(self, name: str, of: rules.Target | None = None) -> Any:
        if name.startswith(_METADATA):
            return self.metadata.get(name[len(_METADATA) :])
        if name.startswith(_TOTAL_SPENT):
            return self.orders.spent.get(name[len(_TOTAL_SPENT) :], 0)
        if name == "customer.orders_count":
            return self.orders.count
        if name == "customer.created_at":
            return self.created_at.date().isoformat()
        if name == "customer.email_domain":
            return self.email.rpartition("@")[2] or None
        value = {
            "customer.email": self.email,
            "customer.tier": self.tier,
            "customer.language": self.language,
        }[name]
        return value or None


def holds(rule: rules.Rule, profile: Profile) -> bool:
    return rules.unmet(rule, profile) is None


async def order_stats(
    session: AsyncSession, tenant_id: str, emails: Iterable[str]
) -> dict[str, OrderStats]:
    """Order statistics of each e-mail address given (absent: no orders), in one query."""
    wanted = sorted({email for email in emails if email})
    if not wanted:
        return {}
    rows = await session.execute(
        select(
            Order.customer_email,
            Order.currency,
            func.count(),
            func.coalesce(func.sum(Order.total - Order.refunded_total), 0),
        )
        .where(
            Order.tenant_id == tenant_id,
            Order.customer_email.in_(wanted),
            Order.status != OrderStatus.cancelled.value,
        )
        .group_by(Order.customer_email, Order.currency)
    )
    counts: dict[str, int] = {}
    spent: dict[str, dict[str, int]] = {}
    for email, currency, count, total in rows:
        counts[email] = counts.get(email, 0) + int(count)
        spent.setdefault(email, {})[currency] = int(total)
    return {email: OrderStats(counts[email], spent[email]) for email in counts}
