"""Demo data: a brand, a web shop, a few outdoor products, a warehouse and two pickup
stores with opening hours and stock, one pickup order ready at the Porto store, and a
helpdesk (a "Where is my order" queue with its SLA in Lisbon office hours, a routing rule,
an online agent), in the default tenant.

Loading is idempotent (keyed on the brand slug and the SKUs), so ``serve --demo`` can run
on every start.
"""

from __future__ import annotations

from datetime import date

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
from channelhub.process.helpdesk import admin as helpdesk
from channelhub.process.helpdesk import schemas as helpdesk_schemas
from channelhub.process.helpdesk.calendar import BusinessHours
from channelhub.process.helpdesk.intents import Intent
from channelhub.process.inventory import service as inventory
from channelhub.process.inventory.schemas import StockUpdate, StockUpdateBatch
from channelhub.process.orders import fulfilment
from channelhub.process.orders import schemas as order_schemas
from channelhub.process.orders import service as orders
from channelhub.process.stores import schemas as store_schemas
from channelhub.process.stores import service as stores
from channelhub.process.stores.repository import LocationRepository

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


def demo_locations(channel_id: str) -> list[store_schemas.LocationCreate]:
    link = [store_schemas.ChannelLink(sales_channel_id=channel_id, priority=1)]
    return [
        store_schemas.LocationCreate(
            code="WH-LIS",
            name="Lisbon warehouse",
            kind=store_schemas.LocationKind.warehouse,
            address=store_schemas.Address(line1="Rua do Armazém 1", city="Lisboa", country="PT"),
            latitude=38.7223,
            longitude=-9.1393,
            timezone="Europe/Lisbon",
            ships=True,
            channels=link,
        ),
        store_schemas.LocationCreate(
            code="ST-PORTO",
            name="Porto store",
            kind=store_schemas.LocationKind.store,
            address=store_schemas.Address(
                line1="Rua de Santa Catarina 10", city="Porto", country="PT"
            ),
            latitude=41.1496,
            longitude=-8.6060,
            timezone="Europe/Lisbon",
            ships=False,
            pickup=True,
            channels=[store_schemas.ChannelLink(sales_channel_id=channel_id, priority=2)],
        ),
        store_schemas.LocationCreate(
            code="ST-GAIA",
            name="Gaia store",
            kind=store_schemas.LocationKind.store,
            address=store_schemas.Address(
                line1="Avenida da República 1200", city="Vila Nova de Gaia", country="PT"
            ),
            latitude=41.1239,
            longitude=-8.6118,
            timezone="Europe/Lisbon",
            ships=False,
            pickup=True,
            channels=[store_schemas.ChannelLink(sales_channel_id=channel_id, priority=3)],
        ),
    ]


def _store_hours() -> store_schemas.OpeningHours:
    """Monday to Saturday 10:00-20:00, Sunday 11:00-19:00, closed on Christmas Day."""
    week = [store_schemas.TimeRange(opens="10:00", closes="20:00")]
    return store_schemas.OpeningHours(
        weekly=store_schemas.WeeklyHours(
            monday=week,
            tuesday=week,
            wednesday=week,
            thursday=week,
            friday=week,
            saturday=week,
            sunday=[store_schemas.TimeRange(opens="11:00", closes="19:00")],
        ),
        exceptions=[
            store_schemas.HoursException(date=date(2026, 12, 25), closed=True, note="Christmas")
        ],
    )


DEMO_ORDER = "NW-1001"


def demo_order(channel_id: str) -> order_schemas.OrderCreate:
    """A headlamp bought online by Ana for pickup at the Porto store, paid."""
    return order_schemas.OrderCreate(
        number=DEMO_ORDER,
        sales_channel_id=channel_id,
        customer=order_schemas.Customer(
            email="ana@example.com", name="Ana Silva", phone="+351912345678", language="pt-PT"
        ),
        currency="EUR",
        groups=[
            order_schemas.GroupRequest(method=order_schemas.Method.pickup, location="ST-PORTO")
        ],
        lines=[order_schemas.LineRequest(sku="LAMP-400-BLK", quantity=1, unit_price=3990)],
        payment_status=order_schemas.PaymentStatus.paid,
        confirmed=True,
        shipping_address=order_schemas.PostalAddress(
            name="Ana Silva",
            line1="Rua das Flores 12",
            city="Porto",
            postal_code="4050-262",
            country="PT",
        ),
    )


