"""``stock import``: load stock levels from a CSV or JSON Lines file of any size."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from channelhub.cli.common import console, errors, fail, load_settings, open_hub, run
from channelhub.hub import Hub
from channelhub.platform.auth.principal import Principal
from channelhub.platform.auth.service import get_tenant
from channelhub.platform.errors import InvalidError, first_validation_error
from channelhub.process.inventory.schemas import StockUpdate, StockUpdateBatch
from channelhub.process.inventory.service import apply_updates

stock = typer.Typer(help="Stock levels.", no_args_is_help=True)

COLUMNS = (
    "sku",
    "location",
    "on_hand",
    "on_hand_delta",
    "safety_stock",
    "incoming",
    "version",
    "as_of",
    "reason",
)
_SHOWN_ERRORS = 100


@dataclass
class Tally:
    rows: int = 0
    applied: int = 0
    ignored: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def reject(self, line: int, reason: str) -> None:
        self.rejected.append((line, reason))
        if len(self.rejected) <= _SHOWN_ERRORS:
            errors.print(f"[yellow]line {line}:[/] {escape(reason)}", highlight=False)


def _records(handle: io.TextIOWrapper, kind: str) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record) for each data row, or (line number, parse error)."""
    if kind == "csv":
        reader = csv.DictReader(handle)
        unknown = set(reader.fieldnames or ()) - set(COLUMNS)
        if unknown:
            raise InvalidError(
                f"unknown CSV columns: {', '.join(sorted(unknown))}; expected "
                f"some of {', '.join(COLUMNS)}",
                field="FILE",
            )
        for row in reader:
            yield reader.line_num, {k: v for k, v in row.items() if v not in (None, "")}
        return
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, f"not valid JSON: {exc.msg}"
            continue
        yield number, record if isinstance(record, dict) else "each line must be a JSON object"


async def _apply(
    hub: Hub, principal: Principal, batch: list[tuple[int, StockUpdate]], source: str, tally: Tally
) -> None:
    """Apply a batch; a row the service refuses is reported and the rest applied again."""
    while batch:
        try:
            async with hub.db.transaction() as session:
                result = await apply_updates(
                    session,
                    principal,
                    StockUpdateBatch(updates=[u for _, u in batch], source=source),
                )
        except InvalidError as exc:
            index = _row_index(exc.field)
            if index is None:
                raise
            line, _ = batch.pop(index)
            tally.reject(line, f"{exc.field.split('.', 2)[-1] if exc.field else ''}: {exc.detail}")
            continue
        tally.applied += result.applied
        tally.ignored += result.ignored
        return


def _row_index(field_name: str | None) -> int | None:
    parts = (field_name or "").split(".")
    return (
        int(parts[1]) if len(parts) > 2 and parts[0] == "updates" and parts[1].isdigit() else None
    )


@stock.command("import")
def import_stock(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (with a header row) or JSON Lines file.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant id or slug.")],
    source: Annotated[
        str, typer.Option(help="Which system the figures come from (ledger).")
    ] = "import",
    batch_size: Annotated[
        int, typer.Option(help="Rows applied per transaction.", min=1, max=10_000)
    ] = 1000,
    file_format: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the file name).")
    ] = None,
) -> None:
    """Load stock levels: columns sku, location (id or code), and on_hand or on_hand_delta,
    optionally safety_stock, incoming, version, as_of, reason. Streams files of any size.
    A bad row is reported with its line number and the other rows still load; the command
    then exits 2."""
    settings = load_settings()
    kind = (file_format or ("csv" if file.suffix.lower() == ".csv" else "jsonl")).lower()
    if kind not in {"csv", "jsonl"}:
        fail("--format must be csv or jsonl", 2)

    async def main() -> Tally:
        tally = Tally()
        async with open_hub(settings) as hub:
            async with hub.db.reader() as session:
                tenant_id = (await get_tenant(session, tenant)).id
            principal = Principal.system(tenant_id, name=f"cli:stock-import:{file.name}")
            batch: list[tuple[int, StockUpdate]] = []
            with (
                file.open("rb") as raw,
                Progress(
                    TextColumn("[bold]importing"),
                    BarColumn(),
                    DownloadColumn(),
                    TextColumn("{task.fields[rows]:,} rows"),
                    TimeRemainingColumn(),
                    console=console,
                    transient=False,
                ) as progress,
            ):
                task = progress.add_task("import", total=file.stat().st_size, rows=0)
                handle = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
                for line, record in _records(handle, kind):
                    tally.rows += 1
                    if isinstance(record, str):
                        tally.reject(line, record)
                        continue
                    try:
                        batch.append((line, StockUpdate.model_validate(record)))
                    except ValidationError as exc:
                        tally.reject(line, first_validation_error(exc, "row"))
                    if len(batch) >= batch_size:
                        await _apply(hub, principal, batch, source, tally)
                        batch = []
                        progress.update(task, completed=raw.tell(), rows=tally.rows)
                await _apply(hub, principal, batch, source, tally)
                progress.update(task, completed=file.stat().st_size, rows=tally.rows)
        return tally

    tally = run(main())
    console.print(
        f"{tally.rows:,} rows: {tally.applied:,} applied, {tally.ignored:,} ignored as out of "
        f"date, {len(tally.rejected):,} rejected"
    )
    if tally.rejected:
        if len(tally.rejected) > _SHOWN_ERRORS:
            errors.print(f"({len(tally.rejected) - _SHOWN_ERRORS:,} more rejected rows not shown)")
        raise typer.Exit(2)
