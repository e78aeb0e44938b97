"""The customer-facing order status: ``channelhub.process.orders.status``'s one answer."""

from __future__ import annotations

from strawberry.experimental import pydantic as from_pydantic

from channelhub.experience.graphql.types.stores import StoreStatus
from channelhub.process.orders import schemas


@from_pydantic.type(
    model=schemas.StoreOffer, all_fields=True, description="Another store the customer may choose."
)
class StoreOffer:
    pass


@from_pydantic.type(model=schemas.Action, all_fields=True, description=schemas.Action.__doc__)
class Action:
    pass


@from_pydantic.type(
    model=schemas.TrackingEventView,
    all_fields=True,
    name="CustomerTrackingEvent",
    description="A carrier scan as the customer is told it.",
)
class CustomerTrackingEvent:
    pass


@from_pydantic.type(
    model=schemas.ShipmentView,
    all_fields=True,
    name="CustomerShipment",
    description="A shipment and its tracking as the customer is told them.",
)
class CustomerShipment:
    pass


@from_pydantic.type(
    model=schemas.PickupView,
    all_fields=True,
    name="Pickup",
    description="The pickup store of an order still to collect.",
)
class Pickup:
    pass


@from_pydantic.type(
    model=schemas.CustomerStatus,
    all_fields=True,
    description="What every channel tells the customer about an order now, in their language: "
    "the same answer as `GET /v1/orders/{id}/status`.",
)
class CustomerStatus:
    pass


__all__ = [
    "Action",
    "CustomerShipment",
    "CustomerStatus",
    "CustomerTrackingEvent",
    "Pickup",
    "StoreOffer",
    "StoreStatus",
]
