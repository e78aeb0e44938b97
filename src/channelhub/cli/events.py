"""``events``: follow the event log live; inspect and retry failed deliveries."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from sqlalchemy import select

from channelhub.cli.common import console, fail, id_table, load_settings, open_hub, run
from channelhub.platform.auth.service import get_tenant
from channelhub.platform.clock import as_utc
from channelhub.platform.events.catalog_doc import render
from channelhub.platform.events.consumers import requeue_failures
from channelhub.platform.events.log import follow
from channelhub.platform.events.models import ConsumerFailure

events = typer.Typer(help="The event log and consumer failures.", no_args_is_help=True)


@events.command("tail")
def tail(
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Only this tenant (id or slug).")
    ] = None,
    type_: Annotated[
        str | None, typer.Option("--type", help="Event type or pattern, e.g. product.*")
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Start at this UTC time (ISO 8601) instead of now.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One CloudEvent JSON per line.")] = False,
    limit: Annotated[int | None, typer.Option(help="Stop after this many events.", min=1)] = None,
) -> None:
    """Follow events live as they are committed (Ctrl-C to stop)."""
    settings = load_settings()
    try:
        start = as_utc(datetime.fromisoformat(since)) if since else None
    except ValueError:
        fail(f"--since {since!r} is not an ISO 8601 time", 2)

    async def main() -> None:
        async with open_hub(settings) as hub:
            tenant_id = None
            if tenant is not None:
                async with hub.db.reader() as session:
                    tenant_id = (await get_tenant(session, tenant)).id
            shown = 0
            async for envelope in follow(
                hub.db, tenant_id=tenant_id, type_pattern=type_, since=start
            ):
                if as_json:
                    print(envelope.to_json().decode(), flush=True)  # noqa: T201 - machine output
                else:
                    console.print(
                        f"[dim]{envelope.time.isoformat(timespec='milliseconds')}[/] "
                        f"[bold cyan]{envelope.type}[/] {envelope.subject} "
                        f"#{envelope.sequence} [dim]{envelope.id} {envelope.tenant}[/]",
                        highlight=False,
                    )
                shown += 1
                if limit is not None and shown >= limit:
                    return

    run(main())


@events.command("failures")
def failures(
    dead_only: Annotated[bool, typer.Option("--dead", help="Only dead-lettered ones.")] = False,
) -> None:
    """List event deliveries that failed: retrying, or dead after the last attempt."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub, hub.db.reader() as session:
            statement = select(ConsumerFailure).order_by(ConsumerFailure.updated_at.desc())
            if dead_only:
                statement = statement.where(ConsumerFailure.status == "dead")
            rows = (await session.scalars(statement.limit(500))).all()
        table = id_table(
            "consumer",
            "event",
            "type",
            "status",
            "attempts",
            "next attempt",
            "error",
            ids=("event",),
        )
        for row in rows:
            table.add_row(
                row.consumer,
                row.event_id,
                str(row.envelope.get("type")),
                row.status,
                str(row.attempts),
                row.next_attempt_at.isoformat(timespec="seconds") if row.next_attempt_at else "",
                escape(row.last_error[:80]),
            )
        console.print(table)

    run(main())


@events.command("retry")
def retry(
    consumer: Annotated[str | None, typer.Option(help="Only this consumer's failures.")] = None,
    event: Annotated[str | None, typer.Option(help="Only this event id.")] = None,
) -> None:
    """Put failed deliveries back in line for an immediate retry by the running hub."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub:
            count = await requeue_failures(hub.db, consumer=consumer, event_id=event)
        console.print(f"{count} failed deliveries queued for retry")

    run(main())


@events.command("catalogue")
def catalogue() -> None:
    """Print the event catalogue as Markdown (every type, its description and a real
    example): how docs/events.md is made."""
    # Every context declares its event types when imported; the app imports them all.
    import channelhub.experience.app  # noqa: F401

    sys.stdout.write(render())
