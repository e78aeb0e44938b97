"""The relay moves committed outbox rows to the bus.

Each round claims a batch (a short lease, so several relays can run side by side:
``FOR UPDATE SKIP LOCKED`` on PostgreSQL), publishes it, then marks it published. A relay
that dies between publishing and marking leaves its claim to expire; the rows are then
published again with the same event ids, which JetStream and the consumers' processed
records both de-duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog
from sqlalchemy import delete, func, or_, select, update

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.database import Database
from channelhub.platform.events.bus import EventBus
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.models import OutboxEvent, ProcessedEvent
from channelhub.platform.events.outbox import envelope_of
from channelhub.platform.observability import EVENTS_PUBLISHED, OUTBOX_PENDING

log = structlog.get_logger(__name__)

_ERROR_BACKOFF_S = 1.0
_MAX_ERROR_BACKOFF_S = 30.0
_PRUNE_EVERY = timedelta(minutes=10)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        bus: EventBus,
        *,
        batch_size: int = 200,
        poll_interval_s: float = 0.5,
        claim_timeout_s: float = 30.0,
        retention: timedelta = timedelta(days=30),
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.bus = bus
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.claim_timeout = timedelta(seconds=claim_timeout_s)
        self.retention = retention
        self.clock = clock
        self._wake = asyncio.Event()
        self._last_prune = clock() - _PRUNE_EVERY

    def wake(self) -> None:
        """Called after a commit that wrote events: relay them now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        backoff = _ERROR_BACKOFF_S
        while True:
            try:
                relayed = await self.relay_once()
                await self._maybe_prune()
                backoff = _ERROR_BACKOFF_S
            except Exception:
                log.exception("relay.round_failed", retry_in_s=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_ERROR_BACKOFF_S)
                continue
            if relayed < self.batch_size:
                await self._idle()

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
        self._wake.clear()

    async def relay_once(self) -> int:
        """Publish one batch; returns how many events were published."""
        envelopes = await self._claim()
        if not envelopes:
            return 0
        ids = [envelope.id for envelope in envelopes]
        try:
            await self.bus.publish(envelopes)
        except Exception:
            # Give the batch back at once: holding it for the lease would let later events
            # of the same subjects overtake it.
            await self._release(ids)
            raise
        await self._mark_published(ids)
        EVENTS_PUBLISHED.inc(len(envelopes))
        return len(envelopes)

    async def _claim(self) -> list[EventEnvelope]:
        now = self.clock()
        async with self.db.transaction() as session:
            statement = (
                select(OutboxEvent)
                .where(
                    OutboxEvent.published_at.is_(None),
                    or_(OutboxEvent.claimed_until.is_(None), OutboxEvent.claimed_until < now),
                )
                .order_by(OutboxEvent.position)
                .limit(self.batch_size)
                .with_for_update(skip_locked=True)
            )
            rows = (await session.scalars(statement)).all()
            for row in rows:
                row.claimed_until = now + self.claim_timeout
            return [envelope_of(row) for row in rows]

    async def _release(self, event_ids: list[str]) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(event_ids), OutboxEvent.published_at.is_(None))
                .values(claimed_until=None)
            )

    async def _mark_published(self, event_ids: list[str]) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(event_ids))
                .values(published_at=self.clock(), claimed_until=None)
            )

    async def pending(self) -> int:
        async with self.db.reader() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
            )
        OUTBOX_PENDING.set(count or 0)
        return int(count or 0)

    async def _maybe_prune(self) -> None:
        now = self.clock()
        if now - self._last_prune < _PRUNE_EVERY:
            return
        self._last_prune = now
        await self.pending()
        await self.prune()

    async def prune(self) -> None:
        """Forget published events older than the retention, and consumers' records of them."""
        cutoff = self.clock() - self.retention
        async with self.db.transaction() as session:
            events = await session.execute(
                delete(OutboxEvent).where(
                    OutboxEvent.published_at.is_not(None), OutboxEvent.published_at < cutoff
                )
            )
            # A consumer's record of an event is needed only while the event can still be
            # redelivered: never after it left the log (and the JetStream stream, whose
            # max_age is the same retention).
            records = await session.execute(
                delete(ProcessedEvent).where(ProcessedEvent.processed_at < cutoff)
            )
        removed = int(events.rowcount)  # type: ignore[attr-defined]
        forgotten = int(records.rowcount)  # type: ignore[attr-defined]
        if removed or forgotten:
            log.info("relay.pruned", events=removed, processed_records=forgotten)
