"""``tenants`` and ``keys``: manage merchants and their API keys."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from channelhub.cli.common import console, id_table, load_settings, open_hub, run
from channelhub.platform.auth import service as auth
from channelhub.process.access import RESOURCES

tenants = typer.Typer(help="Create and list tenants (merchants).", no_args_is_help=True)
keys = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id or slug.")]


@tenants.command("create")
def create_tenant(
    name: Annotated[str, typer.Argument(help="Display name of the merchant.")],
    slug: Annotated[str, typer.Option(help="Unique URL-safe name (lowercase, digits, -).")],
    admin_key: Annotated[
        bool, typer.Option("--admin-key/--no-admin-key", help="Also issue an admin key.")
    ] = True,
) -> None:
    """Create a tenant, and (by default) an admin API key for it, printed once."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub, hub.db.transaction() as session:
            tenant = await auth.create_tenant(session, name=name, slug=slug)
            issued = None
            if admin_key:
                issued = await auth.issue_key(
                    session, tenant.id, name="admin", scopes=["admin"], resources=RESOURCES
                )
        console.print(f"tenant [bold]{tenant.slug}[/] created: {tenant.id}")
        if issued is not None:
            console.print(f"admin key (shown once): [bold]{issued.secret}[/]")

    run(main())


@tenants.command("list")
def list_tenants() -> None:
    """List every tenant."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub, hub.db.reader() as session:
            found = await auth.list_tenants(session)
        table = id_table("id", "slug", "name", "created")
        for tenant in found:
            table.add_row(
                tenant.id, tenant.slug, escape(tenant.name), tenant.created_at.isoformat()
            )
        console.print(table)

    run(main())


@keys.command("create")
def create_key(
    tenant: TenantOption,
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            "-s",
            help="Repeatable: admin, or <resource>:read|write for " + ", ".join(sorted(RESOURCES)),
        ),
    ],
    name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
) -> None:
    """Issue an API key; the secret is printed once and only its hash is stored."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub, hub.db.transaction() as session:
            found = await auth.get_tenant(session, tenant)
            issued = await auth.issue_key(
                session, found.id, name=name, scopes=scope, resources=RESOURCES
            )
        console.print(f"key {issued.key.id} ({', '.join(issued.key.scopes)})")
        console.print(f"secret (shown once): [bold]{issued.secret}[/]")

    run(main())


@keys.command("list")
def list_keys(tenant: TenantOption) -> None:
    """List a tenant's keys (secrets are never shown)."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub, hub.db.reader() as session:
            found = await auth.get_tenant(session, tenant)
            rows = await auth.list_keys(session, found.id)
        table = id_table("id", "name", "prefix", "scopes", "created", "revoked")
        for key in rows:
            table.add_row(
                key.id,
                escape(key.name),
                key.display_prefix + "...",
                " ".join(key.scopes),
                key.created_at.isoformat(timespec="seconds"),
                key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
            )
        console.print(table)

    run(main())


@keys.command("revoke")
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="Key id (key_...).")], tenant: TenantOption
) -> None:
    """Revoke a key; it stops working at once."""
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub, hub.db.transaction() as session:
            found = await auth.get_tenant(session, tenant)
            key = await auth.revoke_key(session, found.id, key_id)
        console.print(f"key {key.id} revoked at {key.revoked_at}")

    run(main())
