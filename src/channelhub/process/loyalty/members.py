"""Members and every movement of their points.

All points move through ``record``: it appends to the ledger (once per source: the same
order, receipt, reward or adjustment never moves points twice), re-derives the balance,
re-checks the tier and records the events, in the caller's transaction. The member row
is locked first, so two movements for one member never interleave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import dialect_insert
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.db.repository import owned_row
from channelhub.platform.errors import InvalidError, NotFoundError
from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.outbox import PendingEvent, record_events
from channelhub.platform.ids import new_id
from channelhub.process.customers.changes import record_change
from channelhub.process.customers.models import Customer
from channelhub.process.loyalty import schemas, tiers
from channelhub.process.loyalty.events import (
    MEMBER_ENROLLED,
    POINTS_EARNED,
    POINTS_EXPIRED,
    POINTS_REVERSED,
    POINTS_SPENT,
)
from channelhub.process.loyalty.ledger import replay
from channelhub.process.loyalty.models import LedgerEntry, LoyaltyMember, LoyaltyProgram
from channelhub.process.loyalty.programs import READ, WRITE, owned_program, tiers_of

_EVENT_OF: dict[str, EventType] = {
    schemas.EntryKind.earn.value: POINTS_EARNED,
    schemas.EntryKind.spend.value: POINTS_SPENT,
    schemas.EntryKind.reverse.value: POINTS_REVERSED,
    schemas.EntryKind.expire.value: POINTS_EXPIRED,
}


class MemberNotFound(NotFoundError):
    code = "member_not_found"


@dataclass(frozen=True)
class Movement:
    """Points to append: see ``models.LedgerEntry``."""

    kind: schemas.EntryKind
    points: int
    source: str
    source_ref: str
    reason: str = ""
    available_at: datetime | None = None
    lot_id: str | None = None
    earns_expiry: bool = False
    """An earning: it expires ``expiry_days`` after it becomes available."""


def entry_schema(row: LedgerEntry) -> schemas.Entry:
    return schemas.Entry(
        id=row.id,
        member_id=row.member_id,
        kind=schemas.EntryKind(row.kind),
        points=row.points,
        available_at=row.available_at,
        expires_at=row.expires_at,
        lot_id=row.lot_id,
        source=row.source,
        source_ref=row.source_ref,
        reason=row.reason,
        created_at=row.created_at,
    )


async def entries_of(session: AsyncSession, member_id: str) -> list[LedgerEntry]:
    return list(
        await session.scalars(
            select(LedgerEntry).where(LedgerEntry.member_id == member_id).order_by(LedgerEntry.id)
        )
    )


async def metadata_of(session: AsyncSession, customer_id: str) -> dict[str, Any]:
    found = await session.scalar(select(Customer.attributes).where(Customer.id == customer_id))
    return dict(found or {})


def member_schema(
    program: LoyaltyProgram, member: LoyaltyMember, entries: list[LedgerEntry], now: datetime
) -> schemas.Member:
    tier = member.tier or None
    return schemas.Member(
        id=member.id,
        program_id=member.program_id,
        customer_id=member.customer_id,
        tier=tier,
        tier_since=member.tier_since,
        balance=replay(entries, now).balance(),
        progress=tiers.progress(tiers_of(program), entries, tier, now),
        joined_at=member.joined_at,
    )


async def locked_member(
    session: AsyncSession, program: LoyaltyProgram, customer_id: str
) -> LoyaltyMember | None:
    return await session.scalar(
        select(LoyaltyMember)
        .where(LoyaltyMember.program_id == program.id, LoyaltyMember.customer_id == customer_id)
        .with_for_update()
    )


async def enrol(
    session: AsyncSession, program: LoyaltyProgram, customer_id: str, now: datetime
) -> tuple[LoyaltyMember, bool]:
    """The customer's membership, locked; joined now if they were not a member."""
    inserted = await session.scalar(
        dialect_insert(session, LoyaltyMember)
        .values(
            id=new_id("mbr"),
            tenant_id=program.tenant_id,
            program_id=program.id,
            customer_id=customer_id,
            tier="",
            joined_at=now,
            updated_at=now,
        )
        .on_conflict_do_nothing()  # type: ignore[attr-defined]
        .returning(LoyaltyMember.id)
    )
    member = await locked_member(session, program, customer_id)
    assert member is not None
    if inserted is None:
        return member, False
    moved = await review_tier(session, program, member, [], now)
    view = member_schema(program, member, [], now)
    enrolled = PendingEvent(MEMBER_ENROLLED, program.tenant_id, member.id, view)
    await record_events(session, [enrolled, *moved], clock=lambda: now)
    return member, True


