"""Availability to promise."""

from __future__ import annotations

from strawberry.experimental import pydantic as from_pydantic

from channelhub.process.inventory import schemas


@from_pydantic.type(
    model=schemas.LocationAvailability,
    all_fields=True,
    description="Available to promise at one location.",
)
class LocationAvailability:
    pass


@from_pydantic.type(
    model=schemas.SkuAvailability,
    all_fields=True,
    name="Availability",
    description="What a channel can promise of one SKU, as `GET /v1/availability`.",
)
class Availability:
    pass
