"""``channelhub serve``, ``worker``, ``migrate`` and ``demo``: ``migrate``, ``demo`` and the
worker's settings check run in-process; ``serve`` and ``worker`` also run as real
subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import nats
import pytest
from sqlalchemy import func, select

from channelhub.platform.config import Settings
from channelhub.platform.db.database import Database
from channelhub.platform.events.models import OutboxEvent
from channelhub.process.orders.models import OrderNotice
from tests.cli.runner import (
    DEMO_TITLES,
    HEAD,
    SECRET,
    Cli,
    api_get,
    principal_of,
    table_rows,
)
from tests.fixtures.outside import free_port

BOOTSTRAP_KEY = "chk_bootstrap-key-of-the-cli-tests"


def unpublished_events(database_url: str) -> int:
    async def main() -> int:
        db = Database(Settings(database_url=database_url))
        try:
            async with db.reader() as session:
                statement = select(func.count()).where(OutboxEvent.published_at.is_(None))
                return int(await session.scalar(statement) or 0)
        finally:
            await db.dispose()

    return asyncio.run(main())


def pending_notices(database_url: str) -> int:
    """Customer notices the notifications dispatcher has still to decide about."""

    async def main() -> int:
        db = Database(Settings(database_url=database_url))
        try:
            async with db.reader() as session:
                statement = select(func.count()).where(OrderNotice.status == "pending")
                return int(await session.scalar(statement) or 0)
        finally:
            await db.dispose()

    return asyncio.run(main())


# --- migrate -------------------------------------------------------------------------------


def test_migrate_check_on_an_empty_database_exits_1(empty_database_url: str) -> None:
    cli = Cli(empty_database_url)

    outcome = cli("migrate", "--check")

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        1,
        f"database at nothing; newest is {HEAD}\n",
        "",
    )
    assert cli("migrate", "--check").stdout == f"database at nothing; newest is {HEAD}\n"


def test_migrate_brings_the_database_to_head_and_check_agrees(empty_database_url: str) -> None:
    cli = Cli(empty_database_url)

    migrated = cli("migrate")
    check = cli("migrate", "--check")
    again = cli("migrate")

    assert (migrated.code, migrated.stdout) == (0, f"database migrated: nothing -> {HEAD}\n")
    assert (check.code, check.stdout) == (0, f"database at {HEAD}; newest is {HEAD}\n")
    assert (again.code, again.stdout) == (0, f"database migrated: {HEAD} -> {HEAD}\n")


def test_migrate_to_an_unknown_revision_is_one_error_line(cli: Cli) -> None:
    outcome = cli("migrate", "--revision", "no-such-revision")

    assert outcome.code == 2
    assert outcome.stdout == ""
    [line] = outcome.stderr.splitlines()
    assert line.startswith("error: ")
    assert "'no-such-revision'" in line
    assert cli("migrate", "--check").stdout == f"database at nothing; newest is {HEAD}\n"


# --- demo ----------------------------------------------------------------------------------


def test_demo_bootstraps_an_empty_database_and_loads_four_products_once(cli: Cli) -> None:
    first = cli("demo")
    second = cli("demo")

    assert (first.code, first.stderr) == (0, "")
    [admin_key] = set(SECRET.findall(first.stdout))
    assert first.stdout.endswith("\ndemo data: 4 products created\n")
    assert (second.code, second.stdout, second.stderr) == (0, "demo data present\n", "")
    response = api_get(cli.database_url, "/v1/products", admin_key)
    assert response.status_code == 200
    assert sorted(item["title"] for item in response.json()["data"]) == sorted(DEMO_TITLES)


def test_demo_refuses_a_short_bootstrap_key_and_creates_no_tenant(cli: Cli) -> None:
    outcome = cli("demo", env={"CHANNELHUB_BOOTSTRAP_ADMIN_KEY": "chk_short"})

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        2,
        "",
        "error: CHANNELHUB_BOOTSTRAP_ADMIN_KEY must be at least 24 characters long "
        "(bootstrap_admin_key)\n",
    )
    assert table_rows(cli("tenants", "list").stdout) == []


def test_demo_does_not_echo_a_configured_bootstrap_key(cli: Cli) -> None:
    outcome = cli("demo", env={"CHANNELHUB_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY})

    assert (outcome.code, outcome.stderr) == (0, "")
    principal = principal_of(cli.database_url, BOOTSTRAP_KEY)
    assert principal is not None
    assert principal.scopes == frozenset({"admin"})
    assert BOOTSTRAP_KEY not in outcome.stdout


# --- worker settings -----------------------------------------------------------------------


def test_worker_refuses_the_in_process_bus(cli: Cli) -> None:
    outcome = cli("worker")

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        2,
        "",
        "error: a worker needs a shared bus: set CHANNELHUB_BUS_URL=nats://host:4222 "
        "(the in-process bus delivers only inside `channelhub serve`)\n",
    )


# --- serve and worker as real processes ----------------------------------------------------


@dataclass
class Process:
    """A ``channelhub`` subprocess whose output goes to files in its working directory."""

    popen: subprocess.Popen[bytes]
    directory: Path

    def stdout(self) -> str:
        return (self.directory / "stdout.txt").read_text()

    def stderr(self) -> str:
        return (self.directory / "stderr.txt").read_text()

    def wait_for(self, ready: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
        """Poll ``ready()`` until true; fail early, with the output, if the process died."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                pytest.fail(f"exited {self.popen.returncode} before {what}:\n{self.stderr()}")
            if ready():
                return
            time.sleep(0.05)
        pytest.fail(f"no {what} within {timeout_s} s:\n{self.stdout()}\n{self.stderr()}")

    def terminate(self, timeout_s: float = 10) -> int:
        self.popen.send_signal(signal.SIGTERM)
        return self.popen.wait(timeout=timeout_s)


