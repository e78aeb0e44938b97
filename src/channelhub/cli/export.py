"""``export``: a dataset to a CSV or Parquet file, with a progress bar."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from channelhub.cli.common import console, counting_progress, load_settings, open_hub, run
from channelhub.platform.auth.principal import Principal
from channelhub.platform.auth.service import get_tenant
from channelhub.platform.clock import as_utc
from channelhub.process.reporting import exports
from channelhub.process.reporting.exports import ExportFormat

_TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"]


def export(
    dataset: Annotated[
        str, typer.Argument(help="orders, tickets, vouchers, redemptions or loyalty_ledger.")
    ],
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="The tenant (id or slug).")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="The file to write (default: named after the range)."),
    ] = None,
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="csv or parquet.")
    ] = ExportFormat.csv,
    since: Annotated[
        datetime | None,
        typer.Option(
            formats=_TIME_FORMATS, help="Rows created from this time (UTC unless it says)."
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(formats=_TIME_FORMATS, help="Rows created before this time."),
    ] = None,
) -> None:
    """Write a dataset, as the API's `GET /v1/exports/{dataset}` does, to a file: read in
    pages of 5,000 rows, each written as it arrives (a partial file is removed if the
    export fails)."""
    settings = load_settings()

    async def main() -> tuple[Path, int]:
        async with open_hub(settings) as hub:
            async with hub.db.reader() as session:
                principal = Principal.system((await get_tenant(session, tenant)).id, name="cli")
                request = exports.request_for(
                    principal,
                    dataset,
                    as_utc(since) if since else None,
                    as_utc(until) if until else None,
                )
                total = await exports.count(session, request)
            target = output or Path(exports.file_name(request, format))
            written = 0
            try:
                with target.open("wb") as out, counting_progress("exporting") as bar:
                    task = bar.add_task("rows", total=total)
                    async for chunk, rows in exports.stream(hub.db, request, format):
                        out.write(chunk)
                        written += rows
                        bar.update(task, completed=written)
            except BaseException:
                target.unlink(missing_ok=True)
                raise
            return target, written

    target, written = run(main())
    console.print(f"{written} rows of {dataset} written to {target}")
