"""Webhooks benchmark: deliveries/s and commit-to-arrival latency of outbound webhooks,
beside a bare httpx client posting the same signed payloads to the same receivers.

    producer transaction (outbox) -> commit -> relay -> bus -> fan-out consumer
    transaction (message + delivery rows) -> commit -> sender claims -> POST -> receiver

Ten receivers listen on their own ports in a separate process (a minimal asyncio HTTP/1.1
server each, so that they cost little next to what is measured). Ten endpoints, one per
receiver, each subscribed to one of ten event types; the producer emits the ten types in
turn, so every event is one delivery and the receivers share the load evenly.

Runs, after a warm-up:

- paced 100/s (open loop: each producer transaction commits the events due by then,
  every 10 ms): deliveries/s achieved and commit-to-arrival p50/p99.
- capacity: a backlog of ``--backlog`` events is committed at once; deliveries/s from the
  first arrival to the last, against the bare client posting the same signed payloads
  with the same number of requests in flight per receiver (``--in-flight``). Target:
  at least 0.5x the bare client.
- ``--pairs`` times, in turn: paced 500/s (target: p99 <= 1 s), then the fault run: paced
  500/s while one receiver answers 503 for ``--fault-s`` seconds. The other receivers'
  p99 over all fault runs against their p99 over all no-fault runs (target: within
  1.2x); in turn and pooled, because one run's p99 moves by a fifth from run to run on a
  shared machine. The backlog must drain with nothing missing. Retries wait 5, 5, 10,
  20 s here (``--schedule``): the production schedule's first step, then short enough to
  drain within the run (production goes on 5 min, 30 min, 2 h...). Printed besides: the
  others' p99 per second of each 500/s run, and the failed receiver's arrivals per second
  (its pause, then its ramp-up).

The hub is one process like ``channelhub serve`` (relay, consumers and sender in one event
loop) on a temp SQLite file, or with ``--postgres URL`` on a scratch PostgreSQL database.
Exits 1 if an event did not arrive at its receiver, or a target was missed.

    .venv/bin/python -m bench.webhooks [--seconds 10] [--backlog 5000] [--fault-s 5]
                                       [--pairs 3] [--schedule 5,5,10,20] [--in-flight 8]
                                       [--postgres postgresql://127.0.0.1/test]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from cryptography.fernet import Fernet
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from bench.common import machine_note, scratch_postgres
from bench.server import free_port
from channelhub import migrations
from channelhub.hub import Hub
from channelhub.platform.auth import service as auth
from channelhub.platform.auth.principal import Principal
from channelhub.platform.config import Settings
from channelhub.platform.events.catalog import declare
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.events.outbox import PendingEvent, record_events
from channelhub.platform.observability import configure_logging
from channelhub.platform.webhooks import schemas
from channelhub.platform.webhooks import service as webhooks
from channelhub.platform.webhooks.queue import body_of
from channelhub.platform.webhooks.signing import Signer, new_secret
from channelhub.process.access import RESOURCES

console = Console()
RECEIVERS = 10
TICK_S = 0.01


class Tick(BaseModel):
    n: int


TYPES = [
    declare(
        f"bench.tick_{letter}",
        context="bench",
        description="Benchmark-only event.",
        data_model=Tick,
    )
    for letter in "abcdefghij"[:RECEIVERS]
]


# --- the receivers' process ----------------------------------------------------------------


@dataclass
class Sink:
    """One receiver: records (webhook-id, arrival time) of each 2xx it answers."""

    failing: bool = False
    arrivals: list[tuple[str, float]] = field(default_factory=list)
    refused: int = 0


async def serve_sink(
    sink: Sink, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            _, path, _ = lines[0].split(" ", 2)
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            status, answer = b"200 OK", b"ok"
            if path.startswith("/control"):
                command = json.loads(body or b"{}")
                if "failing" in command:
                    sink.failing = bool(command["failing"])
                answer = orjson.dumps({"arrivals": sink.arrivals, "refused": sink.refused})
                if command.get("reset"):
                    sink.arrivals, sink.refused = [], 0
            elif sink.failing:
                sink.refused += 1
                status, answer = b"503 Service Unavailable", b"down"
            else:
                sink.arrivals.append((headers["webhook-id"], time.time()))
            writer.write(
                b"HTTP/1.1 " + status + b"\r\ncontent-length: " + str(len(answer)).encode()
                + b"\r\ncontent-type: text/plain\r\n\r\n" + answer
            )  # fmt: skip
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def run_sinks(ports: Sequence[int]) -> None:
    servers = []
    for port in ports:
        sink = Sink()
        servers.append(
            await asyncio.start_server(
                lambda r, w, s=sink: serve_sink(s, r, w), "127.0.0.1", port, backlog=512
            )
        )
    print("ready", flush=True)
    await asyncio.Event().wait()


@contextlib.asynccontextmanager
async def sinks_process(ports: Sequence[int]) -> AsyncIterator[None]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.webhooks", "--sinks", ",".join(map(str, ports)),
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    await asyncio.wait_for(process.stdout.readline(), 10)
    try:
        yield
    finally:
        process.kill()
        await process.wait()


async def control(client: httpx.AsyncClient, url: str, **command: Any) -> dict[str, Any]:
    response = await client.post(f"{url}/control", json=command)
    answer: dict[str, Any] = response.json()
    return answer


# --- producing events ----------------------------------------------------------------------


@dataclass
class Produced:
    committed: dict[str, float] = field(default_factory=dict)
    """Event id -> wall time just after its transaction committed."""
    receiver_of: dict[str, int] = field(default_factory=dict)


async def produce(
    hub: Hub, tenant_id: str, produced: Produced, *, rate: float, seconds: float
) -> None:
    """Every TICK_S, commit the events due by now (open loop: late ticks catch up)."""
    total = int(rate * seconds)
    start = time.perf_counter()
    n = 0
    while n < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        if due > n:
            await commit(hub, tenant_id, produced, range(n, due))
            n = due
        await asyncio.sleep(TICK_S)


async def commit(hub: Hub, tenant_id: str, produced: Produced, numbers: range) -> None:
    events = [
        PendingEvent(TYPES[k % RECEIVERS], tenant_id, f"tick_{k % 97}", Tick(n=k)) for k in numbers
    ]
    async with hub.db.transaction() as session:
        envelopes = await record_events(session, events)
    now = time.time()
    for k, envelope in zip(numbers, envelopes, strict=True):
        produced.committed[envelope.id] = now
        produced.receiver_of[envelope.id] = k % RECEIVERS


# --- a run ---------------------------------------------------------------------------------


@dataclass
class Run:
    name: str
    events: int
    seconds: float
    latencies_ms: list[float]
    missing: int
    others_ms: list[float] = field(default_factory=list)
    """Latencies of the receivers other than receiver 1 (the one the fault run fails)."""
    others_by_second: list[float] = field(default_factory=list)
    """Their p99 (ms) per second of commit."""
    first_by_second: list[int] = field(default_factory=list)
    """Arrivals at receiver 1 per second of the run."""
    bare_rate: float = math.nan

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else math.nan

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p)


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return math.nan
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


async def collect(
    client: httpx.AsyncClient,
    urls: Sequence[str],
    produced: Produced,
    *,
    timeout_s: float,
) -> dict[str, float]:
    """Wait until every produced event arrived at its receiver (or the timeout); returns
    event id -> first arrival time, and resets the receivers."""
    deadline = time.monotonic() + timeout_s
    arrived: dict[str, float] = {}
    while True:
        arrived = {}
        for url in urls:
            for event_id, at in (await control(client, url))["arrivals"]:
                arrived.setdefault(event_id, at)
        if all(i in arrived for i in produced.committed) or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.25)
    for url in urls:
        await control(client, url, reset=True)
    return arrived


def measured(name: str, produced: Produced, arrived: dict[str, float], skip: int = -1) -> Run:
    """``skip``: a receiver whose latencies the run's row leaves out."""
    got = [i for i in produced.committed if i in arrived]
    first = min(produced.committed.values())
    last = max((arrived[i] for i in got), default=first)

    def latency(i: str) -> float:
        return (arrived[i] - produced.committed[i]) * 1000

    others = [i for i in got if produced.receiver_of[i] != 0]
    by_second: dict[int, list[float]] = {}
    for i in others:
        by_second.setdefault(int(produced.committed[i] - first), []).append(latency(i))
    first_arrivals = [int(arrived[i] - first) for i in got if produced.receiver_of[i] == 0]
    return Run(
        name=name,
        events=len(got),
        seconds=last - first,
        latencies_ms=[latency(i) for i in got if produced.receiver_of[i] != skip],
        missing=len(produced.committed) - len(got),
        others_ms=[latency(i) for i in others],
        others_by_second=[percentile(by_second[s], 99) for s in sorted(by_second)],
        first_by_second=[
            first_arrivals.count(s) for s in range(max(first_arrivals, default=-1) + 1)
        ],
    )


