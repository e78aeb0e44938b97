"""Promotions benchmark: validate and redeem latency at a fixed rate, and the two races.

For each database (SQLite, then PostgreSQL) a real ``channelhub serve`` runs on loopback
with a fresh database, a tenant, a voucher campaign (12.5 % off carts over 50 EUR, for
members of a loyalty club in the customer's metadata) and an automatic free-shipping
campaign; ``--codes`` single-use codes are generated through the API.

- **Validate** and **redeem**, each for ``--seconds`` at ``--rate`` requests per second,
  open loop: request *i* is sent at ``start + i / rate`` whatever the answers before it,
  and its latency runs from that moment (so a slow server cannot hide its queue by slowing
  the client down). Each redeem spends its own code with its own ``Idempotency-Key``. The
  p95 is printed beside Voucherify's published p95 (200 ms validate, 500 ms redeem; ours
  has no internet round trip, theirs does), with the target of 0.2x.
- **Single-use race**: ``--racers`` (1,000) redeems of one single-use code at once;
  exactly one may succeed.
- **Budget race**: a campaign of 10.00 EUR off with a budget of 95.00 EUR, and
  ``--racers`` redeems at once, each with its own code: at most 9 may succeed, and the
  campaign's spent amount must equal what its redemptions took off, read from the database.

    .venv/bin/python -m bench.promotions [--rate 200] [--seconds 20] [--only sqlite|postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson
from rich.console import Console
from rich.table import Table

from bench.common import created, machine_note, scratch_postgres
from bench.server import Store, api_server, cpu_seconds, migrate

console = Console()
VOUCHERIFY_P95_MS = {"validate": 200.0, "redeem": 500.0}
TARGET_RATIO = 0.2
EMAIL = "member-{n}@bench.example"


def cart(n: int) -> dict[str, Any]:
    return {
        "currency": "EUR",
        "lines": [
            {"sku": "TENT-2P", "quantity": 1, "unit_price": 24900, "categories": ["camping"]},
            {"sku": "SOCK-M", "quantity": 2 + n % 3, "unit_price": 1290, "categories": ["apparel"]},
            {"sku": "LAMP-400", "quantity": 1, "unit_price": 3490, "categories": ["camping"]},
        ],
        "shipping": 499,
    }


@dataclass
class Paced:
    """The answers of one open-loop run."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    late_starts: int = 0
    server_cpu_s: float = 0.0

    def add(self, status: int, latency_ms: float) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        self.latencies_ms.append(latency_ms)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0

    @property
    def sent(self) -> int:
        return len(self.latencies_ms)


@dataclass
class Run:
    backend: str
    validate: Paced = field(default_factory=Paced)
    redeem: Paced = field(default_factory=Paced)
    single_use_successes: int = 0
    single_use_statuses: dict[int, int] = field(default_factory=dict)
    budget_successes: int = 0
    budget_spent: int = 0
    budget_ledger: int = 0
    budget: int = 0

    @property
    def budget_held(self) -> bool:
        """The budget was spent exactly as the redemptions say, and never beyond it."""
        return self.budget_spent == self.budget_ledger <= self.budget and self.budget_successes == 9


class Loader:
    """The paced runs' HTTP client. aiohttp's connection pool hands a freed connection to
    the next waiting request at once; httpx's scans its queue of waiting requests, which
    made a queue of thousands cost the client more CPU than the server spent answering."""

    def __init__(self, base_url: str, key: str, connections: int) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=120),
        )

    async def post(self, path: str, body: dict[str, Any], **headers: str) -> int:
        async with self.session.post(
            self.base_url + path, data=orjson.dumps(body), headers={**self.headers, **headers}
        ) as response:
            await response.read()
            return response.status

    async def close(self) -> None:
        await self.session.close()


