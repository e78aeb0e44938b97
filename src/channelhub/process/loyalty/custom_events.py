"""Custom loyalty events (``POST /v1/loyalty/events``): an offline receipt scanned at a
till, a product review, a birthday. Each earns by the program's rule of that name."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.errors import ConflictError, InvalidError
from channelhub.process.customers.contacts import normalise_phone
from channelhub.process.customers.identity import resolve_customer
from channelhub.process.customers.models import Customer
from channelhub.process.loyalty import schemas, tiers
from channelhub.process.loyalty.members import (
    Movement,
    enrol,
    entries_of,
    entry_schema,
    locked_member,
    member_schema,
    record,
)
from channelhub.process.loyalty.models import LoyaltyProgram
from channelhub.process.loyalty.programs import WRITE, earning_of, owned_program, tiers_of

EVENT_SOURCE = "event"


async def _customer_for(
    session: AsyncSession, tenant_id: str, key: schemas.CustomerKey, now: datetime
) -> str:
    """The customer a till or an app names: by the hub's id, else by a system's id for
    them, e-mail or phone; someone new to the hub (a first receipt) becomes a customer."""
    if key.id is not None:
        found = await session.scalar(
            select(Customer.id).where(Customer.tenant_id == tenant_id, Customer.id == key.id)
        )
        if found is None:
            raise InvalidError(
                f"no customer {key.id!r}", field="customer.id", code="customer_not_found"
            )
        return found
    try:
        phone = normalise_phone(key.phone) if key.phone else None
    except ValueError as exc:
        raise InvalidError(str(exc), field="customer.phone") from exc
    customer = await resolve_customer(
        session,
        tenant_id,
        external_id=key.external_id,
        email=key.email,
        phone=phone,
        create=True,
        clock=lambda: now,
    )
    assert customer is not None
    return customer.id


MAX_AGE = timedelta(days=90)
"""How late an event may be told (a till that was offline, a batch upload)."""


def _check_age(program: LoyaltyProgram, occurred: datetime, pending: bool, now: datetime) -> None:
    if occurred < now - MAX_AGE:
        raise InvalidError(
            f"events older than {MAX_AGE.days} days earn nothing",
            field="occurred_at",
            code="event_too_old",
        )
    available = occurred + timedelta(days=program.pending_days if pending else 0)
    if program.expiry_days and available + timedelta(days=program.expiry_days) <= now:
        raise InvalidError(
            "the points of an event this old would already have expired",
            field="occurred_at",
            code="event_too_old",
        )


async def earn_for_event(
    session: AsyncSession,
    principal: Principal,
    data: schemas.LoyaltyEvent,
    *,
    clock: Clock = utc_now,
) -> schemas.EventResult:
    """Earn by the program's rule named ``data.name``; the same event id earns once (a
    repeat answers with the member and no new entries)."""
    principal.require(WRITE)
    program = await owned_program(session, principal.tenant_id, data.program_id, field="program_id")
    if not program.active:
        raise ConflictError(
            "the program is not active", field="program_id", code="program_inactive"
        )
    rule = next((r for r in earning_of(program).events if r.name == data.name), None)
    if rule is None:
        raise InvalidError(
            f"the program has no earning rule for events named {data.name!r}",
            field="name",
            code="unknown_event",
        )
    if data.currency is not None and data.currency != program.currency:
        raise InvalidError(
            f"the program earns in {program.currency}", field="currency", code="wrong_currency"
        )
    now = clock()
    occurred = min(data.occurred_at or now, now)
    _check_age(program, occurred, rule.pending, now)
    customer_id = await _customer_for(session, principal.tenant_id, data.customer, now)
    member = await locked_member(session, program, customer_id)
    if member is None:
        if not program.auto_enroll:
            raise ConflictError(
                "the customer is not a member of the program",
                field="customer",
                code="not_a_member",
            )
        member, _ = await enrol(session, program, customer_id, now)
    points = rule.points + (rule.rate.of(data.amount) if rule.rate and data.amount else 0)
    points = tiers.with_multiplier(tiers_of(program), member.tier or None, points)
    if points > schemas.MAX_POINTS:
        raise InvalidError(
            f"one event earns {schemas.MAX_POINTS} points at most",
            field="amount",
            code="too_many_points",
        )
    written = []
    if points > 0:
        where = f" at {data.location_id}" if data.location_id else ""
        movement = Movement(
            schemas.EntryKind.earn,
            points,
            EVENT_SOURCE,
            f"{data.name}:{data.id}",
            reason=f"{data.name} {data.id}{where}",
            available_at=occurred + timedelta(days=program.pending_days if rule.pending else 0),
            earns_expiry=True,
        )
        written = await record(session, program, member, [movement], now)
    return schemas.EventResult(
        member=member_schema(program, member, await entries_of(session, member.id), now),
        entries=[entry_schema(entry) for entry in written],
    )
