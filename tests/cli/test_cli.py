"""The ``channelhub`` command as a user meets it: output, exit codes, and what each verb
changes.

Exit codes are the contract in docs/operations.md: 0 success, 1 unexpected failure, 2 invalid
input or settings, 3 not found, 4 conflict, 5 not allowed, 6 precondition failed, 69
database or bus unreachable; an expected error is one ``error:`` line on stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import nats
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from channelhub import migrations
from channelhub.hub import Hub
from channelhub.platform.auth import service as auth
from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import utc_now
from channelhub.platform.config import Settings
from channelhub.platform.db.database import Database
from channelhub.platform.errors import UnauthenticatedError
from channelhub.platform.events.models import ConsumerFailure, OutboxEvent
from tests.cli.runner import Cli, Outcome
from tests.fixtures.hub import http_client, make_settings

HEAD = ScriptDirectory.from_config(migrations.alembic_config()).get_current_head()
SECRET = re.compile(r"chk_[A-Za-z0-9_-]{43}")
BOOTSTRAP_KEY = "chk_bootstrap-key-of-the-cli-tests"
DEMO_TITLES = [
    "Trailhead 2-person tent",
    "Summit down sleeping bag",
    "Beacon 400 headlamp",
    "Merino hiking socks",
]


# --- reading what the command printed ------------------------------------------------------


def table_rows(output: str) -> list[list[str]]:
    """The body rows of a rich table (the header row is drawn with heavier lines)."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in output.splitlines()
        if line.startswith("│")
    ]


def created_tenant(outcome: Outcome, slug: str) -> tuple[str, str]:
    """(tenant id, admin key) from the output of ``tenants create``."""
    assert (outcome.code, outcome.stderr) == (0, ""), outcome
    match = re.fullmatch(
        rf"tenant {slug} created: (ten_\w+)\nadmin key \(shown once\): (chk_\S+)\n",
        outcome.stdout,
    )
    assert match is not None, outcome.stdout
    return match[1], match[2]


def issued_key(outcome: Outcome, scopes: str) -> tuple[str, str]:
    """(key id, secret) from the output of ``keys create``."""
    assert (outcome.code, outcome.stderr) == (0, ""), outcome
    match = re.fullmatch(
        rf"key (key_\w+) \({re.escape(scopes)}\)\nsecret \(shown once\): (chk_\S+)\n",
        outcome.stdout,
    )
    assert match is not None, outcome.stdout
    return match[1], match[2]


def create_acme(cli: Cli) -> tuple[str, str]:
    return created_tenant(cli("tenants", "create", "Acme", "--slug", "acme"), "acme")


# --- looking at the database directly ------------------------------------------------------


def principal_of(database_url: str, secret: str) -> Principal | None:
    """Who a bearer secret authenticates as, or None when it is refused."""

    async def main() -> Principal | None:
        db = Database(Settings(database_url=database_url))
        try:
            async with db.reader() as session:
                return await auth.authenticate(session, secret)
        except UnauthenticatedError:
            return None
        finally:
            await db.dispose()

    return asyncio.run(main())


def api_get(database_url: str, path: str, key: str) -> httpx.Response:
    """GET on the HTTP app over this database, as ``key``."""

    async def main() -> httpx.Response:
        hub = Hub(make_settings(database_url))
        try:
            async with http_client(hub, key) as client:
                return await client.get(path)
        finally:
            await hub.stop()

    return asyncio.run(main())


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


@pytest.mark.postgres
def test_admin_verbs_refuse_an_unmigrated_postgresql_database(postgresql_empty_url: str) -> None:
    cli = Cli(postgresql_empty_url)

    outcome = cli("tenants", "create", "Acme", "--slug", "acme")

    assert outcome.stderr == (
        f"error: the database schema is at nothing, this version needs {HEAD}: "
        "run `channelhub migrate` first\n"
    )
    assert cli("migrate", "--check").stdout == f"database at nothing; newest is {HEAD}\n"
    assert outcome.code == 6


# --- tenants -------------------------------------------------------------------------------


def test_tenants_create_prints_the_id_and_an_admin_key_once(cli: Cli) -> None:
    tenant_id, admin_key = create_acme(cli)

    [key_row] = table_rows(cli("keys", "list", "--tenant", "acme").stdout)
    assert key_row[1:4] == ["admin", admin_key[:12] + "...", "admin"]
    assert principal_of(cli.database_url, admin_key) == Principal(
        tenant_id=tenant_id, key_id=key_row[0], scopes=frozenset({"admin"})
    )


def test_tenants_create_without_an_admin_key_issues_none(cli: Cli) -> None:
    outcome = cli("tenants", "create", "Shop", "--slug", "shop", "--no-admin-key")

    assert (outcome.code, outcome.stderr) == (0, "")
    assert re.fullmatch(r"tenant shop created: ten_\w+\n", outcome.stdout), outcome.stdout
    assert table_rows(cli("keys", "list", "--tenant", "shop").stdout) == []


