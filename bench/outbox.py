"""Outbox benchmark: events/s and commit-to-handle latency through the whole event path.

    producer transaction (rows + outbox) -> commit -> relay claims -> bus -> consumer
    transaction (processed_events + handler) -> commit

Measured on (1) SQLite + the in-process bus and (2) PostgreSQL + NATS JetStream, each
backend with three runs after a short warm-up:

- paced: producers offer a fixed total rate (``--rate``, open loop), one event per
  transaction. Its latency is the path's own latency, not a backlog.
- saturated, 1 event/tx and ``--batch`` events/tx: producers commit back to back. Its
  throughput is the capacity of the path; its latency is mostly time spent queued
  behind the backlog the producers build, so it grows with ``--events``.

Producers, relay and consumer share one process and event loop (like ``channelhub serve``).
Latency runs from just after the producer's ``db.transaction()`` block returns to just
after the consumer's transaction committed (a ``Database.on_commit`` callback). Throughput
is handled events divided by the time from the first producer transaction's start to the
last handle.

Every run uses a fresh database (a temp SQLite file; ``CREATE DATABASE bench_outbox_<hex>``
on PostgreSQL, dropped afterwards) and a fresh JetStream stream, deleted afterwards.
Exits 1 if any event was not handled exactly once (or a backend failed).

    .venv/bin/python -m bench.outbox [--events 3000] [--producers 8] [--batch 10]
                                     [--rate 100] [--paced-events 500]
                                     [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.errors import NoServersError
from nats.js.errors import NotFoundError
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bench.common import machine_note, scratch_postgres
from channelhub import migrations
from channelhub.hub import Hub
from channelhub.platform.auth import service as auth
from channelhub.platform.config import Settings
from channelhub.platform.db.database import Database
from channelhub.platform.errors import UnavailableError
from channelhub.platform.events.catalog import declare
from channelhub.platform.events.consumers import ConsumerRegistry
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.models import OutboxEvent, ProcessedEvent
from channelhub.platform.events.outbox import record_event
from channelhub.platform.observability import configure_logging

CONSUMER = "bench"
WARMUP_EVENTS = 200
_HANDLED_IDS = "bench.handled_ids"
"""``session.info`` key: event ids the consumer handled in this transaction."""

UNREACHABLE = (OSError, NoServersError, UnavailableError)
"""Connection failures (refused, timed out): reported in one line, without a traceback."""

LEGEND = (
    "commit rate: events / time the producers took to commit them. "
    "throughput: handled events / (first producer transaction start -> last consumer commit). "
    "latency: producer's commit returned -> consumer's transaction committed. "
    "Saturated latency is mostly queueing behind the producers' backlog (it grows with "
    "--events); the paced run shows the path's own latency."
)

console = Console(width=None if sys.stdout.isatty() else 160)


class Ticked(BaseModel):
    n: int


TICKED = declare(
    "bench.ticked",
    context="bench",
    description="Benchmark-only event: one tick of a producer.",
    data_model=Ticked,
)


class Tracker:
    """Commit and handle times per event id, and how often each event was handled."""

    def __init__(self) -> None:
        self.reset(0)

    def reset(self, expected: int) -> None:
        self.expected = expected
        self.committed: dict[str, float] = {}
        self.handled: dict[str, float] = {}
        self.invocations: Counter[str] = Counter()
        self.handle_commits: Counter[str] = Counter()
        self.done = asyncio.Event()

    async def handle(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        """The consumer: runs inside the consumer's transaction."""
        self.invocations[envelope.id] += 1
        session.info.setdefault(_HANDLED_IDS, []).append(envelope.id)

    def on_commit(self, session: AsyncSession) -> None:
        """After every committed write: stamp the events its consumer transaction handled."""
        ids = session.info.pop(_HANDLED_IDS, None)
        if not ids:
            return
        now = time.perf_counter()
        for event_id in ids:
            self.handle_commits[event_id] += 1
            self.handled.setdefault(event_id, now)
        if len(self.handled) >= self.expected:
            self.done.set()


