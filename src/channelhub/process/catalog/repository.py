from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import Select, select
from sqlalchemy.orm import selectinload

from channelhub.platform.db.repository import TenantRepository
from channelhub.process.catalog.models import Product, Variant


class ProductRepository(TenantRepository[Product]):
    model = Product

    def with_variants(self) -> Select[Product]:
        return self.scoped().options(selectinload(Product.variants))

    async def get_with_variants(
        self, product_id: str, *, for_update: bool = False
    ) -> Product | None:
        statement = self.with_variants().where(Product.id == product_id)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def variants_by_sku(self, skus: Collection[str]) -> dict[str, Variant]:
        statement = select(Variant).where(
            Variant.tenant_id == self.tenant_id, Variant.sku.in_(skus)
        )
        return {v.sku: v for v in (await self.session.scalars(statement)).all()}
