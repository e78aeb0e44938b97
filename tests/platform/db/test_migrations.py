"""Migrations are the only way the schema changes; they must work both ways on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from channelhub import migrations
from channelhub.migrations.models import Base
from tests.fixtures.services import create_postgres_database, drop_postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """An engine on a brand-new, empty database."""
    if request.param == "sqlite":
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
        yield engine
        await engine.dispose()
        return
    request.applymarker(pytest.mark.postgres)
    url = await create_postgres_database("channelhub_migrations")
    engine = create_async_engine(url)
    yield engine
    await engine.dispose()
    await drop_postgres_database(url)


def tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def schema_drift(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def test_upgrade_downgrade_upgrade(empty_engine: AsyncEngine) -> None:
    await migrations.upgrade(empty_engine)
    async with empty_engine.connect() as connection:
        created = await connection.run_sync(tables)

    await migrations.downgrade(empty_engine, "base")
    async with empty_engine.connect() as connection:
        after_downgrade = await connection.run_sync(tables)
    await migrations.upgrade(empty_engine)

    assert created == set(Base.metadata.tables)
    assert after_downgrade == set()
    assert await migrations.status(empty_engine) == ("0004_connections", "0004_connections")


async def test_models_match_migrations(empty_engine: AsyncEngine) -> None:
    await migrations.upgrade(empty_engine)

    async with empty_engine.connect() as connection:
        drift = await connection.run_sync(schema_drift)

    assert drift == []


async def test_status_of_an_empty_database(empty_engine: AsyncEngine) -> None:
    assert await migrations.status(empty_engine) == (None, "0004_connections")
