"""Inventory benchmark: the oversell race and reservation throughput, through the real API.

A real ``channelhub serve`` process (in-process bus) is started on a fresh database and
driven over HTTP with httpx, on (1) SQLite and (2) PostgreSQL:

- race: one SKU with ``--race-stock`` (100) on hand and ``--attempts`` (5,000) reservation
  attempts of 1 unit each, distinct keys, ``--race-connections`` (256) of them in flight at
  any moment. Exactly 100 must succeed, the level must end on_hand 100 / reserved 100 /
  available 0, and the ledger (``GET /v1/stock/{sku}/history`` pages, and the
  ``stock_movements`` table) must sum to what is reserved.
- hot SKU: ``--clients`` (16) clients, each a loop of ``POST /v1/reservations`` (1 unit, one
  location, a TTL) on one SKU with 10^9 on hand, for ``--duration`` seconds.
- spread: the same, each request on a random SKU among ``--skus`` (10,000).

Beside each API figure, the raw ceiling of the same conditional UPDATE, measured in the
same run on a scratch table (``stock(sku int primary key, qty bigint)``):
``UPDATE stock SET qty = qty - 1 WHERE sku = <sku> AND qty >= 1`` -- on PostgreSQL with
pgbench (``-c 16 -j 2 -T <duration>``, in the bench database), on SQLite by 16 asyncio
tasks in this process with one aiosqlite connection each (WAL, ``synchronous=FULL``, like
channelhub). Raw runs happen before the server starts, so nothing else competes with them.

Every run uses a fresh database (a temp SQLite file; ``CREATE DATABASE
bench_inventory_<hex>`` on PostgreSQL, dropped WITH (FORCE) afterwards) and a server on a
free loopback port, stopped afterwards (SIGTERM, then SIGKILL). A connection error is
retried with the same reservation key (safe by the API's contract) and counted. Exits 1 if
a race invariant fails, a throughput request failed, or a backend failed.

    .venv/bin/python -m bench.inventory [--duration 10] [--attempts 5000] [--clients 16]
                                        [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import URL

from bench.common import LOCATION, created, machine_note, open_channel, scratch_postgres
from bench.server import (
    CHANNELHUB,
    Server,
    Store,
    api_server,
    cpu_seconds,
    migrate,
    stop,
)

RACE_SKU = "RACE-1"
HOT_SKU = "HOT-1"
PLENTY = 1_000_000_000
"""On hand of the throughput SKUs: the API's maximum, enough never to run out."""
RAW_PLENTY = 10**15
VARIANTS_PER_PRODUCT = 250
STOCK_BATCH = 2_500
"""Stock updates per ``POST /v1/stock/updates`` while setting up (the API takes 10,000)."""
TTL_SECONDS = 900
RACE_LEDGER_SQL = """
SELECT COALESCE(SUM(reserved_after - reserved_before), 0),
       COALESCE(SUM(CASE WHEN kind = 'reserve' THEN 1 ELSE 0 END), 0),
       COALESCE(SUM(CASE WHEN on_hand_after - reserved_after - safety_stock_after < 0
                    THEN 1 ELSE 0 END), 0)
FROM stock_movements WHERE sku = 'RACE-1'
"""
"""The race SKU's ledger: net reserved, reserve movements, movements leaving ATP < 0."""
RACE_ALLOCATED_SQL = (
    "SELECT COALESCE(SUM(quantity), 0) FROM reservation_allocations WHERE sku = 'RACE-1'"
)
RETRIES = 3
POOL = 16
"""Connections per httpx client: httpcore's pool does work quadratic in its connections
on every request, so the race spreads its connections over several small clients."""

UNREACHABLE = (OSError, asyncpg.exceptions.CannotConnectNowError)
"""Connection failures (refused, timed out): reported in one line, without a traceback."""

LEGEND = (
    "race: the attempts share the connections, each sending its next attempt once answered; "
    "ledger = sum(reserved_after - reserved_before) over the SKU's movements. "
    "reservations/s: 2xx answers / (first request -> last answer) of {clients} clients "
    f"posting back to back, 1 unit each at location {LOCATION}. raw: the bare conditional "
    "UPDATE, autocommit (pgbench on PostgreSQL; aiosqlite tasks in this process on SQLite). "
    "CPU: % of one core used by the server processes / by this script. retried: connection "
    "errors retried with the same key. Targets (printed, not enforced): API/raw >= 0.4x; "
    "API hot/spread vs raw hot/spread >= 0.9x on PostgreSQL."
)

