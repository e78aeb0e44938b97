"""Ingest benchmark: signed Shopify webhooks through ``POST /hooks/{connection_id}``.

A real ``channelhub serve`` (in-process bus) on a fresh database, SQLite then PostgreSQL,
with one Shopify connection. Each delivery is an ``orders/create`` webhook as Shopify sends
it: the 9 KB order of ``tests/fixtures/systems/shopify/orders_create.json`` with its own
order id, number and customer, signed with the connection's secret
(``X-Shopify-Hmac-Sha256``) and carrying its own ``X-Shopify-Webhook-Id``. Applying one
is real work: the customer, the order and its two lines, a stock reservation, events.

Runs, per backend, in this order:

- paced no-op, paced ingest: an open loop offering ``--rate`` (1,000) requests a second
  for ``--duration`` (10) s over ``--connections`` (64) keep-alive connections. Request n
  is due at start + n / rate whatever happened to the ones before, and its latency runs
  from that due time to the last byte of its answer, so time spent waiting for a free
  connection counts. The no-op is the same request sent to the hook of a connection that
  does not exist: the same server, middleware, route and body, answered 404 from the
  hook's cache without verifying or storing anything.
- capacity: ``--connections`` senders back to back for ``--capacity-duration`` (3) s,
  the most each path sustains: the no-op; then ingest of the same deliveries under a
  topic channelhub stores and does not apply (``app/uninstalled``, to a second
  connection, parked at once), the ingest path alone, which the no-op target is about;
  and, after the paced ingest, ingest of orders while the server applies the backlog.
- crash: the paced ingest again for ``--crash-duration`` (4) s, with the backlog of the
  runs before still being applied (deliveries are applied from the inbox after they are
  acknowledged; while they keep arriving, applying takes at most a tenth of the server's
  time). At 40 % of the run the server is killed (SIGKILL), restarted on the same
  database, and every delivery that was not acknowledged is sent again with its webhook
  id (as Shopify retries), plus the last second of acknowledged ones (as a sender that
  lost the answers would).
- applied: the backlog is drained, which gives the rate of applying orders. Then every
  delivery of the whole run must have exactly one inbox record, processed; there must be
  one order per Shopify order; and TENT-1 / LAMP-1 must be reserved exactly 1 / 2 units
  per order.

The senders are a minimal HTTP/1.1 client on asyncio streams (httpx costs several times
more CPU per request, and client and server share the machine's cores). Exits 1 if a
backend failed or the exactly-once check failed; the targets are printed, not enforced.

    .venv/bin/python -m bench.ingest [--rate 1000] [--duration 10] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import math
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench.common import LOCATION, created, machine_note, open_channel, scratch_postgres
from bench.server import (
    CHANNELHUB,
    ROOT,
    Server,
    Store,
    api_server,
    cpu_seconds,
    kill_tree,
    migrate,
    stop,
)

TEMPLATE = ROOT / "tests" / "fixtures" / "systems" / "shopify" / "orders_create.json"
SECRET = "bench-shopify-webhook-secret"
NO_OP = "/hooks/con_bench_no_op"
"""The no-op: the hook of a connection that does not exist (answered 404 from the hook's
cache of connections, so without touching the database)."""
ORDER_ID = 777000000000001
"""Placeholder order id in the template (also inside its admin_graphql_api_id)."""
ORDER_NUMBER = 777000000000002
CUSTOMERS = 1_000
PLENTY = 1_000_000_000
WARM_UP_ORDERS = 200
STORED_ONLY_TOPIC = "app/uninstalled"
"""A Shopify topic channelhub does not apply: stored, then parked as unsupported."""
KILL_AT = 0.4
"""Share of the crash run after which the server is killed."""
RESEND_ROUNDS = 5
TARGET_P99_MS = 250.0
TARGET_RATIO = 0.5

console = Console(width=None if sys.stdout.isatty() else 180)


# --- what is sent ------------------------------------------------------------------------------


def order_template() -> bytes:
    """The Shopify order as JSON bytes, with placeholders where each delivery differs."""
    order = json.loads(TEMPLATE.read_text())
    order.update(
        id=ORDER_ID,
        admin_graphql_api_id=f"gid://shopify/Order/{ORDER_ID}",
        name=f"#{ORDER_NUMBER}",
        order_number=ORDER_NUMBER,
        number=ORDER_NUMBER,
        email="bench-customer@example.com",
        contact_email="bench-customer@example.com",
    )
    if isinstance(order.get("customer"), dict):
        order["customer"]["email"] = "bench-customer@example.com"
    return json.dumps(order).encode()


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    headers: Mapping[str, str]
    delivery: int | None = None
    """The order number of an ingest delivery (None: the no-op)."""


class Deliveries:
    """Shopify ``orders/create`` deliveries, numbered across the whole run: number n is
    always the same bytes and webhook id, so sending it again is a redelivery."""

    def __init__(self, connection_id: str, run_tag: str, topic: str = "orders/create") -> None:
        self.path = f"/hooks/{connection_id}"
        self.run_tag = run_tag
        self.topic = topic
        self.template = order_template()
        self.next_number = 1

    def take(self, count: int) -> range:
        numbers = range(self.next_number, self.next_number + count)
        self.next_number += count
        return numbers

    def endless(self) -> Iterator[int]:
        while True:
            yield from self.take(1)

    def request(self, n: int) -> Request:
        body = (
            self.template.replace(str(ORDER_ID).encode(), str(900_000_000_000 + n).encode())
            .replace(str(ORDER_NUMBER).encode(), str(n).encode())
            .replace(b"bench-customer@", f"customer-{n % CUSTOMERS}@".encode())
        )
        signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest())
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": self.topic,
            "X-Shopify-Hmac-Sha256": signature.decode(),
            "X-Shopify-Shop-Domain": "bench.myshopify.com",
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Webhook-Id": f"{self.run_tag}-{n}",
            "X-Shopify-Triggered-At": "2026-06-01T08:00:00.000000Z",
        }
        return Request(self.path, body, headers, n)

    def no_op(self, n: int) -> Request:
        """The same bytes, to the no-op: what the HTTP stack costs without the work."""
        request = self.request(n)
        return Request(NO_OP, request.body, request.headers)


# --- the senders -------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection, opened on first use and after a failure."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: Request) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        try:
            head = "".join(
                [
                    f"POST {request.path} HTTP/1.1\r\nHost: {self.host}\r\n",
                    f"Content-Length: {len(request.body)}\r\n",
                    *(f"{name}: {value}\r\n" for name, value in request.headers.items()),
                    "\r\n",
                ]
            )
            self.writer.write(head.encode() + request.body)
            status_line = await self.reader.readline()
            if not status_line:
                raise ConnectionResetError("the server closed the connection")
            status = int(status_line.split()[1])
            length, close = 0, False
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
                elif name == "transfer-encoding":
                    raise ValueError("chunked answers are not supported by this client")
            await self.reader.readexactly(length)
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Run:
    """What one run of requests got back."""

    label: str
    expected: int
    """The status that counts as answered (200 for ingest, 404 for the no-op)."""
    offered: float | None = None
    """Requests a second offered (None: senders back to back)."""
    answers: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)
    sent: list[int] = field(default_factory=list)
    started: float = math.nan
    finished: float = math.nan
    server_cpu: float = math.nan

    @property
    def ok(self) -> int:
        return self.answers[str(self.expected)]

    @property
    def per_s(self) -> float:
        seconds = self.finished - self.started
        return self.ok / seconds if seconds > 0 else math.nan

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the answered requests' latencies, in ms."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    def failures(self) -> str:
        return ", ".join(
            f"{k}: {v:,}" for k, v in sorted(self.answers.items()) if k != str(self.expected)
        )


class Senders:
    """A pool of connections to one server, and the two ways of sending."""

    def __init__(self, server: Server, connections: int) -> None:
        host, port = server.base_url.removeprefix("http://").split(":")
        self.pool: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(connections):
            self.pool.put_nowait(Connection(host, int(port)))
        self.connections = connections

    def close(self) -> None:
        while not self.pool.empty():
            self.pool.get_nowait().close()

    async def _send(self, run: Run, request: Request, due: float) -> None:
        connection = await self.pool.get()
        try:
            status = await connection.post(request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            run.answers[type(exc).__name__] += 1
            return
        finally:
            self.pool.put_nowait(connection)
        answered = time.perf_counter()
        run.finished = max(answered, run.finished) if not math.isnan(run.finished) else answered
        run.answers[str(status)] += 1
        if status == run.expected:
            run.latencies_ms.append((answered - due) * 1000)
            if request.delivery is not None:
                run.acked.add(request.delivery)

    async def paced(
        self, run: Run, requests: Sequence[int], make: Callable[[int], Request], rate: float
    ) -> Run:
        """Request i is sent at start + i / rate (open loop)."""
        run.offered = rate
        tasks = []
        run.started = start = time.perf_counter()
        for i, n in enumerate(requests):
            due = start + i / rate
            if (delay := due - time.perf_counter()) > 0:
                await asyncio.sleep(delay)
            request = make(n)
            run.sent.append(n)
            tasks.append(asyncio.create_task(self._send(run, request, due)))
        await asyncio.gather(*tasks)
        return run

    async def back_to_back(
        self, run: Run, make: Callable[[int], Request], numbers: Iterator[int], seconds: float
    ) -> Run:
        """Every connection sends its next request as soon as the last is answered."""
        run.started = time.perf_counter()
        deadline = run.started + seconds

        async def sender() -> None:
            while time.perf_counter() < deadline:
                n = next(numbers)
                run.sent.append(n)
                await self._send(run, make(n), time.perf_counter())

        await asyncio.gather(*(sender() for _ in range(self.connections)))
        return run


# --- the server and its database ---------------------------------------------------------------


async def set_up_shop(server: Server, admin_key: str) -> tuple[str, str]:
    """A channel, a warehouse with plenty of the template's SKUs, two Shopify connections
    (the orders' and the stored-only run's); returns their ids."""
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    ) as client:
        channel_id = await open_channel(client, "Shopify")
        for sku, title in (("TENT-1", "Tent"), ("LAMP-1", "Lamp")):
            created(
                await client.post(
                    "/v1/products",
                    json={
                        "title": title,
                        "variants": [
                            {
                                "sku": sku,
                                "title": title,
                                "price": {"amount": 100, "currency": "EUR"},
                            }
                        ],
                    },
                )
            )
        created(
            await client.post(
                "/v1/stock/updates",
                json={
                    "updates": [
                        {"sku": sku, "location": LOCATION, "on_hand": PLENTY}
                        for sku in ("TENT-1", "LAMP-1")
                    ]
                },
            )
        )
        connections = [
            created(
                await client.post(
                    "/v1/connections",
                    json={
                        "system": "shopify",
                        "name": name,
                        "base_url": "https://bench.myshopify.com",
                        "webhook_secret": SECRET,
                        "credentials": {"access_token": "shpat_bench"},
                        "sales_channel_id": channel_id,
                    },
                )
            )
            for name in ("Bench shop", "Bench shop, stored only")
        ]
    return str(connections[0]["id"]), str(connections[1]["id"])


async def reserved(server: Server, admin_key: str, sku: str) -> int:
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    ) as client:
        response = await client.get(f"/v1/stock/{sku}")
        response.raise_for_status()
        return sum(int(level["reserved"]) for level in response.json())


@dataclass
class Inbox:
    pending: int
    processed: int
    parked: int
    distinct: int


async def inbox_of(store: Store, connection_id: str) -> Inbox:
    rows = await store.fetchall(
        "SELECT status, COUNT(*) FROM inbox WHERE connection_id = $1 GROUP BY status",
        connection_id,
    )
    counts = {str(status): int(count) for status, count in rows}
    (distinct,) = await store.fetchrow(
        "SELECT COUNT(DISTINCT delivery_id) FROM inbox WHERE connection_id = $1", connection_id
    )
    return Inbox(
        counts.get("pending", 0), counts.get("processed", 0), counts.get("parked", 0), distinct
    )


@dataclass
class Drain:
    backlog: int
    seconds: float
    left: int

    @property
    def per_s(self) -> float:
        applied = self.backlog - self.left
        return applied / self.seconds if self.seconds > 0 else math.nan


async def drain(store: Store, connection_id: str, label: str, timeout_s: float) -> Drain:
    """Wait until the inbox has nothing pending and the events its orders recorded are
    published (so that one run's work does not spill into the next), reporting progress."""
    started = time.perf_counter()
    backlog = (await inbox_of(store, connection_id)).pending
    reported = started
    while True:
        pending = (await inbox_of(store, connection_id)).pending
        now = time.perf_counter()
        if now - started > timeout_s:
            return Drain(backlog, now - started, pending)
        if not pending:
            applied = Drain(backlog, now - started, 0)
            await store.drain(timeout_s)
            return applied
        if now - reported >= 5:
            console.print(f"[dim]{label}: applying, {pending:,} deliveries still pending...[/]")
            reported = now
        await asyncio.sleep(0.25)


# --- one backend -------------------------------------------------------------------------------


@dataclass
class Crash:
    sent: int = 0
    acked_before_kill: int = 0
    resent: int = 0
    restart_s: float = math.nan


@dataclass
class Check:
    deliveries: int = 0
    never_acked: int = 0
    inbox: Inbox | None = None
    orders: int = 0
    tent_reserved: int = 0
    lamp_reserved: int = 0

    def problems(self) -> list[str]:
        if self.inbox is None:
            return ["not checked"]
        found = []
        if self.never_acked:
            found.append(f"{self.never_acked:,} deliveries never acknowledged")
        if self.inbox.distinct != self.deliveries:
            found.append(
                f"{self.inbox.distinct:,} inbox records for {self.deliveries:,} deliveries"
            )
        if self.inbox.processed != self.deliveries:
            found.append(f"{self.inbox.processed:,} processed of {self.deliveries:,}")
        if self.inbox.parked or self.inbox.pending:
            found.append(f"{self.inbox.parked:,} parked, {self.inbox.pending:,} pending")
        if self.orders != self.deliveries:
            found.append(f"{self.orders:,} orders for {self.deliveries:,} Shopify orders")
        if (self.tent_reserved, self.lamp_reserved) != (self.deliveries, 2 * self.deliveries):
            found.append(
                f"reserved TENT-1 {self.tent_reserved:,} / LAMP-1 {self.lamp_reserved:,}, "
                f"expected {self.deliveries:,} / {2 * self.deliveries:,}"
            )
        return found


@dataclass
class Result:
    backend: str
    workers: int = 1
    paced_no_op: Run | None = None
    paced_ingest: Run | None = None
    capacity_no_op: Run | None = None
    capacity_ingest: Run | None = None
    capacity_stored_only: Run | None = None
    applied: Drain | None = None
    crash: Crash | None = None
    check: Check | None = None
    notes: list[str] = field(default_factory=list)


async def measured(server: Server, run: Awaitable[Run]) -> Run:
    """``run``, with the server's CPU use (share of one core) while it ran."""
    before = cpu_seconds(server.process.pid)
    started = time.perf_counter()
    result = await run
    result.server_cpu = (cpu_seconds(server.process.pid) - before) / (time.perf_counter() - started)
    return result


async def until_acknowledged(
    server: Server, args: argparse.Namespace, deliveries: Deliveries, numbers: Sequence[int]
) -> set[int]:
    """Send ``numbers`` again, as a sender retries, until acknowledged (a few rounds);
    returns those never acknowledged."""
    left = sorted(numbers)
    senders = Senders(server, args.connections)
    try:
        for _ in range(RESEND_ROUNDS):
            if not left:
                break
            again = await senders.paced(Run("resend", 200), left, deliveries.request, args.rate)
            left = [n for n in left if n not in again.acked]
    finally:
        senders.close()
    return set(left)


async def crash_and_restart(
    result: Result,
    args: argparse.Namespace,
    server: Server,
    deliveries: Deliveries,
    restart: Callable[[], Awaitable[Server]],
) -> tuple[Server, Run]:
    """The paced ingest with a SIGKILL of the server part-way; returns the restarted
    server and the run (its ``acked`` are those answered before the kill)."""
    crash = result.crash = Crash()
    numbers = deliveries.take(int(args.rate * args.crash_duration))
    senders = Senders(server, args.connections)
    run = Run("crash", 200)
    sending = asyncio.create_task(senders.paced(run, numbers, deliveries.request, args.rate))
    await asyncio.sleep(args.crash_duration * KILL_AT)
    kill_tree(server.process.pid)
    killed = time.perf_counter()
    await sending
    senders.close()
    crash.sent = len(numbers)
    crash.acked_before_kill = len(run.acked)
    console.print(
        f"[dim]{result.backend}: killed the server (SIGKILL) with {len(run.acked):,} of "
        f"{len(numbers):,} deliveries acknowledged; restarting...[/]"
    )
    restarted = await restart()
    crash.restart_s = time.perf_counter() - killed
    return restarted, run


async def bench_backend(
    result: Result, args: argparse.Namespace, database_url: str, store: Store, workdir: Path
) -> None:
    admin_key = "chk_bench_" + secrets.token_urlsafe(32)
    if not database_url.startswith("sqlite"):
        await migrate(database_url, admin_key, workdir)
    rate = args.rate
    async with contextlib.AsyncExitStack() as stack:

        async def start(name: str) -> Server:
            return await stack.enter_async_context(
                api_server(database_url, admin_key, workdir, workers=result.workers, name=name)
            )

        server = await start("server")
        connection_id, stored_only_id = await set_up_shop(server, admin_key)
        run_tag = f"bench-{secrets.token_hex(4)}"
        deliveries = Deliveries(connection_id, run_tag)
        # A topic the hub stores and does not apply (parked at once): the ingest path
        # alone, without orders to apply competing for the process.
        stored_only = Deliveries(stored_only_id, f"{run_tag}-s", topic=STORED_ONLY_TOPIC)
        senders = Senders(server, args.connections)
        sent: set[int] = set()
        acked: set[int] = set()
        console.print(f"[dim]{result.backend}: warming up, then paced runs at {rate:,.0f}/s...[/]")
        await senders.paced(
            Run("warm-up", 404), range(int(rate * args.warmup)), deliveries.no_op, rate
        )
        warmed = await senders.paced(
            Run("warm-up", 200), deliveries.take(WARM_UP_ORDERS), deliveries.request, rate
        )
        sent |= set(warmed.sent)
        acked |= warmed.acked
        await drain(store, connection_id, result.backend, args.drain_timeout)

        count = int(rate * args.duration)
        result.paced_no_op = await measured(
            server, senders.paced(Run("no-op", 404), range(count), deliveries.no_op, rate)
        )
        console.print(f"[dim]{result.backend}: capacity runs, {args.connections} senders...[/]")
        result.capacity_no_op = await measured(
            server,
            senders.back_to_back(
                Run("no-op", 404), deliveries.no_op, itertools.count(), args.capacity_duration
            ),
        )
        result.capacity_stored_only = await measured(
            server,
            senders.back_to_back(
                Run("stored only", 200),
                stored_only.request,
                stored_only.endless(),
                args.capacity_duration,
            ),
        )
        await drain(store, stored_only_id, result.backend, args.drain_timeout)
        result.paced_ingest = await measured(
            server,
            senders.paced(Run("ingest", 200), deliveries.take(count), deliveries.request, rate),
        )
        result.capacity_ingest = await measured(
            server,
            senders.back_to_back(
                Run("ingest", 200),
                deliveries.request,
                deliveries.endless(),
                args.capacity_duration,
            ),
        )
        senders.close()
        for run in (result.paced_ingest, result.capacity_ingest):
            sent |= set(run.sent)
            acked |= run.acked

        # The backlog of the runs is still being applied when the server is killed.
        console.print(f"[dim]{result.backend}: crash run ({args.crash_duration:g} s)...[/]")
        server, crashed = await crash_and_restart(
            result, args, server, deliveries, lambda: start("restarted")
        )
        sent |= set(crashed.sent)
        acked |= crashed.acked
        # Everything not acknowledged is sent again, with the last second of acknowledged
        # ones (a sender that lost those answers): the inbox must store each once.
        last_second = sorted(crashed.acked)[-int(rate) :]
        assert result.crash is not None
        result.crash.resent = len((sent - acked) | set(last_second))
        never = await until_acknowledged(
            server, args, deliveries, sorted((sent - acked) | set(last_second))
        )
        result.applied = await drain(store, connection_id, result.backend, args.drain_timeout)

        check = result.check = Check(deliveries=len(sent), never_acked=len(never))
        check.inbox = await inbox_of(store, connection_id)
        (check.orders,) = await store.fetchrow(
            "SELECT COUNT(*) FROM order_external_ids WHERE system = $1",
            f"shopify:{connection_id}",
        )
        check.tent_reserved = await reserved(server, admin_key, "TENT-1")
        check.lamp_reserved = await reserved(server, admin_key, "LAMP-1")
        await stop(server.process)
    result.notes += logged_errors(workdir)
    if args.logs is not None:
        keep_logs(workdir, args.logs, result.backend.lower())


def keep_logs(workdir: Path, into: Path, prefix: str) -> None:
    into.mkdir(parents=True, exist_ok=True)
    for log in workdir.glob("*.log"):
        shutil.copy(log, into / f"{prefix}-{log.name}")


def logged_errors(workdir: Path) -> list[str]:
    """One note per server log with error lines (none expected, crash included)."""
    notes = []
    for log in sorted(workdir.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        problems = [line for line in lines if re.search(r"error|exception|traceback", line, re.I)]
        if problems:
            notes.append(f"{log.name}: {len(problems)} error line(s): {problems[0][:160]}")
    return notes


async def bench_sqlite(args: argparse.Namespace, results: list[Result]) -> None:
    result = Result("SQLite")
    results.append(result)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        path = Path(tmp) / "hub.db"
        await bench_backend(
            result, args, f"sqlite+aiosqlite:///{path}", Store(sqlite_path=path), Path(tmp)
        )


async def bench_postgres(
    args: argparse.Namespace, versions: dict[str, str], results: list[Result]
) -> None:
    result = Result("PostgreSQL", workers=args.workers)
    results.append(result)
    name = f"bench_ingest_{secrets.token_hex(4)}"
    async with scratch_postgres(args.postgres_url, name, versions) as url:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        database_url = url.set(drivername="postgresql+asyncpg").render_as_string(
            hide_password=False
        )
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            await bench_backend(result, args, database_url, Store(dsn=dsn), Path(tmp))


# --- report ------------------------------------------------------------------------------------


def fmt(value: float, digits: int = 0) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def judged(value: float, good: bool, text: str) -> str:
    if math.isnan(value):
        return "-"
    return f"[green]{text}[/]" if good else f"[yellow]{text}[/]"


def render(results: list[Result], args: argparse.Namespace) -> Table:
    table = Table(
        title="Ingest: signed Shopify orders/create webhooks vs the same app's no-op POST"
    )
    table.add_column("", style="bold", no_wrap=True)
    for r in results:
        table.add_column(r.backend, justify="right")

    def row(label: str, cell: Callable[[Result], str]) -> None:
        table.add_row(label, *(cell(r) for r in results))

    def runs(label: str, get: Callable[[Result], Run | None]) -> None:
        def rate(r: Result) -> str:
            run = get(r)
            if run is None:
                return "-"
            failed = run.failures()
            return f"{fmt(run.per_s)}" + (f" [red]({failed})[/]" if failed else "")

        def latency(r: Result) -> str:
            run = get(r)
            if run is None:
                return "-"
            return " / ".join(fmt(run.percentile(p), 1) for p in (50, 99, 100))

        row(f"{label}: answered/s", rate)
        row(f"{label}: latency p50 / p99 / max (ms)", latency)
        row(
            f"{label}: server CPU",
            lambda r: f"{fmt(run.server_cpu * 100)}%" if (run := get(r)) else "-",
        )

    row("server processes (serve --workers)", lambda r: str(r.workers))
    table.add_section()
    runs(f"paced {args.rate:,.0f}/s no-op", lambda r: r.paced_no_op)
    runs(f"paced {args.rate:,.0f}/s ingest", lambda r: r.paced_ingest)

    def p99(r: Result) -> str:
        if r.paced_ingest is None:
            return "-"
        value = r.paced_ingest.percentile(99)
        good = value <= TARGET_P99_MS and r.paced_ingest.per_s >= 0.95 * args.rate
        return judged(value, good, f"{fmt(value, 1)} ms at {fmt(r.paced_ingest.per_s)}/s")

    row(f"[cyan]ingest p99 ack (target <= {TARGET_P99_MS:g} ms)[/]", p99)
    table.add_section()
    runs(f"capacity ({args.connections} senders) no-op", lambda r: r.capacity_no_op)
    runs(
        f"capacity ({args.connections} senders) ingest, orders applied meanwhile",
        lambda r: r.capacity_ingest,
    )
    runs(
        f"capacity ({args.connections} senders) ingest, stored only",
        lambda r: r.capacity_stored_only,
    )

    def ratio(get: Callable[[Result], Run | None]) -> Callable[[Result], str]:
        def cell(r: Result) -> str:
            run = get(r)
            if run is None or r.capacity_no_op is None:
                return "-"
            value = run.per_s / r.capacity_no_op.per_s
            return judged(value, value >= TARGET_RATIO, f"{value:.2f}x")

        return cell

    row("ingest, orders applied meanwhile / no-op capacity", ratio(lambda r: r.capacity_ingest))
    row(
        f"[cyan]ingest, stored only / no-op capacity (target >= {TARGET_RATIO}x)[/]",
        ratio(lambda r: r.capacity_stored_only),
    )
    table.add_section()
    row(
        "applied after the restart: backlog / seconds / per s",
        lambda r: (
            f"{r.applied.backlog:,} / {fmt(r.applied.seconds, 1)} / {fmt(r.applied.per_s)}"
            if r.applied
            else "-"
        ),
    )
    table.add_section()
    row(
        "crash: sent / acknowledged before SIGKILL",
        lambda r: f"{r.crash.sent:,} / {r.crash.acked_before_kill:,}" if r.crash else "-",
    )
    row(
        "crash: restart (s) / sent again",
        lambda r: f"{fmt(r.crash.restart_s, 1)} / {r.crash.resent:,}" if r.crash else "-",
    )

    def check(get: Callable[[Check, Inbox], str]) -> Callable[[Result], str]:
        return lambda r: get(r.check, r.check.inbox) if r.check and r.check.inbox else "-"

    row("deliveries in the whole run", check(lambda c, _: f"{c.deliveries:,}"))
    row(
        "inbox records / processed / parked",
        check(lambda _, i: f"{i.distinct:,} / {i.processed:,} / {i.parked:,}"),
    )
    row("orders", check(lambda c, _: f"{c.orders:,}"))
    row(
        "reserved TENT-1 / LAMP-1",
        check(lambda c, _: f"{c.tent_reserved:,} / {c.lamp_reserved:,}"),
    )

    def verdict(r: Result) -> str:
        if r.check is None:
            return "-"
        problems = r.check.problems()
        return "[green]yes[/]" if not problems else "[red]NO: " + "; ".join(problems) + "[/]"

    row("[cyan]every acknowledged delivery applied exactly once[/]", verdict)
    if any(r.notes for r in results):
        row("notes", lambda r: "; ".join(r.notes) or "-")
    return table


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="run one backend only")
    parser.add_argument("--rate", type=float, default=1000.0, help="offered requests/s (1000)")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of each paced run (10)"
    )
    parser.add_argument(
        "--capacity-duration", type=float, default=3.0, help="seconds of each capacity run (3)"
    )
    parser.add_argument(
        "--crash-duration", type=float, default=4.0, help="seconds of the crash run (4)"
    )
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unreported seconds before the runs (1)"
    )
    parser.add_argument(
        "--connections", type=int, default=64, help="keep-alive connections of the senders (64)"
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=900.0,
        help="max seconds to wait for the inbox to be applied (900)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes of the PostgreSQL server, serve --workers (1)",
    )
    parser.add_argument("--logs", type=Path, help="copy the server logs into this directory (kept)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="admin connection used to create/drop the bench database",
    )
    args = parser.parse_args(argv)
    if min(args.rate, args.duration, args.capacity_duration, args.crash_duration) <= 0:
        parser.error("--rate and the durations must be > 0")
    if args.connections < 1 or args.workers < 1 or args.warmup < 0:
        parser.error("--connections and --workers must be >= 1, --warmup >= 0")
    return args


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    versions: dict[str, str] = {}
    failures: list[str] = []
    results: list[Result] = []
    if not CHANNELHUB.exists():
        console.print(f"[red]FAILED: {CHANNELHUB} not found (create the venv first)[/]")
        return 1
    load = " ".join(f"{n:.2f}" for n in os.getloadavg())
    task = asyncio.current_task()
    assert task is not None
    with contextlib.suppress(NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    for backend in (b for b in ("sqlite", "postgres") if args.only in (None, b)):
        try:
            if backend == "sqlite":
                await bench_sqlite(args, results)
            else:
                await bench_postgres(args, versions, results)
        except asyncio.CancelledError:
            task.uncancel()
            failures.append(f"{backend}: interrupted (SIGTERM)")
            break
        except OSError as exc:
            failures.append(f"{backend}: service unreachable: {type(exc).__name__}: {exc}")
        except Exception as exc:
            failures.append(f"{backend}: {type(exc).__name__}: {exc}")
            console.print_exception(max_frames=5)
    if results:
        console.print(render(results, args))
    console.print(
        "[dim]answered/s: answers with the expected status (200; 404 for the no-op) / "
        "(first due time -> last answer). Latency: due time -> last byte of the answer "
        "(open loop; queueing for a connection counts), nearest-rank percentiles. "
        "Server CPU: % of one core. Targets (printed, not enforced): ingest / no-op "
        f"capacity >= {TARGET_RATIO}x; p99 acknowledgement <= {TARGET_P99_MS:g} ms at "
        f"{args.rate:,.0f}/s offered; every delivery applied exactly once across a SIGKILL.[/]"
    )
    console.print(f"[dim]{machine_note(versions, where='loopback', load=load)}[/]")
    failed_checks = [r.backend for r in results if r.check is None or r.check.problems()]
    for failure in failures:
        console.print(f"[red]FAILED: {failure}[/]")
    return 1 if failures or failed_checks else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
