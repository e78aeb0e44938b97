"""Outbox, relay and consumers on the embedded stack (SQLite or PostgreSQL + in-process bus)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.hub import Hub
from channelhub.platform.clock import utc_now
from channelhub.platform.events.bus import Delivery, EventBus
from channelhub.platform.events.catalog import declare
from channelhub.platform.events.consumers import ConsumerRegistry, Outcome, requeue_failures
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.models import ConsumerFailure, OutboxEvent, ProcessedEvent
from channelhub.platform.events.outbox import OUTBOX_WRITTEN, envelope_of, record_event
from channelhub.platform.events.relay import OutboxRelay
from tests.fixtures.events import (
    DiesAfterPublish,
    Recorder,
    RelayKilled,
    drain,
    eventually,
    relay_until_killed,
)
from tests.fixtures.hub import TenantKeys


class Tick(BaseModel):
    n: int


TICKED = declare("test.ticked", context="tests", description="A test event.", data_model=Tick)


async def emit(hub: Hub, tenant_id: str, subject: str, n: int) -> str:
    async with hub.db.transaction() as session:
        envelope = await record_event(
            session, TICKED, tenant_id=tenant_id, subject=subject, data=Tick(n=n)
        )
    return envelope.id


async def envelope_by_id(hub: Hub, event_id: str) -> EventEnvelope:
    async with hub.db.reader() as session:
        row = await session.scalar(select(OutboxEvent).where(OutboxEvent.id == event_id))
        assert row is not None
        return envelope_of(row)


async def failure_state(hub: Hub, consumer: str, event_id: str) -> tuple[str, int] | None:
    async with hub.db.reader() as session:
        failure = await session.get(ConsumerFailure, (consumer, event_id))
        return None if failure is None else (failure.status, failure.attempts)


async def test_sequence_counts_events_per_subject(hub: Hub, tenant: TenantKeys) -> None:
    for n in range(3):
        await emit(hub, tenant.tenant_id, "sub_a", n)
    await emit(hub, tenant.tenant_id, "sub_b", 0)

    async with hub.db.reader() as session:
        rows = (
            await session.execute(
                select(OutboxEvent.subject, OutboxEvent.sequence)
                .where(OutboxEvent.tenant_id == tenant.tenant_id)
                .order_by(OutboxEvent.position)
            )
        ).all()

    assert [tuple(r) for r in rows] == [("sub_a", 1), ("sub_a", 2), ("sub_a", 3), ("sub_b", 1)]


async def test_rolled_back_change_publishes_nothing(
    hub: Hub, tenant: TenantKeys, consumers: ConsumerRegistry
) -> None:
    recorder = Recorder(tenant_id=tenant.tenant_id)
    consumers.register("recorder", recorder)
    await hub.start()

    async def emit_then_abort() -> None:
        async with hub.db.transaction() as session:
            await record_event(
                session, TICKED, tenant_id=tenant.tenant_id, subject="sub_x", data=Tick(n=1)
            )
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        await emit_then_abort()
    committed = await emit(hub, tenant.tenant_id, "sub_x", 2)

    await eventually(lambda: len(recorder.handled) == 1, what="the committed event")
    assert [e.id for e in recorder.handled] == [committed]
    assert recorder.handled[0].sequence == 1


async def test_product_events_reach_consumer_once_each(
    hub: Hub, tenant: TenantKeys, consumers: ConsumerRegistry, client: httpx.AsyncClient
) -> None:
    recorder = Recorder(tenant_id=tenant.tenant_id)
    consumers.register("catalog-listener", recorder, types=["product.*"])
    await hub.start()

    body = {
        "title": "Headlamp",
        "variants": [
            {"sku": "EV-1", "title": "Black", "price": {"amount": 3990, "currency": "EUR"}}
        ],
    }
    created = (await client.post("/v1/products", json=body)).json()
    updated = (await client.patch(f"/v1/products/{created['id']}", json={"title": "Lamp"})).json()

    await eventually(lambda: len(recorder.handled) == 2, what="created and updated events")
    first, second = recorder.handled
    assert (first.type, first.subject, first.sequence) == ("product.created", created["id"], 1)
    assert (second.type, second.subject, second.sequence) == ("product.updated", created["id"], 2)
    assert first.data == created
    assert second.data == updated
    assert first.source == "/channelhub/catalog"
    assert first.tenant == tenant.tenant_id
    assert recorder.handled_once_each()


async def test_redelivered_event_is_a_no_op(hub: Hub, tenant: TenantKeys) -> None:
    recorder = Recorder()
    consumer = hub.consumers.register("redelivery", recorder)
    event_id = await emit(hub, tenant.tenant_id, "sub_r", 1)
    envelope = await envelope_by_id(hub, event_id)

    outcomes = [await hub.runner.deliver(consumer, envelope) for _ in range(3)]

    assert outcomes == [Outcome.handled, Outcome.duplicate, Outcome.duplicate]
    assert recorder.calls[event_id] == 1


async def test_failing_handler_is_retried_until_it_succeeds(
    hub: Hub, tenant: TenantKeys, consumers: ConsumerRegistry
) -> None:
    recorder = Recorder(tenant_id=tenant.tenant_id, fail_times=2)
    consumers.register("flaky", recorder)
    await hub.start()

    event_id = await emit(hub, tenant.tenant_id, "sub_f", 1)

    async def failure_cleared() -> bool:
        return await failure_state(hub, "flaky", event_id) is None

    await eventually(lambda: len(recorder.handled) == 1, what="the third attempt")
    await eventually(failure_cleared, what="the failure record to be cleared on success")
    assert recorder.calls[event_id] == 3


async def test_handler_that_keeps_failing_is_dead_lettered_then_retried_on_request(
    hub: Hub, tenant: TenantKeys, consumers: ConsumerRegistry
) -> None:
    recorder = Recorder(tenant_id=tenant.tenant_id, fail_times=1_000)
    consumers.register("broken", recorder)
    await hub.start()
    event_id = await emit(hub, tenant.tenant_id, "sub_d", 1)

    async def is_dead() -> bool:
        return await failure_state(hub, "broken", event_id) == ("dead", 3)

    await eventually(is_dead, what="the dead letter after 3 attempts")
    assert recorder.handled == []

    recorder.fail_times = 0  # the handler is fixed
    assert await requeue_failures(hub.db, consumer="broken") == 1

    async def cleared() -> bool:
        return await failure_state(hub, "broken", event_id) is None

    await eventually(lambda: len(recorder.handled) == 1, what="the requeued retry")
    await eventually(cleared, what="the dead letter to be cleared by the successful retry")


async def test_relay_killed_after_publish_republishes_without_double_handling(
    hub: Hub, tenant: TenantKeys, consumers: ConsumerRegistry
) -> None:
    recorder = Recorder(tenant_id=tenant.tenant_id)
    consumers.register("survivor", recorder)
    await hub.start(relay=False)
    await drain(hub.relay)  # so the dying relay's first batch holds this test's events
    event_ids = [await emit(hub, tenant.tenant_id, f"sub_k{n}", n) for n in range(3)]
    dying_bus = DiesAfterPublish(hub.bus)
    dying = OutboxRelay(hub.db, dying_bus, claim_timeout_s=0.2)

    with pytest.raises(RelayKilled):
        await relay_until_killed(dying)

    assert set(event_ids) <= set(dying_bus.published)
    async with hub.db.reader() as session:
        unmarked = await session.scalar(
            select(func.count())
            .select_from(OutboxEvent)
            .where(OutboxEvent.id.in_(event_ids), OutboxEvent.published_at.is_(None))
        )
    assert unmarked == 3

    restarted = OutboxRelay(hub.db, hub.bus, clock=lambda: utc_now() + timedelta(seconds=1))
    await drain(restarted)

    assert sorted(e.id for e in recorder.handled) == sorted(event_ids)
    assert all(recorder.calls[event_id] == 1 for event_id in event_ids)


async def test_a_batch_with_one_poison_event_still_handles_the_rest(
    hub: Hub, tenant: TenantKeys
) -> None:
    poisoned: set[str] = set()

    async def handler(session: AsyncSession, envelope: EventEnvelope) -> None:
        if envelope.id in poisoned:
            raise ValueError("cannot handle this one")

    consumer = hub.consumers.register("picky", handler)
    ids = [await emit(hub, tenant.tenant_id, "sub_p", n) for n in range(4)]
    poisoned.add(ids[2])
    async with hub.db.reader() as session:
        rows = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.id.in_(ids)).order_by(OutboxEvent.position)
            )
        ).all()
        batch = [envelope_of(row) for row in rows]

    outcomes = await hub.runner.deliver_batch(consumer, batch)

    assert outcomes == [Outcome.handled, Outcome.handled, Outcome.retrying, Outcome.handled]
    async with hub.db.reader() as session:
        processed = (
            await session.scalars(
                select(ProcessedEvent.event_id).where(ProcessedEvent.consumer == "picky")
            )
        ).all()
        failure = await session.get(ConsumerFailure, ("picky", ids[2]))
    assert sorted(processed) == sorted([ids[0], ids[1], ids[3]])
    assert failure is not None
    assert (failure.status, failure.attempts) == ("retrying", 1)


async def test_a_redelivered_success_ends_pending_retries(hub: Hub, tenant: TenantKeys) -> None:
    recorder = Recorder(fail_times=1)
    consumer = hub.consumers.register("redelivered", recorder)
    envelope = await envelope_by_id(hub, await emit(hub, tenant.tenant_id, "sub_rs", 1))

    first = await hub.runner.deliver(consumer, envelope)
    redelivered = await hub.runner.deliver(consumer, envelope)
    again = await hub.runner.deliver(consumer, envelope)

    assert (first, redelivered, again) == (Outcome.retrying, Outcome.handled, Outcome.duplicate)
    assert await failure_state(hub, "redelivered", envelope.id) is None


async def test_a_redelivery_never_revives_a_dead_letter(hub: Hub, tenant: TenantKeys) -> None:
    recorder = Recorder(fail_times=99)
    consumer = hub.consumers.register("hopeless", recorder)
    envelope = await envelope_by_id(hub, await emit(hub, tenant.tenant_id, "sub_dl", 1))

    outcomes = [await hub.runner.deliver(consumer, envelope, attempt=n) for n in (1, 2, 3)]
    late_redelivery = await hub.runner.deliver(consumer, envelope, attempt=1)

    assert outcomes == [Outcome.retrying, Outcome.retrying, Outcome.dead]
    assert late_redelivery is Outcome.dead
    assert await failure_state(hub, "hopeless", envelope.id) == ("dead", 3)


class RefusingBus:
    """A bus that is down: every publish fails."""

    name = "refusing"

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def publish(self, envelopes: object) -> None:
        raise ConnectionError("bus down")

    async def subscribe(self, subscription: str, delivery: object) -> None:
        return None


async def test_failed_publish_releases_the_batch_at_once(
    hub: Hub, tenant: TenantKeys, consumers: ConsumerRegistry
) -> None:
    recorder = Recorder(tenant_id=tenant.tenant_id)
    consumers.register("after-outage", recorder)
    await hub.start(relay=False)
    first = await emit(hub, tenant.tenant_id, "sub_o", 1)

    with pytest.raises(ConnectionError):
        await OutboxRelay(hub.db, RefusingBus()).relay_once()  # type: ignore[arg-type]
    second = await emit(hub, tenant.tenant_id, "sub_o", 2)
    await drain(hub.relay)

    assert [e.id for e in recorder.handled] == [first, second]


async def test_prune_forgets_old_events_and_their_processed_records(
    hub: Hub, tenant: TenantKeys, consumers: ConsumerRegistry
) -> None:
    recorder = Recorder(tenant_id=tenant.tenant_id)
    consumers.register("pruned", recorder)
    await hub.start(relay=False)
    event_id = await emit(hub, tenant.tenant_id, "sub_old", 1)
    await drain(hub.relay)
    far_future = OutboxRelay(
        hub.db, hub.bus, retention=timedelta(days=1), clock=lambda: utc_now() + timedelta(days=2)
    )

    await far_future.prune()

    async with hub.db.reader() as session:
        left_events = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.id == event_id)
        )
        left_records = await session.scalar(
            select(func.count())
            .select_from(ProcessedEvent)
            .where(ProcessedEvent.event_id == event_id)
        )
    assert [e.id for e in recorder.handled] == [event_id]
    assert (left_events, left_records) == (0, 0)


class RecordingBus:
    """Wraps a bus and remembers each batch published, as event ids."""

    def __init__(self, inner: EventBus) -> None:
        self.inner = inner
        self.name = inner.name
        self.batches: list[list[str]] = []

    async def connect(self) -> None:
        await self.inner.connect()

    async def close(self) -> None:
        await self.inner.close()

    async def ping(self) -> None:
        await self.inner.ping()

    async def publish(self, envelopes: Sequence[EventEnvelope]) -> None:
        # Recorded before the inner bus runs: an in-process bus can hand the batch to its
        # consumers (and so end the test's wait) before its publish returns.
        self.batches.append([e.id for e in envelopes])
        await self.inner.publish(envelopes)

    async def subscribe(self, subscription: str, delivery: Delivery) -> None:
        await self.inner.subscribe(subscription, delivery)


async def test_events_committed_close_together_share_one_round_and_a_lone_one_waits_not(
    hub: Hub, tenant: TenantKeys, consumers: ConsumerRegistry
) -> None:
    recorder = Recorder(tenant_id=tenant.tenant_id)
    consumers.register("gathered", recorder)
    await hub.start(relay=False)
    bus = RecordingBus(hub.bus)
    # A window wide enough for the lone event's trip and the burst's five commits to fit
    # in it on a loaded machine.
    relay = OutboxRelay(hub.db, bus, poll_interval_s=5.0, gather_s=2.0)
    hub.db.on_commit(lambda session: relay.wake() if session.info.get(OUTBOX_WRITTEN) else None)
    running = asyncio.create_task(relay.run())
    try:
        await asyncio.sleep(2.1)  # a quiet spell longer than the gathering window
        loop = asyncio.get_running_loop()
        committed = loop.time()
        lone = await emit(hub, tenant.tenant_id, "sub_g", 0)
        await eventually(lambda: len(recorder.handled) == 1, what="the lone event")
        lone_latency = loop.time() - committed
        burst = [await emit(hub, tenant.tenant_id, "sub_g", n) for n in range(1, 6)]
        await eventually(lambda: len(recorder.handled) == 6, what="the burst")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    ours = [[i for i in batch if i in {lone, *burst}] for batch in bus.batches]
    assert [batch for batch in ours if batch] == [[lone], burst]
    assert lone_latency < 1.0  # relayed on its wake, not after the 2 s window
    assert recorder.handled_once_each()
