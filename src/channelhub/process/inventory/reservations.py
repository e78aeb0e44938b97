"""Reservations: stock held for an order or a cart, all lines or none.

Oversell is impossible by construction: every unit is taken by one conditional UPDATE
(``... SET reserved = reserved + n WHERE on_hand - reserved - safety_stock >= n``), which
the database evaluates atomically against concurrent writers; nothing is decided on a
figure read earlier. Lines are taken in variant order, so two reservations of the same
SKUs queue on the rows instead of deadlocking.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Insert, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.core import dialect_insert_for, dialect_name, execute_core, table_of
from channelhub.platform.db.database import Database
from channelhub.platform.errors import ConflictError, InvalidError
from channelhub.platform.events.outbox import PendingEvent
from channelhub.platform.ids import new_id
from channelhub.process.channels.repository import SalesChannelRepository
from channelhub.process.inventory import schemas
from channelhub.process.inventory.errors import InsufficientStock, ReservationNotFound
from channelhub.process.inventory.events import (
    RESERVATION_COMMITTED,
    RESERVATION_CREATED,
    RESERVATION_EXPIRED,
    RESERVATION_RELEASED,
)
from channelhub.process.inventory.levels import (
    AVAILABLE,
    Figures,
    Moved,
    lock_levels,
    record_movements,
)
from channelhub.process.inventory.models import Reservation, ReservationAllocation, StockLevel
from channelhub.process.inventory.service import (
    READ,
    WRITE,
    SkuRef,
    locations_by_ref,
    variants_by_sku,
)
from channelhub.process.stores.geo import distance_km
from channelhub.process.stores.models import Location
from channelhub.process.stores.repository import LocationRepository

_TAKE_ATTEMPTS = 5
_FAR = float("inf")

_LEVELS = table_of(StockLevel)
_RESERVATIONS = table_of(Reservation)
_ALLOCATIONS = table_of(ReservationAllocation)
_AT_LEVEL = (
    _LEVELS.c.variant_id == bindparam("at_variant"),
    _LEVELS.c.location_id == bindparam("at_location"),
)
_TAKE = (
    update(_LEVELS)
    .where(
        *_AT_LEVEL,
        _LEVELS.c.on_hand - _LEVELS.c.reserved - _LEVELS.c.safety_stock >= bindparam("amount"),
    )
    .values(
        reserved=_LEVELS.c.reserved + bindparam("amount"),
        updated_at=bindparam("now", type_=_LEVELS.c.updated_at.type),
    )
    .returning(_LEVELS.c.on_hand, _LEVELS.c.reserved, _LEVELS.c.safety_stock)
)
"""Hold ``amount`` units at one level if that many are free: the database decides,
atomically against every concurrent writer."""
_AVAILABLE_AT = select(AVAILABLE).where(*_AT_LEVEL)
_ALLOCATION_INSERT = insert(_ALLOCATIONS)


@functools.cache
def _claim(dialect: str) -> Insert:
    """Insert the reservation unless its key is taken; returns its id only if inserted.

    The key is claimed before any stock is touched: a concurrent request with the same key
    waits on the unique index until this transaction ends, then finds the reservation.
    """
    insert_ = dialect_insert_for(dialect, _RESERVATIONS)
    claim: Insert = insert_.on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["tenant_id", "key"]
    )
    return claim.returning(_RESERVATIONS.c.id)


@dataclass(frozen=True)
class Taken:
    location_id: str
    quantity: int
    before: Figures
    after: Figures


def to_schema(reservation: Reservation) -> schemas.Reservation:
    return schemas.Reservation(
        id=reservation.id,
        key=reservation.key,
        reference=reservation.reference,
        sales_channel_id=reservation.sales_channel_id,
        fulfilment=schemas.Fulfilment(reservation.fulfilment),
        status=schemas.ReservationStatus(reservation.status),
        expires_at=reservation.expires_at,
        allocations=[
            schemas.Allocation(sku=a.sku, location_id=a.location_id, quantity=a.quantity)
            for a in reservation.allocations
        ],
        created_at=reservation.created_at,
        updated_at=reservation.updated_at,
    )


def _fingerprint(data: schemas.ReservationCreate) -> str:
    return hashlib.sha256(data.model_dump_json(exclude={"key"}).encode()).hexdigest()


async def _available(session: AsyncSession, variant_id: str, location_id: str) -> int:
    found = await execute_core(
        session, _AVAILABLE_AT, {"at_variant": variant_id, "at_location": location_id}
    )
    return int(found.scalar() or 0)


async def _take(
    session: AsyncSession, variant_id: str, location_id: str, need: int, clock: Clock
) -> Taken | None:
    """Reserve up to ``need`` units at one location; None when it has none to give.

    The whole quantity is tried first (one statement in the common case); only when that
    fails is the location's availability read, to take what it has.
    """
    amount = need
    for _ in range(_TAKE_ATTEMPTS):
        row = (
            await execute_core(
                session,
                _TAKE,
                {
                    "at_variant": variant_id,
                    "at_location": location_id,
                    "amount": amount,
                    "now": clock(),
                },
            )
        ).one_or_none()
        if row is not None:
            after = Figures(*row)
            before = Figures(after.on_hand, after.reserved - amount, after.safety_stock)
            return Taken(location_id, amount, before, after)
        # Not that many free (or someone took units meanwhile): take what is there now.
        amount = min(need, await _available(session, variant_id, location_id))
        if amount <= 0:
            return None
    return None


async def _candidates(
    session: AsyncSession, principal: Principal, data: schemas.ReservationCreate
) -> list[Location]:
    """Locations to take stock from, in the order the strategy prefers."""
    if data.sales_channel_id is not None and (
        await SalesChannelRepository(session, principal.tenant_id).get(data.sales_channel_id)
        is None
    ):
        raise InvalidError(f"no sales channel {data.sales_channel_id!r}", field="sales_channel_id")
    if data.location is not None:
        location = (
            await locations_by_ref(session, principal.tenant_id, [data.location], field="location")
        )[data.location]
        if not location.active:
            raise InvalidError(f"location {data.location!r} is inactive", field="location")
        if data.fulfilment is schemas.Fulfilment.pickup and not location.pickup:
            raise InvalidError(f"location {data.location!r} offers no pickup", field="location")
        if data.fulfilment is schemas.Fulfilment.ship and not location.ships:
            raise InvalidError(f"location {data.location!r} does not ship", field="location")
        return [location]
    assert data.sales_channel_id is not None
    serving = await LocationRepository(session, principal.tenant_id).serving(data.sales_channel_id)
    shipping = [location for location, _ in serving if location.ships]
    if data.strategy is schemas.Strategy.nearest and data.deliver_to is not None:
        point = data.deliver_to
        shipping.sort(
            key=lambda loc: (
                _FAR
                if loc.latitude is None or loc.longitude is None
                else distance_km(point.latitude, point.longitude, loc.latitude, loc.longitude)
            )
        )
    return shipping


async def _allocate(
    session: AsyncSession,
    data: schemas.ReservationCreate,
    variants: dict[str, SkuRef],
    candidates: list[Location],
    clock: Clock,
) -> list[tuple[int, SkuRef, Taken]]:
    """Take every line's units, or raise InsufficientStock (the transaction is then rolled
    back, so nothing stays reserved)."""
    taken: list[tuple[int, SkuRef, Taken]] = []
    lines = sorted(enumerate(data.lines), key=lambda item: variants[item[1].sku].id)
    for index, line in lines:
        variant = variants[line.sku]
        order = candidates
        if data.strategy is schemas.Strategy.most_stock and len(candidates) > 1:
            stock = {c.id: await _available(session, variant.id, c.id) for c in candidates}
            order = sorted(candidates, key=lambda c: -stock[c.id])
        need = line.quantity
        for location in order:
            got = await _take(session, variant.id, location.id, need, clock)
            if got is not None:
                taken.append((index, variant, got))
                need -= got.quantity
            if need == 0:
                break
        if need > 0:
            held = sum(t.quantity for i, _, t in taken if i == index)
            free = sum([await _available(session, variant.id, c.id) for c in candidates])
            raise InsufficientStock(
                line.sku,
                requested=line.quantity,
                available=held + free,
                field=f"lines.{index}.quantity",
            )
    return taken


async def _existing(
    session: AsyncSession, principal: Principal, data: schemas.ReservationCreate, fingerprint: str
) -> schemas.Reservation:
    """The reservation already made with this key, if it was made for the same request."""
    existing = await session.scalar(
        select(Reservation)
        .options(selectinload(Reservation.allocations))
        .where(Reservation.tenant_id == principal.tenant_id, Reservation.key == data.key)
    )
    assert existing is not None, "the key's row conflicted, so it exists"
    if existing.fingerprint != fingerprint:
        raise ConflictError(
            f"reservation key {data.key!r} was used for a different request",
            code="reservation_key_reused",
            field="key",
        )
    return to_schema(existing)


async def reserve(
    session: AsyncSession,
    principal: Principal,
    data: schemas.ReservationCreate,
    *,
    clock: Clock = utc_now,
) -> tuple[schemas.Reservation, bool]:
    """Hold stock for every line, or for none. Returns (reservation, created): the same
    key and request return the existing reservation with created=False.

    Runs as a handful of statements built once: references are resolved first, the key is
    claimed, and the stock rows are locked last, so a hot SKU's row is held only for the
    ledger and event inserts that must commit with it.
    """
    principal.require(WRITE)
    fingerprint = _fingerprint(data)
    variants = await variants_by_sku(
        session, principal.tenant_id, [line.sku for line in data.lines], field="lines.{i}.sku"
    )
    candidates = await _candidates(session, principal, data)
    now = clock()
    reservation_id = new_id("rsv")
    expires_at = now + timedelta(seconds=data.ttl_seconds) if data.ttl_seconds else None
    claim = await execute_core(
        session,
        _claim(dialect_name(session)),
        {
            "id": reservation_id,
            "tenant_id": principal.tenant_id,
            "key": data.key,
            "fingerprint": fingerprint,
            "reference": data.reference,
            "sales_channel_id": data.sales_channel_id,
            "fulfilment": data.fulfilment.value,
            "status": schemas.ReservationStatus.active.value,
            "expires_at": expires_at,
            "created_at": now,
            "updated_at": now,
        },
    )
    if claim.scalar() is None:
        return await _existing(session, principal, data, fingerprint), False
    taken = await _allocate(session, data, variants, candidates, clock)
    await execute_core(
        session,
        _ALLOCATION_INSERT,
        [
            {
                "reservation_id": reservation_id,
                "position": position,
                "line": index,
                "variant_id": variant.id,
                "sku": variant.sku,
                "location_id": got.location_id,
                "quantity": got.quantity,
            }
            for position, (index, variant, got) in enumerate(taken)
        ],
    )
    result = schemas.Reservation(
        id=reservation_id,
        key=data.key,
        reference=data.reference,
        sales_channel_id=data.sales_channel_id,
        fulfilment=data.fulfilment,
        status=schemas.ReservationStatus.active,
        expires_at=expires_at,
        allocations=[
            schemas.Allocation(sku=variant.sku, location_id=got.location_id, quantity=got.quantity)
            for _, variant, got in taken
        ],
        created_at=now,
        updated_at=now,
    )
    await record_movements(
        session,
        principal,
        [
            Moved(
                variant_id=variant.id,
                sku=variant.sku,
                location_id=got.location_id,
                kind="reserve",
                before=got.before,
                after=got.after,
                incoming=0,
                reference=reservation_id,
            )
            for _, variant, got in taken
        ],
        now,
        also=[PendingEvent(RESERVATION_CREATED, principal.tenant_id, reservation_id, result)],
    )
    return result, True


async def _load(
    session: AsyncSession, principal: Principal, reservation_id: str, *, lock: bool
) -> Reservation:
    statement = (
        select(Reservation)
        .options(selectinload(Reservation.allocations))
        .where(Reservation.tenant_id == principal.tenant_id, Reservation.id == reservation_id)
    )
    if lock:
        statement = statement.with_for_update()
    reservation = await session.scalar(statement)
    if reservation is None:
        raise ReservationNotFound(f"no reservation {reservation_id!r}")
    return reservation


async def _finish(
    session: AsyncSession,
    principal: Principal,
    reservation: Reservation,
    status: schemas.ReservationStatus,
    clock: Clock,
) -> schemas.Reservation:
    """Give the held units back (release, expire) or send them out (commit), and record
    the reservation's event with the movements."""
    now = clock()
    kind = {"released": "release", "expired": "expire", "committed": "commit"}[status.value]
    keys = [(a.variant_id, a.location_id) for a in reservation.allocations]
    levels = await lock_levels(session, principal.tenant_id, keys)
    moves = []
    for allocation in sorted(reservation.allocations, key=lambda a: (a.variant_id, a.location_id)):
        level = levels[(allocation.variant_id, allocation.location_id)]
        before = Figures.of(level)
        level.reserved = max(0, level.reserved - allocation.quantity)
        if status is schemas.ReservationStatus.committed:
            level.on_hand = max(0, level.on_hand - allocation.quantity)
        level.updated_at = now
        moves.append(
            Moved(
                variant_id=allocation.variant_id,
                sku=allocation.sku,
                location_id=allocation.location_id,
                kind=kind,
                before=before,
                after=Figures.of(level),
                incoming=level.incoming,
                reference=reservation.id,
            )
        )
    reservation.status = status.value
    reservation.updated_at = now
    await session.flush()
    result = to_schema(reservation)
    event = PendingEvent(_FINISHED_EVENT[status], principal.tenant_id, reservation.id, result)
    await record_movements(session, principal, moves, now, also=[event])
    return result


