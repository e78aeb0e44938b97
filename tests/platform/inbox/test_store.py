"""Storing deliveries: group commit, de-duplication, what is kept, replaying parked ones."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.db.database import Database
from channelhub.platform.db.pagination import PageRequest
from channelhub.platform.inbox import store as inbox
from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.store import InboxStatus, InboxWriter
from tests.fixtures.inbox import InboxCorner


async def test_a_burst_is_stored_in_one_go_and_each_arrival_gets_its_record(
    corner: InboxCorner,
) -> None:
    writer = InboxWriter(corner.hub.db, max_wait_s=0.01)
    now = corner.clock()

    results = await asyncio.gather(
        *(writer.store(corner.arrival(f"d-{n}"), now) for n in range(20)),
        writer.store(corner.arrival("d-3"), now),
    )

    records = await corner.records()
    assert len(records) == 20
    assert {record_id for record_id, _ in results[:20]} == {r.id for r in records}
    assert [duplicate for _, duplicate in results].count(True) == 1
    assert results[-1] == (results[3][0], True)


async def test_the_writer_asks_processing_to_make_room_only_after_a_slow_acknowledgement(
    corner: InboxCorner,
) -> None:
    prompt = InboxWriter(corner.hub.db, slow_ack_s=60)
    late = InboxWriter(corner.hub.db, slow_ack_s=0)

    await prompt.store(corner.arrival("d-1"), corner.clock())
    await late.store(corner.arrival("d-2"), corner.clock())

    assert not prompt.busy
    assert late.busy


async def test_a_redelivery_is_recognised_and_answers_the_first_record(
    corner: InboxCorner,
) -> None:
    writer = InboxWriter(corner.hub.db)
    first = await writer.store(corner.arrival("d-1", b'{"v": 1}'), corner.clock())

    again = await writer.store(corner.arrival("d-1", b'{"v": 1}'), corner.clock())

    assert again == (first[0], True)
    [record] = await corner.records()
    assert record.status == InboxStatus.pending
    assert record.body == b'{"v": 1}'


async def test_credentials_in_headers_are_never_stored(corner: InboxCorner) -> None:
    writer = InboxWriter(corner.hub.db)
    headers = {
        "Authorization": "Bearer secret",
        "Cookie": "session=secret",
        "X-Shopify-Topic": "orders/create",
    }

    await writer.store(corner.arrival("d-1", headers=headers), corner.clock())

    [record] = await corner.records()
    assert record.headers == {"x-shopify-topic": "orders/create"}


class FailsOnce:
    """A database whose next write transaction fails as an unreachable one would."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.failed = False

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        if not self.failed:
            self.failed = True
            raise ConnectionRefusedError("database unreachable")
        async with self.db.transaction() as session:
            yield session


async def test_a_failed_write_fails_every_waiting_arrival_and_the_next_burst_is_stored(
    corner: InboxCorner,
) -> None:
    writer = InboxWriter(FailsOnce(corner.hub.db))  # type: ignore[arg-type]
    now = corner.clock()

    failed = await asyncio.gather(
        *(writer.store(corner.arrival(f"d-{n}"), now) for n in range(3)),
        return_exceptions=True,
    )
    stored = await writer.store(corner.arrival("d-0"), now)

    assert all(isinstance(result, ConnectionRefusedError) for result in failed)
    assert stored[1] is False
    assert [r.delivery_id for r in await corner.records()] == ["d-0"]


async def test_replay_puts_parked_records_back_and_never_reruns_processed_ones(
    corner: InboxCorner,
) -> None:
    writer = InboxWriter(corner.hub.db)
    now = corner.clock()
    parked, processed = [
        (await writer.store(corner.arrival(name), now))[0] for name in ("parked", "processed")
    ]
    async with corner.hub.db.transaction() as session:
        for record_id, status in ((parked, "parked"), (processed, "processed")):
            await session.execute(
                update(InboxRecord)
                .where(InboxRecord.id == record_id)
                .values(status=status, attempts=3, reason="was bad")
            )

    async with corner.hub.db.transaction() as session:
        count = await inbox.replay(session, corner.tenant_id, [parked, processed], now)

    assert count == 1
    states = {r.id: (r.status, r.attempts) for r in await corner.records()}
    assert states == {parked: ("pending", 0), processed: ("processed", 3)}


async def test_records_are_listed_newest_first_a_page_at_a_time(corner: InboxCorner) -> None:
    writer = InboxWriter(corner.hub.db)
    for n in range(5):
        await writer.store(corner.arrival(f"d-{n}"), corner.clock())

    seen: list[str] = []
    request = PageRequest(limit=2)
    while True:
        async with corner.hub.db.reader() as session:
            page = await inbox.page(
                session, corner.tenant_id, request, connection_id=corner.connection_id
            )
        seen += [r.delivery_id for r in page.items]
        if page.next_cursor is None:
            break
        request = PageRequest.from_cursor(page.next_cursor, limit=2)

    newest_first = sorted(await corner.records(), key=lambda r: r.id, reverse=True)
    assert seen == [r.delivery_id for r in newest_first]
    assert sorted(seen) == ["d-0", "d-1", "d-2", "d-3", "d-4"]


async def test_a_record_of_another_tenant_is_not_found(corner: InboxCorner) -> None:
    writer = InboxWriter(corner.hub.db)
    record_id, _ = await writer.store(corner.arrival("d-1"), corner.clock())

    async with corner.hub.db.reader() as session:
        with pytest.raises(inbox.InboxRecordNotFound):
            await inbox.get(session, "ten_someone_else", record_id)
