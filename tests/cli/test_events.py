"""``channelhub events``: ``tail``, ``failures`` and ``retry``."""

from __future__ import annotations

import asyncio
import json

import pytest

from channelhub.platform.clock import utc_now
from channelhub.platform.config import Settings
from channelhub.platform.db.database import Database
from channelhub.platform.events.models import ConsumerFailure
from tests.cli.runner import DEMO_TITLES, SECRET, Cli, api_get, create_acme, table_rows


def add_dead_failure(database_url: str, *, consumer: str, event_id: str) -> None:
    """A delivery that failed its last attempt, as the consumer runner records it."""

    async def main() -> None:
        db = Database(Settings(database_url=database_url))
        try:
            async with db.transaction() as session:
                session.add(
                    ConsumerFailure(
                        consumer=consumer,
                        event_id=event_id,
                        envelope={"id": event_id, "type": "product.created"},
                        attempts=8,
                        last_error="RuntimeError: search index is down",
                        status="dead",
                        next_attempt_at=None,
                        updated_at=utc_now(),
                    )
                )
        finally:
            await db.dispose()

    asyncio.run(main())


# --- events --------------------------------------------------------------------------------


def test_events_tail_json_prints_committed_events_as_cloudevents(cli: Cli) -> None:
    [admin_key] = set(SECRET.findall(cli("demo").stdout))
    [[tenant_id, *_]] = table_rows(cli("tenants", "list").stdout)
    products = api_get(cli.database_url, "/v1/products", admin_key).json()["data"]
    since = "2000-01-01T00:00:00+00:00"

    outcome = cli(
        "events", "tail", "--since", since, "--type", "product.*", "--json", "--limit", "4"
    )

    assert (outcome.code, outcome.stderr) == (0, "")
    events = [json.loads(line) for line in outcome.stdout.splitlines()]
    assert [(e["specversion"], e["type"], e["tenant"], e["sequence"]) for e in events] == [
        ("1.0", "product.created", tenant_id, 1)
    ] * 4
    assert [e["data"]["title"] for e in events] == DEMO_TITLES
    assert {e["subject"] for e in events} == {product["id"] for product in products}
    assert len({e["id"] for e in events}) == 4


def test_events_tail_follows_commit_order_from_since(cli: Cli) -> None:
    cli("demo")

    outcome = cli("events", "tail", "--since", "2000-01-01", "--limit", "3")

    assert (outcome.code, outcome.stderr) == (0, "")
    lines = [line.split() for line in outcome.stdout.splitlines()]
    assert [(line[1], line[3]) for line in lines] == [
        ("brand.created", "#1"),
        ("sales_channel.created", "#1"),
        ("product.created", "#1"),
    ]
    assert [line[2][:4] for line in lines] == ["brd_", "sch_", "prd_"]


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        pytest.param(
            ["--since", "yesterday"], 2, "--since 'yesterday' is not an ISO 8601 time", id="since"
        ),
        pytest.param(["--tenant", "nope"], 3, "no tenant 'nope' (tenant)", id="unknown-tenant"),
    ],
)
def test_events_tail_refusals(cli: Cli, args: list[str], code: int, error: str) -> None:
    create_acme(cli)

    outcome = cli("events", "tail", "--limit", "1", *args)

    assert (outcome.code, outcome.stdout, outcome.stderr) == (code, "", f"error: {error}\n")


def test_events_failures_lists_dead_deliveries_and_retry_requeues_them(cli: Cli) -> None:
    cli("migrate")
    add_dead_failure(cli.database_url, consumer="search-index", event_id="evt_1")
    add_dead_failure(cli.database_url, consumer="webhooks", event_id="evt_2")

    dead = table_rows(cli("events", "failures", "--dead").stdout)
    retried = cli("events", "retry", "--consumer", "search-index")
    after = table_rows(cli("events", "failures").stdout)

    error = "RuntimeError: search index is down"
    assert sorted(dead) == [
        ["search-index", "evt_1", "product.created", "dead", "8", "", error],
        ["webhooks", "evt_2", "product.created", "dead", "8", "", error],
    ]
    assert (retried.code, retried.stdout) == (0, "1 failed deliveries queued for retry\n")
    assert sorted((row[0], row[3]) for row in after) == [
        ("search-index", "retrying"),
        ("webhooks", "dead"),
    ]
    assert [row[0] for row in table_rows(cli("events", "failures", "--dead").stdout)] == [
        "webhooks"
    ]
