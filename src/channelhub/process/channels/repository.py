from __future__ import annotations

from sqlalchemy import select

from channelhub.platform.db.repository import TenantRepository
from channelhub.process.channels.models import Brand, SalesChannel


class BrandRepository(TenantRepository[Brand]):
    model = Brand

    async def slug_taken(self, slug: str) -> bool:
        return (
            await self.session.execute(self.scoped().where(Brand.slug == slug))
        ).scalar_one_or_none() is not None

    async def by_slug(self, slug: str) -> Brand | None:
        return (
            await self.session.execute(self.scoped().where(Brand.slug == slug))
        ).scalar_one_or_none()


class SalesChannelRepository(TenantRepository[SalesChannel]):
    model = SalesChannel

    async def slug_taken(self, slug: str) -> bool:
        statement = select(SalesChannel.id).where(
            SalesChannel.tenant_id == self.tenant_id, SalesChannel.slug == slug
        )
        return await self.session.scalar(statement) is not None
