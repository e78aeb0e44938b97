"""``webhooks``: a tenant's endpoints and replays of what they missed."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape

from channelhub.cli.common import console, counting_progress, id_table, load_settings, open_hub, run
from channelhub.platform.auth.principal import Principal
from channelhub.platform.auth.service import get_tenant
from channelhub.platform.clock import as_utc
from channelhub.platform.db.pagination import PageRequest
from channelhub.platform.webhooks import schemas
from channelhub.platform.webhooks import service as webhooks

webhooks_app = typer.Typer(help="Outbound webhook endpoints.", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="The tenant (id or slug).")]
_TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]


@webhooks_app.command("list")
def list_endpoints(tenant: TenantOption) -> None:
    """The tenant's endpoints."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub, hub.db.reader() as session:
            principal = Principal.system((await get_tenant(session, tenant)).id)
            found = await webhooks.list_endpoints(session, principal, PageRequest(limit=200))
        table = id_table("id", "url", "events", "enabled", "failing since")
        for item in found.items:
            table.add_row(
                item.id,
                escape(item.url),
                escape(", ".join(item.event_types)),
                "yes" if item.enabled else f"no: {escape(item.disabled_reason)}",
                f"{item.failing_since:%Y-%m-%d %H:%M}" if item.failing_since else "",
            )
        console.print(table)

    run(main())


@webhooks_app.command("replay")
def replay(
    endpoint: Annotated[str, typer.Option("--endpoint", "-e", help="The endpoint (whe_...).")],
    since: Annotated[
        datetime,
        typer.Option(formats=_TIME_FORMATS, help="From this time (UTC unless it says)."),
    ],
    tenant: TenantOption,
    until: Annotated[
        datetime | None,
        typer.Option(formats=_TIME_FORMATS, help="Up to this time (exclusive); default now."),
    ] = None,
) -> None:
    """Send the endpoint every event of the range its filter takes, again (same
    webhook-id, so receivers can tell), from the event log: as far back as its retention.
    The running hub's senders deliver them."""
    settings = load_settings()
    request = schemas.ReplayRequest(
        since=as_utc(since), until=as_utc(until) if until is not None else None
    )

    async def main() -> int:
        async with open_hub(settings) as hub:
            async with hub.db.reader() as session:
                principal = Principal.system((await get_tenant(session, tenant)).id, name="cli")
                plan = await webhooks.plan_replay(session, principal, endpoint, request)
            queued = 0
            with counting_progress("replaying") as bar:
                task = bar.add_task("events", total=plan.total)
                after, read = -1, 0
                while True:
                    async with hub.db.transaction() as session:
                        step = await webhooks.replay_step(session, plan, after=after)
                    if not step.read:
                        break
                    after, read, queued = step.after, read + step.read, queued + step.queued
                    bar.update(task, completed=min(read, plan.total))
        console.print(f"{queued} of {plan.total} events queued for {endpoint}")
        return queued

    run(main())
