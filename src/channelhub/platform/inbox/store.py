"""Receiving: verify, store raw, acknowledge. Listing, replaying and parking.

Systems plug in a ``Receiver`` (how their deliveries are signed and identified) and a
``Handler`` (how a stored delivery becomes changes); this module knows neither commerce
nor any vendor.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.db.core import dialect_insert, execute_core, table_of
from channelhub.platform.db.database import Database
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.errors import NotFoundError, UnauthenticatedError
from channelhub.platform.ids import new_id
from channelhub.platform.inbox.models import InboxRecord

INBOX_WRITTEN = "channelhub.inbox_written"
"""``session.info`` flag: this transaction stored deliveries (the processor is woken)."""

_DROPPED_HEADERS = frozenset({"authorization", "x-auth-token", "cookie", "credential"})
"""Headers never stored: they carry credentials, not facts about the delivery."""


class InboxStatus(StrEnum):
    pending = "pending"
    processed = "processed"
    parked = "parked"


class SignatureInvalid(UnauthenticatedError):
    code = "signature_invalid"


class InboxRecordNotFound(NotFoundError):
    code = "inbox_record_not_found"


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    topic: str


class Receiver(Protocol):
    """How one kind of system signs and names its deliveries."""

    name: str

    def verify(self, secret: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raise SignatureInvalid unless the delivery is authentic."""

    def identify(self, headers: Mapping[str, str], body: bytes) -> Delivery:
        """The sender's delivery id (for de-duplication) and topic."""


