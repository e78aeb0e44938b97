"""``connections`` and ``inbox``: connected systems, their stock drift, and what they sent."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from channelhub.cli.common import console, counting_progress, id_table, load_settings, open_hub, run
from channelhub.platform.auth.principal import Principal
from channelhub.platform.auth.service import get_tenant
from channelhub.platform.clock import utc_now
from channelhub.platform.crypto import new_key
from channelhub.platform.db.pagination import PageRequest
from channelhub.platform.inbox import store as inbox
from channelhub.platform.inbox.store import InboxStatus
from channelhub.process.connections import service as connections
from channelhub.systems.reconcile import reconcile
from channelhub.systems.registry import CONNECTORS

connections_app = typer.Typer(help="Connected systems of record.", no_args_is_help=True)
inbox_app = typer.Typer(help="What connected systems sent.", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="The tenant (id or slug).")]


@connections_app.command("new-key")
def new_encryption_key() -> None:
    """Print a new key for CHANNELHUB_ENCRYPTION_KEY (put it first to rotate; keep the old
    one after it until every connection was saved again)."""
    console.print(new_key(), highlight=False)


@connections_app.command("rekey")
def rekey() -> None:
    """After putting a new key first in CHANNELHUB_ENCRYPTION_KEY: encrypt every
    connection's secrets under it (then the old key can be removed)."""
    settings = load_settings()

    async def main() -> int:
        async with open_hub(settings) as hub, hub.db.transaction() as session:
            return await connections.reseal_all(session, hub.secret_box)

    console.print(f"{run(main())} connections re-sealed with the newest key")


@connections_app.command("list")
def list_connections(tenant: TenantOption) -> None:
    """The tenant's connections (secrets by name only)."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub, hub.db.reader() as session:
            principal = Principal.system((await get_tenant(session, tenant)).id)
            found = await connections.list_connections(session, principal, PageRequest(limit=200))
        table = id_table("id", "system", "name", "push", "enabled", "hook")
        for item in found.items:
            table.add_row(
                item.id,
                item.system.value,
                escape(item.name),
                "yes" if item.push_stock else "no",
                "yes" if item.enabled else "no",
                item.hook_url,
            )
        console.print(table)

    run(main())


@connections_app.command("reconcile")
def reconcile_stock(
    connection_id: Annotated[str, typer.Argument(help="The storefront connection (con_...).")],
    fix: Annotated[
        bool, typer.Option("--fix", help="Push the hub's figure where they differ.")
    ] = False,
) -> None:
    """Compare the stock a storefront shows with the hub's available-to-promise for every
    SKU it sells, print the drift, and with --fix heal it. Exit 1 when drift remains."""
    settings = load_settings()

    async def main() -> int:
        async with open_hub(settings) as hub:
            with counting_progress("checking", hide_when_piped=False) as bar:
                task = bar.add_task("skus", total=None)
                report = await reconcile(
                    hub.db,
                    hub.secret_box,
                    hub.systems.api,
                    dict(CONNECTORS),
                    connection_id,
                    fix=fix,
                    progress=lambda done, total: bar.update(task, completed=done, total=total),
                )
        if report.drifts:
            table = id_table("sku", "location", "hub", "shop", "drift", ids=("sku",))
            for drift in report.drifts:
                shop = "not tracked" if drift.shop is None else str(drift.shop)
                delta = "" if drift.shop is None else f"{drift.shop - drift.hub:+d}"
                table.add_row(drift.sku, drift.location or "(shop)", str(drift.hub), shop, delta)
            console.print(table)
        fixed = f", {report.fixed} fixed" if fix else ""
        console.print(f"{report.checked} SKUs checked, {len(report.drifts)} drifting{fixed}")
        return 0 if not report.drifts or report.fixed else 1

    code = run(main())
    if code:
        raise typer.Exit(code)


@inbox_app.command("list")
def list_inbox(
    tenant: TenantOption,
    parked: Annotated[bool, typer.Option("--parked", help="Only parked deliveries.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=200, help="How many, newest first.")] = 50,
) -> None:
    """Deliveries newest first, with what became of them."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub, hub.db.reader() as session:
            tenant_id = (await get_tenant(session, tenant)).id
            status = InboxStatus.parked if parked else None
            found = await inbox.page(session, tenant_id, PageRequest(limit=limit), status=status)
        table = id_table("id", "system", "topic", "status", "reason")
        for record in found.items:
            table.add_row(
                record.id, record.system, record.topic, record.status, escape(record.reason[:100])
            )
        console.print(table)

    run(main())


@inbox_app.command("replay")
def replay(
    tenant: TenantOption,
    record_ids: Annotated[
        list[str] | None, typer.Argument(help="Parked records (inb_...); none: every parked one.")
    ] = None,
    connection: Annotated[
        str | None, typer.Option(help="With no ids: only this connection's parked records.")
    ] = None,
) -> None:
    """Put parked deliveries back in line (after fixing what they lacked); the running hub
    applies them. Processed deliveries are never applied twice."""
    settings = load_settings()

    async def main() -> int:
        async with open_hub(settings) as hub, hub.db.transaction() as session:
            tenant_id = (await get_tenant(session, tenant)).id
            ids = list(record_ids or [])
            if not ids:
                cursor = PageRequest(limit=200)
                while True:
                    page = await inbox.page(
                        session,
                        tenant_id,
                        cursor,
                        status=InboxStatus.parked,
                        connection_id=connection,
                    )
                    ids += [record.id for record in page.items]
                    if page.next_cursor is None:
                        break
                    cursor = PageRequest.from_cursor(page.next_cursor, 200)
            return await inbox.replay(session, tenant_id, ids, utc_now())

    count = run(main())
    console.print(f"{count} parked deliveries queued again")
