from __future__ import annotations

from channelhub.platform.events.catalog import declare
from channelhub.process.stores.schemas import Location

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
