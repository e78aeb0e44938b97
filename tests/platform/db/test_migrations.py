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
    assert await migrations.status(empty_engine) == (
        "0012_customer_erasure",
        "0012_customer_erasure",
    )


async def test_models_match_migrations(empty_engine: AsyncEngine) -> None:
    await migrations.upgrade(empty_engine)

    async with empty_engine.connect() as connection:
        drift = await connection.run_sync(schema_drift)

    assert drift == []


async def test_status_of_an_empty_database(empty_engine: AsyncEngine) -> None:
    assert await migrations.status(empty_engine) == (None, "0012_customer_erasure")


def inbox_body_compression(connection: Connection) -> tuple[str, bool]:
    """(how inbox.body is compressed, whether the server offers lz4)."""
    method = connection.exec_driver_sql(
        "SELECT attcompression::text FROM pg_attribute "
        "WHERE attrelid = 'inbox'::regclass AND attname = 'body'"
    ).scalar_one()
    offered = connection.exec_driver_sql(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
    ).scalar_one()
    return str(method), bool(offered)


@pytest.mark.postgres
async def test_webhook_bodies_are_compressed_with_lz4_where_the_server_offers_it(
    tmp_path: Path,
) -> None:
    url = await create_postgres_database("channelhub_lz4")
    engine = create_async_engine(url)
    try:
        await migrations.upgrade(engine)
        async with engine.connect() as connection:
            method, offered = await connection.run_sync(inbox_body_compression)
        await migrations.downgrade(engine, "0004_connections")
        async with engine.connect() as connection:
            after_downgrade, _ = await connection.run_sync(inbox_body_compression)
    finally:
        await engine.dispose()
        await drop_postgres_database(url)

    assert method == ("l" if offered else "")
    assert after_downgrade == ("p" if offered else "")
