"""The relay moves committed outbox rows to the bus.

Each round claims a batch (a short lease, so several relays can run side by side:
``FOR UPDATE SKIP LOCKED`` on PostgreSQL), publishes it, then marks it published. A relay
that dies between publishing and marking leaves its claim to expire; the rows are then
published again with the same event ids, which JetStream and the consumers' processed
records both de-duplicate.

A round costs the same few transactions (claim, the consumers', mark) whether it carries
one event or hundreds. A commit wakes the relay at once, but under a steady stream of
commits rounds start at most every ``gather_s``: the events committed meanwhile go in the
next round together, instead of each paying for a round of its own. An event committed
after a quiet spell is still relayed without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from datetime import timedelta

import structlog
from sqlalchemy import Update, bindparam, delete, func, or_, select, update

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import execute_core, table_of
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

_OUTBOX = table_of(OutboxEvent)
_MARK_PUBLISHED = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        published_at=bindparam("published_at", type_=_OUTBOX.c.published_at.type),
        claimed_until=None,
    )
)


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
        gather_s: float = 0.0,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.bus = bus
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.claim_timeout = timedelta(seconds=claim_timeout_s)
        self.retention = retention
        self.gather_s = gather_s
        self.clock = clock
        self._wake = asyncio.Event()
        self._last_prune = clock() - _PRUNE_EVERY
        self._round_started = -math.inf
        self._claim_statement = _claim_statement(batch_size)

    def wake(self) -> None:
        """Called after a commit that wrote events: relay them now rather than at the next poll."""
        self._wake.set()

    async def run(self) -> None:
        backoff = _ERROR_BACKOFF_S
        loop = asyncio.get_running_loop()
        while True:
            self._round_started = loop.time()
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
        # Gather the commits close behind the wake into the same round; cleared after,
        # so that a commit made during the wait is in this round, and one made after the
        # clear wakes the next.
        wait = self._round_started + self.gather_s - asyncio.get_running_loop().time()
        if wait > 0:
            await asyncio.sleep(wait)
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
            rows = await execute_core(
                session,
                self._claim_statement,
                {"now": now, "until": now + self.claim_timeout},
            )
            claimed = sorted(rows, key=lambda row: row.position)
        return [envelope_of(row) for row in claimed]

    async def _release(self, event_ids: list[str]) -> None:
        async with self.db.transaction() as session:
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(event_ids), OutboxEvent.published_at.is_(None))
                .values(claimed_until=None)
            )

    async def _mark_published(self, event_ids: list[str]) -> None:
        async with self.db.transaction() as session:
            await execute_core(
                session, _MARK_PUBLISHED, {"ids": event_ids, "published_at": self.clock()}
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


def _claim_statement(batch_size: int) -> Update:
    """Lease the oldest ``batch_size`` unpublished rows nobody holds, in one statement that
    returns them (in no particular order: the caller sorts by position)."""
    claimable = (
        select(_OUTBOX.c.position)
        .where(
            _OUTBOX.c.published_at.is_(None),
            or_(
                _OUTBOX.c.claimed_until.is_(None),
                _OUTBOX.c.claimed_until < bindparam("now", type_=_OUTBOX.c.claimed_until.type),
            ),
        )
        .order_by(_OUTBOX.c.position)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    return (
        update(_OUTBOX)
        .where(_OUTBOX.c.position.in_(claimable.scalar_subquery()))
        .values(claimed_until=bindparam("until", type_=_OUTBOX.c.claimed_until.type))
        .returning(
            _OUTBOX.c.position,
            _OUTBOX.c.id,
            _OUTBOX.c.source,
            _OUTBOX.c.type,
            _OUTBOX.c.subject,
            _OUTBOX.c.time,
            _OUTBOX.c.tenant_id,
            _OUTBOX.c.sequence,
            _OUTBOX.c.data,
        )
    )
