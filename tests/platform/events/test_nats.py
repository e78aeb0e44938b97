"""PostgreSQL + NATS JetStream: the scale-out stack, end to end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import nats
import pytest

from channelhub.hub import Hub
from channelhub.platform.clock import utc_now
from channelhub.platform.config import Settings
from channelhub.platform.errors import UnavailableError
from channelhub.platform.events.consumers import ConsumerRegistry
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.nats import JetStreamBus
from channelhub.platform.events.relay import OutboxRelay
from tests.fixtures.events import (
    DiesAfterPublish,
    Recorder,
    RelayKilled,
    drain,
    eventually,
    relay_until_killed,
)
from tests.fixtures.hub import http_client, make_settings, new_tenant

pytestmark = [pytest.mark.postgres, pytest.mark.nats]


@pytest.fixture
async def nats_hub(
    postgresql_url: str, nats_url: str, nats_names: tuple[str, str], consumers: ConsumerRegistry
) -> AsyncIterator[Hub]:
    stream, prefix = nats_names
    settings = make_settings(
        postgresql_url, bus_url=nats_url, nats_stream=stream, nats_subject_prefix=prefix
    )
    hub = Hub(settings, consumers=consumers)
    yield hub
    await hub.stop()


async def stream_messages(hub: Hub) -> int:
    connection = await nats.connect(hub.settings.bus_url)
    try:
        info = await connection.jetstream().stream_info(hub.settings.nats_stream)
        return int(info.state.messages)
    finally:
        await connection.close()


def product(sku: str) -> dict[str, object]:
    return {
        "title": f"Product {sku}",
        "variants": [{"sku": sku, "title": "One", "price": {"amount": 100, "currency": "EUR"}}],
    }


async def test_api_change_reaches_consumer_exactly_once(
    nats_hub: Hub, consumers: ConsumerRegistry
) -> None:
    tenant = await new_tenant(nats_hub)
    recorder = Recorder(tenant_id=tenant.tenant_id)
    consumers.register("nats-recorder", recorder, types=["product.*"])
    await nats_hub.start()

    async with http_client(nats_hub, tenant.admin_key) as client:
        created = [
            (await client.post("/v1/products", json=product(f"N-{i}"))).json() for i in range(5)
        ]
        await client.patch(f"/v1/products/{created[0]['id']}", json={"title": "Renamed"})

    await eventually(lambda: len(recorder.handled) == 6, what="6 events over JetStream")
    assert recorder.handled_once_each()
    assert sorted(recorder.types()) == ["product.created"] * 5 + ["product.updated"]
    assert {e.subject for e in recorder.handled} == {p["id"] for p in created}
    assert nats_hub.bus.name == "nats-jetstream"


async def test_relay_killed_between_publish_and_mark_is_deduplicated(
    nats_hub: Hub, consumers: ConsumerRegistry
) -> None:
    tenant = await new_tenant(nats_hub)
    recorder = Recorder(tenant_id=tenant.tenant_id)
    consumers.register("nats-survivor", recorder)
    await nats_hub.start(relay=False)
    await drain(nats_hub.relay)  # so the dying relay's first batch holds this test's events
    async with http_client(nats_hub, tenant.admin_key) as client:
        for i in range(4):
            assert (await client.post("/v1/products", json=product(f"K-{i}"))).status_code == 201
    before = await stream_messages(nats_hub)
    dying_bus = DiesAfterPublish(nats_hub.bus)
    dying = OutboxRelay(nats_hub.db, dying_bus, claim_timeout_s=0.2)

    with pytest.raises(RelayKilled):
        await relay_until_killed(dying)
    restarted = OutboxRelay(
        nats_hub.db, nats_hub.bus, clock=lambda: utc_now() + timedelta(seconds=1)
    )
    republished = 0
    while count := await restarted.relay_once():
        republished += count

    await eventually(lambda: len(recorder.handled) == 4, what="4 events after the restart")
    assert republished >= 4
    assert await stream_messages(nats_hub) - before == len(dying_bus.published)
    assert recorder.handled_once_each()
    assert all(count == 1 for count in recorder.calls.values())


async def test_failing_consumer_is_retried_and_acknowledged_once_handled(
    nats_hub: Hub, consumers: ConsumerRegistry
) -> None:
    tenant = await new_tenant(nats_hub)
    recorder = Recorder(tenant_id=tenant.tenant_id, fail_times=1)
    consumers.register("nats-flaky", recorder, types=["product.created"])
    await nats_hub.start()

    async with http_client(nats_hub, tenant.admin_key) as client:
        created = (await client.post("/v1/products", json=product("F-1"))).json()

    await eventually(lambda: len(recorder.handled) == 1, what="the retried event")
    assert recorder.handled[0].subject == created["id"]
    assert recorder.calls[recorder.handled[0].id] == 2


async def test_readiness_reports_jetstream(nats_hub: Hub) -> None:
    await nats_hub.connect_bus()
    async with http_client(nats_hub) as client:
        response = await client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == [
        {"name": "database", "ok": True, "detail": "postgresql"},
        {"name": "bus", "ok": True, "detail": "nats-jetstream"},
    ]


def test_bus_subject_names_tenant_and_type() -> None:
    bus = JetStreamBus(Settings(bus_url="nats://127.0.0.1:4222", nats_subject_prefix="ch"))
    envelope = EventEnvelope(
        id="evt_1",
        source="/channelhub/orders",
        type="order.created",
        subject="ord_1",
        time=utc_now(),
        tenant="ten_1",
        sequence=1,
        data={},
    )

    assert bus.subject_of(envelope) == "ch.ten_1.order.created"


async def test_an_existing_stream_keeps_its_operator_limits(nats_hub: Hub) -> None:
    connection = await nats.connect(nats_hub.settings.bus_url)
    try:
        js = connection.jetstream()
        await js.add_stream(
            name=nats_hub.settings.nats_stream,
            subjects=[f"{nats_hub.settings.nats_subject_prefix}.>"],
            max_age=7 * 24 * 3600,
            max_bytes=1 << 30,
            duplicate_window=60,
        )
        await nats_hub.connect_bus()
        config = (await js.stream_info(nats_hub.settings.nats_stream)).config
    finally:
        await connection.close()

    assert (config.max_age, config.max_bytes) == (7 * 24 * 3600, 1 << 30)
    assert config.duplicate_window == nats_hub.settings.nats_duplicate_window_s


async def test_credentials_never_appear_in_bus_errors() -> None:
    bus = JetStreamBus(Settings(bus_url="nats://hub:s3cret@127.0.0.1:9", health_timeout_s=0.5))

    with pytest.raises(UnavailableError) as error:
        await bus.connect()

    assert "s3cret" not in str(error.value)
    assert "nats://127.0.0.1:9" in str(error.value)
