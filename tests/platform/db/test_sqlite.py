"""The embedded database keeps the hub responsive while another process holds SQLite's
write lock (a CLI import, say): waiting happens off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from channelhub.platform.config import Settings
from channelhub.platform.db.database import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", sqlite_busy_timeout_ms=2000
        )
    )
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE notes (body TEXT NOT NULL)"))
    yield database
    await database.dispose()


@contextlib.contextmanager
def other_writer(db: Database) -> Iterator[sqlite3.Connection]:
    """Another process's connection holding the write lock until the block ends."""
    path = db.location
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO notes VALUES ('uncommitted')")
    try:
        yield connection
    finally:
        if connection.in_transaction:
            connection.rollback()
        connection.close()


class Ticker:
    """Counts how often the event loop got to run a coroutine every 10 ms."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(0.01)
            self.ticks += 1

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def insert(db: Database, body: str) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO notes VALUES (:body)"), {"body": body})


async def bodies(db: Database) -> list[str]:
    async with db.reader() as session:
        return list((await session.scalars(text("SELECT body FROM notes ORDER BY body"))).all())


async def test_a_write_waits_for_another_process_without_stalling_the_hub(db: Database) -> None:
    with other_writer(db) as holder, Ticker() as ticker:
        waiting = asyncio.create_task(insert(db, "ours"))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        ticks_while_waiting = ticker.ticks
        holder.commit()
        await asyncio.wait_for(waiting, 5)

    # The loop ran its 10 ms timer about 30 times while the write waited for the lock (a
    # blocked loop runs it once at most; a loaded machine runs it late, hence the margin).
    assert ticks_while_waiting >= 8
    assert await bodies(db) == ["ours", "uncommitted"]


async def test_a_write_that_waits_too_long_fails_and_changes_nothing(db: Database) -> None:
    started = time.monotonic()
    with other_writer(db), Ticker() as ticker, pytest.raises(OperationalError, match="locked"):
        await insert(db, "ours")
    waited = time.monotonic() - started

    assert 1.8 < waited < 6  # CHANNELHUB_SQLITE_BUSY_TIMEOUT_MS=2000
    assert ticker.ticks >= waited * 25
    assert await bodies(db) == []


async def test_reads_answer_at_once_while_another_process_writes(db: Database) -> None:
    await insert(db, "committed")
    with other_writer(db):
        started = time.monotonic()
        seen = await bodies(db)
        took = time.monotonic() - started

    assert seen == ["committed"]
    assert took < 1


async def insert_twice(db: Database, first: str, second: str | None) -> None:
    async with db.transaction() as session:
        for body in (first, second):
            await session.execute(text("INSERT INTO notes VALUES (:body)"), {"body": body})


async def test_a_failed_statement_rolls_the_transaction_back(db: Database) -> None:
    with pytest.raises(IntegrityError, match="NOT NULL"):
        await insert_twice(db, "first", None)

    await insert(db, "after")
    assert await bodies(db) == ["after"]
