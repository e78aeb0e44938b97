"""What every CLI verb shares: settings, a hub, schema checks, and one way to fail."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from channelhub import migrations
from channelhub.hub import Hub
from channelhub.platform.config import Settings
from channelhub.platform.db.database import is_connection_error
from channelhub.platform.errors import (
    ChannelhubError,
    ErrorKind,
    PreconditionFailedError,
    UnavailableError,
)
from channelhub.platform.observability import configure_logging

console = Console()
# soft_wrap: an error stays one line in a pipe or a log, whatever the width.
errors = Console(stderr=True, soft_wrap=True)

T = TypeVar("T")

EXIT_CODES = {
    ErrorKind.invalid: 2,
    ErrorKind.not_found: 3,
    ErrorKind.conflict: 4,
    ErrorKind.forbidden: 5,
    ErrorKind.unauthenticated: 5,
    ErrorKind.precondition_failed: 6,
    ErrorKind.unavailable: 69,
    ErrorKind.rate_limited: 75,
}


def id_table(*columns: str, ids: tuple[str, ...] = ("id",)) -> Table:
    """A table whose id columns are never cut or wrapped, so they can be copied whole."""
    result = Table()
    for column in columns:
        if column in ids:
            result.add_column(column, no_wrap=True, min_width=30)
        else:
            result.add_column(column, overflow="fold")
    return result


def freeze_startup_heap() -> None:
    """Leave everything built at start-up (modules, the app, the ORM's mappers: hundreds of
    thousands of objects that live as long as the process) out of garbage collection.
    Otherwise every full collection walks them all again: bench/ingest measured that at
    nearly 40 % of what acknowledging a webhook costs."""
    gc.collect()
    gc.freeze()


def fail(message: str, code: int = 1) -> NoReturn:
    errors.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "CHANNELHUB_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        fail(f"{name}: {first['msg']}", 2)
    configure_logging(settings)
    return settings


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (it roughly halves the event loop's own cost on every
    socket operation), else the standard loop."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a verb's coroutine; map expected failures to one clear line and an exit code."""
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(coroutine)
    except ChannelhubError as exc:
        where = f" ({exc.field})" if exc.field else ""
        fail(f"{exc.detail}{where}", EXIT_CODES[exc.kind])
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if is_connection_error(exc):
            fail(f"the database is unreachable: {exc}", 69)
        raise


async def schema_status(hub: Hub) -> tuple[str | None, str | None]:
    """(current, newest) migration revision; an unreachable database is one clear error
    that says where it was looked for."""
    try:
        return await migrations.status(hub.db.engine)
    except Exception as exc:
        if is_connection_error(exc):
            raise UnavailableError(
                f"cannot reach the database at {hub.db.location}: {exc}"
            ) from exc
        raise


async def ensure_schema(hub: Hub, *, auto_migrate: bool) -> None:
    """Bring an embedded database up to date, or refuse to run on an outdated one."""
    current, head = await schema_status(hub)
    if current == head:
        return
    if auto_migrate:
        await migrations.upgrade(hub.db.engine)
        return
    raise PreconditionFailedError(
        f"the database schema is at {current or 'nothing'}, this version needs {head}: "
        "run `channelhub migrate` first"
    )


@contextlib.asynccontextmanager
async def open_hub(settings: Settings) -> AsyncIterator[Hub]:
    """A hub for admin verbs: database only (no bus), schema checked first."""
    hub = Hub(settings)
    try:
        await ensure_schema(hub, auto_migrate=settings.is_sqlite)
        yield hub
    finally:
        await hub.db.dispose()


def counting_progress(label: str, *, hide_when_piped: bool = True) -> Progress:
    """A progress bar counting done of total (``label``, bar, n/N, time elapsed); it is
    left out when the output is not a terminal, unless ``hide_when_piped`` is False."""
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=hide_when_piped and not console.is_terminal,
    )