async def review_tier(
    session: AsyncSession,
    program: LoyaltyProgram,
    member: LoyaltyMember,
    entries: list[LedgerEntry],
    now: datetime,
) -> list[PendingEvent]:
    """Put the member in the tier they qualify for; the event if it changed."""
    program_tiers = tiers_of(program)
    metadata = (
        await metadata_of(session, member.customer_id)
        if program_tiers.basis is schemas.TierBasis.metadata
        else {}
    )
    tier = tiers.tier_for(program_tiers, entries, metadata, now)
    changed = tiers.move(member, program_tiers, tier, now)
    if changed is None:
        return []
    if program.sets_customer_tier:
        await _set_customer_tier(session, member.customer_id, tier or "", now)
    return [changed]


async def _set_customer_tier(
    session: AsyncSession, customer_id: str, tier: str, now: datetime
) -> None:
    """The customer's ``tier`` follows the program's (``customer.updated`` naming it)."""
    customer = await session.scalar(
        select(Customer)
        .options(selectinload(Customer.external_ids))
        .where(Customer.id == customer_id)
    )
    if customer is None or customer.tier == tier:
        return
    customer.tier = tier
    customer.updated_at = now
    await session.flush()
    await record_change(session, customer, created=False, changed=["tier"], now=now)


async def record(
    session: AsyncSession,
    program: LoyaltyProgram,
    member: LoyaltyMember,
    movements: list[Movement],
    now: datetime,
) -> list[LedgerEntry]:
    """Append ``movements`` to a locked member's ledger; the entries written (those whose
    source had already moved points are left out). Events: one per kind of movement with
    the balance after, and the tier change if any."""
    written: list[LedgerEntry] = []
    for movement in movements:
        available_at = movement.available_at or now
        expires_at = (
            available_at + timedelta(days=program.expiry_days)
            if movement.earns_expiry and program.expiry_days
            else None
        )
        values = {
            "id": new_id("lpt"),
            "tenant_id": program.tenant_id,
            "program_id": program.id,
            "member_id": member.id,
            "kind": movement.kind.value,
            "points": movement.points,
            "available_at": available_at,
            "expires_at": expires_at,
            "lot_id": movement.lot_id,
            "source": movement.source,
            "source_ref": movement.source_ref,
            "reason": movement.reason[:500],
            "created_at": now,
        }
        inserted = await session.scalar(
            dialect_insert(session, LedgerEntry)
            .values(**values)
            .on_conflict_do_nothing()  # type: ignore[attr-defined]
            .returning(LedgerEntry.id)
        )
        if inserted is not None:
            written.append(LedgerEntry(**values))
    if not written:
        return []
    entries = await entries_of(session, member.id)
    balance = replay(entries, now).balance()
    events: list[PendingEvent] = []
    for kind in dict.fromkeys(entry.kind for entry in written):
        of_kind = [entry for entry in written if entry.kind == kind]
        moved = schemas.PointsMoved(
            member_id=member.id,
            customer_id=member.customer_id,
            program_id=program.id,
            kind=kind,
            points=sum(entry.points for entry in of_kind),
            entries=[entry_schema(entry) for entry in of_kind],
            balance=balance,
        )
        if not moved.points:
            continue
        event_type = _EVENT_OF.get(kind) or (POINTS_EARNED if moved.points > 0 else POINTS_SPENT)
        events.append(PendingEvent(event_type, program.tenant_id, member.id, moved))
    events += await review_tier(session, program, member, entries, now)
    member.updated_at = now
    await session.flush()
    await record_events(session, events, clock=lambda: now)
    return written