@dataclass
class Result:
    backend: str
    per_tx: int
    rate: float | None
    events: int
    producers: int
    transactions: int
    commit_s: float
    total_s: float
    latencies_ms: list[float]
    missing: int
    duplicates: int
    strays: int
    db_processed_ok: bool
    db_unpublished: int
    timed_out: bool
    notes: list[str] = field(default_factory=list)

    @property
    def exactly_once(self) -> bool:
        return (
            self.missing == 0
            and self.duplicates == 0
            and self.strays == 0
            and self.db_processed_ok
            and self.db_unpublished == 0
        )

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in ms."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def transaction_sizes(events: int, per_tx: int, producers: int) -> list[list[int]]:
    """Split ``events`` into transactions of ``per_tx`` events, dealt out to the producers."""
    sizes = [per_tx] * (events // per_tx)
    if events % per_tx:
        sizes.append(events % per_tx)
    return [sizes[p::producers] for p in range(producers)]


async def produce(
    db: Database,
    tracker: Tracker,
    *,
    tenant_id: str,
    subject: str,
    sizes: Sequence[int],
    due: Sequence[float] | None = None,
) -> None:
    """Commit one transaction per entry of ``sizes``: back to back, or each at its ``due``
    time (``time.perf_counter()`` value; late transactions start at once, never skipped)."""
    n = 0
    for k, size in enumerate(sizes):
        if due is not None and (wait := due[k] - time.perf_counter()) > 0:
            await asyncio.sleep(wait)
        ids: list[str] = []
        async with db.transaction() as session:
            for _ in range(size):
                envelope = await record_event(
                    session, TICKED, tenant_id=tenant_id, subject=subject, data=Ticked(n=n)
                )
                ids.append(envelope.id)
                n += 1
        committed = time.perf_counter()
        for event_id in ids:
            tracker.committed[event_id] = committed


async def wait_unpublished(db: Database, timeout_s: float = 5.0) -> int:
    """Outbox rows not yet marked published (the relay marks after the bus acknowledged,
    which on JetStream can be after the consumer handled them)."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with db.reader() as session:
            count = int(
                await session.scalar(
                    select(func.count())
                    .select_from(OutboxEvent)
                    .where(OutboxEvent.published_at.is_(None))
                )
                or 0
            )
        if count == 0 or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.05)


async def processed_rows(db: Database) -> int:
    async with db.reader() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(ProcessedEvent)
            .where(ProcessedEvent.consumer == CONSUMER)
        )
    return int(count or 0)


async def run_scenario(
    hub: Hub,
    tracker: Tracker,
    *,
    backend: str,
    tenant_id: str,
    events: int,
    producers: int,
    per_tx: int,
    timeout_s: float,
    processed_before: int,
    rate: float | None = None,
) -> Result:
    """Saturated (``rate=None``: every producer commits back to back) or paced (transactions
    start on a fixed schedule offering ``rate`` events/s in total, open loop)."""
    plan = transaction_sizes(events, per_tx, producers)
    tracker.reset(events)
    started = time.perf_counter()
    schedules: list[list[float] | None] = [None] * producers
    if rate is not None:
        interval = per_tx / rate
        schedules = [
            [started + (p + k * producers) * interval for k in range(len(sizes))]
            for p, sizes in enumerate(plan)
        ]
    await asyncio.gather(
        *(
            produce(
                hub.db,
                tracker,
                tenant_id=tenant_id,
                subject=f"bench-{p}",
                sizes=sizes,
                due=schedules[p],
            )
            for p, sizes in enumerate(plan)
        )
    )
    commit_s = time.perf_counter() - started
    notes: list[str] = []
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tracker.done.wait(), timeout_s)
    timed_out = not tracker.done.is_set()
    if timed_out:
        notes.append(f"consumer did not catch up within {timeout_s:g}s")
    await asyncio.sleep(0.2)  # let any duplicate delivery show itself
    last_handle = max(tracker.handled.values(), default=started)
    committed, handled = tracker.committed, tracker.handled
    latencies = [(handled[i] - committed[i]) * 1000 for i in committed if i in handled]
    if latencies and min(latencies) < 0:
        notes.append("some events were handled before their producer resumed after commit")
    duplicates = sum(
        1 for i in committed if tracker.invocations[i] > 1 or tracker.handle_commits[i] > 1
    )
    processed = await processed_rows(hub.db)
    return Result(
        backend=backend,
        per_tx=per_tx,
        rate=rate,
        events=events,
        producers=producers,
        transactions=sum(len(sizes) for sizes in plan),
        commit_s=commit_s,
        total_s=last_handle - started,
        latencies_ms=latencies,
        missing=sum(1 for i in committed if i not in handled),
        duplicates=duplicates,
        strays=sum(1 for i in handled if i not in committed),
        db_processed_ok=processed - processed_before == events,
        db_unpublished=await wait_unpublished(hub.db),
        timed_out=timed_out,
        notes=notes,
    )


async def bench_backend(
    backend: str, settings: Settings, args: argparse.Namespace, token: str
) -> list[Result]:
    tracker = Tracker()
    registry = ConsumerRegistry()
    registry.register(CONSUMER, tracker.handle, types=("bench.*",))
    hub = Hub(settings, consumers=registry)
    hub.db.on_commit(tracker.on_commit)
    results: list[Result] = []
    try:
        await migrations.upgrade(hub.db.engine)
        async with hub.db.transaction() as session:
            tenant = await auth.create_tenant(session, name="Bench", slug=f"bench-{token}")
        await hub.start()
        # start() may leave an unreachable bus to a background retry; fail fast instead.
        await hub.bus.ping()
        # (events, events per transaction, offered rate or None for saturated)
        runs: list[tuple[int, int, float | None]] = [(min(WARMUP_EVENTS, args.events), 1, None)]
        if args.paced_events:
            runs.append((args.paced_events, 1, args.rate))
        runs += [(args.events, per_tx, None) for per_tx in sorted({1, args.batch})]
        processed = 0
        for index, (events, per_tx, rate) in enumerate(runs):
            warm_up = index == 0
            if not warm_up:
                how = f"paced at {rate:g} events/s" if rate else "saturated"
                console.print(f"[dim]{backend}: {events} events, {per_tx}/tx, {how}...[/]")
            result = await run_scenario(
                hub,
                tracker,
                backend=backend,
                tenant_id=tenant.id,
                events=events,
                producers=args.producers,
                per_tx=per_tx,
                rate=rate,
                timeout_s=args.timeout,
                processed_before=processed,
            )
            processed += result.events
            if warm_up:
                # Opens pool connections and the JetStream consumer; reported only if wrong.
                if result.exactly_once:
                    continue
                result.notes.append("warm-up run")
            results.append(result)
            if result.timed_out:
                # Its stragglers would be counted against the next run.
                result.notes.append(f"remaining {backend} runs skipped")
                break
    finally:
        await hub.stop()
    return results


@contextlib.asynccontextmanager
async def sqlite_settings() -> AsyncIterator[Settings]:
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as tmp:
        path = Path(tmp) / "bench.db"
        yield Settings(database_url=f"sqlite+aiosqlite:///{path}", bus_url="memory://")


@contextlib.asynccontextmanager
async def postgres_settings(
    admin_url: str, nats_url: str, token: str, versions: dict[str, str]
) -> AsyncIterator[Settings]:
    """A fresh PostgreSQL database and JetStream stream, removed afterwards."""
    stream = f"BENCH_OUTBOX_{token.upper()}"
    nc = None
    async with scratch_postgres(admin_url, f"bench_outbox_{token}", versions) as url:
        try:
            nc = await nats.connect(nats_url, connect_timeout=5, max_reconnect_attempts=1)
            version = nc.connected_server_version
            versions["NATS server"] = f"{version.major}.{version.minor}.{version.patch}"
            yield Settings(
                database_url=url.set(drivername="postgresql+asyncpg").render_as_string(
                    hide_password=False
                ),
                bus_url=nats_url,
                nats_stream=stream,
                nats_subject_prefix=f"bench_outbox_{token}",
            )
        finally:
            if nc is not None:
                with contextlib.suppress(NotFoundError):
                    await nc.jetstream().delete_stream(stream)
                await nc.close()


def fmt(value: float, digits: int = 1) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def render(results: list[Result]) -> Table:
    table = Table(title="Outbox: producer commit -> relay -> bus -> consumer commit")
    table.add_column("", style="bold", no_wrap=True)
    for r in results:
        load = f"paced {r.rate:g} ev/s" if r.rate else "saturated"
        table.add_column(f"{r.backend}\n{load}\n{r.per_tx} event/tx", justify="right")

    def row(label: str, values: list[str]) -> None:
        table.add_row(label, *values)

    row("events", [f"{r.events:,}" for r in results])
    row("producers x transactions", [f"{r.producers} x {r.transactions:,}" for r in results])
    row("commit rate (events/s)", [fmt(r.events / r.commit_s, 0) for r in results])
    row(
        "[green]throughput (events/s)[/]",
        [f"[green]{fmt(len(r.latencies_ms) / r.total_s, 0)}[/]" for r in results],
    )
    row("wall time (s)", [fmt(r.total_s, 2) for r in results])
    row("[cyan]latency p50 (ms)[/]", [f"[cyan]{fmt(r.percentile(50))}[/]" for r in results])
    row("[cyan]latency p99 (ms)[/]", [f"[cyan]{fmt(r.percentile(99))}[/]" for r in results])
    row("latency max (ms)", [fmt(max(r.latencies_ms, default=math.nan)) for r in results])

    def once(r: Result) -> str:
        if r.exactly_once:
            return f"[green]yes ({len(r.latencies_ms):,}/{r.events:,})[/]"
        problems = [
            f"{r.missing} missing" if r.missing else "",
            f"{r.duplicates} duplicated" if r.duplicates else "",
            f"{r.strays} unknown" if r.strays else "",
            "" if r.db_processed_ok else "processed_events mismatch",
            f"{r.db_unpublished} unpublished" if r.db_unpublished else "",
        ]
        return "[red]NO: " + ", ".join(p for p in problems if p) + "[/]"

    row("handled exactly once", [once(r) for r in results])
    if any(r.notes for r in results):
        row("notes", ["; ".join(r.notes) for r in results])
    return table


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=3000, help="events per saturated run (3000)")
    parser.add_argument("--producers", type=int, default=8, help="concurrent producers (8)")
    parser.add_argument(
        "--batch",
        type=int,
        default=10,
        help="events per transaction of the batched variant; 1 runs only 1 event/tx (10)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="offered load of the paced latency run, events/s over all producers (100)",
    )
    parser.add_argument(
        "--paced-events",
        type=int,
        default=500,
        help="events of the paced latency run; 0 skips it (500)",
    )
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="run one backend only")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="max wait for the consumer to drain (s)"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="admin connection used to create/drop the bench database",
    )
    parser.add_argument(
        "--nats-url", default=os.environ.get("BENCH_NATS_URL", "nats://127.0.0.1:4222")
    )
    args = parser.parse_args(argv)
    if min(args.events, args.producers, args.batch) < 1 or args.paced_events < 0:
        parser.error("--events, --producers and --batch must be >= 1, --paced-events >= 0")
    if args.rate <= 0:
        parser.error("--rate must be positive")
    return args


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(Settings(log_level="warning"))
    token = secrets.token_hex(4)
    versions: dict[str, str] = {}
    results: list[Result] = []
    failures: list[str] = []
    backends = [b for b in ("sqlite", "postgres") if args.only in (None, b)]
    for backend in backends:
        try:
            if backend == "sqlite":
                async with sqlite_settings() as settings:
                    results += await bench_backend("SQLite + in-process", settings, args, token)
            else:
                async with postgres_settings(
                    args.postgres_url, args.nats_url, token, versions
                ) as settings:
                    results += await bench_backend("PostgreSQL + JetStream", settings, args, token)
        except UNREACHABLE as exc:
            failures.append(f"{backend}: service unreachable: {type(exc).__name__}: {exc}")
        except Exception as exc:
            failures.append(f"{backend}: {type(exc).__name__}: {exc}")
            console.print_exception(max_frames=5)
    console.print()
    if results:
        console.print(render(results))
        console.print(LEGEND)
    console.print(machine_note(versions, where="all services on loopback"))
    for failure in failures:
        console.print(f"[red]FAILED {failure}[/]")
    broken = [r for r in results if not r.exactly_once]
    if broken:
        console.print(
            f"[red]CORRECTNESS: {len(broken)} run(s) did not handle every event exactly once[/]"
        )
    elif results:
        console.print("[green]Correctness: every event was handled exactly once.[/]")
    return 1 if failures or broken else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
