"""Locations: warehouses and retail stores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, idempotent
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.process.orders import closures
from channelhub.process.orders import service as orders
from channelhub.process.stores import schemas
from channelhub.process.stores import service as stores

router = APIRouter(prefix="/v1/locations", tags=["stores"])

LocationId = Annotated[str, Path(description="Location id (loc_...).")]


@router.post(
    "",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Create a location",
)
async def create_location(
    data: schemas.LocationCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> schemas.Location:
    """Create a warehouse or store with its address, coordinates, time zone, `ships` and
    `pickup` flags and the sales channels it serves (with allocation priority). The code is
    unique in the tenant (409). Emits `location.created`. Needs `stores:write`."""
    location = await stores.create_location(session, principal, data)
    response.headers["Location"] = f"/v1/locations/{location.id}"
    return location


@router.get("", responses=READ_ERRORS, summary="List locations")
async def list_locations(
    session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Location]:
    """Locations newest first, one page at a time. Needs `stores:read`."""
    return ListResponse.of(await stores.list_locations(session, principal, page))


@router.get("/{location_id}", responses=READ_ERRORS, summary="Get a location")
async def get_location(
    location_id: LocationId, session: SessionDep, principal: PrincipalDep
) -> schemas.Location:
    """One location with the channels it serves. Needs `stores:read`."""
    return await stores.get_location(session, principal, location_id)


@router.patch("/{location_id}", responses=WRITE_ERRORS, summary="Update a location")
async def update_location(
    location_id: LocationId,
    data: schemas.LocationUpdate,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Location:
    """Change the fields present; `channels` replaces every link. An inactive location is
    never allocated from. Emits `location.updated`. Needs `stores:write`."""
    return await stores.update_location(session, principal, location_id, data)


@router.put("/{location_id}/hours", responses=WRITE_ERRORS, summary="Set opening hours")
async def set_hours(
    location_id: LocationId,
    data: schemas.OpeningHours,
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Location:
    """Replace the weekly opening hours (local time, in the location's time zone) and the
    dated exceptions (holidays, special hours). Overlapping ranges are 422. Emits
    `store.hours_changed`. Needs `stores:write`."""
    return await stores.set_hours(session, principal, location_id, data)


@router.get("/{location_id}/status", responses=READ_ERRORS, summary="Open now?")
async def store_status(
    location_id: LocationId, session: SessionDep, principal: PrincipalDep
) -> schemas.StoreStatus:
    """Whether the location is open now (by its hours, holidays and any temporary closure),
    and when that changes next. Needs `stores:read`."""
    return await stores.get_status(session, principal, location_id)


class ClosureAnswer(BaseModel):
    store: schemas.StoreStatus = Field(description="The store's state now.")
    orders: list[str] = Field(
        description="Orders affected: flagged action needed on closing, resumed on reopening."
    )


@router.post("/{location_id}/closure", responses=WRITE_ERRORS, summary="Close temporarily")
async def close_store(
    location_id: LocationId,
    data: schemas.ClosureRequest,
    session: SessionDep,
    principal: PrincipalDep,
) -> ClosureAnswer:
    """Close a store until further notice (or until `reopens_at`). In the same
    transaction every open pickup order there is flagged action needed, its pending
    "ready for pickup" notice is withdrawn, and the customer is to be offered free delivery
    home, another store nearby with the stock, or a full refund. Closing a closed store
    only updates the reason and reopening time. Emits `store.closed` and
    `order.action_needed`. Needs `stores:write` and `orders:write`."""
    principal.require(orders.WRITE)
    result = await closures.close_store(session, principal, location_id, data)
    return ClosureAnswer(store=result.store, orders=result.flagged_orders)


@router.delete("/{location_id}/closure", responses=WRITE_ERRORS, summary="Reopen")
async def reopen_store(
    location_id: LocationId, session: SessionDep, principal: PrincipalDep
) -> ClosureAnswer:
    """End a temporary closure: orders still waiting for a decision about this store go
    back to pickup there as planned. Emits `store.reopened`. Needs `stores:write` and
    `orders:write`."""
    principal.require(orders.WRITE)
    result = await closures.reopen_store(session, principal, location_id)
    return ClosureAnswer(store=result.store, orders=result.flagged_orders)
