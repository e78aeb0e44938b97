"""Stock back to the channels: when available-to-promise changes, every connected
storefront that sells the SKU gets the new figure.

A consumer of ``inventory.level_changed`` marks the SKU dirty for the tenant's pushing
connections (``connection_skus.dirty_since``), in the event's transaction; the pusher
picks dirty SKUs every ``CHANNELHUB_PUSH_INTERVAL_S``, so a burst of changes to one SKU
becomes one push of the figure as it is by then. Calls go through ``Api``: retries with
back-off honouring Retry-After and the platforms' throttles, and a circuit breaker per
connection. A SKU whose push failed stays dirty and is tried again later, backing off.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, runtime_checkable

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.crypto import SecretBox
from channelhub.platform.db.database import Database
from channelhub.platform.events.envelope import EventEnvelope
from channelhub.platform.inbox.processor import Retry
from channelhub.platform.observability import OUTBOUND_PUSHES
from channelhub.process.connections import service as connections
from channelhub.process.connections.models import Connection, ConnectionSku
from channelhub.process.connections.service import ConnectionContext
from channelhub.process.inventory import availability
from channelhub.process.inventory.service import known_skus
from channelhub.systems.common import Api, ApiError, Connector

log = structlog.get_logger(__name__)

SHOP_WIDE = ""
"""The figure key of a storefront that keeps one stock figure (no locations mapped)."""
_BATCH = 200
_MAX_BACKOFF = timedelta(minutes=10)


@dataclass(frozen=True)
class PushItem:
    sku: str
    refs: dict[str, Any]
    figures: dict[str, int]
    """What the storefront should show: per external location id, or ``SHOP_WIDE``."""

    @property
    def total(self) -> int:
        return sum(self.figures.values())


@runtime_checkable
class Storefront(Connector, Protocol):
    async def push(self, api: Api, ctx: ConnectionContext, items: Sequence[PushItem]) -> None:
        """Set the storefront's stock to ``items``' figures."""

    async def read(
        self, api: Api, ctx: ConnectionContext, items: Sequence[PushItem]
    ) -> dict[str, dict[str, int | None]]:
        """The storefront's stock now, per SKU and figure key (None: not tracked there)."""


async def mark_dirty(session: AsyncSession, envelope: EventEnvelope) -> None:
    """Consumer of ``inventory.level_changed``: the SKU is to be pushed to every pushing
    connection of the tenant that knows it."""
    sku = envelope.data.get("sku")
    if not isinstance(sku, str):
        return
    pushing = select(Connection.id).where(
        Connection.tenant_id == envelope.tenant,
        Connection.push_stock.is_(True),
        Connection.enabled.is_(True),
    )
    await session.execute(
        update(ConnectionSku)
        .where(
            ConnectionSku.sku == sku,
            ConnectionSku.connection_id.in_(pushing.scalar_subquery()),
            ConnectionSku.dirty_since.is_(None),
        )
        .values(dirty_since=envelope.time, next_push_at=None, push_attempts=0)
        .execution_options(synchronize_session=False)
    )


async def figures(
    session: AsyncSession, ctx: ConnectionContext, skus: Sequence[str]
) -> dict[str, dict[str, int]]:
    """What the storefront should show for each SKU: the ATP of each mapped location, or
    the channel's available-to-ship when no location is mapped."""
    known = sorted(await known_skus(session, ctx.tenant_id, skus))
    if not known or ctx.sales_channel_id is None:
        return {}
    hub = Principal.system(ctx.tenant_id, name=f"{ctx.system.value}:{ctx.id}")
    result: dict[str, dict[str, int]] = {}
    for start in range(0, len(known), availability.MAX_SKUS):
        answers = await availability.availability(
            session, hub, known[start : start + availability.MAX_SKUS], ctx.sales_channel_id
        )
        for answer in answers:
            if not ctx.locations:
                result[answer.sku] = {SHOP_WIDE: answer.available_to_ship}
                continue
            at = {loc.location_id: loc.available for loc in answer.locations}
            result[answer.sku] = {m.external_id: at.get(m.location_id, 0) for m in ctx.locations}
    return result