@contextlib.contextmanager
def channelhub(directory: Path, *args: str, env: Mapping[str, str]) -> Iterator[Process]:
    """Run ``channelhub ARGS`` in ``directory`` with only the given CHANNELHUB_* settings;
    the process is killed on the way out whatever happened."""
    variables = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("CHANNELHUB_") and name != "FORCE_COLOR"
    }
    variables.update(PYTHONUNBUFFERED="1", COLUMNS="200", NO_COLOR="1", **env)
    with (directory / "stdout.txt").open("wb") as out, (directory / "stderr.txt").open("wb") as err:
        popen = subprocess.Popen(  # noqa: S603 - our own entry point
            [sys.executable, "-m", "channelhub", *args],
            cwd=directory,
            env=variables,
            stdout=out,
            stderr=err,
        )
        try:
            yield Process(popen, directory)
        finally:
            if popen.poll() is None:
                popen.kill()
                popen.wait(timeout=10)


def healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=0.5).status_code == 200
    except httpx.TransportError:
        return False


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_serve_with_a_bootstrap_key_serves_the_demo_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {"CHANNELHUB_PORT": str(port), "CHANNELHUB_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY}

    with channelhub(tmp_path, "serve", "--demo", env=env) as server:
        server.wait_for(lambda: healthy(base_url), "a healthy /healthz")
        with httpx.Client(base_url=base_url, timeout=5) as http:
            listed = http.get("/v1/products", headers=bearer(BOOTSTRAP_KEY))
            anonymous = http.get("/v1/products")
            unknown = http.get("/v1/products", headers=bearer(BOOTSTRAP_KEY + "x"))
        code = server.terminate()

    assert listed.status_code == 200
    assert sorted(item["title"] for item in listed.json()["data"]) == sorted(DEMO_TITLES)
    assert (anonymous.status_code, unknown.status_code) == (401, 401)
    assert "demo data: 4 products created" in server.stdout().splitlines()
    # uvicorn shuts down gracefully (lifespan: hub stopped, database disposed), then re-raises
    # SIGTERM so that a supervisor sees how the process ended.
    assert code == -signal.SIGTERM
    assert "Traceback" not in server.stderr()
    # The embedded default database lives in the working directory, and its write-ahead log
    # was checkpointed and removed when the last connection closed: a clean shutdown.
    assert sorted(path.name for path in tmp_path.glob("channelhub.db*")) == ["channelhub.db"]


def test_serve_prints_a_generated_key_on_the_first_start_only(tmp_path: Path) -> None:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {"CHANNELHUB_PORT": str(port)}
    first_dir, second_dir = tmp_path / "first", tmp_path / "second"
    first_dir.mkdir()
    second_dir.mkdir()
    database = {"CHANNELHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"}

    with channelhub(first_dir, "serve", env={**env, **database}) as first:
        first.wait_for(lambda: healthy(base_url), "a healthy /healthz")
        [key] = set(SECRET.findall(first.stdout()))
        first_status = httpx.get(f"{base_url}/v1/products", headers=bearer(key)).status_code
        first.terminate()
    with channelhub(second_dir, "serve", env={**env, **database}) as second:
        second.wait_for(lambda: healthy(base_url), "a healthy /healthz")
        second_status = httpx.get(f"{base_url}/v1/products", headers=bearer(key)).status_code
        second.terminate()

    assert first.stdout().count("channelhub: first start") == 1
    assert first_status == 200
    assert second_status == 200
    assert "chk_" not in second.stdout()
    assert "first start" not in second.stdout()
    assert second.stdout().startswith(f"channelhub on {base_url} (database: sqlite")


def test_serve_on_a_busy_port_is_one_error_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with channelhub(tmp_path, "serve", env={"CHANNELHUB_PORT": str(port)}) as server:
            code = server.popen.wait(timeout=20)

    assert "channelhub on" not in server.stdout()
    [line] = [line for line in server.stderr().splitlines() if line.startswith("error:")]
    assert f"127.0.0.1:{port}" in line
    assert code == 69


def test_serve_refuses_several_workers_on_sqlite(cli: Cli) -> None:
    outcome = cli("serve", "--workers", "2")

    assert outcome.code == 2
    assert "--workers needs PostgreSQL" in outcome.stderr
    assert "channelhub on" not in outcome.stdout


def descendants(pid: int) -> set[int]:
    """Processes whose parent chain leads to ``pid`` (Linux /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, IndexError):
            if entry.name.isdigit():
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(stat[1])
    found = {child for child, parent in parents.items() if parent == pid}
    for child in set(found):
        found |= descendants(child)
    return found


def running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.postgres
def test_serve_with_workers_answers_from_every_process_and_stops_them_all(
    tmp_path: Path, postgresql_empty_url: str
) -> None:
    Cli(postgresql_empty_url)("migrate")
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "CHANNELHUB_DATABASE_URL": postgresql_empty_url,
        "CHANNELHUB_PORT": str(port),
        "CHANNELHUB_BOOTSTRAP_ADMIN_KEY": BOOTSTRAP_KEY,
    }

    with channelhub(tmp_path, "serve", "--workers", "2", "--demo", env=env) as server:
        server.wait_for(lambda: healthy(base_url), "a healthy /healthz")
        # Each request on a new connection: the kernel spreads them over both processes.
        answers = [
            httpx.get(f"{base_url}/v1/products", headers=bearer(BOOTSTRAP_KEY), timeout=5)
            for _ in range(20)
        ]
        children = descendants(server.popen.pid)
        code = server.terminate(timeout_s=20)
        deadline = time.monotonic() + 10
        while (left := {pid for pid in children if running(pid)}) and time.monotonic() < deadline:
            time.sleep(0.05)

    assert {answer.status_code for answer in answers} == {200}
    assert all(len(answer.json()["data"]) == len(DEMO_TITLES) for answer in answers)
    assert "2 processes" in server.stdout()
    # two API processes (and multiprocessing's resource tracker)
    assert len(children) >= 2
    assert not left, "a worker process outlived the server"
    assert code == 0
    assert "Traceback" not in server.stderr()


def stream_messages(nats_url: str, stream: str) -> int:
    async def main() -> int:
        connection = await nats.connect(nats_url)
        try:
            info = await connection.jetstream().stream_info(stream)
            return int(info.state.messages)
        finally:
            await connection.close()

    return asyncio.run(main())


@pytest.mark.postgres
@pytest.mark.nats
def test_worker_with_relay_publishes_the_outbox_and_stops_on_sigterm(
    tmp_path: Path, postgresql_empty_url: str, nats_url: str, nats_names: tuple[str, str]
) -> None:
    stream, prefix = nats_names
    cli = Cli(postgresql_empty_url)
    cli("migrate")
    cli("demo")
    pending = unpublished_events(postgresql_empty_url)
    env = {
        "CHANNELHUB_DATABASE_URL": postgresql_empty_url,
        "CHANNELHUB_BUS_URL": nats_url,
        "CHANNELHUB_NATS_STREAM": stream,
        "CHANNELHUB_NATS_SUBJECT_PREFIX": prefix,
        "CHANNELHUB_RELAY_POLL_INTERVAL_S": "0.05",
    }

    with channelhub(tmp_path, "worker", "--relay", env=env) as worker:
        worker.wait_for(lambda: "worker running" in worker.stdout(), "the worker to start")
        worker.wait_for(lambda: pending_notices(postgresql_empty_url) == 0, "notices decided")
        worker.wait_for(lambda: unpublished_events(postgresql_empty_url) == 0, "a drained outbox")
        code = worker.terminate()

    # brand, web shop, 4 products, 3 locations, 2 stores' opening hours, 21 stock levels and
    # 21 availability edges (8 SKUs back in stock in the channel, 5 at the Porto store, 8 at
    # Gaia), and the demo pickup order: created, confirmed, ready for pickup, 2 status
    # changes, its reservation, the level it holds and the headlamp out of stock at Porto
    assert pending == 61
    # ...and the worker's notifications dispatcher decided the order's two notices: no
    # e-mail is set up in the demo, so each is suppressed (notification.suppressed).
    assert stream_messages(nats_url, stream) == pending + 2
    # stock-push, webhooks and promotions-rollback
    assert worker.stdout() == "worker running 8 consumer(s); relay: True\n"
    assert code == 0
    assert "Traceback" not in worker.stderr()
