"""Catalog: products and variants. Every change emits ``product.created`` or
``product.updated`` carrying the product as it is after the change."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channelhub.platform.auth.principal import Principal
from channelhub.platform.clock import Clock, utc_now
from channelhub.platform.db.pagination import Page, PageRequest
from channelhub.platform.errors import ConflictError, PreconditionFailedError
from channelhub.platform.events.catalog import EventType
from channelhub.platform.events.outbox import record_event
from channelhub.platform.ids import new_id
from channelhub.platform.money import Money
from channelhub.process.catalog import models, schemas
from channelhub.process.catalog.errors import ProductNotFound, SkuTaken, VariantNotFound
from channelhub.process.catalog.events import PRODUCT_CREATED, PRODUCT_UPDATED
from channelhub.process.catalog.repository import ProductRepository
from channelhub.process.channels.service import ensure_brand_exists

READ = "catalog:read"
WRITE = "catalog:write"


def to_schema(product: models.Product) -> schemas.Product:
    return schemas.Product(
        id=product.id,
        title=product.title,
        description=product.description,
        status=schemas.ProductStatus(product.status),
        brand_id=product.brand_id,
        attributes=product.attributes,
        variants=[
            schemas.Variant(
                id=v.id,
                sku=v.sku,
                title=v.title,
                price=Money(amount=v.price_amount, currency=v.price_currency),
                attributes=v.attributes,
            )
            for v in product.variants
        ],
        version=product.version,
        created_at=product.created_at,
        updated_at=product.updated_at,
    )


def _new_variant(data: schemas.VariantCreate, position: int) -> models.Variant:
    return models.Variant(
        id=new_id("var"),
        sku=data.sku,
        title=data.title,
        price_amount=data.price.amount,
        price_currency=data.price.currency,
        attributes=dict(data.attributes),
        position=position,
    )


async def _refuse_taken_skus(
    products: ProductRepository, sku_by_field: dict[str, str], *, except_variant: str | None = None
) -> None:
    """Name the first input field whose SKU another variant of the tenant already has."""
    taken = await products.variants_by_sku(sku_by_field.values())
    for field, sku in sku_by_field.items():
        variant = taken.get(sku)
        if variant is not None and variant.id != except_variant:
            raise SkuTaken(sku, field=field, existing_variant_id=variant.id)


async def _flush(session: AsyncSession, sku_by_field: dict[str, str]) -> None:
    """Flush; a concurrent writer that took one of the SKUs after our check loses to the
    unique constraint, and is told so as a conflict rather than a server error."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if not sku_by_field:
            raise
        field, sku = next(iter(sku_by_field.items()))
        raise SkuTaken(sku, field=field) from exc


async def _emit(
    session: AsyncSession,
    principal: Principal,
    event_type: EventType,
    product: models.Product,
    clock: Clock,
) -> schemas.Product:
    """Record ``event_type`` carrying the product as it now is, and return that view."""
    result = to_schema(product)
    await record_event(
        session,
        event_type,
        tenant_id=principal.tenant_id,
        subject=product.id,
        data=result,
        clock=clock,
    )
    return result


async def create_product(
    session: AsyncSession,
    principal: Principal,
    data: schemas.ProductCreate,
    *,
    clock: Clock = utc_now,
) -> schemas.Product:
    principal.require(WRITE)
    products = ProductRepository(session, principal.tenant_id)
    if data.brand_id is not None:
        await ensure_brand_exists(session, principal.tenant_id, data.brand_id)
    sku_by_field = {f"variants.{i}.sku": v.sku for i, v in enumerate(data.variants)}
    await _refuse_taken_skus(products, sku_by_field)
    now = clock()
    product = models.Product(
        id=new_id("prd"),
        title=data.title,
        description=data.description,
        status=data.status.value,
        brand_id=data.brand_id,
        attributes=dict(data.attributes),
        version=1,
        created_at=now,
        updated_at=now,
        variants=[_new_variant(v, i) for i, v in enumerate(data.variants)],
    )
    for variant in product.variants:
        variant.tenant_id = principal.tenant_id
    products.add(product)
    await _flush(session, sku_by_field)
    return await _emit(session, principal, PRODUCT_CREATED, product, clock)


async def _load_for_change(
    products: ProductRepository, product_id: str, expected_version: int | None
) -> models.Product:
    """Lock the product row (concurrent edits queue) and check the client's If-Match."""
    product = await products.get_with_variants(product_id, for_update=True)
    if product is None:
        raise ProductNotFound(f"no product {product_id!r}")
    if expected_version is not None and product.version != expected_version:
        raise PreconditionFailedError(
            f"the product changed since version {expected_version}; it is now version "
            f"{product.version}",
            code="version_mismatch",
            current_version=product.version,
        )
    return product


