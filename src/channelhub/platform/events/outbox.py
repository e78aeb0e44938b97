"""The transactional outbox: an event is written in the same transaction as its change.

Nothing is published that was not committed, and nothing committed is lost: the relay
publishes rows only after they are visible, and keeps retrying until the bus acknowledges.
"""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.models import OutboxEvent, SubjectSequence
from channelhub.platform.ids import new_id

OUTBOX_WRITTEN = "channelhub.outbox_written"
"""``session.info`` flag: this transaction wrote events (the relay is woken on commit)."""


def dialect_insert(session: AsyncSession, table: type[object]) -> Insert:
    """An INSERT supporting ON CONFLICT for the session's database (PostgreSQL or SQLite)."""
    name = session.get_bind().dialect.name
    return postgresql.insert(table) if name == "postgresql" else sqlite.insert(table)


async def next_sequence(session: AsyncSession, tenant_id: str, subject: str) -> int:
    """Atomically take the next number for ``subject``; concurrent writers of one subject
    queue on its row, so sequence numbers are gap-free in commit order."""
    statement = dialect_insert(session, SubjectSequence).values(
        tenant_id=tenant_id, subject=subject, last=1
    )
    statement = statement.on_conflict_do_update(  # type: ignore[attr-defined]
        index_elements=["tenant_id", "subject"],
        set_={"last": SubjectSequence.last + 1},
    ).returning(SubjectSequence.last)
    return int((await session.execute(statement)).scalar_one())


async def record_event(
    session: AsyncSession,
    event_type: EventType,
    *,
    tenant_id: str,
    subject: str,
    data: BaseModel,
    clock: Clock = utc_now,
) -> EventEnvelope:
    """Add ``event_type`` about ``subject`` to the current unit of work."""
    if not isinstance(data, event_type.data_model):
        raise TypeError(f"{event_type.name} carries {event_type.data_model.__name__} data")
    envelope = EventEnvelope(
        id=new_id("evt"),
        source=event_type.source,
        type=event_type.name,
        subject=subject,
        time=clock(),
        tenant=tenant_id,
        sequence=await next_sequence(session, tenant_id, subject),
        data=data.model_dump(mode="json"),
    )
    session.add(
        OutboxEvent(
            id=envelope.id,
            tenant_id=tenant_id,
            type=envelope.type,
            source=envelope.source,
            subject=subject,
            sequence=envelope.sequence,
            time=envelope.time,
            data=envelope.data,
        )
    )
    session.info[OUTBOX_WRITTEN] = True
    return envelope


def envelope_of(row: OutboxEvent) -> EventEnvelope:
    return EventEnvelope(
        id=row.id,
        source=row.source,
        type=row.type,
        subject=row.subject,
        time=row.time,
        tenant=row.tenant_id,
        sequence=row.sequence,
        data=row.data,
    )
