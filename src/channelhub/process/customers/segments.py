"""Segments: named groups of customers defined by rules (see ``segment_rules``), whose
members the hub keeps up to date (see ``membership``).

Creating a segment, or changing its rules, evaluates every customer of the tenant in the
same transaction, so the response already lists the right members and every customer who
entered or left has their event. Deleting a segment makes every member leave it (with
``customer.segment_left``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.db.repository import owned_row
from channelhub.platform.errors import ConflictError, NotFoundError
from channelhub.platform.ids import new_id
from channelhub.process.customers import schemas
from channelhub.process.customers.membership import (
    empty_segment,
    evaluate_segment,
    rule_of,
)
from channelhub.process.customers.models import Customer, Segment, SegmentMember
from channelhub.process.customers.segment_rules import CustomerRule
from channelhub.process.customers.service import READ, WRITE, views


class SegmentNotFound(NotFoundError):
    code = "segment_not_found"


def _rules_json(rules: CustomerRule) -> dict[str, object]:
    dumped: dict[str, object] = rules.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


async def _counts(session: AsyncSession, segment_ids: Sequence[str]) -> dict[str, int]:
    if not segment_ids:
        return {}
    rows = await session.execute(
        select(SegmentMember.segment_id, func.count())
        .where(SegmentMember.segment_id.in_(segment_ids))
        .group_by(SegmentMember.segment_id)
    )
    return {segment_id: int(count) for segment_id, count in rows}


def _view(row: Segment, members: int) -> schemas.Segment:
    return schemas.Segment(
        id=row.id,
        key=row.key,
        name=row.name,
        description=row.description,
        rules=rule_of(row),
        members=members,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _with_count(session: AsyncSession, row: Segment) -> schemas.Segment:
    return _view(row, (await _counts(session, [row.id])).get(row.id, 0))


async def _owned(
    session: AsyncSession, tenant_id: str, segment_id: str, *, for_update: bool = False
) -> Segment:
    return await owned_row(
        session, Segment, tenant_id, segment_id, SegmentNotFound, for_update=for_update
    )


async def create_segment(
    session: AsyncSession,
    principal: Principal,
    data: schemas.SegmentCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Segment:
    """A new segment, its members found among every customer of the tenant."""
    principal.require(WRITE)
    conflict = f"a segment with the key {data.key!r} exists"
    taken = await session.scalar(
        select(Segment.id).where(Segment.tenant_id == principal.tenant_id, Segment.key == data.key)
    )
    if taken is not None:
        raise ConflictError(conflict, field="key", segment_id=taken)
    now = clock()
    row = Segment(
        id=new_id("seg"),
        tenant_id=principal.tenant_id,
        key=data.key,
        name=data.name,
        description=data.description,
        rules=_rules_json(data.rules),
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:  # created by a concurrent request since the check
        raise ConflictError(conflict, field="key") from exc
    await evaluate_segment(session, row, at=now)
    return await _with_count(session, row)


async def update_segment(
    session: AsyncSession,
    principal: Principal,
    segment_id: str,
    data: schemas.SegmentUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.Segment:
    """Change the name, description or rules given; new rules re-evaluate every customer."""
    principal.require(WRITE)
    row = await _owned(session, principal.tenant_id, segment_id, for_update=True)
    now = clock()
    if data.name is not None:
        row.name = data.name
    if data.description is not None:
        row.description = data.description
    new_rules = None if data.rules is None else _rules_json(data.rules)
    if new_rules is not None and new_rules != row.rules:
        row.rules = new_rules
        row.updated_at = now
        await session.flush()
        await evaluate_segment(session, row, at=now)
    elif data.name is not None or data.description is not None:
        row.updated_at = now
        await session.flush()
    return await _with_count(session, row)


async def delete_segment(
    session: AsyncSession, principal: Principal, segment_id: str, *, clock: Clock = utc_now
) -> None:
    """Every member leaves the segment, then it is gone."""
    principal.require(WRITE)
    row = await _owned(session, principal.tenant_id, segment_id, for_update=True)
    await empty_segment(session, row, at=clock())
    await session.delete(row)
    await session.flush()


async def get_segment(
    session: AsyncSession, principal: Principal, segment_id: str
) -> schemas.Segment:
    principal.require(READ)
    return await _with_count(session, await _owned(session, principal.tenant_id, segment_id))


async def list_segments(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> Page[schemas.Segment]:
    """Segments newest first, with how many members each has."""
    principal.require(READ)
    found = await keyset_page(
        session, select(Segment).where(Segment.tenant_id == principal.tenant_id), Segment.id, page
    )
    counts = await _counts(session, [row.id for row in found.items])
    return Page([_view(row, counts.get(row.id, 0)) for row in found.items], found.next_cursor)


async def list_members(
    session: AsyncSession, principal: Principal, segment_id: str, page: PageRequest
) -> Page[schemas.Customer]:
    """The segment's customers, newest customer first."""
    principal.require(READ)
    await _owned(session, principal.tenant_id, segment_id)
    statement = (
        select(Customer)
        .options(selectinload(Customer.external_ids))
        .join(SegmentMember, SegmentMember.customer_id == Customer.id)
        .where(SegmentMember.segment_id == segment_id, Customer.tenant_id == principal.tenant_id)
    )
    found = await keyset_page(session, statement, Customer.id, page)
    return Page(await views(session, principal.tenant_id, list(found.items)), found.next_cursor)