def _variant_of(product: models.Product, variant_id: str) -> models.Variant:
    variant = next((v for v in product.variants if v.id == variant_id), None)
    if variant is None:
        raise VariantNotFound(f"product {product.id!r} has no variant {variant_id!r}")
    return variant


async def _commit_change(
    session: AsyncSession,
    principal: Principal,
    product: models.Product,
    clock: Clock,
    *,
    new_skus: dict[str, str] | None = None,
) -> schemas.Product:
    product.version += 1
    product.updated_at = clock()
    await _flush(session, new_skus or {})
    return await _emit(session, principal, PRODUCT_UPDATED, product, clock)


async def update_product(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    data: schemas.ProductUpdate,
    *,
    expected_version: int | None = None,
    clock: Clock = utc_now,
) -> schemas.Product:
    principal.require(WRITE)
    products = ProductRepository(session, principal.tenant_id)
    product = await _load_for_change(products, product_id, expected_version)
    changes = data.model_dump(exclude_unset=True)
    if changes.get("brand_id") is not None:
        await ensure_brand_exists(session, principal.tenant_id, changes["brand_id"])
    for field in ("title", "description", "brand_id", "attributes"):
        if field in changes:
            setattr(product, field, changes[field])
    if data.status is not None:
        product.status = data.status.value
    return await _commit_change(session, principal, product, clock)


async def add_variant(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    data: schemas.VariantCreate,
    *,
    expected_version: int | None = None,
    clock: Clock = utc_now,
) -> schemas.Product:
    principal.require(WRITE)
    products = ProductRepository(session, principal.tenant_id)
    product = await _load_for_change(products, product_id, expected_version)
    await _refuse_taken_skus(products, {"sku": data.sku})
    variant = _new_variant(data, position=len(product.variants))
    variant.tenant_id = principal.tenant_id
    product.variants.append(variant)
    return await _commit_change(session, principal, product, clock, new_skus={"sku": data.sku})


async def update_variant(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    variant_id: str,
    data: schemas.VariantUpdate,
    *,
    expected_version: int | None = None,
    clock: Clock = utc_now,
) -> schemas.Product:
    principal.require(WRITE)
    products = ProductRepository(session, principal.tenant_id)
    product = await _load_for_change(products, product_id, expected_version)
    variant = _variant_of(product, variant_id)
    new_skus: dict[str, str] = {}
    if data.sku is not None and data.sku != variant.sku:
        new_skus["sku"] = data.sku
        await _refuse_taken_skus(products, new_skus, except_variant=variant.id)
        variant.sku = data.sku
    if data.title is not None:
        variant.title = data.title
    if data.price is not None:
        variant.price_amount, variant.price_currency = data.price.amount, data.price.currency
    if data.attributes is not None:
        variant.attributes = dict(data.attributes)
    return await _commit_change(session, principal, product, clock, new_skus=new_skus)


async def remove_variant(
    session: AsyncSession,
    principal: Principal,
    product_id: str,
    variant_id: str,
    *,
    expected_version: int | None = None,
    clock: Clock = utc_now,
) -> schemas.Product:
    principal.require(WRITE)
    products = ProductRepository(session, principal.tenant_id)
    product = await _load_for_change(products, product_id, expected_version)
    variant = _variant_of(product, variant_id)
    if len(product.variants) == 1:
        raise ConflictError(
            "a product keeps at least one variant; archive the product instead",
            code="last_variant",
        )
    product.variants.remove(variant)
    for position, remaining in enumerate(product.variants):
        remaining.position = position
    return await _commit_change(session, principal, product, clock)


async def get_product(
    session: AsyncSession, principal: Principal, product_id: str
) -> schemas.Product:
    principal.require(READ)
    product = await ProductRepository(session, principal.tenant_id).get_with_variants(product_id)
    if product is None:
        raise ProductNotFound(f"no product {product_id!r}")
    return to_schema(product)


async def list_products(
    session: AsyncSession,
    principal: Principal,
    page: PageRequest,
    *,
    status: schemas.ProductStatus | None = None,
    sku: str | None = None,
    brand_id: str | None = None,
) -> Page[schemas.Product]:
    """Newest first. ``sku`` finds the product that has a variant with that exact SKU."""
    principal.require(READ)
    products = ProductRepository(session, principal.tenant_id)
    statement = products.with_variants()
    if status is not None:
        statement = statement.where(models.Product.status == status.value)
    if brand_id is not None:
        statement = statement.where(models.Product.brand_id == brand_id)
    if sku is not None:
        statement = statement.where(
            exists(
                select(models.Variant.id).where(
                    models.Variant.product_id == models.Product.id,
                    models.Variant.tenant_id == principal.tenant_id,
                    models.Variant.sku == sku,
                )
            )
        )
    found = await products.paginate(statement, page)
    return Page([to_schema(p) for p in found.items], found.next_cursor)