async def paced(count: int, rate: float, request: Callable[[int], Awaitable[int]]) -> Paced:
    """Send ``request(i)`` for i in range(count) at ``rate`` per second, open loop."""
    result = Paced()
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2

    async def one(i: int) -> None:
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            result.late_starts += 1
        status = await request(i)
        result.add(status, (loop.time() - due) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    result.seconds = time.perf_counter() - began
    return result


async def set_up(client: httpx.AsyncClient, codes: int) -> tuple[str, list[str]]:
    campaign = created(
        await client.post(
            "/v1/campaigns",
            json={
                "name": "Club 12.5",
                "type": "vouchers",
                "effect": {"kind": "percentage", "percent": "12.5", "max_amount": 10000},
                "rules": {
                    "all": [
                        {"field": "cart.subtotal", "op": "gte", "value": 5000},
                        {"field": "cart.categories", "op": "contains", "value": "camping"},
                    ]
                },
                "per_customer": 1000,
            },
        )
    )
    created(
        await client.post(
            "/v1/campaigns",
            json={
                "name": "Free shipping over 50",
                "type": "automatic",
                "effect": {"kind": "free_shipping"},
                "rules": {"field": "cart.subtotal", "op": "gte", "value": 5000},
            },
        )
    )
    made = 0
    while made < codes:
        batch = min(50_000, codes - made)
        created(
            await client.post(
                f"/v1/campaigns/{campaign['id']}/voucher-batches",
                json={"count": batch, "code": {"pattern": "BENCH-########"}},
            )
        )
        made += batch
    return campaign["id"], await codes_of(client, campaign["id"])


async def codes_of(client: httpx.AsyncClient, campaign_id: str) -> list[str]:
    """Every code of a campaign, page by page."""
    codes: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"campaign_id": campaign_id, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = created(await client.get("/v1/vouchers", params=params))
        codes += [item["code"] for item in page["data"]]
        cursor = page.get("next_cursor")
        if not cursor:
            return codes


async def single_use_race(client: httpx.AsyncClient, racers: int) -> dict[int, int]:
    campaign = created(
        await client.post(
            "/v1/campaigns",
            json={"name": "Race", "type": "vouchers", "effect": {"kind": "free_shipping"}},
        )
    )
    created(await client.post(f"/v1/campaigns/{campaign['id']}/vouchers", json={"code": "ONCE"}))
    answers = await asyncio.gather(
        *(
            client.post(
                "/v1/promotions/redemptions",
                json={"cart": cart(i), "codes": ["ONCE"]},
                headers={"Idempotency-Key": f"race-{i}"},
            )
            for i in range(racers)
        )
    )
    statuses: dict[int, int] = {}
    for answer in answers:
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
    return statuses


async def budget_race(client: httpx.AsyncClient, store: Store, racers: int, run: Run) -> None:
    run.budget = 9500
    campaign = created(
        await client.post(
            "/v1/campaigns",
            json={
                "name": "Budget",
                "type": "vouchers",
                "currency": "EUR",
                "effect": {"kind": "fixed_amount", "amount": 1000},
                "budget": {"amount": run.budget},
            },
        )
    )
    created(
        await client.post(
            f"/v1/campaigns/{campaign['id']}/voucher-batches",
            json={"count": racers, "code": {"prefix": "BUDGET-", "length": 10}},
        )
    )
    codes = await codes_of(client, campaign["id"])
    answers = await asyncio.gather(
        *(
            client.post(
                "/v1/promotions/redemptions",
                json={"cart": cart(i), "codes": [code]},
                headers={"Idempotency-Key": f"budget-{i}"},
            )
            for i, code in enumerate(codes)
        )
    )
    run.budget_successes = sum(answer.status_code == 201 for answer in answers)
    run.budget_spent = int(
        (
            await store.fetchrow(
                "SELECT spent FROM promotion_campaigns WHERE id = $1", campaign["id"]
            )
        )[0]
    )
    run.budget_ledger = int(
        (
            await store.fetchrow(
                "SELECT COALESCE(SUM(i.discount), 0) FROM promotion_redemption_items i "
                "JOIN promotion_redemptions r ON r.id = i.redemption_id "
                "WHERE i.campaign_id = $1 AND r.status = 'succeeded'",
                campaign["id"],
            )
        )[0]
    )


async def bench_one(
    backend: str, database_url: str, store: Store, workdir: Path, args: argparse.Namespace
) -> Run:
    run = Run(backend)
    key = f"chk_{uuid.uuid4().hex}{uuid.uuid4().hex[:11]}"
    await migrate(database_url, key, workdir)
    count = int(args.rate * args.seconds)
    async with api_server(database_url, key, workdir, workers=args.workers) as server:
        limits = httpx.Limits(
            max_connections=args.connections, max_keepalive_connections=args.connections
        )
        async with httpx.AsyncClient(
            base_url=server.base_url,
            headers={"Authorization": f"Bearer {key}"},
            timeout=60,
            limits=limits,
        ) as client:
            console.print(f"[{backend}] setting up: {count} codes")
            _, codes = await set_up(client, count)

            def member(i: int) -> dict[str, str]:
                return {"email": EMAIL.format(n=i % 500)}

            loader = Loader(server.base_url, key, args.connections)
            try:

                async def validate(i: int) -> int:
                    body = {"cart": cart(i), "codes": [codes[i]], "customer": member(i)}
                    return await loader.post("/v1/promotions/validations", body)

                async def redeem(i: int) -> int:
                    body = {"cart": cart(i), "codes": [codes[i]], "customer": member(i)}
                    return await loader.post(
                        "/v1/promotions/redemptions", body, **{"Idempotency-Key": f"redeem-{i}"}
                    )

                for name, request in (("validate", validate), ("redeem", redeem)):
                    console.print(f"[{backend}] {name}: {count} at {args.rate:g}/s")
                    await store.drain()
                    cpu = cpu_seconds(server.process.pid)
                    result = await paced(count, args.rate, request)
                    await store.drain()
                    result.server_cpu_s = cpu_seconds(server.process.pid) - cpu
                    setattr(run, name, result)
            finally:
                await loader.close()
            console.print(f"[{backend}] races: {args.racers} redeems at once, twice")
            run.single_use_statuses = await single_use_race(client, args.racers)
            run.single_use_successes = run.single_use_statuses.get(201, 0)
            await budget_race(client, store, args.racers, run)
    return run


@contextlib.asynccontextmanager
async def databases(
    args: argparse.Namespace, versions: dict[str, str]
) -> AsyncIterator[list[tuple[str, str, Store, Path]]]:
    with tempfile.TemporaryDirectory(prefix="bench-promotions-") as tmp:
        root = Path(tmp)
        targets: list[tuple[str, str, Store, Path]] = []
        async with contextlib.AsyncExitStack() as stack:
            if args.only in (None, "sqlite"):
                (root / "sqlite").mkdir()
                path = root / "sqlite" / "bench.db"
                targets.append(
                    (
                        "SQLite",
                        f"sqlite+aiosqlite:///{path}",
                        Store(sqlite_path=path),
                        root / "sqlite",
                    )
                )
            if args.only in (None, "postgres"):
                (root / "postgres").mkdir()
                url = await stack.enter_async_context(
                    scratch_postgres(args.postgres, f"bench_promotions_{os.getpid()}", versions)
                )
                dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
                targets.append(
                    (
                        "PostgreSQL",
                        url.set(drivername="postgresql+asyncpg").render_as_string(
                            hide_password=False
                        ),
                        Store(dsn=dsn),
                        root / "postgres",
                    )
                )
            yield targets


def report(runs: list[Run], args: argparse.Namespace, note: str) -> None:
    table = Table(
        title=f"Promotions at {args.rate:g} requests/s for {args.seconds:g} s, open loop, "
        f"serve --workers {args.workers}"
    )
    table.add_column("")
    for run in runs:
        table.add_column(run.backend, justify="right")
    for name in ("validate", "redeem"):
        published = VOUCHERIFY_P95_MS[name]
        rows: dict[str, list[str]] = {
            f"{name}: sent / achieved rate": [],
            f"{name}: answers": [],
            f"{name}: p50 / p95 / p99 ms": [],
            f"{name}: server CPU per request (incl. relaying its events)": [],
            f"{name}: p95 vs Voucherify's {published:g} ms (target <= {TARGET_RATIO:g}x)": [],
        }
        for run in runs:
            paced_run: Paced = getattr(run, name)
            rows[f"{name}: sent / achieved rate"].append(
                f"{paced_run.sent} / {paced_run.sent / paced_run.seconds:.0f} per s"
            )
            rows[f"{name}: answers"].append(
                ", ".join(f"{status}: {n}" for status, n in sorted(paced_run.statuses.items()))
            )
            rows[f"{name}: p50 / p95 / p99 ms"].append(
                f"{paced_run.percentile(0.5):.1f} / {paced_run.percentile(0.95):.1f} / "
                f"{paced_run.percentile(0.99):.1f}"
            )
            rows[f"{name}: server CPU per request (incl. relaying its events)"].append(
                f"{paced_run.server_cpu_s / max(paced_run.sent, 1) * 1000:.1f} ms"
            )
            ratio = paced_run.percentile(0.95) / published
            verdict = "met" if ratio <= TARGET_RATIO else "missed"
            rows[
                f"{name}: p95 vs Voucherify's {published:g} ms (target <= {TARGET_RATIO:g}x)"
            ].append(f"{ratio:.3f}x ({verdict})")
        for label, cells in rows.items():
            table.add_row(label, *cells)
    table.add_row(
        f"single-use code, {args.racers} redeems at once: successes (must be 1)",
        *[
            f"{run.single_use_successes} ({'ok' if run.single_use_successes == 1 else 'FAIL'})"
            for run in runs
        ],
    )
    table.add_row(
        f"budget 95.00 EUR, 10.00 off, {args.racers} at once: successes / spent / ledger",
        *[
            f"{run.budget_successes} / {run.budget_spent} / {run.budget_ledger} "
            f"({'ok' if run.budget_held else 'FAIL'})"
            for run in runs
        ],
    )
    console.print(table)
    console.print(note)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200, help="Requests per second.")
    parser.add_argument("--seconds", type=float, default=20, help="Length of each paced run.")
    parser.add_argument("--racers", type=int, default=1000, help="Redeems at once in the races.")
    parser.add_argument("--connections", type=int, default=100, help="Client connections.")
    parser.add_argument("--workers", type=int, default=1, help="serve --workers.")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "CHANNELHUB_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1/test"
        ),
        help="Admin URL of the PostgreSQL server.",
    )
    return parser.parse_args(argv)


async def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    versions: dict[str, str] = {}
    load = f"{os.getloadavg()[0]:.2f}"
    runs = []
    async with databases(args, versions) as targets:
        for backend, url, store, workdir in targets:
            runs.append(await bench_one(backend, url, store, workdir, args))
    report(runs, args, machine_note(versions, where="client and server on one machine", load=load))
    good = all(run.single_use_successes == 1 and run.budget_held for run in runs)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
