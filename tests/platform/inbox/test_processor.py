"""Processing stored deliveries: applied once with their effects, parked with a reason,
retried with back-off, and taken over from a processor that died mid-way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.inbox import store as inbox
from channelhub.platform.inbox.models import InboxRecord
from channelhub.platform.inbox.processor import Handler, InboxProcessor, Park, Retry
from channelhub.platform.inbox.store import InboxWriter
from tests.fixtures.inbox import InboxCorner


def processor(corner: InboxCorner, handle: Handler, **options: float) -> InboxProcessor:
    return InboxProcessor(
        corner.hub.db, handle, clock=corner.clock, retry_base_s=10, max_attempts=3, **options
    )


async def receive(corner: InboxCorner, *delivery_ids: str) -> list[str]:
    writer = InboxWriter(corner.hub.db)
    return [(await writer.store(corner.arrival(d), corner.clock()))[0] for d in delivery_ids]


async def test_a_record_is_applied_with_its_effects_and_marked_processed(
    corner: InboxCorner,
) -> None:
    async def handle(session: AsyncSession, record: InboxRecord) -> str:
        await inbox.store_many(
            session, [(corner.arrival(f"effect-of-{record.delivery_id}"), corner.clock())]
        )
        return "one effect"

    await receive(corner, "d-1")

    assert await processor(corner, handle).process_due() == 1
    assert await processor(corner, handle).process_due() == 1  # the effect, now due itself

    records = {r.delivery_id: r for r in await corner.records()}
    assert records["d-1"].status == "processed"
    assert records["d-1"].reason == "one effect"
    assert records["d-1"].attempts == 1
    assert records["d-1"].processed_at == corner.clock()
    assert "effect-of-d-1" in records


async def test_a_failure_after_some_effects_keeps_none_of_them_and_tries_again(
    corner: InboxCorner,
) -> None:
    attempts = 0

    async def handle(session: AsyncSession, record: InboxRecord) -> str:
        nonlocal attempts
        attempts += 1
        await inbox.store_many(session, [(corner.arrival(f"effect-{attempts}"), corner.clock())])
        if attempts == 1:
            raise RuntimeError("the ERP hung up")
        return "done"

    await receive(corner, "d-1")
    work = processor(corner, handle)
    await work.process_due()

    [waiting] = await corner.records()
    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert waiting.reason == "will retry: RuntimeError: the ERP hung up"
    assert waiting.available_at == corner.clock() + timedelta(seconds=10)
    assert await work.process_due() == 0  # not before its back-off

    corner.clock.advance(10)
    await work.process_due()

    records = {r.delivery_id: r.status for r in await corner.records()}
    assert records == {"d-1": "processed", "effect-2": "pending"}


async def test_a_record_that_cannot_be_applied_is_parked_with_its_reason(
    corner: InboxCorner,
) -> None:
    async def handle(session: AsyncSession, record: InboxRecord) -> str:
        raise Park("inventory item 808950810 is not mapped to a SKU")

    await receive(corner, "d-1")
    await processor(corner, handle).process_due()

    [record] = await corner.records()
    assert (record.status, record.attempts) == ("parked", 1)
    assert record.reason == "inventory item 808950810 is not mapped to a SKU"


class Line(BaseModel):
    quantity: int


async def test_a_payload_that_does_not_validate_is_parked_not_retried(
    corner: InboxCorner,
) -> None:
    async def handle(session: AsyncSession, record: InboxRecord) -> str:
        Line.model_validate({"quantity": "many"})
        return "never"

    await receive(corner, "d-1")
    await processor(corner, handle).process_due()

    [record] = await corner.records()
    assert record.status == "parked"
    assert record.reason.startswith("does not map to a valid Line: quantity: Input should be")


async def test_retry_waits_as_long_as_the_sender_asks(corner: InboxCorner) -> None:
    async def handle(session: AsyncSession, record: InboxRecord) -> str:
        raise Retry("throttled", after_s=42)

    await receive(corner, "d-1")
    await processor(corner, handle).process_due()

    [record] = await corner.records()
    assert record.available_at == corner.clock() + timedelta(seconds=42)


async def test_a_record_that_keeps_failing_is_parked_after_the_last_attempt(
    corner: InboxCorner,
) -> None:
    async def handle(session: AsyncSession, record: InboxRecord) -> str:
        raise RuntimeError("still down")

    await receive(corner, "d-1")
    work = processor(corner, handle)
    waits = []
    for _ in range(3):
        before = corner.clock()
        await work.process_due()
        [record] = await corner.records()
        waits.append((record.available_at - before).total_seconds())
        corner.clock.advance(3600)

    assert (record.status, record.attempts) == ("parked", 3)
    assert record.reason == "RuntimeError: still down"
    assert waits[:2] == [10, 20]


class Deadlock(Exception):
    sqlstate = "40P01"


async def test_a_lost_lock_race_is_tried_again_at_once(corner: InboxCorner) -> None:
    attempts = 0

    async def handle(session: AsyncSession, record: InboxRecord) -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise DBAPIError("UPDATE connection_skus ...", {}, Deadlock("deadlock detected"))
        return "done"

    await receive(corner, "d-1")
    work = processor(corner, handle)
    await work.process_due()
    [waiting] = await corner.records()
    await work.process_due()

    [record] = await corner.records()
    assert (waiting.status, waiting.available_at) == ("pending", corner.clock())
    assert (record.status, record.attempts) == ("processed", 2)


class Died(BaseException):
    """The process was killed while applying a record."""


async def test_a_record_claimed_by_a_processor_that_died_is_taken_over_after_its_lease(
    corner: InboxCorner,
) -> None:
    async def dies(session: AsyncSession, record: InboxRecord) -> str:
        raise Died

    applied: list[str] = []

    async def handle(session: AsyncSession, record: InboxRecord) -> str:
        applied.append(record.delivery_id)
        return "done"

    await receive(corner, "d-1")
    with pytest.raises(Died):
        await processor(corner, dies, claim_timeout_s=60).process_due()
    survivor = processor(corner, handle)

    assert await survivor.process_due() == 0
    corner.clock.advance(61)
    assert await survivor.process_due() == 1
    assert await survivor.process_due() == 0
    assert applied == ["d-1"]