async def items_for(
    session: AsyncSession, ctx: ConnectionContext, rows: Sequence[ConnectionSku]
) -> list[PushItem]:
    wanted = await figures(session, ctx, [row.sku for row in rows])
    return [PushItem(row.sku, dict(row.refs), wanted[row.sku]) for row in rows if row.sku in wanted]


class StockPusher:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        api: Api,
        connectors: dict[str, Connector],
        *,
        interval_s: float = 1.0,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.box = box
        self.api = api
        self.connectors = connectors
        self.interval_s = interval_s
        self.clock = clock

    async def run(self) -> None:
        while True:
            try:
                await self.push_due()
            except Exception as exc:
                log.warning("push.round_failed", error=str(exc))
            await asyncio.sleep(self.interval_s)

    async def push_due(self) -> int:
        """Push every connection's dirty SKUs once; returns how many SKUs were pushed."""
        now = self.clock()
        async with self.db.reader() as session:
            rows = (
                await session.scalars(
                    select(ConnectionSku)
                    .where(
                        ConnectionSku.dirty_since.is_not(None),
                        or_(
                            ConnectionSku.next_push_at.is_(None), ConnectionSku.next_push_at <= now
                        ),
                    )
                    .order_by(ConnectionSku.dirty_since)
                    .limit(_BATCH * 10)
                )
            ).all()
        by_connection: dict[str, list[ConnectionSku]] = defaultdict(list)
        for row in rows:
            by_connection[row.connection_id].append(row)
        pushed = 0
        for connection_id, dirty in by_connection.items():
            pushed += await self._push(connection_id, dirty[:_BATCH])
        return pushed

    async def _push(self, connection_id: str, dirty: list[ConnectionSku]) -> int:
        async with self.db.reader() as session:
            ctx = await connections.context(session, connection_id, self.box)
            items = await items_for(session, ctx, dirty)
        connector = self.connectors.get(ctx.system.value)
        if not isinstance(connector, Storefront) or not ctx.push_stock:
            await self._settle(ctx, dirty, [], None)
            return 0
        error = None
        try:
            if items:
                await connector.push(self.api, ctx, items)
        except (Retry, ApiError) as exc:
            error = str(exc)
        OUTBOUND_PUSHES.labels(ctx.system.value, "failed" if error else "pushed").inc(len(items))
        await self._settle(ctx, dirty, items, error)
        return 0 if error else len(items)

    async def _settle(
        self,
        ctx: ConnectionContext,
        dirty: list[ConnectionSku],
        items: list[PushItem],
        error: str | None,
    ) -> None:
        """Clear what was pushed (unless it changed again meanwhile), or back off."""
        now = self.clock()
        figures_of = {item.sku: item.figures for item in items}
        async with self.db.transaction() as session:
            for row in dirty:
                if error is None:
                    await session.execute(
                        update(ConnectionSku)
                        .where(
                            ConnectionSku.connection_id == row.connection_id,
                            ConnectionSku.sku == row.sku,
                            ConnectionSku.dirty_since == row.dirty_since,
                        )
                        .values(
                            dirty_since=None,
                            pushed=figures_of.get(row.sku, row.pushed),
                            push_attempts=0,
                            next_push_at=None,
                            updated_at=now,
                        )
                        .execution_options(synchronize_session=False)
                    )
                else:
                    backoff = min(_MAX_BACKOFF, timedelta(seconds=2 ** min(row.push_attempts, 12)))
                    await session.execute(
                        update(ConnectionSku)
                        .where(
                            ConnectionSku.connection_id == row.connection_id,
                            ConnectionSku.sku == row.sku,
                        )
                        .values(push_attempts=row.push_attempts + 1, next_push_at=now + backoff)
                        .execution_options(synchronize_session=False)
                    )
            await session.execute(
                update(Connection)
                .where(Connection.id == ctx.id)
                .values(
                    last_pushed_at=now if error is None else Connection.last_pushed_at,
                    last_push_error=error,
                )
                .execution_options(synchronize_session=False)
            )
        if error:
            log.warning("push.failed", connection_id=ctx.id, error=error)
