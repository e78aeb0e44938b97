from __future__ import annotations

from channelhub.platform.errors import ConflictError, NotFoundError


class ProductNotFound(NotFoundError):
    code = "product_not_found"


class VariantNotFound(NotFoundError):
    code = "variant_not_found"


class SkuTaken(ConflictError):
    code = "sku_taken"

    def __init__(self, sku: str, *, field: str, existing_variant_id: str | None = None) -> None:
        super().__init__(
            f"SKU {sku!r} is already used by another variant",
            field=field,
            sku=sku,
            existing_variant_id=existing_variant_id,
        )
