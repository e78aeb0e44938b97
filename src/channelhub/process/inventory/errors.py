from __future__ import annotations

from channelhub.platform.errors import ConflictError, NotFoundError


class InsufficientStock(ConflictError):
    code = "insufficient_stock"

    def __init__(self, sku: str, *, requested: int, available: int, field: str) -> None:
        super().__init__(
            f"not enough {sku!r}: {requested} requested, {available} available",
            field=field,
            sku=sku,
            requested=requested,
            available=available,
        )


class ReservationNotFound(NotFoundError):
    code = "reservation_not_found"


class SkuNotFound(NotFoundError):
    code = "sku_not_found"
