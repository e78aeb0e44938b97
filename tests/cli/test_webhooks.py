"""``webhooks``: listing endpoints and replaying a time range to one of them."""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from channelhub.hub import Hub
from channelhub.platform.webhooks.models import WebhookDelivery
from tests.cli.runner import Cli, create_acme, table_rows
from tests.cli.test_server import BOOTSTRAP_KEY, bearer, channelhub, healthy
from tests.experience.rest.test_catalog import create, product_body
from tests.fixtures.hub import ENCRYPTION_KEY, http_client, make_settings
from tests.fixtures.outside import free_port
from tests.fixtures.webhooks import add_endpoint, allow_private_targets

ENV = {"CHANNELHUB_ENCRYPTION_KEY": ENCRYPTION_KEY}


def set_up(cli: Cli) -> str:
    """Acme with a brand, three products and an endpoint for product events (nothing sent
    yet: no hub runs); returns the endpoint id."""
    _, key = create_acme(cli)

    async def main() -> str:
        hub = Hub(make_settings(cli.database_url))
        try:
            async with http_client(hub, key) as client:
                await allow_private_targets(client)
                endpoint = await add_endpoint(client, "http://127.0.0.1:9/in", "product.*")
                await client.post("/v1/brands", json={"name": "B", "slug": "b"})
                for n in range(3):
                    await create(client, f"CLI-{n}")
        finally:
            await hub.stop()
        endpoint_id: str = endpoint["id"]
        return endpoint_id

    return asyncio.run(main())


def queued(cli: Cli, endpoint_id: str) -> list[str]:
    async def main() -> list[str]:
        hub = Hub(make_settings(cli.database_url))
        try:
            async with hub.db.reader() as session:
                rows = await session.scalars(
                    select(WebhookDelivery.status).where(WebhookDelivery.endpoint_id == endpoint_id)
                )
                return list(rows)
        finally:
            await hub.stop()

    return asyncio.run(main())


def test_replay_queues_the_range_for_the_endpoint(cli: Cli) -> None:
    endpoint_id = set_up(cli)

    replayed = cli(
        "webhooks", "replay", "--tenant", "acme", "--endpoint", endpoint_id,
        "--since", "2020-01-01", env=ENV,
    )  # fmt: skip
    listed = cli("webhooks", "list", "--tenant", "acme", env=ENV)

    assert (replayed.code, replayed.stderr) == (0, ""), replayed
    assert replayed.stdout == f"3 of 4 events queued for {endpoint_id}\n"
    assert queued(cli, endpoint_id) == ["pending"] * 3
    [row] = table_rows(listed.stdout)
    assert row[:4] == [endpoint_id, "http://127.0.0.1:9/in", "product.*", "yes"]


def test_replay_of_an_unknown_endpoint_is_one_clear_error(cli: Cli) -> None:
    set_up(cli)

    outcome = cli(
        "webhooks", "replay", "--tenant", "acme", "--endpoint", "whe_nope",
        "--since", "2020-01-01", env=ENV,
    )  # fmt: skip

    assert outcome.code == 3
    assert outcome.stderr == "error: webhook endpoint whe_nope not found\n"


@dataclass
class Receiver:
    """A webhook receiver on a local port: records each webhook-id it answered 200 to,
    after ``hold_s`` (while it holds them, they are in flight)."""

    url: str
    hold_s: float = 0.0
    arrived: list[str] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    async def hook(request: Request) -> PlainTextResponse:
        webhook_id = request.headers["webhook-id"]
        state.arrived.append(webhook_id)
        await asyncio.sleep(state.hold_s)
        state.answered.append(webhook_id)
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/in", hook, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    state.url = f"http://127.0.0.1:{port}/in"
    yield state
    server.should_exit = True
    thread.join(timeout=5)


def test_a_server_killed_mid_delivery_loses_nothing(
    tmp_path: Path, receiver: Receiver, empty_database_url: str
) -> None:
    Cli(empty_database_url)("migrate")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **ENV,
        "CHANNELHUB_DATABASE_URL": empty_database_url,
        "CHANNELHUB_PORT": str(port),
        "CHANNELHUB_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY,
        # Long enough for all ten to arrive before the held ones start failing.
        "CHANNELHUB_WEBHOOK_TIMEOUT_S": "5",
        # All ten at once: past eight, the rest would wait for the paused endpoint's probes.
        "CHANNELHUB_WEBHOOK_MAX_IN_FLIGHT": "16",
    }
    receiver.hold_s = 30.0
    with channelhub(tmp_path, "serve", env=env) as server:
        server.wait_for(lambda: healthy(base_url), "a healthy /healthz")
        with httpx.Client(base_url=base_url, headers=bearer(BOOTSTRAP_KEY), timeout=5) as http:
            http.put("/v1/webhook-settings", json={"allow_private_targets": True})
            endpoint = http.post(
                "/v1/webhook-endpoints", json={"url": receiver.url, "event_types": ["product.*"]}
            ).json()
            for n in range(10):
                created = http.post("/v1/products", json=product_body(f"KILL-{n}"))
                assert created.status_code == 201, created.text
        # Each event reached the receiver, which holds them (past the 5 s deadline, so
        # they fail and the endpoint is paused: count events, not requests).
        server.wait_for(lambda: len(set(receiver.arrived)) == 10, "ten deliveries in flight")
        server.popen.send_signal(signal.SIGKILL)
        server.popen.wait(timeout=10)
    assert receiver.answered == []

    receiver.hold_s = 0.0
    with channelhub(tmp_path, "serve", env=env) as server:
        # Sent again once the dead server's leases (3 x timeout + 5 s) have run out.
        server.wait_for(
            lambda: len(set(receiver.answered)) == 10, "every event delivered", timeout_s=60
        )
        with httpx.Client(base_url=base_url, headers=bearer(BOOTSTRAP_KEY), timeout=5) as http:
            deliveries = http.get(
                f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", params={"limit": 50}
            ).json()["data"]
        server.terminate()

    assert set(receiver.answered) == set(receiver.arrived), "the same ids, sent again"
    assert {d["event_id"] for d in deliveries} == set(receiver.answered)