console = Console(width=None if sys.stdout.isatty() else 180)


@dataclass
class Rate:
    """One throughput measurement."""

    done: int
    seconds: float
    errors: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    mean_latency_ms: float = math.nan
    server_cpu: float = math.nan
    client_cpu: float = math.nan
    backlog: int | None = None
    """Outbox rows still unpublished when the run ended."""
    retried: int = 0
    """Connection errors retried with the same key."""

    @property
    def per_s(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else math.nan

    @property
    def mean_ms(self) -> float:
        if self.latencies_ms:
            return sum(self.latencies_ms) / len(self.latencies_ms)
        return self.mean_latency_ms

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the latencies, in ms."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return math.nan
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Race:
    stock: int
    attempts: int
    connections: int
    seconds: float
    answers: Counter[str]
    distinct_ids: int
    on_hand: int
    reserved: int
    available: int
    safety_stock: int
    ledger_api: int
    ledger_api_rows: int
    ledger_db: int
    reserve_rows: int
    negative_rows: int
    allocated: int
    retried: int
    """Connection errors retried with the same key."""
    server_cpu: float
    client_cpu: float

    @property
    def succeeded(self) -> int:
        return self.answers["201"]

    @property
    def refused(self) -> int:
        return self.answers["409 insufficient_stock"]

    def problems(self) -> list[str]:
        found = []
        if self.succeeded != self.stock:
            found.append(f"{self.succeeded} reservations succeeded, not {self.stock}")
        if other := self.attempts - self.succeeded - self.refused:
            found.append(f"{other} unexpected answers")
        if self.distinct_ids != self.succeeded:
            found.append(f"{self.distinct_ids} distinct reservation ids")
        if self.on_hand != self.stock or self.reserved != self.succeeded:
            found.append(f"level on_hand {self.on_hand}, reserved {self.reserved}")
        if self.available < 0 or self.available != max(
            0, self.on_hand - self.reserved - self.safety_stock
        ):
            found.append(f"available {self.available}")
        if self.ledger_api != self.reserved:
            found.append(f"ledger (API) sums to {self.ledger_api}, reserved is {self.reserved}")
        if self.ledger_db != self.reserved:
            found.append(f"ledger (DB) sums to {self.ledger_db}, reserved is {self.reserved}")
        if self.reserve_rows != self.succeeded:
            found.append(f"{self.reserve_rows} reserve movements")
        if self.allocated != self.reserved:
            found.append(f"allocations hold {self.allocated}")
        if self.negative_rows:
            found.append(f"{self.negative_rows} movements left availability negative")
        return found


@dataclass
class Result:
    backend: str
    workers: int = 1
    setup_s: float = math.nan
    race: Race | None = None
    hot_api: Rate | None = None
    spread_api: Rate | None = None
    hot_raw: Rate | None = None
    spread_raw: Rate | None = None
    notes: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = [f"race: {p}" for p in (self.race.problems() if self.race else [])]
        for name, rate in (("hot", self.hot_api), ("spread", self.spread_api)):
            if rate is not None and rate.errors:
                found.append(f"{name}: {sum(rate.errors.values())} requests not answered 201")
        return found


# --- the database, read directly (checks) -------------------------------------------------


# --- set-up through the API -------------------------------------------------------------------


async def set_up_shop(
    client: httpx.AsyncClient, spread_skus: Sequence[str], race_stock: int
) -> None:
    """One channel, one shipping warehouse, the race and hot SKUs, and the spread SKUs in
    products of 250 variants, all stocked."""
    await open_channel(client, "Web")

    def product(title: str, skus: Sequence[str]) -> dict[str, Any]:
        return {
            "title": title,
            "variants": [
                {"sku": sku, "title": sku, "price": {"amount": 100, "currency": "EUR"}}
                for sku in skus
            ],
        }

    products = [product("Race", [RACE_SKU]), product("Hot", [HOT_SKU])]
    products += [
        product(f"Spread {n + 1}", spread_skus[start : start + VARIANTS_PER_PRODUCT])
        for n, start in enumerate(range(0, len(spread_skus), VARIANTS_PER_PRODUCT))
    ]
    for body in products:
        created(await client.post("/v1/products", json=body))
    updates = [
        {"sku": RACE_SKU, "location": LOCATION, "on_hand": race_stock},
        {"sku": HOT_SKU, "location": LOCATION, "on_hand": PLENTY},
        *({"sku": sku, "location": LOCATION, "on_hand": PLENTY} for sku in spread_skus),
    ]
    for start in range(0, len(updates), STOCK_BATCH):
        batch = updates[start : start + STOCK_BATCH]
        created(await client.post("/v1/stock/updates", json={"updates": batch}))


def reservation(key: str, sku: str) -> dict[str, Any]:
    return {
        "key": key,
        "location": LOCATION,
        "ttl_seconds": TTL_SECONDS,
        "lines": [{"sku": sku, "quantity": 1}],
    }


def answer_of(response: httpx.Response) -> str:
    if response.status_code in (200, 201):
        return str(response.status_code)
    try:
        code = response.json().get("code", "")
    except ValueError:
        code = ""
    return f"{response.status_code} {code}".strip()


# --- the race ---------------------------------------------------------------------------------


async def post_reservation(
    client: httpx.AsyncClient, body: dict[str, Any], retried: Counter[str]
) -> httpx.Response | str:
    """POST /v1/reservations; a connection error is retried with the same key (which the
    API makes safe: a replay answers 200 with the same reservation) and counted in
    ``retried``. Returns the response, or the last error's name after RETRIES attempts."""
    for _ in range(RETRIES):
        try:
            return await client.post("/v1/reservations", json=body)
        except httpx.TransportError as exc:
            retried[type(exc).__name__] += 1
            error = type(exc).__name__
    return error


async def run_race(
    clients: Sequence[httpx.AsyncClient],
    store: Store,
    *,
    stock: int,
    attempts: int,
    connections: int,
    server_pid: int,
) -> Race:
    """``attempts`` reservations of 1 unit, distinct keys, ``connections`` in flight at
    once: each worker sends its next attempt as soon as the previous one is answered (a
    queue of thousands inside httpx's pool, or one pool of hundreds of connections, would
    make the client, not the server, the bottleneck)."""
    token = secrets.token_hex(4)
    answers: Counter[str] = Counter()
    retried: Counter[str] = Counter()
    ids: set[str] = set()
    numbers = iter(range(attempts))

    async def worker(client: httpx.AsyncClient) -> None:
        for n in numbers:
            body = reservation(f"race-{token}-{n}", RACE_SKU)
            response = await post_reservation(client, body, retried)
            if isinstance(response, str):
                answers[response] += 1
                continue
            answer = answer_of(response)
            answers["201" if answer == "200" else answer] += 1
            if response.status_code in (200, 201):
                ids.add(response.json()["id"])

    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    await asyncio.gather(
        *(worker(clients[w % len(clients)]) for w in range(min(connections, attempts)))
    )
    seconds = time.perf_counter() - started
    server_cpu = (cpu_seconds(server_pid) - server_cpu) / seconds
    client_cpu = (time.process_time() - client_cpu) / seconds

    client = clients[0]
    levels = (await client.get(f"/v1/stock/{RACE_SKU}")).json()
    level = next(lv for lv in levels if lv["location_code"] == LOCATION)
    ledger_api = rows = 0
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get(f"/v1/stock/{RACE_SKU}/history", params=params)).json()
        for movement in page["data"]:
            ledger_api += movement["reserved_after"] - movement["reserved_before"]
            rows += 1
        if not (cursor := page["next_cursor"]):
            break
    ledger_db, reserve_rows, negative_rows = await store.fetchrow(RACE_LEDGER_SQL)
    (allocated,) = await store.fetchrow(RACE_ALLOCATED_SQL)
    return Race(
        stock=stock,
        attempts=attempts,
        connections=connections,
        seconds=seconds,
        answers=answers,
        distinct_ids=len(ids),
        on_hand=level["on_hand"],
        reserved=level["reserved"],
        available=level["available"],
        safety_stock=level["safety_stock"],
        ledger_api=ledger_api,
        ledger_api_rows=rows,
        ledger_db=int(ledger_db),
        reserve_rows=int(reserve_rows),
        negative_rows=int(negative_rows),
        allocated=int(allocated),
        retried=sum(retried.values()),
        server_cpu=server_cpu,
        client_cpu=client_cpu,
    )


