"""The ``channelhub`` command."""

from __future__ import annotations

import typer

from channelhub.cli import server
from channelhub.cli.admin import keys, tenants
from channelhub.cli.connections import connections_app, inbox_app
from channelhub.cli.events import events
from channelhub.cli.export import export
from channelhub.cli.stock import stock
from channelhub.cli.vouchers import vouchers_app
from channelhub.cli.webhooks import webhooks_app

app = typer.Typer(
    name="channelhub",
    help="channelhub: one version of the truth about orders, stock and customers, "
    "for every channel.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
for verb in (server.serve, server.worker, server.migrate, server.demo, export):
    app.command()(verb)
app.add_typer(tenants, name="tenants")
app.add_typer(keys, name="keys")
app.add_typer(events, name="events")
app.add_typer(stock, name="stock")
app.add_typer(connections_app, name="connections")
app.add_typer(inbox_app, name="inbox")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(vouchers_app, name="vouchers")


def main() -> None:
    app()
