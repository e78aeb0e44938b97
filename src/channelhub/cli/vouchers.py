"""``vouchers``: codes in bulk, generated (millions, with a progress bar) or imported."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from channelhub.cli.common import console, counting_progress, fail, load_settings, open_hub, run
from channelhub.platform.auth.principal import Principal
from channelhub.platform.auth.service import get_tenant
from channelhub.platform.errors import first_validation_error
from channelhub.process.promotions import vouchers
from channelhub.process.promotions.schemas import DEFAULT_CHARSET, CodePattern

vouchers_app = typer.Typer(help="Voucher codes in bulk.", no_args_is_help=True)

TenantOption = Annotated[str, typer.Option("--tenant", "-t", help="The tenant (id or slug).")]
CampaignOption = Annotated[
    str, typer.Option("--campaign", "-c", help="The campaign (cmp_...), of type vouchers.")
]


@vouchers_app.command("generate")
def generate(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many codes.")],
    campaign: CampaignOption,
    tenant: TenantOption,
    pattern: Annotated[
        str | None, typer.Option(help="E.g. SPRING-####-####, # for a random character.")
    ] = None,
    prefix: Annotated[str, typer.Option(help="Before the random part (without --pattern).")] = "",
    length: Annotated[int, typer.Option(help="Random characters (without --pattern).")] = 10,
    charset: Annotated[str, typer.Option(help="Random characters from these.")] = DEFAULT_CHARSET,
    max_redemptions: Annotated[
        int | None, typer.Option(help="Uses per code (default: the campaign's).")
    ] = None,
) -> None:
    """Generate unique, unguessable codes for a campaign, committed in chunks of 5,000 (an
    interrupted run keeps the chunks it committed; run again for the rest)."""
    try:
        code = CodePattern(pattern=pattern, prefix=prefix, length=length, charset=charset)
    except ValidationError as exc:
        fail(first_validation_error(exc), 2)
    settings = load_settings()

    async def main() -> None:
        async with open_hub(settings) as hub:
            async with hub.db.reader() as session:
                principal = Principal.system((await get_tenant(session, tenant)).id, name="cli")
            with counting_progress("generating") as bar:
                task = bar.add_task("codes", total=count)
                chunks = vouchers.generate_chunks(
                    hub.db, principal, campaign, count, code, max_redemptions=max_redemptions
                )
                async for added in chunks:
                    bar.advance(task, added)

    run(main())
    console.print(f"{count} codes generated for {campaign}")


@vouchers_app.command("import")
def import_codes(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="UTF-8 CSV: code, and any of max_redemptions, customer_id, expires_at.",
        ),
    ],
    campaign: CampaignOption,
    tenant: TenantOption,
) -> None:
    """Import codes from a CSV file in one transaction: a bad row refuses the whole file,
    naming its line; a code that exists already is skipped and counted."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8", 2)
    settings = load_settings()

    async def main() -> tuple[int, int]:
        async with open_hub(settings) as hub, hub.db.transaction() as session:
            principal = Principal.system((await get_tenant(session, tenant)).id, name="cli")
            result = await vouchers.import_codes(
                session, principal, campaign, vouchers.parse_csv(text)
            )
        return result.created, result.skipped

    created, skipped = run(main())
    console.print(f"{created} codes imported for {campaign}, {skipped} skipped (already there)")
