"""Brands and sales channels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep, idempotent
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.process.channels import schemas
from channelhub.process.channels import service as channels

router = APIRouter(prefix="/v1", tags=["channels"])


@router.post(
    "/brands",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Create a brand",
)
async def create_brand(
    data: schemas.BrandCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> schemas.Brand:
    """Create a brand of your tenant; its slug is unique in the tenant (409 otherwise).
    Emits `brand.created`. Needs `channels:write`."""
    brand = await channels.create_brand(session, principal, data)
    response.headers["Location"] = f"/v1/brands/{brand.id}"
    return brand


@router.get("/brands", responses=READ_ERRORS, summary="List brands")
async def list_brands(
    session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.Brand]:
    """Brands newest first, one page at a time. Needs `channels:read`."""
    return ListResponse.of(await channels.list_brands(session, principal, page))


@router.get("/brands/{brand_id}", responses=READ_ERRORS, summary="Get a brand")
async def get_brand(
    brand_id: Annotated[str, Path(description="Brand id (brd_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.Brand:
    """One brand. Needs `channels:read`."""
    return await channels.get_brand(session, principal, brand_id)


@router.post(
    "/sales-channels",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Create a sales channel",
)
async def create_sales_channel(
    data: schemas.SalesChannelCreate,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.SalesChannel:
    """Create a sales channel (web shop, mobile app, marketplace, POS, call center) of one
    of your brands. Emits `sales_channel.created`. Needs `channels:write`."""
    channel = await channels.create_sales_channel(session, principal, data)
    response.headers["Location"] = f"/v1/sales-channels/{channel.id}"
    return channel


@router.get("/sales-channels", responses=READ_ERRORS, summary="List sales channels")
async def list_sales_channels(
    session: SessionDep, principal: PrincipalDep, page: PageDep
) -> ListResponse[schemas.SalesChannel]:
    """Sales channels newest first, one page at a time. Needs `channels:read`."""
    return ListResponse.of(await channels.list_sales_channels(session, principal, page))


@router.get("/sales-channels/{channel_id}", responses=READ_ERRORS, summary="Get a sales channel")
async def get_sales_channel(
    channel_id: Annotated[str, Path(description="Sales channel id (sch_...).")],
    session: SessionDep,
    principal: PrincipalDep,
) -> schemas.SalesChannel:
    """One sales channel. Needs `channels:read`."""
    return await channels.get_sales_channel(session, principal, channel_id)
