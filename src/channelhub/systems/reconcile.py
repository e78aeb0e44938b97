"""Reconciling a storefront's stock with the hub: what it shows against what it should."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from channelhub.platform.clock import utc_now
from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.database import Database
from channelhub.platform.errors import InvalidError
from channelhub.process.connections import service as connections
from channelhub.process.connections.models import ConnectionSku
from channelhub.systems.common import Api
from channelhub.systems.stock import PushItem, Storefront, items_for

_PAGE = 100


@dataclass(frozen=True)
class Drift:
    sku: str
    location: str
    """The storefront's location id ("" for a shop-wide figure)."""
    hub: int
    shop: int | None
    """None: the storefront does not track this SKU's stock."""


@dataclass
class Report:
    checked: int = 0
    drifts: list[Drift] = field(default_factory=list)
    fixed: int = 0


async def reconcile(
    db: Database,
    box: SecretBox,
    api: Api,
    connectors: dict[str, object],
    connection_id: str,
    *,
    fix: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """Compare every SKU the storefront is known to sell; with ``fix``, push the hub's
    figure for each SKU that drifted (and record it as pushed)."""
    async with db.reader() as session:
        ctx = await connections.context(session, connection_id, box)
        rows = list(
            (
                await session.scalars(
                    select(ConnectionSku)
                    .where(ConnectionSku.connection_id == connection_id)
                    .order_by(ConnectionSku.sku)
                )
            ).all()
        )
    connector = connectors.get(ctx.system.value)
    if not isinstance(connector, Storefront):
        raise InvalidError(
            f"{ctx.system.value} is not a storefront: it has no stock to reconcile",
            field="connection_id",
        )
    report = Report()
    for start in range(0, len(rows), _PAGE):
        async with db.reader() as session:
            items = await items_for(session, ctx, rows[start : start + _PAGE])
        shown = await connector.read(api, ctx, items)
        drifted: list[PushItem] = []
        for item in items:
            found = False
            for location, wanted in item.figures.items():
                actual = shown.get(item.sku, {}).get(location)
                if actual != wanted:
                    report.drifts.append(Drift(item.sku, location, wanted, actual))
                    found = True
            if found:
                drifted.append(item)
        report.checked += len(items)
        if fix and drifted:
            await connector.push(api, ctx, drifted)
            async with db.transaction() as session:
                await connections.record_pushed(
                    session, ctx.id, {item.sku: item.figures for item in drifted}, utc_now()
                )
            report.fixed += len(drifted)
        if progress is not None:
            progress(min(start + _PAGE, len(rows)), len(rows))
    return report
