"""Locations: warehouses and retail stores, and which sales channels each serves."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.pagination import Page, PageRequest
from channelhub.platform.errors import ConflictError, InvalidError, NotFoundError
from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.outbox import record_event
from channelhub.platform.ids import new_id
from channelhub.process.channels.repository import SalesChannelRepository
from channelhub.process.stores import hours, models, schemas
from channelhub.process.stores.events import (
    LOCATION_CREATED,
    LOCATION_UPDATED,
    STORE_CLOSED,
    STORE_HOURS_CHANGED,
    STORE_REOPENED,
)
from channelhub.process.stores.repository import LocationRepository

READ = "stores:read"
WRITE = "stores:write"


class LocationNotFound(NotFoundError):
    code = "location_not_found"


def to_schema(location: models.Location) -> schemas.Location:
    return schemas.Location(
        id=location.id,
        code=location.code,
        name=location.name,
        kind=schemas.LocationKind(location.kind),
        address=schemas.Address(
            line1=location.address_line1,
            line2=location.address_line2,
            city=location.city,
            postal_code=location.postal_code,
            region=location.region,
            country=location.country,
        ),
        latitude=location.latitude,
        longitude=location.longitude,
        timezone=location.timezone,
        ships=location.ships,
        pickup=location.pickup,
        active=location.active,
        channels=[
            schemas.ChannelLink(sales_channel_id=link.sales_channel_id, priority=link.priority)
            for link in location.channels
        ],
        hours=opening_hours(location),
        closed_reason=location.closed_reason,
        closed_since=location.closed_since,
        reopens_at=location.reopens_at,
        created_at=location.created_at,
        updated_at=location.updated_at,
    )


def opening_hours(location: models.Location) -> schemas.OpeningHours | None:
    return None if location.hours is None else schemas.OpeningHours(**location.hours)


def is_temporarily_closed(location: models.Location, at: datetime) -> bool:
    """Closed until further notice, or until a reopening time still to come."""
    return location.closed_since is not None and (
        location.reopens_at is None or location.reopens_at > at
    )


def closure_of(location: models.Location) -> hours.Closure | None:
    if location.closed_reason is None or location.closed_since is None:
        return None
    return hours.Closure(location.closed_reason, location.closed_since, location.reopens_at)


def store_status(location: models.Location, at: datetime) -> schemas.StoreStatus:
    """Whether ``location`` is open at ``at``: the one answer every channel shows."""
    state = hours.open_state(opening_hours(location), location.timezone, closure_of(location), at)
    closure = closure_of(location)
    return schemas.StoreStatus(
        location_id=location.id,
        code=location.code,
        name=location.name,
        state=state.state.value,
        open_now=state.open_now,
        opens_at=state.opens_at,
        closes_at=state.closes_at,
        today=state.today,
        timezone=location.timezone,
        closed_reason=closure.reason if closure else None,
        closed_since=closure.since if closure else None,
        reopens_at=closure.reopens_at if closure else None,
    )


def _set_address(location: models.Location, address: schemas.Address) -> None:
    location.address_line1 = address.line1
    location.address_line2 = address.line2
    location.city = address.city
    location.postal_code = address.postal_code
    location.region = address.region
    location.country = address.country


async def _links(
    session: AsyncSession, tenant_id: str, links: list[schemas.ChannelLink]
) -> list[models.LocationChannel]:
    channels = SalesChannelRepository(session, tenant_id)
    seen: set[str] = set()
    result = []
    for index, link in enumerate(links):
        if link.sales_channel_id in seen:
            raise InvalidError(
                f"sales channel {link.sales_channel_id!r} is listed twice",
                field=f"channels.{index}.sales_channel_id",
            )
        seen.add(link.sales_channel_id)
        if await channels.get(link.sales_channel_id) is None:
            raise InvalidError(
                f"no sales channel {link.sales_channel_id!r} in this tenant",
                field=f"channels.{index}.sales_channel_id",
            )
        result.append(
            models.LocationChannel(sales_channel_id=link.sales_channel_id, priority=link.priority)
        )
    return result


async def _emit(
    session: AsyncSession, principal: Principal, event_type: EventType, location: models.Location
) -> schemas.Location:
    result = to_schema(location)
    await record_event(
        session, event_type, tenant_id=principal.tenant_id, subject=location.id, data=result
    )
    return result


async def create_location(
    session: AsyncSession,
    principal: Principal,
    data: schemas.LocationCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Location:
    principal.require(WRITE)
    locations = LocationRepository(session, principal.tenant_id)
    if await locations.by_code(data.code) is not None:
        raise ConflictError(f"a location with code {data.code!r} exists", field="code")
    now = clock()
    location = models.Location(
        id=new_id("loc"),
        code=data.code,
        name=data.name,
        kind=data.kind.value,
        latitude=data.latitude,
        longitude=data.longitude,
        timezone=data.timezone,
        ships=data.ships,
        pickup=data.pickup,
        active=True,
        created_at=now,
        updated_at=now,
        channels=await _links(session, principal.tenant_id, data.channels),
    )
    _set_address(location, data.address)
    locations.add(location)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(f"a location with code {data.code!r} exists", field="code") from exc
    return await _emit(session, principal, LOCATION_CREATED, location)


async def update_location(
    session: AsyncSession,
    principal: Principal,
    location_id: str,
    data: schemas.LocationUpdate,
    *,
    clock: Clock = utc_now,
) -> schemas.Location:
    principal.require(WRITE)
    location = await LocationRepository(session, principal.tenant_id).get_with_channels(location_id)
    if location is None:
        raise LocationNotFound(f"no location {location_id!r}")
    given = data.model_fields_set
    if ("latitude" in given) != ("longitude" in given):
        raise InvalidError("give latitude and longitude together", field="latitude")
    for field in ("name", "timezone", "ships", "pickup", "active"):
        value = getattr(data, field)
        if field in given and value is None:
            raise InvalidError(f"{field} may not be null", field=field)
        if value is not None:
            setattr(location, field, value)
    if "latitude" in given:
        location.latitude, location.longitude = data.latitude, data.longitude
    if data.address is not None:
        _set_address(location, data.address)
    if data.channels is not None:
        location.channels = await _links(session, principal.tenant_id, data.channels)
    location.updated_at = clock()
    await session.flush()
    return await _emit(session, principal, LOCATION_UPDATED, location)


async def get_location(
    session: AsyncSession, principal: Principal, location_id: str
) -> schemas.Location:
    principal.require(READ)
    location = await LocationRepository(session, principal.tenant_id).get_with_channels(location_id)
    if location is None:
        raise LocationNotFound(f"no location {location_id!r}")
    return to_schema(location)


async def list_locations(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> Page[schemas.Location]:
    principal.require(READ)
    locations = LocationRepository(session, principal.tenant_id)
    found = await locations.paginate(locations.with_channels(), page)
    return Page([to_schema(location) for location in found.items], found.next_cursor)


async def stores_with_status(
    session: AsyncSession,
    tenant_id: str,
    page: PageRequest,
    now: datetime,
    *,
    active_only: bool = False,
) -> Page[tuple[models.Location, schemas.StoreStatus]]:
    """Retail stores (never warehouses), newest first, each with whether it is open now:
    the one list behind every channel's store finder, a page from one query. Callers
    check the reader's right to see it (agents' ``stores:read``; shoppers see active
    stores of their shop)."""
    locations = LocationRepository(session, tenant_id)
    statement = locations.with_channels().where(
        models.Location.kind == schemas.LocationKind.store.value
    )
    if active_only:
        statement = statement.where(models.Location.active.is_(True))
    found = await locations.paginate(statement, page)
    return Page(
        [(location, store_status(location, now)) for location in found.items], found.next_cursor
    )


async def _location(
    session: AsyncSession, principal: Principal, location_id: str, *, lock: bool = False
) -> models.Location:
    locations = LocationRepository(session, principal.tenant_id)
    location = await locations.get_with_channels(location_id, for_update=lock)
    if location is None:
        raise LocationNotFound(f"no location {location_id!r}")
    return location


async def set_hours(
    session: AsyncSession,
    principal: Principal,
    location_id: str,
    data: schemas.OpeningHours,
    *,
    clock: Clock = utc_now,
) -> schemas.Location:
    """Replace a location's opening hours and dated exceptions. Emits `store.hours_changed`."""
    principal.require(WRITE)
    location = await _location(session, principal, location_id)
    location.hours = data.model_dump(mode="json")
    location.updated_at = clock()
    await session.flush()
    return await _emit(session, principal, STORE_HOURS_CHANGED, location)


