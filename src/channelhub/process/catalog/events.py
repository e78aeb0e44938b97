from __future__ import annotations

from channelhub.platform.events.catalog import declare
from channelhub.process.catalog.schemas import Product

PRODUCT_CREATED = declare(
    "product.created",
    context="catalog",
    description="A product was created; data is the product with its variants.",
    data_model=Product,
)
PRODUCT_UPDATED = declare(
    "product.updated",
    context="catalog",
    description="A product or one of its variants changed; data is the product as it is now.",
    data_model=Product,
)
