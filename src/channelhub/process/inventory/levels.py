"""Recording stock movements: the ledger row, the level event, and availability edges.

Every function that changes a stock level hands a ``Moved`` to ``record_movements`` in
the same transaction, so the ledger, the events and the figures can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import and_, case, func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.db.core import dialect_insert, execute_core, table_of
from channelhub.platform.events.outbox import PendingEvent, record_events
from channelhub.platform.ids import new_id
from channelhub.process.inventory.events import BACK_IN_STOCK, LEVEL_CHANGED, OUT_OF_STOCK
from channelhub.process.inventory.models import StockLevel, StockMovement
from channelhub.process.inventory.schemas import AvailabilityChange, LevelChange, StockFigures
from channelhub.process.stores.models import Location, LocationChannel

AVAILABLE = case(
    (
        StockLevel.on_hand - StockLevel.reserved - StockLevel.safety_stock > 0,
        StockLevel.on_hand - StockLevel.reserved - StockLevel.safety_stock,
    ),
    else_=0,
)
"""ATP in SQL: on_hand - reserved - safety_stock, never below zero."""

_LEDGER_INSERT = insert(table_of(StockMovement))


@dataclass(frozen=True)
class Figures:
    on_hand: int
    reserved: int
    safety_stock: int

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved - self.safety_stock)

    @classmethod
    def of(cls, level: StockLevel) -> Figures:
        return cls(level.on_hand, level.reserved, level.safety_stock)

    def public(self) -> StockFigures:
        return StockFigures(
            on_hand=self.on_hand,
            reserved=self.reserved,
            safety_stock=self.safety_stock,
            available=self.available,
        )


@dataclass(frozen=True)
class Moved:
    """One change (or refused change) of one level, as the ledger records it."""

    variant_id: str
    sku: str
    location_id: str
    kind: str
    before: Figures
    after: Figures
    incoming: int
    applied: bool = True
    reason: str = ""
    source: str = ""
    source_version: int | None = None
    source_time: datetime | None = None
    reference: str | None = None


async def ensure_levels(
    session: AsyncSession, tenant_id: str, keys: Sequence[tuple[str, str]], now: datetime
) -> None:
    """Create zero levels for (variant, location) pairs that have none yet; concurrent
    creators of the same pair do not collide."""
    if not keys:
        return
    statement = dialect_insert(session, StockLevel).on_conflict_do_nothing()  # type: ignore[attr-defined]
    await session.execute(
        statement,
        [
            {"variant_id": v, "location_id": loc, "tenant_id": tenant_id, "updated_at": now}
            for v, loc in sorted(set(keys))
        ],
    )


async def lock_levels(
    session: AsyncSession, tenant_id: str, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], StockLevel]:
    """Row-lock the levels, always in (variant, location) order so two writers of
    overlapping levels queue instead of deadlocking."""
    ordered = sorted(set(keys))
    statement = (
        select(StockLevel)
        .where(
            StockLevel.tenant_id == tenant_id,
            tuple_(StockLevel.variant_id, StockLevel.location_id).in_(ordered),
        )
        .order_by(StockLevel.variant_id, StockLevel.location_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    rows = (await session.scalars(statement)).all()
    return {(row.variant_id, row.location_id): row for row in rows}


async def record_movements(
    session: AsyncSession,
    principal: Principal,
    moves: Sequence[Moved],
    now: datetime,
    *,
    also: Sequence[PendingEvent] = (),
) -> None:
    """Write the ledger (a row per move), one ``inventory.level_changed`` per level that
    ended the transaction changed (its first "before" and last "after"), the availability
    edges, and the caller's own events ``also``, in three statements however many moves
    and events there are."""
    if not moves:
        await record_events(session, also)
        return
    await execute_core(
        session,
        _LEDGER_INSERT,
        [
            {
                "id": new_id("mov"),
                "tenant_id": principal.tenant_id,
                "variant_id": m.variant_id,
                "sku": m.sku,
                "location_id": m.location_id,
                "kind": m.kind,
                "applied": m.applied,
                "on_hand_before": m.before.on_hand,
                "on_hand_after": m.after.on_hand,
                "reserved_before": m.before.reserved,
                "reserved_after": m.after.reserved,
                "safety_stock_before": m.before.safety_stock,
                "safety_stock_after": m.after.safety_stock,
                "incoming_after": m.incoming,
                "actor": principal.actor,
                "reason": m.reason,
                "source": m.source,
                "source_version": m.source_version,
                "source_time": m.source_time,
                "reference": m.reference,
                "created_at": now,
            }
            for m in moves
        ],
    )
    net: dict[tuple[str, str], Moved] = {}
    for m in (m for m in moves if m.applied):
        first = net.get((m.variant_id, m.location_id))
        net[(m.variant_id, m.location_id)] = m if first is None else replace(m, before=first.before)
    events = [
        PendingEvent(
            LEVEL_CHANGED,
            principal.tenant_id,
            f"{m.variant_id}@{m.location_id}",
            LevelChange(
                sku=m.sku,
                location_id=m.location_id,
                kind=m.kind,
                before=m.before.public(),
                after=m.after.public(),
                reference=m.reference,
            ),
        )
        for m in net.values()
        if m.before != m.after
    ]
    events += await _availability_edges(session, principal.tenant_id, list(net.values()))
    await record_events(session, [*events, *also])


async def _availability_edges(
    session: AsyncSession, tenant_id: str, moves: Sequence[Moved]
) -> list[PendingEvent]:
    """Emit out-of-stock / back-in-stock when a SKU's promise crosses zero, for each
    pickup store and each channel (summed over the channel's shipping locations).

    Only a move whose own level crossed zero can make a total cross zero, so everything
    else is skipped without a query.
    """
    crossing = [
        m for m in moves if m.applied and (m.before.available == 0) != (m.after.available == 0)
    ]
    if not crossing:
        return []
    locations = {
        loc.id: loc
        for loc in (
            await session.scalars(
                select(Location).where(Location.id.in_({m.location_id for m in crossing}))
            )
        ).all()
    }
    sku_of = {m.variant_id: m.sku for m in crossing}
    edges = [
        _edge(tenant_id, m, m.after.available, location_id=m.location_id)
        for m in crossing
        if (loc := locations.get(m.location_id)) is not None and loc.pickup and loc.active
    ]
    shipping = [m for m in crossing if (loc := locations.get(m.location_id)) and loc.ships]
    if not shipping:
        return edges
    served = await _served(session, [m.location_id for m in shipping])
    channels = sorted({channel for linked in served.values() for channel in linked})
    totals = await _channel_totals(session, tenant_id, list(sku_of), channels)
    delta: dict[tuple[str, str], int] = {}
    for m in shipping:
        for channel in served.get(m.location_id, ()):
            key = (m.variant_id, channel)
            delta[key] = delta.get(key, 0) + m.after.available - m.before.available
    for (variant_id, channel), change in delta.items():
        after = totals.get((variant_id, channel), 0)
        before = after - change
        if (before == 0) != (after == 0):
            move = next(m for m in shipping if m.variant_id == variant_id)
            edges.append(_edge(tenant_id, move, after, sales_channel_id=channel))
    return edges


async def _served(session: AsyncSession, location_ids: list[str]) -> dict[str, list[str]]:
    rows = await session.execute(
        select(LocationChannel.location_id, LocationChannel.sales_channel_id).where(
            LocationChannel.location_id.in_(location_ids)
        )
    )
    served: dict[str, list[str]] = {}
    for location_id, channel in rows:
        served.setdefault(location_id, []).append(channel)
    return served


async def _channel_totals(
    session: AsyncSession, tenant_id: str, variant_ids: list[str], channels: list[str]
) -> dict[tuple[str, str], int]:
    """ATP per (variant, channel) over the channel's active shipping locations."""
    statement = (
        select(StockLevel.variant_id, LocationChannel.sales_channel_id, func.sum(AVAILABLE))
        .join(LocationChannel, LocationChannel.location_id == StockLevel.location_id)
        .join(Location, Location.id == StockLevel.location_id)
        .where(
            and_(
                StockLevel.tenant_id == tenant_id,
                StockLevel.variant_id.in_(variant_ids),
                LocationChannel.sales_channel_id.in_(channels),
                Location.ships.is_(True),
                Location.active.is_(True),
            )
        )
        .group_by(StockLevel.variant_id, LocationChannel.sales_channel_id)
    )
    return {(v, c): int(total or 0) for v, c, total in (await session.execute(statement))}


def _edge(
    tenant_id: str,
    move: Moved,
    available: int,
    *,
    sales_channel_id: str | None = None,
    location_id: str | None = None,
) -> PendingEvent:
    return PendingEvent(
        BACK_IN_STOCK if available > 0 else OUT_OF_STOCK,
        tenant_id,
        move.variant_id,
        AvailabilityChange(
            sku=move.sku,
            scope="pickup_store" if location_id else "channel",
            sales_channel_id=sales_channel_id,
            location_id=location_id,
            available=available,
        ),
    )