async def get_status(
    session: AsyncSession, principal: Principal, location_id: str, *, clock: Clock = utc_now
) -> schemas.StoreStatus:
    principal.require(READ)
    return store_status(await _location(session, principal, location_id), clock())


async def close_temporarily(
    session: AsyncSession,
    principal: Principal,
    location_id: str,
    data: schemas.ClosureRequest,
    *,
    clock: Clock = utc_now,
) -> models.Location:
    """Mark a location temporarily closed (row-locked: concurrent closures queue). Closing
    it again updates the reason and expected reopening but keeps ``closed_since``. Emits
    `store.closed` the first time. The orders context runs the closure playbook."""
    principal.require(WRITE)
    now = clock()
    if data.reopens_at is not None and data.reopens_at <= now:
        raise InvalidError("reopens_at must be in the future", field="reopens_at")
    location = await _location(session, principal, location_id, lock=True)
    newly = location.closed_since is None
    location.closed_reason = data.reason
    location.closed_since = location.closed_since or now
    location.reopens_at = data.reopens_at
    location.updated_at = now
    await session.flush()
    event = STORE_CLOSED if newly else LOCATION_UPDATED
    data_model = store_status(location, now) if newly else to_schema(location)
    await record_event(
        session, event, tenant_id=principal.tenant_id, subject=location.id, data=data_model
    )
    return location


async def reopen(
    session: AsyncSession, principal: Principal, location_id: str, *, clock: Clock = utc_now
) -> models.Location:
    """End a temporary closure; reopening an open store changes nothing. Emits
    `store.reopened`."""
    principal.require(WRITE)
    now = clock()
    location = await _location(session, principal, location_id, lock=True)
    if location.closed_since is None:
        return location
    location.closed_reason = None
    location.closed_since = None
    location.reopens_at = None
    location.updated_at = now
    await session.flush()
    await record_event(
        session,
        STORE_REOPENED,
        tenant_id=principal.tenant_id,
        subject=location.id,
        data=store_status(location, now),
    )
    return location