async def owned_member(
    session: AsyncSession,
    tenant_id: str,
    member_id: str,
    *,
    field: str | None = None,
    for_update: bool = False,
) -> LoyaltyMember:
    return await owned_row(
        session,
        LoyaltyMember,
        tenant_id,
        member_id,
        MemberNotFound,
        field=field,
        for_update=for_update,
    )


async def enrol_customer(
    session: AsyncSession,
    principal: Principal,
    program_id: str,
    data: schemas.Enrolment,
    *,
    clock: Clock = utc_now,
) -> tuple[schemas.Member, bool]:
    principal.require(WRITE)
    program = await owned_program(session, principal.tenant_id, program_id)
    known = await session.scalar(
        select(Customer.id).where(
            Customer.tenant_id == principal.tenant_id, Customer.id == data.customer_id
        )
    )
    if known is None:
        raise InvalidError(
            f"no customer {data.customer_id!r}", field="customer_id", code="customer_not_found"
        )
    now = clock()
    member, joined = await enrol(session, program, data.customer_id, now)
    return member_schema(program, member, await entries_of(session, member.id), now), joined


async def get_member(
    session: AsyncSession, principal: Principal, member_id: str, *, clock: Clock = utc_now
) -> schemas.Member:
    principal.require(READ)
    member = await owned_member(session, principal.tenant_id, member_id)
    program = await owned_program(session, principal.tenant_id, member.program_id)
    return member_schema(program, member, await entries_of(session, member.id), clock())


async def list_members(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    program_id: str | None = None,
    customer_id: str | None = None,
    clock: Clock = utc_now,
) -> Page[schemas.Member]:
    """Members with their balances (each derived from its ledger)."""
    principal.require(READ)
    statement = select(LoyaltyMember).where(LoyaltyMember.tenant_id == principal.tenant_id)
    if program_id is not None:
        statement = statement.where(LoyaltyMember.program_id == program_id)
    if customer_id is not None:
        statement = statement.where(LoyaltyMember.customer_id == customer_id)
    found = await keyset_page(session, statement, LoyaltyMember.id, page)
    now = clock()
    member_ids = [member.id for member in found.items]
    programs = {
        program.id: program
        for program in await session.scalars(
            select(LoyaltyProgram).where(
                LoyaltyProgram.id.in_({member.program_id for member in found.items})
            )
        )
    }
    ledgers: dict[str, list[LedgerEntry]] = {member_id: [] for member_id in member_ids}
    for entry in await session.scalars(
        select(LedgerEntry).where(LedgerEntry.member_id.in_(member_ids)).order_by(LedgerEntry.id)
    ):
        ledgers[entry.member_id].append(entry)
    views = [
        member_schema(programs[member.program_id], member, ledgers[member.id], now)
        for member in found.items
    ]
    return Page(views, found.next_cursor)


async def list_entries(
    session: AsyncSession, principal: Principal, member_id: str, page: PageRequest
) -> Page[schemas.Entry]:
    principal.require(READ)
    member = await owned_member(session, principal.tenant_id, member_id)
    statement = select(LedgerEntry).where(LedgerEntry.member_id == member.id)
    found = await keyset_page(session, statement, LedgerEntry.id, page)
    return Page([entry_schema(row) for row in found.items], found.next_cursor)


async def adjust(
    session: AsyncSession,
    principal: Principal,
    member_id: str,
    data: schemas.Adjustment,
    *,
    clock: Clock = utc_now,
) -> schemas.Member:
    """Add or take off points by hand (goodwill, a correction). Taking off more than is
    available is refused; added points can be spent at once and expire like any."""
    principal.require(WRITE)
    member = await owned_member(session, principal.tenant_id, member_id, for_update=True)
    program = await owned_program(session, principal.tenant_id, member.program_id)
    now = clock()
    if data.points < 0:
        available = replay(await entries_of(session, member.id), now).available
        if available + data.points < 0:
            raise InvalidError(
                f"only {available} points are available", field="points", code="not_enough_points"
            )
    movement = Movement(
        schemas.EntryKind.adjust,
        data.points,
        "manual",
        f"{member.id}:{data.reference}",
        reason=f"{data.reason} (by {principal.actor})",
        earns_expiry=data.points > 0,
    )
    await record(session, program, member, [movement], now)
    return member_schema(program, member, await entries_of(session, member.id), now)
