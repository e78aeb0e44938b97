"""Stock levels: updates from the owning systems, reads, and the movement history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import execute_core, table_of
from channelhub.platform.db.pagination import Page, PageRequest, keyset_page
from channelhub.platform.errors import InvalidError
from channelhub.process.catalog.models import Variant
from channelhub.process.inventory import schemas
from channelhub.process.inventory.errors import SkuNotFound
from channelhub.process.inventory.levels import (
    Figures,
    Moved,
    ensure_levels,
    lock_levels,
    record_movements,
)
from channelhub.process.inventory.models import StockLevel, StockMovement
from channelhub.process.stores.models import Location
from channelhub.process.stores.repository import LocationRepository

READ = "inventory:read"
WRITE = "inventory:write"


@dataclass(frozen=True)
class SkuRef:
    """A catalog variant as stock refers to it."""

    id: str
    sku: str


_VARIANTS = table_of(Variant)
_VARIANTS_BY_SKU = select(_VARIANTS.c.id, _VARIANTS.c.sku).where(
    _VARIANTS.c.tenant_id == bindparam("tenant_id"),
    _VARIANTS.c.sku.in_(bindparam("skus", expanding=True)),
)


async def variants_by_sku(
    session: AsyncSession, tenant_id: str, skus: Sequence[str], *, field: str
) -> dict[str, SkuRef]:
    """The variants of ``skus``; the first unknown SKU is refused, naming ``field`` (with
    ``{i}`` standing for its index)."""
    rows = await execute_core(
        session, _VARIANTS_BY_SKU, {"tenant_id": tenant_id, "skus": list(skus)}
    )
    found = {sku: SkuRef(id_, sku) for id_, sku in rows}
    for index, sku in enumerate(skus):
        if sku not in found:
            raise InvalidError(f"no SKU {sku!r} in the catalog", field=field.format(i=index))
    return found


async def known_skus(session: AsyncSession, tenant_id: str, skus: Sequence[str]) -> set[str]:
    """Which of ``skus`` the catalog has."""
    rows = await execute_core(
        session, _VARIANTS_BY_SKU, {"tenant_id": tenant_id, "skus": sorted(set(skus))}
    )
    return {sku for _, sku in rows}


async def locations_by_ref(
    session: AsyncSession, tenant_id: str, refs: Sequence[str], *, field: str
) -> dict[str, Location]:
    found = await LocationRepository(session, tenant_id).resolve(refs)
    for index, ref in enumerate(refs):
        if ref not in found:
            raise InvalidError(f"no location {ref!r}", field=field.format(i=index))
    return found


def level_schema(level: StockLevel, sku: str, location: Location) -> schemas.StockLevel:
    return schemas.StockLevel(
        sku=sku,
        location_id=location.id,
        location_code=location.code,
        on_hand=level.on_hand,
        reserved=level.reserved,
        safety_stock=level.safety_stock,
        incoming=level.incoming,
        available=level.available,
        updated_at=level.updated_at,
    )


def _stale(update: schemas.StockUpdate, level: StockLevel) -> str | None:
    """Why an on-hand update is older than what is applied, or None if it is not."""
    if update.on_hand is None and update.on_hand_delta is None:
        return None
    if (
        update.version is not None
        and level.source_version is not None
        and update.version <= level.source_version
    ):
        return f"version {update.version} is not newer than applied version {level.source_version}"
    if (
        update.as_of is not None
        and level.source_time is not None
        and update.as_of <= level.source_time
    ):
        return (
            f"as of {update.as_of.isoformat()} is not newer than applied "
            f"{level.source_time.isoformat()}"
        )
    return None


def _kind(update: schemas.StockUpdate) -> str:
    if update.on_hand is not None:
        return "set"
    return "adjust" if update.on_hand_delta is not None else "settings"


def _apply(update: schemas.StockUpdate, level: StockLevel, index: int) -> None:
    """Change ``level`` in place."""
    if update.on_hand is not None:
        level.on_hand = update.on_hand
    elif update.on_hand_delta is not None:
        if level.on_hand + update.on_hand_delta < 0:
            raise InvalidError(
                f"on hand is {level.on_hand}; a change of {update.on_hand_delta} would make it "
                "negative",
                field=f"updates.{index}.on_hand_delta",
            )
        level.on_hand = level.on_hand + update.on_hand_delta
    if _kind(update) != "settings":
        level.source_version = (
            update.version if update.version is not None else level.source_version
        )
        level.source_time = update.as_of if update.as_of is not None else level.source_time
    if update.safety_stock is not None:
        level.safety_stock = update.safety_stock
    if update.incoming is not None:
        level.incoming = update.incoming


async def apply_updates(
    session: AsyncSession,
    principal: Principal,
    batch: schemas.StockUpdateBatch,
    *,
    clock: Clock = utc_now,
) -> schemas.StockUpdateResult:
    """Apply stock updates together, or none of them (an invalid one is refused naming
    ``updates.<i>.<field>``). Levels are row-locked in a fixed order for the duration."""
    principal.require(WRITE)
    updates = batch.updates
    variants = await variants_by_sku(
        session, principal.tenant_id, [u.sku for u in updates], field="updates.{i}.sku"
    )
    locations = await locations_by_ref(
        session, principal.tenant_id, [u.location for u in updates], field="updates.{i}.location"
    )
    now = clock()
    keys = [(variants[u.sku].id, locations[u.location].id) for u in updates]
    await ensure_levels(session, principal.tenant_id, keys, now)
    levels = await lock_levels(session, principal.tenant_id, keys)
    moves: list[Moved] = []
    for index, (update, key) in enumerate(zip(updates, keys, strict=True)):
        level = levels[key]
        before = Figures.of(level)
        stale = _stale(update, level)
        if not stale:
            _apply(update, level, index)
            level.updated_at = now
        moves.append(
            Moved(
                variant_id=key[0],
                sku=update.sku,
                location_id=key[1],
                kind=_kind(update),
                before=before,
                after=Figures.of(level),
                incoming=level.incoming,
                applied=stale is None,
                reason=stale or update.reason,
                source=batch.source,
                source_version=update.version,
                source_time=update.as_of,
            )
        )
    await session.flush()
    await record_movements(session, principal, moves, now)
    touched = {key: levels[key] for key in keys}
    location_by_id = {loc.id: loc for loc in locations.values()}
    sku_by_variant = {v.id: sku for sku, v in variants.items()}
    return schemas.StockUpdateResult(
        applied=sum(m.applied for m in moves),
        ignored=sum(not m.applied for m in moves),
        levels=[
            level_schema(level, sku_by_variant[key[0]], location_by_id[key[1]])
            for key, level in touched.items()
        ],
    )


async def stock_history(
    session: AsyncSession,
    principal: Principal,
    sku: str,
    page: PageRequest,
    *,
    location: str | None = None,
) -> Page[schemas.Movement]:
    """The ledger of one SKU, newest first, optionally at one location."""
    principal.require(READ)
    variant = await session.scalar(
        select(Variant).where(Variant.tenant_id == principal.tenant_id, Variant.sku == sku)
    )
    if variant is None:
        raise SkuNotFound(f"no SKU {sku!r} in the catalog")
    statement = select(StockMovement).where(
        StockMovement.tenant_id == principal.tenant_id, StockMovement.variant_id == variant.id
    )
    if location is not None:
        found = await locations_by_ref(session, principal.tenant_id, [location], field="location")
        statement = statement.where(StockMovement.location_id == found[location].id)
    moved = await keyset_page(session, statement, StockMovement.id, page)
    items = [
        schemas.Movement(
            id=row.id,
            sku=row.sku,
            location_id=row.location_id,
            kind=row.kind,
            applied=row.applied,
            on_hand_before=row.on_hand_before,
            on_hand_after=row.on_hand_after,
            reserved_before=row.reserved_before,
            reserved_after=row.reserved_after,
            safety_stock_before=row.safety_stock_before,
            safety_stock_after=row.safety_stock_after,
            actor=row.actor,
            reason=row.reason,
            source=row.source,
            source_version=row.source_version,
            source_time=row.source_time,
            reference=row.reference,
            created_at=row.created_at,
        )
        for row in moved.items
    ]
    return Page(items, moved.next_cursor)


async def stock_levels(
    session: AsyncSession, principal: Principal, sku: str
) -> list[schemas.StockLevel]:
    """One SKU's level at every location that has one, by location code."""
    principal.require(READ)
    variant = await session.scalar(
        select(Variant).where(Variant.tenant_id == principal.tenant_id, Variant.sku == sku)
    )
    if variant is None:
        raise SkuNotFound(f"no SKU {sku!r} in the catalog")
    rows = await session.execute(
        select(StockLevel, Location)
        .join(Location, Location.id == StockLevel.location_id)
        .where(StockLevel.tenant_id == principal.tenant_id, StockLevel.variant_id == variant.id)
        .order_by(Location.code)
    )
    return [level_schema(level, sku, location) for level, location in rows]
