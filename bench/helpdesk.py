"""Helpdesk benchmark: intent quality, and classify + route + link throughput.

Quality: the offline intent classifier trained on the training part of the packaged
dataset and scored on the held-out part (split by scenario, see
``channelhub.process.helpdesk.evaluation``): macro-F1, accuracy, per-language accuracy.

Throughput: an in-process hub on a fresh database (SQLite, then PostgreSQL) with a shop of
``--orders`` (300) orders, each with its own buyer and half of them shipped, three queues
with SLAs and six routing rules. A mixed multilingual stream of ``--messages`` (1,500)
chat messages is received through the Process API (``receive_message``), each in its own
transaction: the held-out dataset's texts in all seven languages, 60 % sent by an order's
buyer naming the order (so the customer and order are linked and verified), the rest by
unknown senders. Receiving one message is the whole pipeline: de-duplication, threading,
customer and order linking, language detection, intent classification, routing, SLA due
times, the drafted reply from the order's live status, the auto-merge check, the ticket's
events. Run once one at a time (latency: p50/p99 per message) and once with
``--concurrency`` (8) messages in flight (throughput). Also timed alone: language detection
and classification per message.

    .venv/bin/python -m bench.helpdesk [--messages 1500] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from bench.common import LOCATION, created, machine_note, open_channel, scratch_postgres
from channelhub import migrations
from channelhub.experience.app import create_app
from channelhub.hub import Hub
from channelhub.platform.auth import service as auth
from channelhub.platform.auth.principal import Principal
from channelhub.platform.config import Settings
from channelhub.platform.observability import configure_logging
from channelhub.process.access import RESOURCES
from channelhub.process.helpdesk import service as helpdesk
from channelhub.process.helpdesk.evaluation import evaluate, held_out_split
from channelhub.process.helpdesk.intents import offline_classifier
from channelhub.process.helpdesk.language import detect_language
from channelhub.process.helpdesk.models import Ticket
from channelhub.process.helpdesk.schemas import MessageIn

console = Console()
SKU = "BENCH-TENT"


@dataclass
class Run:
    backend: str
    sequential_ms: list[float] = field(default_factory=list)
    sequential_s: float = 0.0
    concurrent_count: int = 0
    concurrent_s: float = 0.0
    tickets: int = 0
    linked: int = 0

    def per_second(self, count: int, seconds: float) -> float:
        return count / seconds if seconds else 0.0


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


@functools.cache
def held_out_texts() -> list[str]:
    return [e.text for e in held_out_split().held_out]


def stream(count: int, orders: list[dict[str, Any]], seed: int) -> list[MessageIn]:
    """``count`` chat messages from the held-out texts; 60 % from an order's buyer naming
    the order."""
    texts = held_out_texts()
    chooser = random.Random(seed)
    messages = []
    for n in range(count):
        text = texts[n % len(texts)]
        if chooser.random() < 0.6:
            order = chooser.choice(orders)
            email = order["customer"]["email"]
            text = f"{text} (order {order['number']})"
        else:
            email = f"visitor{n}@example.org"
        messages.append(
            MessageIn.model_validate(
                {
                    "channel": "chat",
                    "external_id": f"bench-{seed}-{n}",
                    "requester": {"email": email, "name": "Bench"},
                    "text": text,
                }
            )
        )
    return messages


async def set_up(hub: Hub, orders: int) -> tuple[Principal, list[dict[str, Any]]]:
    async with hub.db.transaction() as session:
        tenant = await auth.create_tenant(session, name="Bench", slug=f"bench-{os.getpid()}")
        key = await auth.issue_key(
            session, tenant.id, name="admin", scopes=["admin"], resources=RESOURCES
        )
    app = create_app(hub, run_background=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench",
        headers={"Authorization": f"Bearer {key.secret}"},
        timeout=60,
    ) as client:
        channel = await open_channel(client, "Web")
        created(
            await client.post(
                "/v1/products",
                json={
                    "title": "Tent",
                    "variants": [
                        {"sku": SKU, "title": "Tent", "price": {"amount": 9900, "currency": "EUR"}}
                    ],
                },
            )
        )
        created(
            await client.post(
                "/v1/stock/updates",
                json={"updates": [{"sku": SKU, "location": LOCATION, "on_hand": 1_000_000}]},
            )
        )
        queues = [
            created(await client.post("/v1/helpdesk/queues", json=q))["id"]
            for q in (
                {"name": "Where is my order", "first_response_minutes": 120},
                {"name": "Returns", "first_response_minutes": 480, "resolution_minutes": 2880},
                {"name": "General", "first_response_minutes": 1440},
            )
        ]
        rules: list[dict[str, Any]] = [
            {"conditions": {"intents": ["where_is_my_order"]}, "queue_id": queues[0]},
            {"conditions": {"intents": ["return_exchange", "refund"]}, "queue_id": queues[1]},
            {"conditions": {"min_order_total": 50_000}, "priority": "high"},
            {"conditions": {"languages": ["cs"]}, "tags": ["cz-team"], "queue_id": queues[2]},
            {"conditions": {"intents": ["complaint"]}, "priority": "urgent"},
            {"conditions": {}, "queue_id": queues[2]},
        ]
        for position, rule in enumerate(rules):
            body = {"name": f"rule {position}", "position": position, **rule}
            created(await client.post("/v1/helpdesk/rules", json=body))
        placed = []
        for n in range(orders):
            order = created(
                await client.post(
                    "/v1/orders",
                    json={
                        "number": f"BN-{10_000 + n}",
                        "sales_channel_id": channel,
                        "customer": {"email": f"buyer{n}@example.com", "language": "en"},
                        "currency": "EUR",
                        "lines": [{"sku": SKU, "quantity": 1, "unit_price": 9900}],
                        "shipping_address": {"line1": "Rua 1", "city": "Lisboa", "country": "PT"},
                        "payment_status": "paid",
                        "confirmed": True,
                    },
                )
            )
            if n % 2 == 0:
                group = next(g for g in order["groups"] if g["method"] == "ship")
                created(
                    await client.post(
                        f"/v1/orders/{order['id']}/shipments",
                        json={
                            "group_id": group["id"],
                            "carrier": "ups",
                            "tracking_number": f"1Z{n:08d}",
                        },
                    )
                )
            placed.append(order)
    return Principal.system(tenant.id), placed


async def run_backend(backend: str, url: str, args: argparse.Namespace) -> Run:
    settings = Settings(database_url=url, log_level="warning")
    configure_logging(settings)
    hub = Hub(settings)
    await migrations.upgrade(hub.db.engine)
    run = Run(backend)
    try:
        principal, orders = await set_up(hub, args.orders)
        console.print(f"[dim]{backend}: {len(orders)} orders placed[/]")

        async def receive(message: MessageIn) -> None:
            async with hub.db.transaction() as session:
                accepted = await helpdesk.receive_message(session, principal, message, hub.helpdesk)
            assert not accepted.duplicate

        warm = stream(20, orders, seed=0)
        for message in warm:
            await receive(message)
        sequential = stream(args.messages, orders, seed=1)
        started = time.perf_counter()
        for message in sequential:
            began = time.perf_counter()
            await receive(message)
            run.sequential_ms.append((time.perf_counter() - began) * 1000)
        run.sequential_s = time.perf_counter() - started

        concurrent = stream(args.messages, orders, seed=2)
        queue: asyncio.Queue[MessageIn] = asyncio.Queue()
        for message in concurrent:
            queue.put_nowait(message)

        async def worker() -> None:
            while not queue.empty():
                await receive(queue.get_nowait())

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        run.concurrent_s = time.perf_counter() - started
        run.concurrent_count = len(concurrent)
        async with hub.db.transaction() as session:
            run.tickets = (
                await session.scalar(
                    select(func.count()).where(Ticket.tenant_id == principal.tenant_id)
                )
                or 0
            )
            run.linked = (
                await session.scalar(
                    select(func.count()).where(
                        Ticket.tenant_id == principal.tenant_id, Ticket.order_id.is_not(None)
                    )
                )
                or 0
            )
    finally:
        await hub.stop()
    return run


def parts_alone(count: int) -> tuple[list[float], list[float]]:
    """Milliseconds per message of language detection and of classification alone."""
    texts = held_out_texts()[:count]
    classifier = offline_classifier()
    classifier.train()
    detect_language("warm up")
    languages, intents = [], []
    for text in texts:
        began = time.perf_counter()
        detect_language(text)
        languages.append((time.perf_counter() - began) * 1000)
        began = time.perf_counter()
        classifier.classify_text(text)
        intents.append((time.perf_counter() - began) * 1000)
    return languages, intents


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="run one backend only")
    parser.add_argument("--messages", type=int, default=1500, help="messages per run (1500)")
    parser.add_argument("--orders", type=int, default=300, help="orders of the shop (300)")
    parser.add_argument("--concurrency", type=int, default=8, help="messages in flight (8)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="admin connection used to create/drop the bench database",
    )
    args = parser.parse_args(argv)
    if min(args.messages, args.orders, args.concurrency) < 1:
        parser.error("--messages, --orders and --concurrency must be >= 1")
    return args


def quality_table() -> Table:
    report = evaluate()
    table = Table(title="Intent classifier, held-out split (by scenario)")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("macro-F1", f"{report.macro_f1:.3f}")
    table.add_row("accuracy", f"{report.accuracy:.3f}")
    table.add_row("trained on / training time", f"{report.trained_on} / {report.training_s:.1f} s")
    for language in report.languages:
        table.add_row(f"accuracy {language.language}", f"{language.accuracy:.3f}")
    return table


def throughput_table(runs: list[Run], languages: list[float], intents: list[float]) -> Table:
    table = Table(title="Receive = link + detect language + classify + route + SLA + draft")
    table.add_column("figure")
    for run in runs:
        table.add_column(run.backend, justify="right")
    rows: list[tuple[str, Any]] = [
        (
            "one at a time: messages/s",
            lambda r: f"{r.per_second(len(r.sequential_ms), r.sequential_s):.0f}",
        ),
        ("one at a time: p50 ms", lambda r: f"{statistics.median(r.sequential_ms):.1f}"),
        ("one at a time: p99 ms", lambda r: f"{percentile(r.sequential_ms, 0.99):.1f}"),
        (
            "concurrent: messages/s",
            lambda r: f"{r.per_second(r.concurrent_count, r.concurrent_s):.0f}",
        ),
        ("tickets / linked to an order", lambda r: f"{r.tickets} / {r.linked}"),
    ]
    for label, value in rows:
        table.add_row(label, *(value(run) for run in runs))
    table.add_row(
        "alone: detect language p50 / p99 ms",
        *[f"{statistics.median(languages):.2f} / {percentile(languages, 0.99):.2f}"] * len(runs),
    )
    table.add_row(
        "alone: classify p50 / p99 ms",
        *[f"{statistics.median(intents):.2f} / {percentile(intents, 0.99):.2f}"] * len(runs),
    )
    return table


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load = " ".join(f"{n:.2f}" for n in os.getloadavg())
    console.print(quality_table())
    languages, intents = parts_alone(500)
    versions: dict[str, str] = {}
    runs: list[Run] = []
    failures: list[str] = []
    for backend in ("sqlite", "postgres"):
        if args.only not in (None, backend):
            continue
        try:
            if backend == "sqlite":
                with tempfile.TemporaryDirectory() as workdir:
                    url = f"sqlite+aiosqlite:///{Path(workdir) / 'bench.db'}"
                    runs.append(await run_backend("SQLite", url, args))
            else:
                name = f"bench_helpdesk_{os.getpid()}"
                async with scratch_postgres(args.postgres_url, name, versions) as url:
                    dsn = url.set(drivername="postgresql+asyncpg").render_as_string(
                        hide_password=False
                    )
                    runs.append(await run_backend("PostgreSQL", dsn, args))
        except Exception as exc:
            failures.append(f"{backend}: {type(exc).__name__}: {exc}")
            console.print_exception(max_frames=5)
    if runs:
        console.print(throughput_table(runs, languages, intents))
    console.print(machine_note(versions, where="in-process, database on loopback", load=load))
    for failure in failures:
        console.print(f"[red]FAILED {failure}[/]")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
