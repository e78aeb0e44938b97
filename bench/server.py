"""A real ``channelhub serve`` for the benchmarks: started on a free loopback port,
health-checked, stopped (or killed), its CPU time read from /proc, its database read
directly for the checks."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import signal
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent
CHANNELHUB = ROOT / ".venv" / "bin" / "channelhub"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
DRAIN_TIMEOUT_S = 60.0


class Store:
    """Direct read access to the server's database, for the checks and the outbox backlog."""

    def __init__(self, *, sqlite_path: Path | None = None, dsn: str | None = None) -> None:
        self.sqlite_path = sqlite_path
        self.dsn = dsn

    async def fetchall(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        """Rows of ``sql``, whose parameters are written ``$1``, ``$2``... (PostgreSQL's
        style; SQLite's ``?1``, ``?2``... on SQLite)."""
        if self.sqlite_path is not None:
            numbered = re.sub(r"\$(\d+)", r"?\1", sql)
            return await asyncio.to_thread(self._sqlite_fetchall, self.sqlite_path, numbered, args)
        connection = await asyncpg.connect(self.dsn, timeout=5)
        try:
            return [tuple(row) for row in await connection.fetch(sql, *args)]
        finally:
            await connection.close()

    async def fetchrow(self, sql: str, *args: Any) -> tuple[Any, ...]:
        return (await self.fetchall(sql, *args))[0]

    @staticmethod
    def _sqlite_fetchall(path: Path, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection:
            return [tuple(row) for row in connection.execute(sql, args).fetchall()]

    async def unpublished(self) -> int:
        return int(
            (await self.fetchrow("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"))[0]
        )

    async def drain(self, timeout_s: float = DRAIN_TIMEOUT_S) -> tuple[int, float]:
        """Wait until the relay has published every outbox row, so that one run's events
        are not relayed during the next; returns (rows left, seconds waited)."""
        started = time.perf_counter()
        while True:
            left = await self.unpublished()
            waited = time.perf_counter() - started
            if not left or waited > timeout_s:
                return left, waited
            await asyncio.sleep(0.2)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


ENCRYPTION_KEY = "93ijeMNADPWqsExjVIqE-hGFehZPYWcbP_ifITGME1Y="
"""A Fernet key for bench servers only (connections' secrets are stored encrypted)."""


def server_env(database_url: str, admin_key: str) -> dict[str, str]:
    """The server's environment: this one without any CHANNELHUB_* setting of the caller's,
    plus the bench database, the in-process bus and a fresh admin key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHANNELHUB_")}
    env.update(
        CHANNELHUB_DATABASE_URL=database_url,
        CHANNELHUB_BUS_URL="memory://",
        CHANNELHUB_BOOTSTRAP_ADMIN_KEY=admin_key,
        CHANNELHUB_ENCRYPTION_KEY=ENCRYPTION_KEY,
        CHANNELHUB_LOG_LEVEL="warning",
    )
    return env


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def migrate(database_url: str, admin_key: str, workdir: Path) -> None:
    log = workdir / "migrate.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            CHANNELHUB,
            "migrate",
            cwd=workdir,
            env=server_env(database_url, admin_key),
            stdout=out,
            stderr=out,
        )
        code = await process.wait()
    if code != 0:
        raise RuntimeError(f"channelhub migrate exited {code}:\n{tail(log)}")


@dataclass
class Server:
    process: asyncio.subprocess.Process
    base_url: str
    log: Path


@contextlib.asynccontextmanager
async def api_server(
    database_url: str, admin_key: str, workdir: Path, *, workers: int = 1, name: str = "server"
) -> AsyncIterator[Server]:
    """``channelhub serve`` (``--workers`` processes) on a free loopback port, ready
    (``/healthz``) when yielded; its output goes to ``<workdir>/<name>.log``."""
    port = free_port()
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            CHANNELHUB,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            cwd=workdir,
            env=server_env(database_url, admin_key),
            stdout=out,
            stderr=out,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log)
    try:
        await wait_healthy(server)
        yield server
    finally:
        await stop(process)


async def wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2.0) as client:
        while True:
            if server.process.returncode is not None:
                raise RuntimeError(
                    f"channelhub serve exited {server.process.returncode}:\n{tail(server.log)}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"channelhub serve not healthy after {START_TIMEOUT_S:g}s")
            await asyncio.sleep(0.1)


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name, or None if it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def with_descendants(pid: int) -> dict[int, list[str]]:
    """The /proc stat fields of a process and of all its descendants (``serve --workers``
    runs the API in child processes); empty if it is gone."""
    if _stat(pid) is None:
        return {}
    parents: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
            stats[int(entry.name)] = fields

    def descends(candidate: int) -> bool:
        while candidate > 1:
            if candidate == pid:
                return True
            candidate = parents.get(candidate, 0)
        return False

    return {each: fields for each, fields in stats.items() if descends(each)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants, from Linux /proc; NaN
    where unavailable."""
    tree = with_descendants(pid)
    if not tree:
        return math.nan
    return sum((int(fields[11]) + int(fields[12])) / _TICKS for fields in tree.values())


def kill_tree(pid: int) -> None:
    """SIGKILL a process and its descendants at once: a crash, not a shutdown."""
    for each in with_descendants(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(each, signal.SIGKILL)
