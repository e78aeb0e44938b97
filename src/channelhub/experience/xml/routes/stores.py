"""Stores (open now? hours) and availability to promise, as XML."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from channelhub.experience.rest.deps import PageDep, PrincipalDep, SessionDep
from channelhub.experience.rest.routes.inventory import AvailabilityQueryDep
from channelhub.experience.xml import render
from channelhub.experience.xml.responses import xml_read
from channelhub.platform.clock import utc_now
from channelhub.process.stores import service as stores

router = APIRouter(prefix="/v1", tags=["stores"])

LocationId = Annotated[str, Path(description="Location id (loc_...).")]


@router.get("/stores")
async def list_stores(
    request: Request, session: SessionDep, principal: PrincipalDep, page: PageDep
) -> Response:
    """``<stores>``: one ``<store>`` per retail store, newest first: the location (address,
    hours, channels) and its ``<status>`` now; ``<next_cursor>`` when there is more.
    Needs `stores:read`."""
    principal.require(stores.READ)
    found = await stores.stores_with_status(session, principal.tenant_id, page, utc_now())
    items = [
        {
            **stores.to_schema(location).model_dump(mode="json"),
            "status": status.model_dump(mode="json"),
        }
        for location, status in found.items
    ]
    return xml_read(request, render.collection("stores", "store", items, found.next_cursor))


@router.get("/stores/{location_id}/status")
async def store_status(
    location_id: LocationId, request: Request, session: SessionDep, principal: PrincipalDep
) -> Response:
    """``<store_status>``: whether the location is open now (by its hours, holidays and any
    temporary closure), and when that changes next. Needs `stores:read`."""
    found = await stores.get_status(session, principal, location_id)
    return xml_read(request, render.document("store_status", found.model_dump(mode="json")))


@router.get("/availability")
async def availability(
    request: Request, session: SessionDep, principal: PrincipalDep, query: AvailabilityQueryDep
) -> Response:
    """``<availability>``: one ``<sku_availability>`` per SKU, with the same parameters and
    figures as ``GET /v1/availability``. Needs `inventory:read`."""
    items = [entry.model_dump(mode="json") for entry in await query.answer(session, principal)]
    return xml_read(request, render.collection("availability", "sku_availability", items))
