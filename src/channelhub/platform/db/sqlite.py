"""SQLite on the event loop, with a worker thread only for what may wait.

SQLAlchemy's aiosqlite adapter sends every cursor call (open, execute, fetch, close) to the
connection's worker thread: four round trips between threads per statement, which cost
several times more CPU than SQLite spends answering an indexed query. This connection runs a
statement on the event loop's own thread when it cannot wait for a lock:

- any statement of a transaction begun with ``BEGIN IMMEDIATE`` (it holds the write lock);
- a SELECT inside any open transaction (WAL readers take no lock that writers hold).

Everything that may wait goes to the connection's worker thread, so the event loop never
sleeps in ``busy_timeout`` or in ``fsync``: opening, ``BEGIN`` (waits while another process
writes), ``COMMIT`` (fsync, checkpoints), ``ROLLBACK``, ``PRAGMA`` and any statement
outside such a transaction.

It offers the part of aiosqlite's API that SQLAlchemy's aiosqlite dialect calls, so the
dialect, its URL (``sqlite+aiosqlite://``) and its error mapping (aiosqlite's errors are
``sqlite3``'s) stay as they are. Hand it to the engine as ``async_creator``.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import make_url

from channelhub.platform.tasks import finish_despite_cancellation

T = TypeVar("T")

_TAKES_WRITE_LOCK = re.compile(r"\s*BEGIN\s+(IMMEDIATE|EXCLUSIVE)\b", re.IGNORECASE)
_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)
_ENDS_OR_CONFIGURES = re.compile(r"\s*(COMMIT|END|ROLLBACK|PRAGMA|VACUUM)\b", re.IGNORECASE)

Row = tuple[Any, ...]
Description = tuple[tuple[Any, ...], ...] | None


class _CallNow:
    """Stands in for aiosqlite's call queue, which the dialect's ``isolation_level`` setter
    feeds directly: the call runs at once."""

    @staticmethod
    def put_nowait(item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:
            future.set_exception(exc)


class Cursor:
    """A cursor whose rows are fetched together with the statement, in one step."""

    arraysize = 1

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._cursor = connection._conn.cursor()
        self._rows: list[Row] = []
        self.description: Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def _run(self, operation: str, parameters: Any, many: bool) -> None:
        if many:
            self._cursor.executemany(operation, parameters)
        elif parameters is None:
            self._cursor.execute(operation)
        else:
            self._cursor.execute(operation, parameters)
        self.description = self._cursor.description
        self._rows = self._cursor.fetchall() if self.description else []
        self.rowcount = self._cursor.rowcount
        self.lastrowid = self._cursor.lastrowid

    async def execute(self, operation: str, parameters: Any = None) -> Cursor:
        await self._connection._call(operation, self._run, operation, parameters, False)
        return self

    async def executemany(self, operation: str, parameters: Sequence[Any]) -> Cursor:
        await self._connection._call(operation, self._run, operation, parameters, True)
        return self

    async def fetchone(self) -> Row | None:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        size = size or self.arraysize
        taken, self._rows = self._rows[:size], self._rows[size:]
        return taken

    async def fetchall(self) -> list[Row]:
        taken, self._rows = self._rows, []
        return taken

    async def close(self) -> None:
        self._rows = []
        self._cursor.close()


class Connection:
    """One SQLite connection and the worker thread that makes its waiting calls."""

    _tx = _CallNow()

    def __init__(self, conn: sqlite3.Connection, worker: ThreadPoolExecutor) -> None:
        self._conn = conn
        self._worker = worker
        self._open = True
        self._write_locked = False

    @classmethod
    async def open(cls, url: str) -> Connection:
        """Connect (in the worker thread) to the database of a ``sqlite+aiosqlite`` URL."""
        (database, *_), options = SQLiteDialect_aiosqlite().create_connect_args(make_url(url))

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(
                database,
                timeout=float(options.get("timeout", 5.0)),
                uri=bool(options.get("uri", False)),
                check_same_thread=False,
                isolation_level=None,
            )

        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        try:
            conn = await _in(worker, connect)
        except BaseException:
            worker.shutdown(wait=False)
            raise
        return cls(conn, worker)

    @property
    def _connection(self) -> sqlite3.Connection | None:
        """The open connection, or None once closed (the dialect checks it)."""
        return self._conn if self._open else None

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self)

    def _cannot_wait(self, operation: str) -> bool:
        if not self._conn.in_transaction:
            self._write_locked = False
            return False
        if _ENDS_OR_CONFIGURES.match(operation):
            return False
        return self._write_locked or bool(_READ.match(operation))

    async def _call(self, operation: str, function: Callable[..., T], *args: Any) -> T:
        if self._cannot_wait(operation):
            return function(*args)
        result = await _in(self._worker, lambda: function(*args))
        if _TAKES_WRITE_LOCK.match(operation):
            self._write_locked = True
        return result

    async def commit(self) -> None:
        await _in(self._worker, self._conn.commit)
        self._write_locked = False

    async def rollback(self) -> None:
        await _to_the_end(self._worker, self._conn.rollback)
        self._write_locked = False

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        if not self._open:
            return
        self._open = False
        try:
            await _to_the_end(self._worker, self._conn.close)
        finally:
            self._worker.shutdown(wait=False)

    def stop(self) -> None:
        """Close without waiting (the dialect's hard terminate)."""
        if self._open:
            self._open = False
            self._worker.submit(self._conn.close)
            self._worker.shutdown(wait=False)


def _in(worker: ThreadPoolExecutor, function: Callable[[], T]) -> Awaitable[T]:
    return asyncio.get_running_loop().run_in_executor(worker, function)


async def _to_the_end(worker: ThreadPoolExecutor, function: Callable[[], None]) -> None:
    """Run a rollback or close to its end even if the task is cancelled meanwhile, and
    deliver that cancellation at the task's next await instead.

    The pool rolls back a connection it takes back; a cancellation raised from inside that
    reset makes SQLAlchemy log an "Exception during reset" traceback and discard the
    connection, although the rollback itself completed in the worker thread.
    """
    try:
        await finish_despite_cancellation(_in(worker, function))
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is None:
            raise
        task.uncancel()  # delivered again, not requested again: asyncio.timeout counts them
        task.cancel()


def connector(url: str) -> Callable[[], Awaitable[Connection]]:
    """The engine's ``async_creator`` for a ``sqlite+aiosqlite`` URL."""

    def connect() -> Awaitable[Connection]:
        return Connection.open(url)

    return connect
