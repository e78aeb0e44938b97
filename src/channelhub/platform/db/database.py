"""Engines, sessions and the unit of work.

The request (or the job) is the unit of work: services and repositories only ``flush()``;
``Database.transaction()`` commits once at the boundary, outbox rows included.

SQLite allows one writer at a time. Write transactions start with ``BEGIN IMMEDIATE`` (so a
reader never has to upgrade its lock mid-transaction, which SQLite answers with an instant
"database is locked") and are serialised in-process by an asyncio lock, so that the busy
timeout is only ever spent waiting for *another* process (a CLI import, say).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from channelhub.platform.config import Settings
from channelhub.platform.db import sqlite
from channelhub.platform.errors import UnavailableError
from channelhub.platform.tasks import finish_despite_cancellation

_BEGIN_OPTION = "channelhub_sqlite_begin"


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event (below) emit BEGIN itself, so we can choose its mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        # FULL: a committed transaction survives a power cut, not only a process crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock


def is_transient_conflict(exc: BaseException) -> bool:
    """True when PostgreSQL aborted the transaction to resolve a conflict with a
    concurrent one (deadlock, serialization failure): the same request may simply retry."""
    return isinstance(exc, DBAPIError) and (
        getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES
    )


def is_connection_error(exc: BaseException) -> bool:
    """True when the database could not be reached (as opposed to a bad statement)."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, OSError | ConnectionError | TimeoutError)


async def _to_the_end(step: Coroutine[Any, Any, None]) -> None:
    """Finish a session's rollback or close before the task gives in to a cancellation (a
    server shutting down, a client gone). Cut short, it would leave its connection half
    returned to the pool; left running on its own, the loop's shutdown would cut it short
    instead. Either way the pool logs an error and throws the connection away."""
    await finish_despite_cancellation(step)


class Database:
    """Owns the engine; hands out read sessions and write units of work."""

    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.is_sqlite = settings.is_sqlite
        # hide_parameters: statements in error logs never carry values (secrets, PII).
        if self.is_sqlite:
            self.engine = create_async_engine(
                self.url, hide_parameters=True, async_creator=sqlite.connector(self.url)
            )
            _configure_sqlite(self.engine, settings.sqlite_busy_timeout_ms)
            writer_engine = self.engine.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        else:
            self.engine = create_async_engine(
                self.url,
                hide_parameters=True,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_pool_size,
                pool_pre_ping=True,
            )
            writer_engine = self.engine
        self._readers = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writers = async_sessionmaker(writer_engine, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._after_commit: list[Callable[[AsyncSession], None]] = []

    @property
    def location(self) -> str:
        """Where the database is, for messages: host:port/name, or the SQLite file (never
        the credentials)."""
        url = make_url(self.url)
        if self.is_sqlite:
            return url.database or ":memory:"
        return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"

    def on_commit(self, callback: Callable[[AsyncSession], None]) -> None:
        """Run ``callback(session)`` after every committed write (e.g. wake the relay)."""
        self._after_commit.append(callback)

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write unit of work: commits on success, rolls back on any exception."""
        async with self._writer_slot():
            session = self._writers()
            try:
                yield session
                await session.commit()
            except BaseException:
                await _to_the_end(session.rollback())
                raise
            finally:
                await _to_the_end(session.close())
        for callback in self._after_commit:
            callback(session)

    @contextlib.asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncSession]:
        """A read session. Closing it ends its transaction (anything written is discarded)
        and detaches what it loaded without expiring it, so results stay usable."""
        session = self._readers()
        try:
            yield session
        finally:
            await _to_the_end(session.close())

    @contextlib.asynccontextmanager
    async def _writer_slot(self) -> AsyncIterator[None]:
        if self._write_lock is None:
            yield
            return
        async with self._write_lock:
            yield

    async def ping(self) -> None:
        """Raise ``UnavailableError`` unless the database answers ``SELECT 1``."""
        try:
            async with self.reader() as session:
                await session.execute(text("SELECT 1"))
        except Exception as exc:
            raise UnavailableError(f"database unreachable: {type(exc).__name__}") from exc

    async def dispose(self) -> None:
        await self.engine.dispose()
