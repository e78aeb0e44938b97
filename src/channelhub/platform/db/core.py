"""Prebuilt Core statements for hot paths.

A request that runs a handful of statements spends more CPU building ORM statements,
deriving their cache keys and keeping the unit of work's books than the database spends
executing them. Hot paths therefore build their statements once, on the Core table, and
run them on the session's connection, inside the same transaction as everything else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import CursorResult, Executable, Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from channelhub.platform.db.base import Base
from channelhub.platform.errors import ConflictError


def table_of(model: type[Base]) -> Table:
    """The Core table of a mapped class."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


async def execute_core(
    session: AsyncSession,
    statement: Executable,
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> CursorResult[*tuple[Any, ...]]:
    """Run a Core statement in the session's transaction, bypassing the ORM's execution
    layer (which would treat a DML statement on a mapped table as an ORM bulk operation).
    A list of parameter sets runs as one executemany (RETURNING included). Pending ORM
    changes are flushed first, as the session's own autoflush would."""
    return await session.run_sync(_execute, statement, parameters)


def _execute(
    session: Session,
    statement: Executable,
    parameters: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> CursorResult[*tuple[Any, ...]]:
    if session.new or session.dirty or session.deleted:
        session.flush()
    return session.connection().execute(statement, parameters)


def dialect_insert(session: AsyncSession, table: type[object] | Table) -> Insert:
    """An INSERT supporting ON CONFLICT for the session's database (PostgreSQL or SQLite)."""
    return dialect_insert_for(dialect_name(session), table)


def dialect_insert_for(dialect: str, table: type[object] | Table) -> Insert:
    """An INSERT supporting ON CONFLICT for the named database (postgresql or sqlite)."""
    return _INSERTS[dialect](table)


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


async def flush_or_conflict(session: AsyncSession, conflict: str, *, field: str) -> None:
    """Flush what changed; a uniqueness clash is a 409 naming ``field``. The flush runs in
    a savepoint, so the request's transaction stays usable after the clash."""
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise ConflictError(conflict, field=field) from exc
