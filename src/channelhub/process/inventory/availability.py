"""Availability to promise, per channel: to ship, per location, and for pickup nearby."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.errors import InvalidError
from channelhub.process.channels.repository import SalesChannelRepository
from channelhub.process.inventory import schemas
from channelhub.process.inventory.models import StockLevel
from channelhub.process.inventory.service import READ, variants_by_sku
from channelhub.process.stores.geo import distance_km
from channelhub.process.stores.models import Location
from channelhub.process.stores.repository import LocationRepository

MAX_SKUS = 100


def _entry(
    location: Location, available: int, distance: float | None
) -> schemas.LocationAvailability:
    return schemas.LocationAvailability(
        location_id=location.id,
        code=location.code,
        name=location.name,
        kind=location.kind,
        ships=location.ships,
        pickup=location.pickup,
        available=available,
        distance_km=None if distance is None else round(distance, 2),
    )


def near_point(latitude: float | None, longitude: float | None) -> schemas.Point | None:
    """The point a channel asks to find pickup stores near: both coordinates or neither,
    each within its range (InvalidError naming the one at fault)."""
    if latitude is None and longitude is None:
        return None
    if latitude is None or longitude is None:
        raise InvalidError("give latitude and longitude together", field="latitude")
    if not -90 <= latitude <= 90:
        raise InvalidError("latitude must be between -90 and 90", field="latitude")
    if not -180 <= longitude <= 180:
        raise InvalidError("longitude must be between -180 and 180", field="longitude")
    return schemas.Point(latitude=latitude, longitude=longitude)


async def availability(
    session: AsyncSession,
    principal: Principal,
    skus: Sequence[str],
    sales_channel_id: str,
    *,
    near: schemas.Point | None = None,
    radius_km: float = 50.0,
) -> list[schemas.SkuAvailability]:
    """For each SKU, in the channel: units that can ship (summed over its active shipping
    locations), each location's ATP by allocation priority, and, when ``near`` is given,
    the channel's pickup stores within ``radius_km`` nearest first."""
    principal.require(READ)
    if not 1 <= len(skus) <= MAX_SKUS:
        raise InvalidError(f"ask for 1 to {MAX_SKUS} SKUs", field="sku")
    if await SalesChannelRepository(session, principal.tenant_id).get(sales_channel_id) is None:
        raise InvalidError(f"no sales channel {sales_channel_id!r}", field="sales_channel_id")
    variants = await variants_by_sku(session, principal.tenant_id, list(skus), field="sku")
    serving = [
        location
        for location, _ in await LocationRepository(session, principal.tenant_id).serving(
            sales_channel_id
        )
    ]
    levels = {
        (level.variant_id, level.location_id): level.available
        for level in (
            await session.scalars(
                select(StockLevel).where(
                    StockLevel.variant_id.in_([v.id for v in variants.values()]),
                    StockLevel.location_id.in_([loc.id for loc in serving]),
                )
            )
        ).all()
    }
    distances: dict[str, float] = {}
    if near is not None:
        for location in serving:
            if location.pickup and location.latitude is not None and location.longitude is not None:
                km = distance_km(
                    near.latitude, near.longitude, location.latitude, location.longitude
                )
                if km <= radius_km:
                    distances[location.id] = km
    pickup_stores = sorted(
        (loc for loc in serving if loc.id in distances), key=lambda loc: distances[loc.id]
    )
    result = []
    for sku in skus:
        variant_id = variants[sku].id
        atp = {loc.id: levels.get((variant_id, loc.id), 0) for loc in serving}
        result.append(
            schemas.SkuAvailability(
                sku=sku,
                available_to_ship=sum(atp[loc.id] for loc in serving if loc.ships),
                locations=[_entry(loc, atp[loc.id], distances.get(loc.id)) for loc in serving],
                pickup=[_entry(loc, atp[loc.id], distances[loc.id]) for loc in pickup_stores],
            )
        )
    return result
