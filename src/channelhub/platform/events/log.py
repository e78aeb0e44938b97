"""Reading the event log (the outbox, kept for ``outbox_retention_hours``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.db.database import Database
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.models import OutboxEvent
from channelhub.platform.events.outbox import envelope_of


def _filtered(
    statement: Select[OutboxEvent],
    *,
    tenant_id: str | None,
    type_pattern: str | None,
    subject: str | None,
) -> Select[OutboxEvent]:
    if tenant_id is not None:
        statement = statement.where(OutboxEvent.tenant_id == tenant_id)
    if subject is not None:
        statement = statement.where(OutboxEvent.subject == subject)
    if type_pattern is not None and type_pattern != "*":
        if "*" in type_pattern:
            statement = statement.where(OutboxEvent.type.like(type_pattern.replace("*", "%")))
        else:
            statement = statement.where(OutboxEvent.type == type_pattern)
    return statement


async def list_events(
    session: AsyncSession,
    tenant_id: str,
    page: PageRequest,
    *,
    type_pattern: str | None = None,
    subject: str | None = None,
) -> Page[EventEnvelope]:
    """A tenant's events, newest first (by event id, which sorts by time)."""
    statement = _filtered(
        select(OutboxEvent), tenant_id=tenant_id, type_pattern=type_pattern, subject=subject
    )
    found = await keyset_page(session, statement, OutboxEvent.id, page)
    return Page([envelope_of(row) for row in found.items], found.next_cursor)


async def follow(
    db: Database,
    *,
    tenant_id: str | None = None,
    type_pattern: str | None = None,
    since: datetime | None = None,
    poll_interval_s: float = 0.5,
    lookback: int = 1000,
) -> AsyncIterator[EventEnvelope]:
    """Yield events as they are committed, forever: from ``since`` on, or from now.

    On PostgreSQL, rows can commit out of ``position`` order; each poll therefore re-reads
    a window of ``lookback`` positions behind the newest one seen and skips ids it yielded.
    """
    seen: dict[str, int] = {}
    async with db.reader() as session:
        after = int(await session.scalar(select(func.max(OutboxEvent.position))) or 0)
        if since is None:
            visible = await session.execute(
                select(OutboxEvent.id, OutboxEvent.position).where(
                    OutboxEvent.position > after - lookback
                )
            )
            seen = dict(visible)
        else:
            first = await session.scalar(
                select(func.min(OutboxEvent.position)).where(OutboxEvent.time >= since)
            )
            after = int(first) - 1 if first is not None else after
    while True:
        statement = select(OutboxEvent).where(OutboxEvent.position > after - lookback)
        if since is not None:
            statement = statement.where(OutboxEvent.time >= since)
        statement = _filtered(
            statement, tenant_id=tenant_id, type_pattern=type_pattern, subject=None
        )
        async with db.reader() as session:
            rows = (await session.scalars(statement.order_by(OutboxEvent.position))).all()
        for row in rows:
            if row.id not in seen:
                seen[row.id] = row.position
                yield envelope_of(row)
        if rows:
            after = max(after, rows[-1].position)
        seen = {k: v for k, v in seen.items() if v > after - lookback}
        await asyncio.sleep(poll_interval_s)
