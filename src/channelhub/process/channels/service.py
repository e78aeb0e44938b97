"""Brands and sales channels of a tenant."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.db.pagination import Page, PageRequest
from channelhub.platform.errors import ConflictError, InvalidError, NotFoundError
from channelhub.platform.events.outbox import record_event
from channelhub.platform.ids import new_id
from channelhub.process.channels import models, schemas
from channelhub.process.channels.events import BRAND_CREATED, SALES_CHANNEL_CREATED
from channelhub.process.channels.repository import BrandRepository, SalesChannelRepository


async def _flush(session: AsyncSession, conflict: str) -> None:
    """Flush; a concurrent create that took the slug after our check is a conflict."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(conflict, field="slug") from exc


async def create_brand(
    session: AsyncSession, principal: Principal, data: schemas.BrandCreate
) -> schemas.Brand:
    principal.require("channels:write")
    brands = BrandRepository(session, principal.tenant_id)
    if await brands.slug_taken(data.slug):
        raise ConflictError(f"a brand with slug {data.slug!r} exists", field="slug")
    brand = brands.add(models.Brand(id=new_id("brd"), name=data.name, slug=data.slug))
    await _flush(session, f"a brand with slug {data.slug!r} exists")
    result = schemas.Brand.model_validate(brand)
    await record_event(
        session, BRAND_CREATED, tenant_id=principal.tenant_id, subject=brand.id, data=result
    )
    return result


async def get_brand(session: AsyncSession, principal: Principal, brand_id: str) -> schemas.Brand:
    principal.require("channels:read")
    brand = await BrandRepository(session, principal.tenant_id).get(brand_id)
    if brand is None:
        raise NotFoundError(f"no brand {brand_id!r}", code="brand_not_found")
    return schemas.Brand.model_validate(brand)


async def list_brands(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> Page[schemas.Brand]:
    principal.require("channels:read")
    brands = BrandRepository(session, principal.tenant_id)
    found = await brands.paginate(brands.scoped(), page)
    return Page([schemas.Brand.model_validate(b) for b in found.items], found.next_cursor)


async def ensure_brand_exists(session: AsyncSession, tenant_id: str, brand_id: str) -> None:
    """For other contexts: refuse input naming a brand this tenant does not have."""
    if await BrandRepository(session, tenant_id).get(brand_id) is None:
        raise InvalidError(f"no brand {brand_id!r} in this tenant", field="brand_id")


async def create_sales_channel(
    session: AsyncSession, principal: Principal, data: schemas.SalesChannelCreate
) -> schemas.SalesChannel:
    principal.require("channels:write")
    await ensure_brand_exists(session, principal.tenant_id, data.brand_id)
    channels = SalesChannelRepository(session, principal.tenant_id)
    if await channels.slug_taken(data.slug):
        raise ConflictError(f"a sales channel with slug {data.slug!r} exists", field="slug")
    channel = channels.add(
        models.SalesChannel(
            id=new_id("sch"),
            brand_id=data.brand_id,
            name=data.name,
            slug=data.slug,
            kind=data.kind.value,
            currency=data.currency,
        )
    )
    await _flush(session, f"a sales channel with slug {data.slug!r} exists")
    result = schemas.SalesChannel.model_validate(channel)
    await record_event(
        session,
        SALES_CHANNEL_CREATED,
        tenant_id=principal.tenant_id,
        subject=channel.id,
        data=result,
    )
    return result


async def list_sales_channels(
    session: AsyncSession, principal: Principal, page: PageRequest
) -> Page[schemas.SalesChannel]:
    principal.require("channels:read")
    channels = SalesChannelRepository(session, principal.tenant_id)
    found = await channels.paginate(channels.scoped(), page)
    return Page([schemas.SalesChannel.model_validate(c) for c in found.items], found.next_cursor)


async def get_sales_channel(
    session: AsyncSession, principal: Principal, channel_id: str
) -> schemas.SalesChannel:
    principal.require("channels:read")
    channel = await SalesChannelRepository(session, principal.tenant_id).get(channel_id)
    if channel is None:
        raise NotFoundError(f"no sales channel {channel_id!r}", code="sales_channel_not_found")
    return schemas.SalesChannel.model_validate(channel)
