from __future__ import annotations

from channelhub.platform.events.catalog import declare
from channelhub.process.inventory.schemas import AvailabilityChange, LevelChange, Reservation

LEVEL_CHANGED = declare(
    "inventory.level_changed",
    context="inventory",
    description="A stock level (on hand, reserved or safety stock) changed at a location.",
    data_model=LevelChange,
)
OUT_OF_STOCK = declare(
    "sku.out_of_stock",
    context="inventory",
    description="A SKU can no longer be promised: to ship in a channel, or for pickup at a store.",
    data_model=AvailabilityChange,
)
BACK_IN_STOCK = declare(
    "sku.back_in_stock",
    context="inventory",
    description="A SKU can be promised again: to ship in a channel, or for pickup at a store.",
    data_model=AvailabilityChange,
)
RESERVATION_CREATED = declare(
    "reservation.created",
    context="inventory",
    description="Stock was reserved for an order or cart.",
    data_model=Reservation,
)
RESERVATION_RELEASED = declare(
    "reservation.released",
    context="inventory",
    description="A reservation was released (cancelled) and its stock is available again.",
    data_model=Reservation,
)
RESERVATION_EXPIRED = declare(
    "reservation.expired",
    context="inventory",
    description="A reservation's time ran out and its stock is available again.",
    data_model=Reservation,
)
RESERVATION_COMMITTED = declare(
    "reservation.committed",
    context="inventory",
    description="A reservation was fulfilled: its units left on hand.",
    data_model=Reservation,
)
