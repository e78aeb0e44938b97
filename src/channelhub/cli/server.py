"""``serve``, ``worker``, ``migrate`` and ``demo``."""

from __future__ import annotations

import asyncio
import signal
import socket
from typing import TYPE_CHECKING, Annotated

import typer
from alembic.util.exc import CommandError
from rich.panel import Panel

from channelhub import migrations
from channelhub.cli.common import (
    console,
    ensure_schema,
    fail,
    freeze_startup_heap,
    load_settings,
    open_hub,
    run,
    schema_status,
)
from channelhub.demo import load_demo
from channelhub.hub import Hub
from channelhub.platform.auth.service import IssuedKey
from channelhub.platform.errors import InvalidError, UnavailableError

if TYPE_CHECKING:
    from fastapi import FastAPI

_GRACEFUL_SHUTDOWN_S = 10
"""How long a stopping server waits for requests still open (live-update streams)."""


def _announce_key(issued: IssuedKey, base_url: str) -> None:
    console.print(
        Panel.fit(
            f"[bold]{issued.secret}[/]\n\n"
            "This admin API key of the default tenant is shown once; store it now.\n"
            f'Try: curl -H "Authorization: Bearer {issued.secret}" '
            f"{base_url}/v1/products",
            title="channelhub: first start",
            border_style="green",
        )
    )


async def _prepare(hub: Hub, *, demo: bool, auto_migrate: bool, base_url: str) -> None:
    await ensure_schema(hub, auto_migrate=auto_migrate)
    issued = await hub.bootstrap()
    if issued is not None and hub.settings.bootstrap_admin_key is None:
        _announce_key(issued, base_url)
    elif issued is not None:
        # The operator chose this key; echoing it would only copy a secret into the logs.
        console.print("default tenant created; its admin key is CHANNELHUB_BOOTSTRAP_ADMIN_KEY")
    if demo:
        async with hub.db.transaction() as session:
            created = await load_demo(session)
        console.print(f"demo data: {created} products created" if created else "demo data present")


def bind_listener(host: str, port: int) -> socket.socket:
    """Bind before announcing anything, so a busy port is one clear error (exit 69)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only for this protocol;
    # without it every answer on a kept-alive connection waits ~40 ms for Nagle.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UnavailableError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    return sock


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [CHANNELHUB_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [CHANNELHUB_PORT].")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo brand and products.")] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="API processes on the port, PostgreSQL only [CHANNELHUB_WORKERS]."
        ),
    ] = None,
) -> None:
    """Run the API, the outbox relay and the consumers in one process (or in
    `--workers` processes sharing the port, on PostgreSQL).

    On SQLite (the embedded default) the schema is migrated automatically; on PostgreSQL run
    `channelhub migrate` first. On an empty database a default tenant and an admin key are
    created and the key is printed once (or CHANNELHUB_BOOTSTRAP_ADMIN_KEY is used).
    """
    settings = load_settings()
    processes = workers or settings.workers
    if processes > 1 and settings.is_sqlite:
        fail(
            "--workers needs PostgreSQL (CHANNELHUB_DATABASE_URL=postgresql+asyncpg://...): "
            "SQLite has a single writer, so its API runs in one process",
            2,
        )

    # The web stack is imported here, not at module level: other verbs start 2 s faster.
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from channelhub.experience.app import create_app

    bind_host, bind_port = host or settings.host, port or settings.port
    base_url = f"http://{bind_host}:{bind_port}"

    def server_config(app: FastAPI | str) -> uvicorn.Config:
        return uvicorn.Config(
            app,
            factory=isinstance(app, str),
            workers=processes,
            host=bind_host,
            port=bind_port,
            log_config=None,
            access_log=False,
            timeout_keep_alive=settings.http_keep_alive_s,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            # Open live-update streams would otherwise hold a stopping process for minutes;
            # browsers reconnect to another process by themselves.
            timeout_graceful_shutdown=_GRACEFUL_SHUTDOWN_S,
            lifespan="on",
        )

    def announce(hub: Hub) -> None:
        console.print(
            f"channelhub on {base_url} "
            f"(database: {hub.db.engine.dialect.name}, bus: {hub.bus.name}"
            f"{f', {processes} processes' if processes > 1 else ''}); API docs at /docs"
        )

    async def prepare() -> socket.socket:
        sock = bind_listener(bind_host, bind_port)
        async with open_hub(settings) as hub:
            await _prepare(hub, demo=demo, auto_migrate=settings.is_sqlite, base_url=base_url)
            announce(hub)
        return sock

    async def main() -> None:
        sock = bind_listener(bind_host, bind_port)
        hub = Hub(settings)
        await _prepare(hub, demo=demo, auto_migrate=settings.is_sqlite, base_url=base_url)
        announce(hub)
        app = create_app(hub)
        freeze_startup_heap()
        await uvicorn.Server(server_config(app)).serve(sockets=[sock])

    if processes == 1:
        run(main())
        return
    # Each process imports the app by name and builds its own hub from the environment;
    # the supervisor restarts a process that dies and stops them all on SIGINT/SIGTERM.
    sock = run(prepare())
    Multiprocess(server_config(f"{__name__}:process_app"), sockets=[sock]).run()


def process_app() -> FastAPI:
    """The app of one `serve --workers` process."""
    from channelhub.experience.app import create_app

    app = create_app(Hub(load_settings()))
    freeze_startup_heap()
    return app


def worker(
    relay: Annotated[
        bool, typer.Option("--relay/--no-relay", help="Also relay outbox rows to the bus.")
    ] = False,
) -> None:
    """Run the event consumers only, to scale out beside `serve` (needs NATS JetStream).

    Stops cleanly on SIGINT/SIGTERM: events in hand finish, the rest stay on the bus.
    """
    settings = load_settings()
    if not settings.uses_nats:
        fail(
            "a worker needs a shared bus: set CHANNELHUB_BUS_URL=nats://host:4222 "
            "(the in-process bus delivers only inside `channelhub serve`)",
            2,
        )

    async def main() -> None:
        hub = Hub(settings)
        await ensure_schema(hub, auto_migrate=False)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await hub.start(relay=relay, consumers=True)
        freeze_startup_heap()
        console.print(f"worker running {len(hub.consumers)} consumer(s); relay: {relay}")
        try:
            await stop.wait()
        finally:
            await hub.stop()

    run(main())


def migrate(
    revision: Annotated[str, typer.Option(help="Target revision.")] = "head",
    check: Annotated[
        bool, typer.Option("--check", help="Only report; exit 1 if not up to date.")
    ] = False,
) -> None:
    """Apply database migrations (SQLite or PostgreSQL, from CHANNELHUB_DATABASE_URL)."""
    settings = load_settings()

    async def main() -> bool:
        hub = Hub(settings)
        try:
            current, head = await schema_status(hub)
            if check:
                console.print(f"database at {current or 'nothing'}; newest is {head}")
                return current == head
            try:
                await migrations.upgrade(hub.db.engine, revision)
            except CommandError as exc:
                raise InvalidError(str(exc), field="revision") from exc
            after, _ = await migrations.status(hub.db.engine)
            console.print(f"database migrated: {current or 'nothing'} -> {after}")
            return True
        finally:
            await hub.db.dispose()

    if not run(main()):
        raise typer.Exit(1)


def demo() -> None:
    """Load the demo brand, web shop and products into the default tenant (idempotent)."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub:
            base_url = f"http://{settings.host}:{settings.port}"
            await _prepare(hub, demo=True, auto_migrate=settings.is_sqlite, base_url=base_url)

    run(main())