def test_tenants_list_shows_every_tenant(cli: Cli) -> None:
    acme_id, _ = create_acme(cli)
    shop_id, _ = created_tenant(cli("tenants", "create", "Shop & Co", "--slug", "shop"), "shop")

    outcome = cli("tenants", "list")

    assert outcome.code == 0
    rows = table_rows(outcome.stdout)
    assert [row[:3] for row in rows] == [
        [acme_id, "acme", "Acme"],
        [shop_id, "shop", "Shop & Co"],
    ]
    assert all(datetime.fromisoformat(row[3]).utcoffset() is not None for row in rows)


@pytest.mark.parametrize(
    ("args", "code", "error"),
    [
        pytest.param(
            ["Acme again", "--slug", "acme"],
            4,
            "a tenant with slug 'acme' exists (slug)",
            id="slug-taken",
        ),
        pytest.param(
            ["Other", "--slug", "Not A Slug"],
            2,
            "slug must be 1-63 lowercase letters, digits or inner hyphens (slug)",
            id="slug-malformed",
        ),
        pytest.param(["  ", "--slug", "blank"], 2, "a tenant needs a name (name)", id="name-blank"),
    ],
)
def test_tenants_create_refusal_is_one_error_line_and_changes_nothing(
    cli: Cli, args: list[str], code: int, error: str
) -> None:
    create_acme(cli)
    before = cli("tenants", "list").stdout

    outcome = cli("tenants", "create", *args)

    assert (outcome.code, outcome.stdout, outcome.stderr) == (code, "", f"error: {error}\n")
    assert cli("tenants", "list").stdout == before


def test_names_are_listed_verbatim(cli: Cli) -> None:
    created_tenant(cli("tenants", "create", "Acme [beta]", "--slug", "acme"), "acme")
    issued_key(cli("keys", "create", "-t", "acme", "-s", "admin", "--name", "shop [eu]"), "admin")

    tenants = table_rows(cli("tenants", "list").stdout)
    keys = table_rows(cli("keys", "list", "--tenant", "acme").stdout)

    assert [row[2] for row in tenants] == ["Acme [beta]"]
    assert [row[1] for row in keys] == ["admin", "shop [eu]"]


def test_an_error_about_bracketed_input_is_one_error_line(cli: Cli) -> None:
    create_acme(cli)

    outcome = cli("keys", "list", "--tenant", "[/]")

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        3,
        "",
        "error: no tenant '[/]' (tenant)\n",
    )


# --- keys ----------------------------------------------------------------------------------


def test_keys_create_prints_a_secret_that_authenticates_with_its_scopes(cli: Cli) -> None:
    tenant_id, _ = create_acme(cli)

    outcome = cli("keys", "create", "--tenant", "acme", "-s", "catalog:write", "-s", "catalog:read")

    key_id, secret = issued_key(outcome, "catalog:read, catalog:write")
    assert principal_of(cli.database_url, secret) == Principal(
        tenant_id=tenant_id, key_id=key_id, scopes=frozenset({"catalog:read", "catalog:write"})
    )


def test_keys_create_refuses_an_unknown_scope_naming_it(cli: Cli) -> None:
    create_acme(cli)
    before = cli("keys", "list", "--tenant", "acme").stdout

    outcome = cli("keys", "create", "--tenant", "acme", "--scope", "catalog:delete")

    assert (outcome.code, outcome.stdout) == (2, "")
    [line] = outcome.stderr.splitlines()
    assert line.startswith(
        "error: unknown scope 'catalog:delete'; known: admin, catalog:read|write"
    )
    assert line.endswith(" (scopes)")
    assert cli("keys", "list", "--tenant", "acme").stdout == before


def test_a_long_error_stays_one_line_in_80_columns(cli: Cli) -> None:
    create_acme(cli)

    outcome = cli(
        "keys", "create", "--tenant", "acme", "--scope", "catalog:delete", env={"COLUMNS": "80"}
    )

    assert outcome.code == 2
    [line] = outcome.stderr.splitlines()
    assert line.startswith("error: unknown scope 'catalog:delete'; known: admin, ")


def test_keys_create_for_an_unknown_tenant_exits_3(cli: Cli) -> None:
    create_acme(cli)

    outcome = cli("keys", "create", "--tenant", "acne", "--scope", "catalog:read")

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        3,
        "",
        "error: no tenant 'acne' (tenant)\n",
    )


def test_keys_list_shows_every_key_but_never_a_secret(cli: Cli) -> None:
    _, admin_key = create_acme(cli)
    key_id, secret = issued_key(
        cli("keys", "create", "-t", "acme", "-s", "events:read", "--name", "storefront"),
        "events:read",
    )

    outcome = cli("keys", "list", "--tenant", "acme")

    assert outcome.code == 0
    rows = table_rows(outcome.stdout)
    assert [[row[1], row[2], row[3], row[5]] for row in rows] == [
        ["admin", admin_key[:12] + "...", "admin", ""],
        ["storefront", secret[:12] + "...", "events:read", ""],
    ]
    assert rows[1][0] == key_id
    assert admin_key not in outcome.stdout
    assert secret not in outcome.stdout