# --- throughput -------------------------------------------------------------------------------


async def hammer(
    client: httpx.AsyncClient,
    *,
    label: str,
    pick_sku: Callable[[], str],
    clients: int,
    duration: float,
    server_pid: int,
) -> Rate:
    """``clients`` loops of POST /v1/reservations for ``duration`` seconds."""
    token = f"{label}-{secrets.token_hex(4)}"
    errors: Counter[str] = Counter()
    retried: Counter[str] = Counter()
    latencies: list[float] = []

    async def loop(c: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            body = reservation(f"{token}-{c}-{n}", pick_sku())
            n += 1
            sent = time.perf_counter()
            response = await post_reservation(client, body, retried)
            if isinstance(response, str):
                errors[response] += 1
            elif response.status_code in (200, 201):
                latencies.append((time.perf_counter() - sent) * 1000)
            else:
                errors[answer_of(response)] += 1

    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(*(loop(c) for c in range(clients)))
    seconds = time.perf_counter() - started
    return Rate(
        done=len(latencies),
        seconds=seconds,
        errors=errors,
        latencies_ms=latencies,
        server_cpu=(cpu_seconds(server_pid) - server_cpu) / seconds,
        client_cpu=(time.process_time() - client_cpu) / seconds,
        retried=sum(retried.values()),
    )


async def api_run(
    client: httpx.AsyncClient,
    store: Store,
    result: Result,
    args: argparse.Namespace,
    *,
    label: str,
    pick_sku: Callable[[], str],
    server: Server,
) -> Rate:
    console.print(f"[dim]{result.backend}: API, {label}, {args.clients} clients...[/]")
    if args.warmup > 0:
        await hammer(
            client,
            label=f"warm-{label}",
            pick_sku=pick_sku,
            clients=args.clients,
            duration=args.warmup,
            server_pid=server.process.pid,
        )
    left, waited = await store.drain()
    if left:
        result.notes.append(f"{left} outbox rows unpublished {waited:.0f}s before {label}")
    rate = await hammer(
        client,
        label=label,
        pick_sku=pick_sku,
        clients=args.clients,
        duration=args.duration,
        server_pid=server.process.pid,
    )
    rate.backlog = await store.unpublished()
    return rate


# --- raw ceilings -----------------------------------------------------------------------------


def raw_script(spread: int | None) -> str:
    """The pgbench script: hot (sku 1) or spread over ``spread`` SKUs."""
    if spread is None:
        return "UPDATE stock SET qty = qty - 1 WHERE sku = 1 AND qty >= 1;\n"
    return (
        f"\\set sku random(1, {spread})\n"
        "UPDATE stock SET qty = qty - 1 WHERE sku = :sku AND qty >= 1;\n"
    )


async def pgbench_run(
    pgbench: str, url: URL, workdir: Path, *, spread: int | None, clients: int, duration: float
) -> Rate:
    script = workdir / ("spread.sql" if spread else "hot.sql")
    script.write_text(raw_script(spread))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    process = await asyncio.create_subprocess_exec(
        pgbench,
        "-n",
        "-c",
        str(clients),
        "-j",
        str(min(2, clients)),
        "-T",
        str(max(1, round(duration))),
        "-f",
        str(script),
        "-h",
        url.host or "127.0.0.1",
        "-p",
        str(url.port or 5432),
        "-U",
        url.username or "postgres",
        str(url.database),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output = (await process.communicate())[0].decode(errors="replace")
    processed = re.search(r"actually processed: (\d+)", output)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    if process.returncode != 0 or processed is None or tps is None:
        raise RuntimeError(f"pgbench exited {process.returncode}:\n{output[-1500:]}")
    done = int(processed.group(1))
    errors: Counter[str] = Counter()
    if (failed := re.search(r"number of failed transactions: (\d+)", output)) and int(
        failed.group(1)
    ):
        errors["failed"] = int(failed.group(1))
    latency = re.search(r"latency average = ([\d.]+) ms", output)
    return Rate(
        done=done,
        seconds=done / float(tps.group(1)),
        errors=errors,
        mean_latency_ms=float(latency.group(1)) if latency else math.nan,
    )


async def postgres_raw(
    result: Result, args: argparse.Namespace, url: URL, workdir: Path, dsn: str
) -> None:
    console.print(f"[dim]{result.backend}: raw UPDATE (pgbench), hot and spread...[/]")
    connection = await asyncpg.connect(dsn, timeout=5)
    try:
        await connection.execute("CREATE TABLE stock (sku int PRIMARY KEY, qty bigint)")
        await connection.execute(
            "INSERT INTO stock SELECT g, $1::bigint FROM generate_series(1, $2::int) g",
            RAW_PLENTY,
            args.skus,
        )
        await connection.execute("VACUUM ANALYZE stock")
        for spread in (None, args.skus):
            rate = await pgbench_run(
                args.pgbench,
                url,
                workdir,
                spread=spread,
                clients=args.clients,
                duration=args.duration,
            )
            if spread is None:
                result.hot_raw = rate
            else:
                result.spread_raw = rate
    finally:
        with contextlib.suppress(Exception):
            await connection.execute("DROP TABLE IF EXISTS stock")
        await connection.close()


async def sqlite_raw_run(path: Path, *, spread: int | None, clients: int, duration: float) -> Rate:
    """``clients`` asyncio tasks, one aiosqlite connection each, autocommit UPDATEs."""
    connections = []
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    try:
        for _ in range(clients):
            connection = await aiosqlite.connect(path, isolation_level=None)
            connections.append(connection)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=5000"):
                await connection.execute(f"PRAGMA {pragma}")

        async def loop(connection: aiosqlite.Connection) -> None:
            while time.perf_counter() < deadline:
                sku = random.randint(1, spread) if spread else 1
                sent = time.perf_counter()
                try:
                    cursor = await connection.execute(
                        "UPDATE stock SET qty = qty - 1 WHERE sku = ? AND qty >= 1", (sku,)
                    )
                except sqlite3.OperationalError as exc:
                    errors[str(exc)] += 1
                    continue
                if cursor.rowcount == 1:
                    latencies.append((time.perf_counter() - sent) * 1000)
                else:
                    errors["no row updated"] += 1

        client_cpu = time.process_time()
        started = time.perf_counter()
        deadline = started + duration
        await asyncio.gather(*(loop(c) for c in connections))
        seconds = time.perf_counter() - started
        return Rate(
            done=len(latencies),
            seconds=seconds,
            errors=errors,
            latencies_ms=latencies,
            client_cpu=(time.process_time() - client_cpu) / seconds,
        )
    finally:
        for connection in connections:
            await connection.close()


async def sqlite_raw(result: Result, args: argparse.Namespace, workdir: Path) -> None:
    console.print(f"[dim]{result.backend}: raw UPDATE (aiosqlite), hot and spread...[/]")
    path = workdir / "raw.db"
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE stock (sku INTEGER PRIMARY KEY, qty BIGINT)")
        connection.executemany(
            "INSERT INTO stock VALUES (?, ?)", ((n, RAW_PLENTY) for n in range(1, args.skus + 1))
        )
        connection.commit()
    result.hot_raw = await sqlite_raw_run(
        path, spread=None, clients=args.clients, duration=args.duration
    )
    result.spread_raw = await sqlite_raw_run(
        path, spread=args.skus, clients=args.clients, duration=args.duration
    )


# --- one backend ------------------------------------------------------------------------------


def api_client(server: Server, admin_key: str, connections: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {admin_key}"},
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        timeout=httpx.Timeout(120.0, pool=None),
    )


async def bench_api(
    result: Result, args: argparse.Namespace, database_url: str, store: Store, workdir: Path
) -> None:
    admin_key = "chk_bench_" + secrets.token_urlsafe(32)
    if not database_url.startswith("sqlite"):
        await migrate(database_url, admin_key, workdir)
    spread_skus = [f"SPREAD-{n:05d}" for n in range(1, args.skus + 1)]
    async with api_server(database_url, admin_key, workdir, workers=result.workers) as server:
        # One client per phase: the race's many idle connections would otherwise stay in
        # the pool and cost the client CPU on every later request.
        async with api_client(server, admin_key, 4) as client:
            console.print(f"[dim]{result.backend}: setting up {args.skus + 2:,} SKUs...[/]")
            started = time.perf_counter()
            await set_up_shop(client, spread_skus, args.race_stock)
            result.setup_s = time.perf_counter() - started
        await store.drain()
        console.print(
            f"[dim]{result.backend}: race, {args.attempts:,} attempts on "
            f"{args.race_stock} units...[/]"
        )
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(api_client(server, admin_key, POOL))
                for _ in range(math.ceil(args.race_connections / POOL))
            ]
            result.race = await asyncio.wait_for(
                run_race(
                    clients,
                    store,
                    stock=args.race_stock,
                    attempts=args.attempts,
                    connections=args.race_connections,
                    server_pid=server.process.pid,
                ),
                timeout=args.race_timeout,
            )
        async with api_client(server, admin_key, args.clients) as client:
            result.hot_api = await api_run(
                client, store, result, args, label="hot", pick_sku=lambda: HOT_SKU, server=server
            )
            result.spread_api = await api_run(
                client,
                store,
                result,
                args,
                label="spread",
                pick_sku=lambda: random.choice(spread_skus),
                server=server,
            )
        await stop(server.process)
        logged = server.log.read_text(errors="replace").splitlines()
        problems = [line for line in logged if re.search(r"error|exception|traceback", line, re.I)]
        if problems:
            result.notes.append(f"server logged {len(problems)} error line(s): {problems[0][:200]}")


async def bench_sqlite(args: argparse.Namespace, results: list[Result]) -> None:
    result = Result("SQLite")
    results.append(result)
    with tempfile.TemporaryDirectory(prefix="bench-inventory-") as tmp:
        workdir = Path(tmp)
        try:
            await sqlite_raw(result, args, workdir)
            path = workdir / "api.db"
            await bench_api(
                result, args, f"sqlite+aiosqlite:///{path}", Store(sqlite_path=path), workdir
            )
        except BaseException:
            result.notes.append("incomplete: the run failed")
            raise


async def bench_postgres(
    args: argparse.Namespace, versions: dict[str, str], results: list[Result]
) -> None:
    result = Result("PostgreSQL", workers=args.workers)
    results.append(result)
    name = f"bench_inventory_{secrets.token_hex(4)}"
    async with scratch_postgres(args.postgres_url, name, versions) as url:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        database_url = url.set(drivername="postgresql+asyncpg").render_as_string(
            hide_password=False
        )
        with tempfile.TemporaryDirectory(prefix="bench-inventory-") as tmp:
            workdir = Path(tmp)
            try:
                await postgres_raw(result, args, url, workdir, dsn)
                await bench_api(result, args, database_url, Store(dsn=dsn), workdir)
            except BaseException:
                result.notes.append("incomplete: the run failed")
                raise


# --- report -----------------------------------------------------------------------------------


def fmt(value: float, digits: int = 0) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:,.{digits}f}"


