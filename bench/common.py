"""What the benchmarks share: throwaway PostgreSQL databases and the machine note."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.engine import URL, make_url


@contextlib.asynccontextmanager
async def scratch_postgres(
    admin_url: str, name: str, versions: dict[str, str]
) -> AsyncIterator[URL]:
    """Create database ``name`` (recording the server version), yield its URL, drop it."""
    admin = await asyncpg.connect(admin_url, timeout=5)
    try:
        versions["PostgreSQL"] = str(await admin.fetchval("SHOW server_version"))
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield make_url(admin_url).set(database=name)
    finally:
        admin = await asyncpg.connect(admin_url, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


def machine_note(versions: dict[str, str], *, where: str, load: str | None = None) -> str:
    """One line saying what the figures were measured on."""
    parts = [
        f"{os.cpu_count()} cores",
        *([f"load average {load} at start"] if load else []),
        platform.platform(),
        f"Python {platform.python_version()}",
        f"SQLite {sqlite3.sqlite_version} (WAL, synchronous=FULL)",
        *(f"{name} {version}" for name, version in versions.items()),
        where,
    ]
    return "Machine: " + ", ".join(parts)
