"""Demo data: a brand, a web shop and a few outdoor products in the default tenant.

Loading is idempotent (keyed on the brand slug and the SKUs), so ``serve --demo`` can run
on every start.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.auth.service import get_tenant
from channelhub.platform.money import Money
from channelhub.process.catalog import schemas as catalog_schemas
from channelhub.process.catalog import service as catalog
from channelhub.process.catalog.repository import ProductRepository
from channelhub.process.channels import schemas as channel_schemas
from channelhub.process.channels import service as channels
from channelhub.process.channels.repository import BrandRepository

DEMO_TENANT = "default"
DEMO_BRAND = "northwind"


def _variant(sku: str, title: str, cents: int, **attributes: str) -> catalog_schemas.VariantCreate:
    return catalog_schemas.VariantCreate(
        sku=sku, title=title, price=Money(amount=cents, currency="EUR"), attributes=attributes
    )


def demo_products(brand_id: str) -> list[catalog_schemas.ProductCreate]:
    return [
        catalog_schemas.ProductCreate(
            title="Trailhead 2-person tent",
            description="Freestanding three-season tent, 2.1 kg.",
            brand_id=brand_id,
            attributes={"category": "tents", "season": "3"},
            variants=[
                _variant("TENT-2P-GRN", "Forest green", 24900, colour="green"),
                _variant("TENT-2P-SND", "Sand", 24900, colour="sand"),
            ],
        ),
        catalog_schemas.ProductCreate(
            title="Summit down sleeping bag",
            description="Comfort rating -5 °C, 750 fill power down.",
            brand_id=brand_id,
            attributes={"category": "sleeping"},
            variants=[
                _variant("BAG-DWN-REG", "Regular", 32900, length="regular"),
                _variant("BAG-DWN-LNG", "Long", 34900, length="long"),
            ],
        ),
        catalog_schemas.ProductCreate(
            title="Beacon 400 headlamp",
            description="400 lumen, USB-C rechargeable.",
            brand_id=brand_id,
            attributes={"category": "lighting"},
            variants=[_variant("LAMP-400-BLK", "Black", 3990, colour="black")],
        ),
        catalog_schemas.ProductCreate(
            title="Merino hiking socks",
            brand_id=brand_id,
            attributes={"category": "apparel", "material": "merino"},
            variants=[
                _variant("SOCK-MER-S", "Size S (36-38)", 1890, size="S"),
                _variant("SOCK-MER-M", "Size M (39-42)", 1890, size="M"),
                _variant("SOCK-MER-L", "Size L (43-46)", 1890, size="L"),
            ],
        ),
    ]


async def load_demo(session: AsyncSession) -> int:
    """Load the demo into the default tenant; returns how many products were created."""
    tenant = await get_tenant(session, DEMO_TENANT)
    principal = Principal.system(tenant.id)
    brand = await BrandRepository(session, tenant.id).by_slug(DEMO_BRAND)
    if brand is None:
        created = await channels.create_brand(
            session,
            principal,
            channel_schemas.BrandCreate(name="Northwind Outdoor", slug=DEMO_BRAND),
        )
        await channels.create_sales_channel(
            session,
            principal,
            channel_schemas.SalesChannelCreate(
                brand_id=created.id,
                name="Northwind web shop",
                slug="northwind-web",
                kind=channel_schemas.ChannelKind.web,
                currency="EUR",
            ),
        )
        brand_id = created.id
    else:
        brand_id = brand.id
    products = ProductRepository(session, tenant.id)
    count = 0
    for product in demo_products(brand_id):
        if not await products.variants_by_sku([v.sku for v in product.variants]):
            await catalog.create_product(session, principal, product)
            count += 1
    return count