def ratio(a: Rate | None, b: Rate | None) -> float:
    if a is None or b is None or not b.per_s:
        return math.nan
    return a.per_s / b.per_s


def judged(value: float, target: float | None) -> str:
    text = "-" if math.isnan(value) else f"{value:.2f}x"
    if target is None or math.isnan(value):
        return text
    return f"[green]{text}[/]" if value >= target else f"[yellow]{text}[/]"


def render(results: list[Result], args: argparse.Namespace) -> Table:
    table = Table(title="Inventory: reservations through the HTTP API vs the bare UPDATE")
    table.add_column("", style="bold", no_wrap=True)
    for r in results:
        table.add_column(r.backend, justify="right")

    def row(label: str, cell: Callable[[Result], str]) -> None:
        table.add_row(label, *(cell(r) for r in results))

    def race(cell: Callable[[Race], str]) -> Callable[[Result], str]:
        return lambda r: cell(r.race) if r.race else "-"

    row("server processes (serve --workers)", lambda r: str(r.workers))
    row("set-up: 3 requests + products + stock (s)", lambda r: fmt(r.setup_s, 1))
    table.add_section()
    row(
        "race: attempts / connections",
        race(lambda x: f"{x.attempts:,} on {x.stock} units / {x.connections}"),
    )
    row(
        "race: wall time (s) / attempts/s",
        race(lambda x: f"{fmt(x.seconds, 1)} / {fmt(x.attempts / x.seconds)}"),
    )
    row(
        "race: CPU server / client",
        race(lambda x: f"{fmt(x.server_cpu * 100)}% / {fmt(x.client_cpu * 100)}%"),
    )

    def succeeded(x: Race) -> str:
        colour = "green" if x.succeeded == x.stock else "red"
        return f"[{colour}]{x.succeeded:,}[/]"

    row("[green]race: succeeded (201)[/]", race(succeeded))
    row("race: refused 409 insufficient_stock", race(lambda x: f"{x.refused:,}"))

    def other(x: Race) -> str:
        rest = {k: v for k, v in x.answers.items() if k not in ("201", "409 insufficient_stock")}
        if not rest:
            return "0"
        return "[red]" + ", ".join(f"{k}: {v}" for k, v in sorted(rest.items())) + "[/]"

    row("race: other answers", race(other))
    row("race: connection errors, retried (same key)", race(lambda x: f"{x.retried:,}"))
    row(
        "race: on_hand / reserved / available",
        race(lambda x: f"{x.on_hand} / {x.reserved} / {x.available}"),
    )
    row(
        "race: ledger sum via API history / DB",
        race(lambda x: f"{x.ledger_api} ({x.ledger_api_rows} rows) / {x.ledger_db}"),
    )

    def verdict(x: Race) -> str:
        problems = x.problems()
        return "[green]yes[/]" if not problems else "[red]NO: " + "; ".join(problems) + "[/]"

    row("race: invariants hold", race(verdict))

    def rate_rows(name: str, api: Callable[[Result], Rate | None], raw_of: str) -> None:
        table.add_section()

        def per_s(get: Callable[[Result], Rate | None], colour: str) -> Callable[[Result], str]:
            def cell(r: Result) -> str:
                rate = get(r)
                return f"[{colour}]{fmt(rate.per_s)}[/]" if rate else "-"

            return cell

        row(f"[green]{name}: API reservations/s[/]", per_s(api, "green"))
        row(f"{name}: raw UPDATEs/s", per_s(lambda r: getattr(r, raw_of), "default"))
        row(f"[cyan]{name}: API / raw[/]", lambda r: judged(ratio(api(r), getattr(r, raw_of)), 0.4))

        def latency(r: Result) -> str:
            rate = api(r)
            if rate is None:
                return "-"
            points = (rate.mean_ms, rate.percentile(50), rate.percentile(99))
            return " / ".join(fmt(p, 1) for p in points)

        row(f"{name}: API latency mean / p50 / p99 (ms)", latency)
        row(
            f"{name}: raw latency mean (ms)",
            lambda r: fmt(getattr(r, raw_of).mean_ms, 2) if getattr(r, raw_of) else "-",
        )

        def cpu(r: Result) -> str:
            rate = api(r)
            if rate is None:
                return "-"
            return f"{fmt(rate.server_cpu * 100)}% / {fmt(rate.client_cpu * 100)}%"

        row(f"{name}: API CPU server / client", cpu)

        def errors(r: Result) -> str:
            rate = api(r)
            if rate is None:
                return "-"
            failed = ", ".join(f"{k}: {v}" for k, v in sorted(rate.errors.items()))
            backlog = "-" if rate.backlog is None else f"{rate.backlog:,}"
            failed = f"[red]{failed}[/]" if failed else "0"
            return f"{failed} / {rate.retried:,} / {backlog}"

        row(f"{name}: API failed / retried / outbox backlog", errors)

    rate_rows("hot SKU", lambda r: r.hot_api, "hot_raw")
    rate_rows(f"spread {args.skus:,} SKUs", lambda r: r.spread_api, "spread_raw")
    table.add_section()
    row("hot/spread: API", lambda r: judged(ratio(r.hot_api, r.spread_api), None))
    row("hot/spread: raw", lambda r: judged(ratio(r.hot_raw, r.spread_raw), None))

    def vs_raw(r: Result) -> str:
        value = ratio(r.hot_api, r.spread_api) / ratio(r.hot_raw, r.spread_raw)
        return judged(value, 0.9 if r.backend == "PostgreSQL" else None)

    row("[cyan]API hot/spread vs raw hot/spread[/]", vs_raw)
    if any(r.notes for r in results):
        row("notes", lambda r: "; ".join(r.notes) or "-")
    return table


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", choices=["sqlite", "postgres"], help="run one backend only")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of each throughput run (10)"
    )
    parser.add_argument(
        "--attempts", type=int, default=5000, help="reservation attempts in the race (5000)"
    )
    parser.add_argument(
        "--race-stock", type=int, default=100, help="units on hand of the race SKU (100)"
    )
    parser.add_argument(
        "--race-connections",
        type=int,
        default=256,
        help="HTTP connections the race attempts share (256)",
    )
    parser.add_argument(
        "--race-timeout", type=float, default=300.0, help="max seconds for the race (300)"
    )
    parser.add_argument(
        "--clients", type=int, default=16, help="concurrent clients of the throughput runs (16)"
    )
    parser.add_argument("--skus", type=int, default=10_000, help="SKUs of the spread runs (10000)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=1.0,
        help="unreported seconds of load before each API throughput run (1)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="API processes of the PostgreSQL server, serve --workers (1)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"),
        help="admin connection used to create/drop the bench database",
    )
    parser.add_argument(
        "--pgbench",
        default=os.environ.get("BENCH_PGBENCH", shutil.which("pgbench") or "/usr/bin/pgbench"),
        help="the pgbench executable",
    )
    args = parser.parse_args(argv)
    if (
        min(
            args.attempts,
            args.race_stock,
            args.race_connections,
            args.clients,
            args.skus,
            args.workers,
        )
        < 1
    ):
        parser.error(
            "--attempts, --race-stock, --race-connections, --clients, --skus, --workers "
            "must be >= 1"
        )
    if args.duration < 1 or args.warmup < 0:
        parser.error("--duration must be >= 1 and --warmup >= 0")
    return args