def body_digest(body: bytes) -> str:
    """A delivery id for senders that give none: the same body is the same delivery."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Arrival:
    """A verified delivery, to be stored."""

    tenant_id: str
    connection_id: str
    system: str
    delivery: Delivery
    headers: Mapping[str, str]
    body: bytes


class InboxWriter:
    """Stores arrivals in shared transactions (group commit): the first arrival starts a
    flush that waits ``max_wait_s`` for others, then one INSERT and one commit
    acknowledge them all. Under load this turns a commit (an fsync) per webhook into one
    per batch; alone, an arrival waits a couple of milliseconds more.

    The flush runs in its own task, so each request waits only for the batch holding its
    arrival, and a request that goes away (the sender hung up) never stalls the others.
    """

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 500,
        max_wait_s: float = 0.002,
        slow_ack_s: float = 0.05,
        busy_window_s: float = 1.0,
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.slow_ack_s = slow_ack_s
        self.busy_window_s = busy_window_s
        self._pending: list[tuple[Arrival, datetime, asyncio.Future[tuple[str, bool]]]] = []
        self._flushing: asyncio.Task[None] | None = None
        self._busy_until = -math.inf

    @property
    def busy(self) -> bool:
        """Storing an arrival took longer than ``slow_ack_s`` within ``busy_window_s``: the
        process is short of time for acknowledging, and processing should make room.
        (Merely receiving deliveries is not enough: under a steady flow the processor must
        keep its full pace, or it would never catch up.)"""
        return time.monotonic() < self._busy_until

    async def store(self, arrival: Arrival, now: datetime) -> tuple[str, bool]:
        """Store ``arrival`` durably; (record id, duplicate) once committed."""
        started = time.monotonic()
        try:
            return await self._stored(arrival, now)
        finally:
            finished = time.monotonic()
            if finished - started > self.slow_ack_s:
                self._busy_until = finished + self.busy_window_s

    async def _stored(self, arrival: Arrival, now: datetime) -> tuple[str, bool]:
        future: asyncio.Future[tuple[str, bool]] = asyncio.get_running_loop().create_future()
        self._pending.append((arrival, now, future))
        if self._flushing is None:
            self._flushing = asyncio.create_task(self._flush(), name="inbox-writer")
        return await asyncio.shield(future)

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(self.max_wait_s)
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._write(batch)
        finally:
            self._flushing = None

    async def _write(
        self, batch: list[tuple[Arrival, datetime, asyncio.Future[tuple[str, bool]]]]
    ) -> None:
        try:
            async with self.db.transaction() as session:
                results = await store_many(session, [(a, now) for a, now, _ in batch])
        except Exception as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}


async def store_many(
    session: AsyncSession, arrivals: Sequence[tuple[Arrival, datetime]]
) -> list[tuple[str, bool]]:
    """Store arrivals (each with when it was received) not already stored, in one
    statement; (record id, duplicate) each."""
    rows = [
        {
            "id": new_id("inb"),
            "tenant_id": a.tenant_id,
            "connection_id": a.connection_id,
            "system": a.system,
            "topic": a.delivery.topic[:100],
            "delivery_id": a.delivery.delivery_id[:200],
            "headers": _kept(a.headers),
            "body": a.body,
            "status": InboxStatus.pending.value,
            "attempts": 0,
            "reason": "",
            "received_at": now,
            "available_at": now,
        }
        for a, now in arrivals
    ]
    insert = dialect_insert(session, table_of(InboxRecord))
    inserted = {
        (connection_id, delivery_id): record_id
        for record_id, connection_id, delivery_id in await execute_core(
            session,
            insert.on_conflict_do_nothing(  # type: ignore[attr-defined]
                index_elements=["connection_id", "delivery_id"]
            ).returning(
                InboxRecord.__table__.c.id,
                InboxRecord.__table__.c.connection_id,
                InboxRecord.__table__.c.delivery_id,
            ),
            rows,
        )
    }
    if inserted:
        session.info[INBOX_WRITTEN] = True
    results: list[tuple[str, bool]] = []
    for row in rows:
        key = (row["connection_id"], row["delivery_id"])
        if key in inserted and inserted[key] == row["id"]:
            results.append((str(row["id"]), False))
            continue
        existing = inserted.get(key) or await session.scalar(
            select(InboxRecord.id).where(
                InboxRecord.connection_id == key[0], InboxRecord.delivery_id == key[1]
            )
        )
        assert existing is not None
        results.append((existing, True))
    return results


async def get(session: AsyncSession, tenant_id: str, record_id: str) -> InboxRecord:
    record = await session.scalar(
        select(InboxRecord).where(InboxRecord.tenant_id == tenant_id, InboxRecord.id == record_id)
    )
    if record is None:
        raise InboxRecordNotFound(f"no inbox record {record_id!r}")
    return record


async def page(
    session: AsyncSession,
    tenant_id: str,
    request: PageRequest,
    *,
    status: InboxStatus | None = None,
    connection_id: str | None = None,
) -> Page[InboxRecord]:
    """Records newest first."""
    statement = select(InboxRecord).where(InboxRecord.tenant_id == tenant_id)
    if status is not None:
        statement = statement.where(InboxRecord.status == status.value)
    if connection_id is not None:
        statement = statement.where(InboxRecord.connection_id == connection_id)
    return await keyset_page(session, statement, InboxRecord.id, request)


async def replay(
    session: AsyncSession, tenant_id: str, record_ids: Sequence[str], now: datetime
) -> int:
    """Put parked records back in line (a processed one is never run twice); returns how
    many were re-queued."""
    result = await session.execute(
        update(InboxRecord)
        .where(
            InboxRecord.tenant_id == tenant_id,
            InboxRecord.id.in_(record_ids),
            InboxRecord.status == InboxStatus.parked.value,
        )
        .values(
            status=InboxStatus.pending.value,
            attempts=0,
            available_at=now,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        session.info[INBOX_WRITTEN] = True
    return int(result.rowcount)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class InboxStats:
    last_received_at: datetime | None
    pending: int
    parked: int
    oldest_pending_at: datetime | None
    processed_last_hour: int
    parked_last_hour: int


async def stats(session: AsyncSession, connection_id: str, since: datetime) -> InboxStats:
    """Figures for a connection's health."""
    counts = dict(
        (
            await session.execute(
                select(InboxRecord.status, func.count())
                .where(InboxRecord.connection_id == connection_id)
                .group_by(InboxRecord.status)
            )
        ).all()
    )
    last = await session.scalar(
        select(func.max(InboxRecord.received_at)).where(InboxRecord.connection_id == connection_id)
    )
    oldest = await session.scalar(
        select(func.min(InboxRecord.received_at)).where(
            InboxRecord.connection_id == connection_id,
            InboxRecord.status == InboxStatus.pending.value,
        )
    )
    recent = dict(
        (
            await session.execute(
                select(InboxRecord.status, func.count())
                .where(
                    InboxRecord.connection_id == connection_id,
                    InboxRecord.processed_at >= since,
                )
                .group_by(InboxRecord.status)
            )
        ).all()
    )
    return InboxStats(
        last_received_at=last,
        pending=int(counts.get(InboxStatus.pending.value, 0)),
        parked=int(counts.get(InboxStatus.parked.value, 0)),
        oldest_pending_at=oldest,
        processed_last_hour=int(recent.get(InboxStatus.processed.value, 0)),
        parked_last_hour=int(recent.get(InboxStatus.parked.value, 0)),
    )