async def bare_client(
    urls: Sequence[str], bodies: Sequence[bytes], ids: Sequence[str], in_flight: int
) -> float:
    """Deliveries/s of plain httpx clients (one per receiver, as the hub has one per
    endpoint): sign each payload and POST it, ``in_flight`` at a time per receiver."""
    signer = Signer([new_secret()])
    limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
    clients = [httpx.AsyncClient(limits=limits, timeout=15) for _ in urls]
    try:

        async def lane(receiver: int, lane_no: int) -> None:
            for k in range(receiver + lane_no * RECEIVERS, len(bodies), RECEIVERS * in_flight):
                headers = signer.headers(ids[k], datetime.now(UTC), bodies[k])
                response = await clients[receiver].post(
                    f"{urls[receiver]}/hooks",
                    content=bodies[k],
                    headers={"content-type": "application/json", **headers},
                )
                response.raise_for_status()

        start = time.perf_counter()
        await asyncio.gather(*(lane(r, n) for r in range(RECEIVERS) for n in range(in_flight)))
        return len(bodies) / (time.perf_counter() - start)
    finally:
        for client in clients:
            await client.aclose()


async def bench(settings: Settings, args: argparse.Namespace) -> list[Run]:
    ports = [free_port() for _ in range(RECEIVERS)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    runs: list[Run] = []
    async with sinks_process(ports), httpx.AsyncClient(timeout=10) as control_client:
        hub = Hub(settings)
        await migrations.upgrade(hub.db.engine)
        async with hub.db.transaction() as session:
            tenant = await auth.create_tenant(session, name="Bench", slug="bench")
            await auth.issue_key(
                session, tenant.id, name="admin", scopes=["admin"], resources=RESOURCES
            )
        principal = Principal.system(tenant.id, name="bench")
        async with hub.db.transaction() as session:
            await webhooks.save_settings(
                session, principal, schemas.WebhookSettings(allow_private_targets=True)
            )
            for url, event_type in zip(urls, TYPES, strict=True):
                await webhooks.create_endpoint(
                    session,
                    principal,
                    schemas.EndpointCreate(url=f"{url}/hooks", event_types=[event_type.name]),
                    hub.secret_box,
                )
        await hub.start()
        gc.collect()
        gc.freeze()  # as `channelhub serve` does once started (cli/common.freeze_startup_heap)
        try:
            warm = Produced()
            await produce(hub, tenant.id, warm, rate=100, seconds=2)
            await collect(control_client, urls, warm, timeout_s=30)

            produced = Produced()
            await produce(hub, tenant.id, produced, rate=100, seconds=args.seconds)
            arrived = await collect(control_client, urls, produced, timeout_s=60)
            runs.append(measured("paced 100/s", produced, arrived))

            produced = Produced()
            await commit(hub, tenant.id, produced, range(args.backlog))
            arrived = await collect(control_client, urls, produced, timeout_s=120)
            capacity = measured("capacity (backlog)", produced, arrived)
            capacity.seconds = max(arrived.values()) - min(arrived.values()) if arrived else 0
            envelopes = [
                EventEnvelope(
                    id=f"evt_bare{k:020d}",
                    source="/bench",
                    type=TYPES[k % RECEIVERS].name,
                    subject="bare",
                    time=datetime.now(UTC),
                    tenant=tenant.id,
                    sequence=k + 1,
                    data={"n": k},
                )
                for k in range(args.backlog)
            ]
            bodies = [body_of(e) for e in envelopes]
            capacity.bare_rate = await bare_client(
                urls, bodies, [e.id for e in envelopes], args.in_flight
            )
            await collect_nothing(control_client, urls)
            runs.append(capacity)

            for pair in range(1, args.pairs + 1):
                produced = Produced()
                await produce(hub, tenant.id, produced, rate=500, seconds=args.seconds)
                arrived = await collect(control_client, urls, produced, timeout_s=60)
                runs.append(measured(f"paced 500/s #{pair}", produced, arrived))

                produced = Produced()
                await control(control_client, urls[0], failing=True)
                faulty = asyncio.create_task(
                    produce(hub, tenant.id, produced, rate=500, seconds=args.seconds)
                )
                await asyncio.sleep(args.fault_s)
                await control(control_client, urls[0], failing=False)
                await faulty
                arrived = await collect(control_client, urls, produced, timeout_s=90)
                name = f"500/s, receiver 1 down {args.fault_s:g} s #{pair}"
                runs.append(measured(name, produced, arrived, skip=0))
        finally:
            await hub.stop()
    return runs


async def collect_nothing(client: httpx.AsyncClient, urls: Sequence[str]) -> None:
    for url in urls:
        await control(client, url, reset=True)


LEGEND = """\
latency: producer commit -> arrival at the receiver (ms). capacity: deliveries/s from the
first arrival to the last, against the bare httpx client posting the same signed payloads.
fault: latency of the nine receivers that stayed up; its rate runs to the last arrival of
the drained backlog."""


def render(runs: Sequence[Run], backend: str) -> Table:
    table = Table(title=f"Outbound webhooks, {backend}, 10 receivers")
    for column in ("run", "events", "deliveries/s", "p50 ms", "p99 ms", "missing", "vs bare"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for run in runs:
        versus = (
            f"{run.rate / run.bare_rate:.2f}x of {run.bare_rate:,.0f}/s"
            if not math.isnan(run.bare_rate)
            else ""
        )
        table.add_row(
            run.name,
            f"{run.events:,}",
            f"{run.rate:,.0f}",
            f"{run.percentile(50):,.0f}",
            f"{run.percentile(99):,.0f}",
            str(run.missing),
            versus,
        )
    return table


def pooled(runs: Sequence[Run], p: float, *, others: bool = False) -> float:
    return percentile(
        [x for run in runs for x in (run.others_ms if others else run.latencies_ms)], p
    )


def verdicts(runs: Sequence[Run]) -> list[tuple[bool, str]]:
    paced = [run for run in runs if run.name.startswith("paced 500/s")]
    faults = [run for run in runs if "down" in run.name]
    capacity = next(run for run in runs if run.name.startswith("capacity"))
    ratio = pooled(faults, 99, others=True) / pooled(paced, 99, others=True)
    pairs = ", ".join(
        f"{percentile(f.others_ms, 99) / percentile(n.others_ms, 99):.2f}x"
        for n, f in zip(paced, faults, strict=True)
    )
    return [
        (pooled(paced, 99) <= 1000, f"p99 at 500/s: {pooled(paced, 99):,.0f} ms (<= 1 s)"),
        (
            capacity.rate >= 0.5 * capacity.bare_rate,
            f"capacity {capacity.rate / capacity.bare_rate:.2f}x the bare client (>= 0.5x)",
        ),
        (
            ratio <= 1.2,
            f"others' p99 with one receiver down: {ratio:.2f}x (<= 1.2x; each pair: {pairs})",
        ),
        (
            all(run.missing == 0 for run in runs),
            f"missing deliveries: {sum(run.missing for run in runs)}",
        ),
    ]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10, help="Length of each paced run.")
    parser.add_argument("--backlog", type=int, default=5000, help="Events of the capacity run.")
    parser.add_argument("--fault-s", type=float, default=5, help="How long receiver 1 is down.")
    parser.add_argument("--in-flight", type=int, default=8, help="Requests per receiver.")
    parser.add_argument(
        "--pairs", type=int, default=3, help="No-fault and fault runs at 500/s, in turn."
    )
    parser.add_argument(
        "--schedule", default="5,5,10,20", help="Retry waits in seconds, comma-separated."
    )
    parser.add_argument("--postgres", help="Admin URL of a PostgreSQL server to use instead.")
    parser.add_argument("--sinks", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    return args


@contextlib.asynccontextmanager
async def database(args: argparse.Namespace, versions: dict[str, str]) -> AsyncIterator[str]:
    if args.postgres:
        name = f"bench_webhooks_{secrets.token_hex(4)}"
        async with scratch_postgres(args.postgres, name, versions) as url:
            yield url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
        return
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sinks:
        await run_sinks([int(p) for p in args.sinks.split(",")])
        return 0
    configure_logging(Settings(log_level="warning"))
    versions: dict[str, str] = {}
    load = f"{os.getloadavg()[0]:.2f}"
    async with database(args, versions) as url:
        settings = Settings(
            database_url=url,
            encryption_key=Fernet.generate_key().decode(),
            webhook_retry_schedule_s=[float(s) for s in args.schedule.split(",")],
            webhook_max_in_flight=args.in_flight,
            relay_poll_interval_s=0.05,
            log_level="warning",
        )
        runs = await bench(settings, args)
    backend = "PostgreSQL" if args.postgres else "SQLite"
    console.print(render(runs, backend))
    console.print(LEGEND)
    for run in runs:
        if "500/s" in run.name:
            figures = " ".join(f"{p:,.0f}" for p in run.others_by_second)
            console.print(f"{run.name}: receivers 2-10, p99 ms by second of commit: {figures}")
        if "down" in run.name:
            figures = " ".join(map(str, run.first_by_second))
            console.print(f"{run.name}: receiver 1, arrivals by second: {figures}")
    failed = False
    for ok, text in verdicts(runs):
        failed |= not ok
        console.print(f"[{'green' if ok else 'red'}]{'met' if ok else 'MISSED'}[/]: {text}")
    console.print(
        machine_note(versions, where="hub, receivers and producer on loopback", load=load)
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