async def pgbench_version(pgbench: str) -> str:
    process = await asyncio.create_subprocess_exec(
        pgbench, "--version", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
    )
    output = (await process.communicate())[0].decode()
    found = re.search(r"\(PostgreSQL\) (\S+)", output)
    return found.group(1) if found else "?"


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    versions: dict[str, str] = {}
    failures: list[str] = []
    results: list[Result] = []
    """Every backend's result, complete or not (a failed run still shows what it measured)."""
    if not CHANNELHUB.exists():
        console.print(f"[red]FAILED: {CHANNELHUB} not found (create the venv first)[/]")
        return 1
    load = " ".join(f"{n:.2f}" for n in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    # SIGTERM cancels the run like Ctrl-C does, so the server is stopped and the database
    # dropped by the finally blocks on the way out.
    task = asyncio.current_task()
    assert task is not None
    with contextlib.suppress(NotImplementedError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    backends = [b for b in ("sqlite", "postgres") if args.only in (None, b)]
    for backend in backends:
        try:
            if backend == "sqlite":
                await bench_sqlite(args, results)
            else:
                if shutil.which(args.pgbench) is None:
                    failures.append(f"postgres: pgbench not found at {args.pgbench!r}")
                    continue
                versions["pgbench"] = await pgbench_version(args.pgbench)
                await bench_postgres(args, versions, results)
        except asyncio.CancelledError:
            task.uncancel()
            failures.append(f"{backend}: interrupted (SIGTERM)")
            break
        except UNREACHABLE as exc:
            failures.append(f"{backend}: service unreachable: {type(exc).__name__}: {exc}")
        except Exception as exc:
            failures.append(f"{backend}: {type(exc).__name__}: {exc}")
            console.print_exception(max_frames=5)
    console.print()
    if results:
        console.print(render(results, args))
        console.print(LEGEND.format(clients=args.clients))
    console.print(
        machine_note(
            versions,
            where="server, clients and database on one machine (loopback)",
            load=load,
        )
    )
    for failure in failures:
        console.print(f"[red]FAILED {failure}[/]")
    broken = [f"{r.backend} {p}" for r in results for p in r.problems()]
    for problem in broken:
        console.print(f"[red]INVARIANT {problem}[/]")
    if results and not broken:
        console.print(
            "[green]Correctness: no oversell, the level and the ledger agree, every "
            "throughput request was answered 2xx.[/]"
        )
    return 1 if failures or broken else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
