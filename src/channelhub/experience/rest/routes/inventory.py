"""Stock levels, availability and reservations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, idempotent
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.platform.auth.principal import Principal
from channelhub.process.inventory import availability as atp
from channelhub.process.inventory import reservations, schemas
from channelhub.process.inventory import service as inventory

router = APIRouter(prefix="/v1", tags=["inventory"])

SkuPath = Annotated[str, Path(description="The SKU.")]
ReservationId = Annotated[str, Path(description="Reservation id (rsv_...).")]


@router.post(
    "/stock/updates",
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Update stock levels",
)
async def update_stock(
    batch: schemas.StockUpdateBatch, session: SessionDep, principal: PrincipalDep
) -> schemas.StockUpdateResult:
    """Set or adjust on-hand stock, safety stock and incoming units for up to 10,000
    SKU x location pairs at once: all are applied, or none (an invalid one is refused with
    422 naming `updates.<i>.<field>`). An on-hand update whose `version` or `as_of` is not
    newer than the last one applied is recorded in the ledger as ignored and counted in
    `ignored`. Emits `inventory.level_changed`, and `sku.out_of_stock` /
    `sku.back_in_stock` when availability crosses zero. Needs `inventory:write`."""
    return await inventory.apply_updates(session, principal, batch)


@router.get("/stock/{sku}", responses=READ_ERRORS, summary="Stock of a SKU")
async def get_stock(
    sku: SkuPath, session: SessionDep, principal: PrincipalDep
) -> list[schemas.StockLevel]:
    """The SKU's level at every location that holds a record of it. Needs `inventory:read`."""
    return await inventory.stock_levels(session, principal, sku)


@router.get("/stock/{sku}/history", responses=READ_ERRORS, summary="Stock history of a SKU")
async def get_stock_history(
    sku: SkuPath,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    location: Annotated[str | None, Query(description="Only this location (id or code).")] = None,
) -> ListResponse[schemas.Movement]:
    """Every movement of the SKU's stock, newest first: who, what, why, and the figures
    before and after, including updates refused as out of date. Needs `inventory:read`."""
    return ListResponse.of(
        await inventory.stock_history(session, principal, sku, page, location=location)
    )


@dataclass(frozen=True)
class AvailabilityQuery:
    """What ``GET /v1/availability`` (and its XML twin) asks: the same parameters, checked
    the same way, for every channel."""

    skus: list[str]
    sales_channel_id: str
    near: schemas.Point | None
    radius_km: float

    async def answer(
        self, session: AsyncSession, principal: Principal
    ) -> list[schemas.SkuAvailability]:
        return await atp.availability(
            session,
            principal,
            self.skus,
            self.sales_channel_id,
            near=self.near,
            radius_km=self.radius_km,
        )


def availability_query(
    sku: Annotated[list[str], Query(description="One or more SKUs (repeat the parameter).")],
    sales_channel_id: Annotated[str, Query(description="The channel asking (sch_...).")],
    latitude: Annotated[
        float | None, Query(ge=-90, le=90, description="Find pickup stores near this point.")
    ] = None,
    longitude: Annotated[
        float | None, Query(ge=-180, le=180, description="Longitude of that point.")
    ] = None,
    radius_km: Annotated[
        float, Query(gt=0, le=1000, description="How far to look for pickup stores.")
    ] = 50.0,
) -> AvailabilityQuery:
    return AvailabilityQuery(sku, sales_channel_id, atp.near_point(latitude, longitude), radius_km)


AvailabilityQueryDep = Annotated[AvailabilityQuery, Depends(availability_query)]


@router.get("/availability", responses=READ_ERRORS, summary="Availability to promise")
async def get_availability(
    session: SessionDep, principal: PrincipalDep, query: AvailabilityQueryDep
) -> list[schemas.SkuAvailability]:
    """For each SKU in the channel: units available to ship (summed over the channel's
    active shipping locations), each location's ATP in allocation order, and, with
    `latitude` and `longitude`, pickup stores within `radius_km`, nearest first. Every
    channel gets the same figures the reservation API allocates from. Needs `inventory:read`."""
    return await query.answer(session, principal)


@router.post("/reservations", status_code=201, responses=WRITE_ERRORS, summary="Reserve stock")
async def create_reservation(
    data: schemas.ReservationCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.Reservation:
    """Hold stock for an order or a cart: every line, or nothing (409 `insufficient_stock`
    names the SKU, what was requested and what is available). Choose a location (pickup),
    or let the strategy allocate from the channel's shipping locations; a line may be split
    across locations. Holds lapse after `ttl_seconds` unless committed or released. The
    same `key` and request return the existing reservation (200). Emits
    `reservation.created`. Needs `inventory:write`."""
    reservation, created = await reservations.reserve(session, principal, data)
    response.headers["Location"] = f"/v1/reservations/{reservation.id}"
    if not created:
        response.status_code = 200
    return reservation


@router.get("/reservations/{reservation_id}", responses=READ_ERRORS, summary="Get a reservation")
async def get_reservation(
    reservation_id: ReservationId, session: SessionDep, principal: PrincipalDep
) -> schemas.Reservation:
    """One reservation with where its units are held. Needs `inventory:read`."""
    return await reservations.get_reservation(session, principal, reservation_id)


@router.post(
    "/reservations/{reservation_id}/release",
    responses=WRITE_ERRORS,
    summary="Release a reservation",
)
async def release_reservation(
    reservation_id: ReservationId, session: SessionDep, principal: PrincipalDep
) -> schemas.Reservation:
    """Give the held units back (order cancelled, cart abandoned). Releasing twice is
    harmless; a committed or expired reservation answers 409. Emits
    `reservation.released`. Needs `inventory:write`."""
    return await reservations.finish(
        session, principal, reservation_id, schemas.ReservationStatus.released
    )


@router.post(
    "/reservations/{reservation_id}/commit",
    responses=WRITE_ERRORS,
    summary="Commit a reservation",
)
async def commit_reservation(
    reservation_id: ReservationId, session: SessionDep, principal: PrincipalDep
) -> schemas.Reservation:
    """The order was fulfilled: the held units leave on hand. Committing twice is
    harmless; a released or expired reservation answers 409. Emits
    `reservation.committed`. Needs `inventory:write`."""
    return await reservations.finish(
        session, principal, reservation_id, schemas.ReservationStatus.committed
    )
