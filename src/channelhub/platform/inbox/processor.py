"""Processing stored deliveries: each in its own transaction, never lost, never twice.

The processor claims due records with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
so several processes share the work), hands each to the handler in a transaction that
also marks it processed, and on failure either retries with back-off (the system was
unreachable) or parks it with a readable reason (it cannot be mapped). A record is marked
processed in the same transaction as its effects, so a crash at any point means it is
simply processed again: never half-applied, never applied twice.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog
from pydantic import ValidationError
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.database import (
    Database,
    is_connection_error,
    is_transient_conflict,
)
from channelhub.platform.errors import ChannelhubError, first_validation_error
from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.store import InboxStatus
from channelhub.platform.observability import INBOX_OUTCOMES
from channelhub.platform.tasks import work_while_due

log = structlog.get_logger(__name__)

Handler = Callable[[AsyncSession, InboxRecord], Awaitable[str]]
"""Apply one delivery; returns a one-line summary of what it did. Raises ``Park`` when
the delivery cannot be applied (the reason is kept), ``Retry`` when it may succeed
later; any ``ChannelhubError`` or pydantic ``ValidationError`` parks, any other error retries
then parks."""


_BUSY_SHARE = 0.1
"""While deliveries are arriving, processing takes at most this share of the event loop."""


class Park(Exception):
    """The delivery cannot be applied as it is: keep it, with the reason, for a replay."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Retry(Exception):
    """A dependency (the sender's API) is unavailable: try again later."""

    def __init__(self, reason: str, *, after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.after_s = after_s


class InboxProcessor:
    def __init__(
        self,
        db: Database,
        handle: Handler,
        *,
        batch_size: int = 50,
        poll_interval_s: float = 0.5,
        claim_timeout_s: float = 60.0,
        max_attempts: int = 8,
        retry_base_s: float = 5.0,
        yield_to: Callable[[], bool] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.handle = handle
        self.batch_size = batch_size
        self.poll_interval_s = poll_interval_s
        self.claim_timeout = timedelta(seconds=claim_timeout_s)
        self.max_attempts = max_attempts
        self.retry_base_s = retry_base_s
        self.yield_to = yield_to
        self.clock = clock
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        await work_while_due(
            self.process_due,
            self._wake,
            poll_interval_s=self.poll_interval_s,
            failure_event="inbox.processor_failed",
        )

    async def process_due(self) -> int:
        """Process one batch of due records, oldest first; returns how many were handled."""
        claimed = await self._claim()
        for record_id in claimed:
            started = time.perf_counter()
            await self._process(record_id)
            if self.yield_to is not None and self.yield_to():
                # Acknowledging deliveries comes first (senders time out in seconds and
                # retry, adding load); applying them can lag behind a burst.
                took = time.perf_counter() - started
                await asyncio.sleep(took * (1 - _BUSY_SHARE) / _BUSY_SHARE)
        return len(claimed)

    async def _claim(self) -> list[str]:
        now = self.clock()
        async with self.db.transaction() as session:
            ids = list(
                (
                    await session.scalars(
                        select(InboxRecord.id)
                        .where(
                            InboxRecord.status == InboxStatus.pending.value,
                            InboxRecord.available_at <= now,
                            or_(
                                InboxRecord.claimed_until.is_(None),
                                InboxRecord.claimed_until < now,
                            ),
                        )
                        .order_by(InboxRecord.received_at, InboxRecord.id)
                        .limit(self.batch_size)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
            )
            if ids:
                await session.execute(
                    update(InboxRecord)
                    .where(InboxRecord.id.in_(ids))
                    .values(claimed_until=now + self.claim_timeout)
                    .execution_options(synchronize_session=False)
                )
        return ids

    async def _process(self, record_id: str) -> None:
        outcome: tuple[InboxStatus, str, float | None]
        try:
            async with self.db.transaction() as session:
                record = await session.get(InboxRecord, record_id)
                if record is None or record.status != InboxStatus.pending.value:
                    return
                summary = await self.handle(session, record)
                record.status = InboxStatus.processed.value
                record.reason = summary[:2000]
                record.processed_at = self.clock()
                record.attempts += 1
                record.claimed_until = None
            INBOX_OUTCOMES.labels("processed").inc()
            return
        except Park as exc:
            outcome = (InboxStatus.parked, exc.reason, None)
        except ChannelhubError as exc:
            where = f" ({exc.field})" if exc.field else ""
            outcome = (InboxStatus.parked, f"{exc.detail}{where}", None)
        except ValidationError as exc:
            # What the delivery says cannot become a valid record: it will not get better
            # by retrying.
            reason = f"does not map to a valid {exc.title}: {first_validation_error(exc)}"
            outcome = (InboxStatus.parked, reason, None)
        except Retry as exc:
            outcome = (InboxStatus.pending, exc.reason, exc.after_s)
        except Exception as exc:
            if is_transient_conflict(exc):
                # A concurrent transaction (a consumer, another process) won a lock race;
                # the record goes straight back in line.
                log.info("inbox.conflict_retried", record_id=record_id)
                outcome = (InboxStatus.pending, "a concurrent change won; trying again", 0.0)
            else:
                if not is_connection_error(exc):
                    log.exception("inbox.handler_failed", record_id=record_id)
                outcome = (InboxStatus.pending, f"{type(exc).__name__}: {exc}", None)
        await self._settle(record_id, *outcome)

    async def _settle(
        self, record_id: str, status: InboxStatus, reason: str, after_s: float | None
    ) -> None:
        """Record a failed attempt: park it, or schedule the next try (parked after
        ``max_attempts``)."""
        now = self.clock()
        async with self.db.transaction() as session:
            record = await session.get(InboxRecord, record_id)
            if record is None:
                return
            record.attempts += 1
            record.claimed_until = None
            if status is InboxStatus.pending and record.attempts < self.max_attempts:
                delay = (
                    after_s
                    if after_s is not None
                    else self.retry_base_s * 2 ** (record.attempts - 1)
                )
                record.available_at = now + timedelta(seconds=delay)
                record.reason = f"will retry: {reason}"[:2000]
                INBOX_OUTCOMES.labels("retried").inc()
                return
            record.status = InboxStatus.parked.value
            record.reason = reason[:2000]
            record.processed_at = now
            INBOX_OUTCOMES.labels("parked").inc()
            log.info("inbox.parked", record_id=record_id, reason=reason)
