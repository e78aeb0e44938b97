"""Running ``channelhub`` in-process, the way a user would see it, and the helpers that
the tests of more than one command group share."""

from __future__ import annotations

import asyncio
import logging
import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from channelhub import migrations
from channelhub.cli import app
from channelhub.hub import Hub
from channelhub.platform.auth import service as auth
from channelhub.platform.auth.principal import Principal
from channelhub.platform.config import Settings
from channelhub.platform.db.database import Database
from channelhub.platform.errors import UnauthenticatedError
from tests.fixtures.hub import http_client, make_settings

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'channelhub.db'}"


@dataclass(frozen=True)
class Outcome:
    """What a user sees: the exit code and the two streams (colour codes removed)."""

    code: int
    stdout: str
    stderr: str


@dataclass
class Cli:
    """Runs ``channelhub ARGS`` in-process against one database."""

    database_url: str

    def __call__(self, *args: str, env: Mapping[str, str] | None = None) -> Outcome:
        variables = {
            "CHANNELHUB_DATABASE_URL": self.database_url,
            "COLUMNS": "200",  # rich wraps at 80 columns otherwise; ids must stay whole
            **(env or {}),
        }
        # Each verb configures structlog and the root logger to write to *its* stderr, which
        # CliRunner closes afterwards; put both back so later tests can still log.
        structlog_config = structlog.get_config()
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        try:
            result = CliRunner().invoke(app, list(args), env=variables)
        finally:
            structlog.configure(**structlog_config)
            root.handlers[:] = handlers
            root.setLevel(level)
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            # CliRunner catches what the real command would print as a traceback.
            stderr += "".join(traceback.format_exception(result.exception))
        return Outcome(
            code=result.exit_code, stdout=_ANSI.sub("", result.stdout), stderr=_ANSI.sub("", stderr)
        )


HEAD = ScriptDirectory.from_config(migrations.alembic_config()).get_current_head()
SECRET = re.compile(r"chk_[A-Za-z0-9_-]{43}")
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


def api_get(database_url: str, path: str, key: str, **params: Any) -> httpx.Response:
    """GET on the HTTP app over this database, as ``key``."""
    return _api(database_url, key, "GET", path, params=params)


def api_post(database_url: str, path: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST on the HTTP app over this database, as ``key``; the created resource."""
    response = _api(database_url, key, "POST", path, json=body)
    assert response.status_code in (200, 201), response.text
    created: dict[str, Any] = response.json()
    return created


def _api(database_url: str, key: str, method: str, path: str, **options: Any) -> httpx.Response:
    async def main() -> httpx.Response:
        hub = Hub(make_settings(database_url))
        try:
            async with http_client(hub, key) as client:
                return await client.request(method, path, **options)
        finally:
            await hub.stop()

    return asyncio.run(main())
