"""Locations: warehouses and retail stores."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, idempotent
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
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
