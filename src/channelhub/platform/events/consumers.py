"""Named, idempotent event consumers and the runner that delivers events to them.

Delivery is at-least-once on every bus; handling is effectively once: the handler runs in
a transaction that also records ``(consumer, event id)`` in ``processed_events``, so a
redelivered event finds its record and is skipped. A failing handler is retried from the
``consumer_failures`` table (durable, the same on both buses) with exponential backoff,
then left there as ``dead`` for an operator to inspect and retry.
"""

from __future__ import annotations

import asyncio
import fnmatch
import functools
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import structlog
from sqlalchemy import Insert, bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import dialect_insert_for, dialect_name, execute_core, table_of
from channelhub.platform.db.database import Database
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.models import ConsumerFailure, ProcessedEvent
from channelhub.platform.observability import EVENT_LAG, EVENTS_HANDLED

log = structlog.get_logger(__name__)

Handler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]

RETRYING = "retrying"
DEAD = "dead"
_MAX_ERROR_TEXT = 2000


@dataclass(frozen=True)
class Consumer:
    """``handler`` runs inside the delivery's transaction and must only ``flush()``.

    Its committed effects happen exactly once per event, but the handler itself may be
    *invoked* more than once (a batch that is rolled back and split, a crash before
    commit): it must act only through the session. Handlers should be short database
    work; slow outside calls belong in a job table of their own that the handler fills.
    """

    name: str
    handler: Handler
    types: tuple[str, ...] = ("*",)

    def wants(self, event_type: str) -> bool:
        return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in self.types)


@dataclass
class ConsumerRegistry:
    _consumers: dict[str, Consumer] = field(default_factory=dict)

    def register(self, name: str, handler: Handler, *, types: Sequence[str] = ("*",)) -> Consumer:
        if name in self._consumers:
            raise ValueError(f"a consumer named {name!r} is already registered")
        consumer = Consumer(name=name, handler=handler, types=tuple(types))
        self._consumers[name] = consumer
        return consumer

    def get(self, name: str) -> Consumer | None:
        return self._consumers.get(name)

    def __iter__(self) -> Iterator[Consumer]:
        return iter(self._consumers.values())

    def __len__(self) -> int:
        return len(self._consumers)


class Outcome(StrEnum):
    handled = "handled"
    duplicate = "duplicate"
    skipped = "skipped"
    retrying = "retrying"
    dead = "dead"


_PROCESSED = table_of(ProcessedEvent)
_FAILURES = table_of(ConsumerFailure)
_CLEAR_FAILURES = delete(_FAILURES).where(
    _FAILURES.c.consumer == bindparam("at_consumer"),
    _FAILURES.c.event_id.in_(bindparam("event_ids", expanding=True)),
)


@functools.cache
def _record_processed(dialect: str) -> Insert:
    """Built once per database: every delivery runs it, with one row per event."""
    insert_ = dialect_insert_for(dialect, _PROCESSED)
    record: Insert = insert_.on_conflict_do_nothing()  # type: ignore[attr-defined]
    return record.returning(_PROCESSED.c.event_id)


async def _claim(
    session: AsyncSession, consumer: str, event_ids: Sequence[str], now: datetime
) -> set[str]:
    """Insert the processed records first; returns the ids that were not processed yet.

    A concurrent delivery of the same event waits on the key and then finds it taken.
    """
    inserted = await execute_core(
        session,
        _record_processed(dialect_name(session)),
        [{"consumer": consumer, "event_id": i, "processed_at": now} for i in event_ids],
    )
    return set(inserted.scalars())