def test_keys_revoke_makes_the_key_stop_authenticating(cli: Cli) -> None:
    tenant_id, admin_key = create_acme(cli)
    key_id, secret = issued_key(
        cli("keys", "create", "--tenant", "acme", "--scope", "catalog:read"), "catalog:read"
    )

    outcome = cli("keys", "revoke", key_id, "--tenant", tenant_id)

    assert (outcome.code, outcome.stderr) == (0, "")
    match = re.fullmatch(rf"key {key_id} revoked at (.+)\n", outcome.stdout)
    assert match is not None, outcome.stdout
    assert principal_of(cli.database_url, secret) is None
    admin = principal_of(cli.database_url, admin_key)
    assert admin is not None
    assert admin.tenant_id == tenant_id
    revoked_at = datetime.fromisoformat(match[1]).isoformat(timespec="seconds")
    revoked = {row[0]: row[5] for row in table_rows(cli("keys", "list", "-t", "acme").stdout)}
    assert revoked == {admin.key_id: "", key_id: revoked_at}
    # Revoking again is a harmless no-op: the key keeps its first revocation time.
    again = cli("keys", "revoke", key_id, "--tenant", "acme")
    assert (again.code, again.stdout) == (0, outcome.stdout)


def test_keys_revoke_refuses_another_tenants_key(cli: Cli) -> None:
    create_acme(cli)
    created_tenant(cli("tenants", "create", "Rival", "--slug", "rival"), "rival")
    key_id, secret = issued_key(
        cli("keys", "create", "--tenant", "acme", "--scope", "catalog:read"), "catalog:read"
    )

    outcome = cli("keys", "revoke", key_id, "--tenant", "rival")

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        3,
        "",
        f"error: no API key '{key_id}' in this tenant (key_id)\n",
    )
    principal = principal_of(cli.database_url, secret)
    assert principal is not None
    assert principal.key_id == key_id


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


# --- settings and reachability -------------------------------------------------------------


def test_worker_refuses_the_in_process_bus(cli: Cli) -> None:
    outcome = cli("worker")

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        2,
        "",
        "error: a worker needs a shared bus: set CHANNELHUB_BUS_URL=nats://host:4222 "
        "(the in-process bus delivers only inside `channelhub serve`)\n",
    )


@pytest.mark.parametrize(
    ("variable", "value", "error"),
    [
        pytest.param(
            "CHANNELHUB_DATABASE_URL",
            "mysql://x",
            "Value error, use sqlite+aiosqlite:///path.db or postgresql+asyncpg://user@host/db",
            id="database-url",
        ),
        pytest.param(
            "CHANNELHUB_BUS_URL",
            "amqp://rabbit",
            "Value error, use memory:// (in-process) or nats://host:4222 (JetStream)",
            id="bus-url",
        ),
        pytest.param(
            "CHANNELHUB_PORT",
            "eighty",
            "Input should be a valid integer, unable to parse string as an integer",
            id="port",
        ),
    ],
)
def test_bad_settings_exit_2_naming_the_variable(
    cli: Cli, tmp_path: Path, variable: str, value: str, error: str
) -> None:
    outcome = cli("tenants", "list", env={variable: value})

    assert (outcome.code, outcome.stdout, outcome.stderr) == (
        2,
        "",
        f"error: {variable}: {error}\n",
    )
    assert list(tmp_path.iterdir()) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    "verb", [["tenants", "list"], ["migrate"]], ids=["tenants-list", "migrate"]
)
def test_an_unreachable_database_exits_69(verb: list[str]) -> None:
    port = free_port()  # nothing listens there once the probe is closed
    cli = Cli(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/channelhub")

    outcome = cli(*verb)

    assert (outcome.code, outcome.stdout) == (69, "")
    [line] = outcome.stderr.splitlines()
    assert re.fullmatch(
        rf"error: (cannot reach the database|the database is unreachable): "
        rf"\[Errno 111\] Connect call failed \('127\.0\.0\.1', {port}\)",
        line,
    ), line


# aiosqlite (0.22) races itself when a connection fails to open: its worker thread may post
# to the command's already closed event loop and die with "Event loop is closed". The test
# waits for that thread, so the complaint is raised (and ignored) here and not in a later test.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_sqlite_file_that_cannot_be_created_exits_69(tmp_path: Path) -> None:
    cli = Cli(f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'channelhub.db'}")

    outcome = cli("tenants", "list")
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            thread.join(timeout=5)

    assert (outcome.code, outcome.stdout) == (69, "")
    assert outcome.stderr.splitlines()[0] == (
        "error: cannot reach the database: (sqlite3.OperationalError) unable to open database file"
    )
    assert not (tmp_path / "missing-dir").exists()


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
        worker.wait_for(lambda: unpublished_events(postgresql_empty_url) == 0, "a drained outbox")
        code = worker.terminate()

    assert pending == 6  # brand, web shop and four products
    assert stream_messages(nats_url, stream) == pending
    assert worker.stdout() == "worker running 0 consumer(s); relay: True\n"
    assert code == 0
    assert "Traceback" not in worker.stderr()
