"""Fixtures for the ``channelhub`` command: a clean environment, empty databases, a runner.

In-process verbs run through Typer's ``CliRunner`` in plain (sync) tests: each verb calls
``asyncio.run`` itself, which is fine because pytest-asyncio's loop is not running while a
sync test runs. ``serve`` and ``worker`` run as real subprocesses (see ``test_server.py``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.runner import Cli, sqlite_url
from tests.fixtures.services import create_postgres_database, drop_postgres_database


@pytest.fixture(autouse=True)
def clean_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer's ``CHANNELHUB_*`` variable or ``.env`` file leaks into a test: settings
    come only from what the test passes, and the working directory is the test's own."""
    for name in list(os.environ):
        if name.startswith("CHANNELHUB_") and not name.startswith("CHANNELHUB_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def postgresql_empty_url() -> Iterator[str]:
    """A new, empty (unmigrated) PostgreSQL database, dropped after the test."""
    url = asyncio.run(create_postgres_database("channelhub_cli"))
    yield url
    asyncio.run(drop_postgres_database(url))


@pytest.fixture
def sqlite_empty_url(tmp_path: Path) -> str:
    """A SQLite file that does not exist yet, in the test's own directory."""
    return sqlite_url(tmp_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest) -> str:
    """A new, empty database of each kind."""
    if request.param == "postgresql":
        request.applymarker(pytest.mark.postgres)
    url: str = request.getfixturevalue(f"{request.param}_empty_url")
    return url


@pytest.fixture
def cli(sqlite_empty_url: str) -> Cli:
    """The command line on a fresh SQLite database of this test."""
    return Cli(sqlite_empty_url)
