"""What the benchmarks share: throwaway PostgreSQL databases, the machine note, and the
first steps of setting up a shop through the API."""

from __future__ import annotations

import contextlib
import os
import platform
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import URL, make_url

LOCATION = "WH"
"""The code of the benchmarks' shipping warehouse."""


def created(response: httpx.Response) -> dict[str, Any]:
    """The JSON of a successful answer; anything else stops the set-up."""
    if response.status_code not in (200, 201):
        raise RuntimeError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


async def open_channel(client: httpx.AsyncClient, name: str) -> str:
    """A brand, a web channel called ``name`` and the shipping warehouse ``LOCATION``
    serving it; returns the channel's id."""
    brand = created(await client.post("/v1/brands", json={"name": "Bench", "slug": "bench"}))
    channel = created(
        await client.post(
            "/v1/sales-channels",
            json={
                "brand_id": brand["id"],
                "name": name,
                "slug": name.lower(),
                "kind": "web",
                "currency": "EUR",
            },
        )
    )
    created(
        await client.post(
            "/v1/locations",
            json={
                "code": LOCATION,
                "name": "Bench warehouse",
                "kind": "warehouse",
                "address": {"country": "PT"},
                "timezone": "Europe/Lisbon",
                "ships": True,
                "channels": [{"sales_channel_id": channel["id"], "priority": 1}],
            },
        )
    )
    return str(channel["id"])


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
