"""Products and variants."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from channelhub.experience.rest.deps import (
    IfMatchDep,
    PageDep,
    PrincipalDep,
    SessionDep,
    body_etag,
    idempotent,
    not_modified,
    version_etag,
)
from channelhub.experience.rest.schemas import READ_ERRORS, WRITE_ERRORS, ListResponse
from channelhub.process.catalog import schemas
from channelhub.process.catalog import service as catalog

router = APIRouter(prefix="/v1/products", tags=["catalog"])

ProductId = Annotated[str, Path(description="Product id (prd_...).")]
VariantId = Annotated[str, Path(description="Variant id (var_...).")]


def _with_etag(response: Response, product: schemas.Product) -> schemas.Product:
    response.headers["ETag"] = version_etag(product.version)
    return product


@router.post(
    "",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Create a product",
)
async def create_product(
    data: schemas.ProductCreate, session: SessionDep, principal: PrincipalDep, response: Response
) -> schemas.Product:
    """Create a product with at least one variant. SKUs must be unique in the tenant (409
    `sku_taken` names the field and the variant that has it). Emits `product.created`.
    Needs `catalog:write`. Send `Idempotency-Key` to retry safely."""
    product = await catalog.create_product(session, principal, data)
    response.headers["Location"] = f"/v1/products/{product.id}"
    return _with_etag(response, product)


@router.get("", responses=READ_ERRORS, summary="List products")
async def list_products(
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    status: Annotated[
        schemas.ProductStatus | None, Query(description="Only products in this status.")
    ] = None,
    sku: Annotated[str | None, Query(description="Only the product with this variant SKU.")] = None,
    brand_id: Annotated[str | None, Query(description="Only products of this brand.")] = None,
) -> Response:
    """Products newest first, with their variants, one page at a time (cursor pagination).
    Answers 304 when `If-None-Match` matches the page's ETag. Needs `catalog:read`."""
    found = await catalog.list_products(
        session, principal, page, status=status, sku=sku, brand_id=brand_id
    )
    body = orjson.dumps(ListResponse[schemas.Product].of(found).model_dump(mode="json"))
    etag = body_etag(body)
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})


@router.get(
    "/{product_id}",
    response_model=schemas.Product,
    responses={**READ_ERRORS, 304: {"description": "Not modified since the ETag you sent."}},
    summary="Get a product",
)
async def get_product(
    product_id: ProductId,
    request: Request,
    session: SessionDep,
    principal: PrincipalDep,
    response: Response,
) -> schemas.Product | Response:
    """One product with its variants. The ETag is the product's version; send it back as
    `If-None-Match` (304 when unchanged) or `If-Match` on updates. Needs `catalog:read`."""
    product = await catalog.get_product(session, principal, product_id)
    etag = version_etag(product.version)
    if not_modified(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return _with_etag(response, product)


@router.patch("/{product_id}", responses=WRITE_ERRORS, summary="Update a product")
async def update_product(
    product_id: ProductId,
    data: schemas.ProductUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    expected_version: IfMatchDep,
    response: Response,
) -> schemas.Product:
    """Change the fields present in the body; absent fields keep their value. With
    `If-Match`, a product changed since that version is refused (412). Emits
    `product.updated`. Needs `catalog:write`."""
    product = await catalog.update_product(
        session, principal, product_id, data, expected_version=expected_version
    )
    return _with_etag(response, product)


@router.post(
    "/{product_id}/variants",
    status_code=201,
    responses=WRITE_ERRORS,
    dependencies=[Depends(idempotent)],
    summary="Add a variant",
)
async def add_variant(
    product_id: ProductId,
    data: schemas.VariantCreate,
    session: SessionDep,
    principal: PrincipalDep,
    expected_version: IfMatchDep,
    response: Response,
) -> schemas.Product:
    """Add a variant to a product; answers with the whole product. Emits `product.updated`.
    Needs `catalog:write`."""
    product = await catalog.add_variant(
        session, principal, product_id, data, expected_version=expected_version
    )
    return _with_etag(response, product)


@router.patch(
    "/{product_id}/variants/{variant_id}", responses=WRITE_ERRORS, summary="Update a variant"
)
async def update_variant(
    product_id: ProductId,
    variant_id: VariantId,
    data: schemas.VariantUpdate,
    session: SessionDep,
    principal: PrincipalDep,
    expected_version: IfMatchDep,
    response: Response,
) -> schemas.Product:
    """Change a variant's SKU, title, price or attributes; answers with the whole product.
    Emits `product.updated`. Needs `catalog:write`."""
    product = await catalog.update_variant(
        session, principal, product_id, variant_id, data, expected_version=expected_version
    )
    return _with_etag(response, product)


@router.delete(
    "/{product_id}/variants/{variant_id}", responses=WRITE_ERRORS, summary="Remove a variant"
)
async def remove_variant(
    product_id: ProductId,
    variant_id: VariantId,
    session: SessionDep,
    principal: PrincipalDep,
    expected_version: IfMatchDep,
    response: Response,
) -> schemas.Product:
    """Remove a variant; a product keeps at least one (409 `last_variant`: archive the
    product instead). Answers with the whole product. Emits `product.updated`."""
    product = await catalog.remove_variant(
        session, principal, product_id, variant_id, expected_version=expected_version
    )
    return _with_etag(response, product)