_FINISHED_EVENT = {
    schemas.ReservationStatus.released: RESERVATION_RELEASED,
    schemas.ReservationStatus.expired: RESERVATION_EXPIRED,
    schemas.ReservationStatus.committed: RESERVATION_COMMITTED,
}


async def finish(
    session: AsyncSession,
    principal: Principal,
    reservation_id: str,
    status: schemas.ReservationStatus,
    *,
    clock: Clock = utc_now,
) -> schemas.Reservation:
    """Release or commit an active reservation. Asking again for the state it already
    has is a harmless no-op; any other change of a finished reservation is a conflict."""
    principal.require(WRITE)
    reservation = await _load(session, principal, reservation_id, lock=True)
    if reservation.status == status.value:
        return to_schema(reservation)
    if reservation.status != schemas.ReservationStatus.active.value:
        raise ConflictError(
            f"reservation {reservation_id!r} is already {reservation.status}",
            code="reservation_finished",
            reservation_status=reservation.status,
        )
    return await _finish(session, principal, reservation, status, clock)


async def get_reservation(
    session: AsyncSession, principal: Principal, reservation_id: str
) -> schemas.Reservation:
    principal.require(READ)
    return to_schema(await _load(session, principal, reservation_id, lock=False))


async def expire_due(db: Database, *, limit: int = 100, clock: Clock = utc_now) -> int:
    """Release active reservations whose time ran out; returns how many. Safe to run in
    several workers at once (rows are claimed with SKIP LOCKED, and re-checked)."""
    async with db.transaction() as session:
        due = (
            await session.scalars(
                select(Reservation)
                .options(selectinload(Reservation.allocations))
                .where(
                    Reservation.status == schemas.ReservationStatus.active.value,
                    Reservation.expires_at <= clock(),
                )
                .order_by(Reservation.expires_at)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        ).all()
        for reservation in due:
            principal = Principal.system(reservation.tenant_id, name="job:reservation-expiry")
            await _finish(session, principal, reservation, schemas.ReservationStatus.expired, clock)
    return len(due)