async def _load_locations_and_stock(
    session: AsyncSession,
    principal: Principal,
    channel_id: str,
    products: list[catalog_schemas.ProductCreate],
) -> None:
    locations = LocationRepository(session, principal.tenant_id)
    for location in demo_locations(channel_id):
        if await locations.by_code(location.code) is None:
            created = await stores.create_location(session, principal, location)
            if location.pickup:
                await stores.set_hours(session, principal, created.id, _store_hours())
    skus = [v.sku for product in products for v in product.variants]
    await inventory.apply_updates(
        session,
        principal,
        StockUpdateBatch(
            source="demo",
            updates=[
                StockUpdate(sku=sku, location=code, on_hand=quantity, version=1, reason="demo")
                for index, sku in enumerate(skus)
                for code, quantity in (
                    ("WH-LIS", 20 + 5 * index),
                    ("ST-PORTO", index % 3),
                    ("ST-GAIA", 1 + index % 2),
                )
            ],
        ),
    )


async def _load_helpdesk(session: AsyncSession, principal: Principal) -> None:
    office = BusinessHours.model_validate(
        {
            "timezone": "Europe/Lisbon",
            "weekly": {
                day: [{"opens": "09:00", "closes": "18:00"}]
                for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
            },
        }
    )
    wismo = await helpdesk.create_queue(
        session,
        principal,
        helpdesk_schemas.QueueIn(
            name="Where is my order",
            business_hours=office,
            first_response_minutes=240,
            resolution_minutes=1440,
        ),
    )
    general = await helpdesk.create_queue(
        session,
        principal,
        helpdesk_schemas.QueueIn(name="General", business_hours=office, first_response_minutes=480),
    )
    await helpdesk.create_rule(
        session,
        principal,
        helpdesk_schemas.RuleIn(
            name="WISMO",
            position=10,
            conditions=helpdesk_schemas.Conditions(intents=[Intent.where_is_my_order]),
            queue_id=wismo.id,
            round_robin=True,
        ),
    )
    await helpdesk.put_settings(
        session,
        principal,
        helpdesk_schemas.SettingsIn(
            default_queue_id=general.id, signature="Northwind Outdoor customer care"
        ),
    )
    await helpdesk.create_agent(
        session,
        principal,
        helpdesk_schemas.AgentIn(name="Rita", email="rita@northwind.example", online=True),
    )


async def load_demo(session: AsyncSession) -> int:
    """Load the demo into the default tenant; returns how many products were created."""
    tenant = await get_tenant(session, DEMO_TENANT)
    principal = Principal.system(tenant.id)
    brand = await BrandRepository(session, tenant.id).by_slug(DEMO_BRAND)
    channel_id = None
    if brand is None:
        created = await channels.create_brand(
            session,
            principal,
            channel_schemas.BrandCreate(name="Northwind Outdoor", slug=DEMO_BRAND),
        )
        web = await channels.create_sales_channel(
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
        brand_id, channel_id = created.id, web.id
    else:
        brand_id = brand.id
    products = ProductRepository(session, tenant.id)
    count = 0
    wanted = demo_products(brand_id)
    for product in wanted:
        if not await products.variants_by_sku([v.sku for v in product.variants]):
            await catalog.create_product(session, principal, product)
            count += 1
    if channel_id is not None:
        await _load_locations_and_stock(session, principal, channel_id, wanted)
        order, _ = await orders.create_order(session, principal, demo_order(channel_id))
        await fulfilment.mark_ready_for_pickup(session, principal, order.id, order.groups[0].id)
        await _load_helpdesk(session, principal)
    return count
