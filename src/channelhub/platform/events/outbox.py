"""The transactional outbox: an event is written in the same transaction as its change.

Nothing is published that was not committed, and nothing committed is lost: the relay
publishes rows only after they are visible, and keeps retrying until the bus acknowledges.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Insert, Row, insert
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import dialect_insert_for, dialect_name, execute_core, table_of
from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.models import OutboxEvent, SubjectSequence
from channelhub.platform.ids import new_id

OUTBOX_WRITTEN = "channelhub.outbox_written"
"""``session.info`` flag: this transaction wrote events (the relay is woken on commit)."""

_OUTBOX_INSERT = insert(table_of(OutboxEvent))


@functools.cache
def _sequence_upsert(dialect: str) -> Insert:
    """Add ``last`` to a subject's counter (creating it), returning the new value; built
    once per database, since ON CONFLICT is spelled in each dialect's own insert."""
    table = table_of(SubjectSequence)
    insert_ = dialect_insert_for(dialect, table)
    return insert_.on_conflict_do_update(  # type: ignore[attr-defined,no-any-return]
        index_elements=["tenant_id", "subject"],
        set_={"last": table.c.last + insert_.excluded.last},  # type: ignore[attr-defined]
    ).returning(table.c.tenant_id, table.c.subject, table.c.last)


@dataclass(frozen=True)
class PendingEvent:
    """An event to add to the unit of work (see ``record_events``)."""

    event_type: EventType
    tenant_id: str
    subject: str
    data: BaseModel


async def _take_sequences(
    session: AsyncSession, counts: dict[tuple[str, str], int]
) -> dict[tuple[str, str], int]:
    """Reserve ``n`` numbers per (tenant, subject) in one statement; returns the last one
    taken for each. Concurrent writers of a subject queue on its row, so numbers are
    gap-free in commit order."""
    # Rows as parameters of one fixed statement: compiled once and cached, however many.
    rows = await execute_core(
        session,
        _sequence_upsert(dialect_name(session)),
        [{"tenant_id": t, "subject": s, "last": n} for (t, s), n in counts.items()],
    )
    return {(tenant, subject): int(last) for tenant, subject, last in rows}


async def record_events(
    session: AsyncSession, events: Sequence[PendingEvent], *, clock: Clock = utc_now
) -> list[EventEnvelope]:
    """Add events to the current unit of work, in order, with one statement for their
    sequence numbers and one for the rows however many there are."""
    if not events:
        return []
    counts: dict[tuple[str, str], int] = {}
    for event in events:
        if not isinstance(event.data, event.event_type.data_model):
            raise TypeError(
                f"{event.event_type.name} carries {event.event_type.data_model.__name__} data"
            )
        key = (event.tenant_id, event.subject)
        counts[key] = counts.get(key, 0) + 1
    last = await _take_sequences(session, counts)
    next_of = {key: last[key] - count + 1 for key, count in counts.items()}
    now = clock()
    envelopes = []
    for event in events:
        key = (event.tenant_id, event.subject)
        sequence, next_of[key] = next_of[key], next_of[key] + 1
        envelopes.append(
            EventEnvelope(
                id=new_id("evt"),
                source=event.event_type.source,
                type=event.event_type.name,
                subject=event.subject,
                time=now,
                tenant=event.tenant_id,
                sequence=sequence,
                data=event.data.model_dump(mode="json"),
            )
        )
    await execute_core(
        session,
        _OUTBOX_INSERT,
        [
            {
                "id": e.id,
                "tenant_id": e.tenant,
                "type": e.type,
                "source": e.source,
                "subject": e.subject,
                "sequence": e.sequence,
                "time": e.time,
                "data": e.data,
            }
            for e in envelopes
        ],
    )
    session.info[OUTBOX_WRITTEN] = True
    return envelopes


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
    (envelope,) = await record_events(
        session, [PendingEvent(event_type, tenant_id, subject, data)], clock=clock
    )
    return envelope


def envelope_of(row: OutboxEvent | Row[Any]) -> EventEnvelope:
    """The envelope of an outbox row (loaded as an object, or as a row of its columns)."""
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