class ConsumerRunner:
    def __init__(
        self,
        db: Database,
        registry: ConsumerRegistry,
        *,
        max_deliveries: int,
        retry_base_s: float,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.registry = registry
        self.max_deliveries = max_deliveries
        self.retry_base_s = retry_base_s
        self.clock = clock

    async def deliver(
        self, consumer: Consumer, envelope: EventEnvelope, attempt: int = 1
    ) -> Outcome:
        """Deliver one event to one consumer. Raises only when the database itself fails
        (the bus then redelivers); a handler's own failure becomes a retry record."""
        if not consumer.wants(envelope.type):
            return Outcome.skipped
        try:
            (outcome,) = await self._handle(consumer, [envelope])
        except Exception as exc:
            outcome = await self._record_failure(consumer, envelope, attempt, exc)
        self._observe(consumer, envelope, outcome)
        return outcome

    async def deliver_batch(
        self, consumer: Consumer, envelopes: Sequence[EventEnvelope]
    ) -> list[Outcome]:
        """Deliver a batch in one transaction (one commit instead of one per event). If any
        handler fails, the batch is rolled back and each event delivered on its own, so the
        failing one is retried alone and the others are not held back."""
        unique = {e.id: e for e in envelopes if consumer.wants(e.type)}
        wanted = list(unique.values())
        if len(wanted) <= 1:
            return [await self.deliver(consumer, e) for e in wanted]
        try:
            outcomes = await self._handle(consumer, wanted)
        except Exception:
            log.info("consumer.batch_split", consumer=consumer.name, events=len(wanted))
            return [await self.deliver(consumer, e) for e in wanted]
        for envelope, outcome in zip(wanted, outcomes, strict=True):
            self._observe(consumer, envelope, outcome)
        return outcomes

    def _observe(self, consumer: Consumer, envelope: EventEnvelope, outcome: Outcome) -> None:
        EVENTS_HANDLED.labels(consumer.name, outcome.value).inc()
        if outcome is Outcome.handled:
            EVENT_LAG.labels(consumer.name).observe((self.clock() - envelope.time).total_seconds())

    async def _handle(
        self, consumer: Consumer, envelopes: Sequence[EventEnvelope]
    ) -> list[Outcome]:
        """One transaction: claim the events, run the handler on the new ones, and clear
        any failure record of them (a success, or a duplicate of one, ends its retries)."""
        ids = [e.id for e in envelopes]
        async with self.db.transaction() as session:
            fresh = await _claim(session, consumer.name, ids, self.clock())
            for envelope in envelopes:
                if envelope.id in fresh:
                    await consumer.handler(session, envelope)
            await execute_core(
                session, _CLEAR_FAILURES, {"at_consumer": consumer.name, "event_ids": ids}
            )
        return [Outcome.handled if i in fresh else Outcome.duplicate for i in ids]

    async def _record_failure(
        self, consumer: Consumer, envelope: EventEnvelope, attempt: int, exc: Exception
    ) -> Outcome:
        """Count the failed attempt. Attempts only go up (a redelivery by the bus does not
        reset the backoff), and a dead letter stays dead until an operator requeues it."""
        now = self.clock()
        error = f"{type(exc).__name__}: {exc}"[:_MAX_ERROR_TEXT]
        async with self.db.transaction() as session:
            failure = await session.get(
                ConsumerFailure, (consumer.name, envelope.id), with_for_update=True
            )
            if failure is None:
                failure = ConsumerFailure(
                    consumer=consumer.name,
                    event_id=envelope.id,
                    envelope=envelope.model_dump(mode="json"),
                    attempts=0,
                    status=RETRYING,
                )
                session.add(failure)
            if failure.status != DEAD:
                failure.attempts = max(attempt, failure.attempts + 1)
                dead = failure.attempts >= self.max_deliveries
                delay = timedelta(seconds=self.retry_base_s * 2 ** (failure.attempts - 1))
                failure.status = DEAD if dead else RETRYING
                failure.next_attempt_at = None if dead else now + delay
            failure.last_error = error
            failure.updated_at = now
            status, attempts = failure.status, failure.attempts
        log.warning(
            "consumer.failed",
            consumer=consumer.name,
            event_id=envelope.id,
            event_type=envelope.type,
            attempt=attempts,
            dead=status == DEAD,
            error=error,
        )
        return Outcome.dead if status == DEAD else Outcome.retrying

    async def retry_due(self, *, limit: int = 100, lease_s: float = 60.0) -> int:
        """Re-deliver failures whose time has come; returns how many were attempted.

        Each row is leased (its next attempt pushed ``lease_s`` ahead) before handling, so
        several workers can share the queue without running one retry twice at once.
        """
        names = [consumer.name for consumer in self.registry]
        if not names:
            return 0
        now = self.clock()
        async with self.db.transaction() as session:
            due = select(ConsumerFailure.consumer, ConsumerFailure.event_id).where(
                ConsumerFailure.status == RETRYING,
                ConsumerFailure.next_attempt_at <= now,
                ConsumerFailure.consumer.in_(names),
            )
            rows = (
                await session.execute(
                    due.order_by(ConsumerFailure.next_attempt_at)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            claimed: list[tuple[str, EventEnvelope, int]] = []
            for name, event_id in rows:
                failure = await session.get_one(ConsumerFailure, (name, event_id))
                failure.next_attempt_at = now + timedelta(seconds=lease_s)
                claimed.append(
                    (name, EventEnvelope.model_validate(failure.envelope), failure.attempts)
                )
        for name, envelope, attempts in claimed:
            consumer = self.registry.get(name)
            if consumer is not None:
                await self.deliver(consumer, envelope, attempt=attempts + 1)
        return len(claimed)

    async def run_retries(self, *, idle_s: float = 1.0) -> None:
        """Background loop over the retry queue; survives database outages."""
        while True:
            try:
                if await self.retry_due():
                    continue
            except Exception:
                log.exception("consumer.retry_loop_failed")
            await asyncio.sleep(idle_s)


async def requeue_failures(
    db: Database,
    *,
    consumer: str | None = None,
    event_id: str | None = None,
    clock: Clock = utc_now,
) -> int:
    """Put dead (or waiting) failures back in line for an immediate retry."""
    statement = update(ConsumerFailure).values(status=RETRYING, next_attempt_at=clock())
    if consumer is not None:
        statement = statement.where(ConsumerFailure.consumer == consumer)
    if event_id is not None:
        statement = statement.where(ConsumerFailure.event_id == event_id)
    async with db.transaction() as session:
        result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]
