from __future__ import annotations

from channelhub.platform.events.catalog import declare
from channelhub.process.stores.schemas import Location, StoreStatus

LOCATION_CREATED = declare(
    "location.created",
    context="stores",
    description="A warehouse or store was created.",
    data_model=Location,
)
LOCATION_UPDATED = declare(
    "location.updated",
    context="stores",
    description="A location's details, flags or served channels changed.",
    data_model=Location,
)
STORE_HOURS_CHANGED = declare(
    "store.hours_changed",
    context="stores",
    description="A store's opening hours or dated exceptions (holidays) changed.",
    data_model=Location,
)
STORE_CLOSED = declare(
    "store.closed",
    context="stores",
    description="A store closed temporarily (reason, expected reopening if known); its "
    "open pickup orders need a decision.",
    data_model=StoreStatus,
)
STORE_REOPENED = declare(
    "store.reopened",
    context="stores",
    description="A temporarily closed store reopened.",
    data_model=StoreStatus,
)
