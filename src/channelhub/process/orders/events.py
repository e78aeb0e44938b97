"""Order, shipment, return and refund event types."""

from __future__ import annotations

from pydantic import BaseModel, Field

from channelhub.platform.events.catalog import EventType, declare
from channelhub.process.orders.schemas import (
    ClosureOption,
    Order,
    OrderStatus,
    Refund,
    Return,
    Shipment,
    TrackingStatus,
)


class StatusChange(BaseModel):
    previous: OrderStatus = Field(description="The status before.")
    order: Order = Field(description="The order now.")


class ActionNeeded(BaseModel):
    reason: str = Field(description="store_closed: its pickup store closed.")
    order: Order


class ClosureChosen(BaseModel):
    option: ClosureOption
    location_id: str | None = Field(description="The new pickup store, for other_store.")
    chosen_by: str = Field(description="customer, an API key (agent), or job:closure-fallback.")
    order: Order


def _order(name: str, description: str, model: type[BaseModel] = Order) -> EventType:
    return declare(name, context="orders", description=description, data_model=model)


ORDER_CREATED = _order("order.created", "An order was recorded (and its stock reserved).")
ORDER_UPDATED = _order(
    "order.updated", "An order's customer, addresses, notes or payment status changed."
)
ORDER_CONFIRMED = _order("order.confirmed", "An order was accepted and will be prepared.")
ORDER_STATUS_CHANGED = _order(
    "order.status_changed", "An order moved to another status.", StatusChange
)
ORDER_READY_FOR_PICKUP = _order(
    "order.ready_for_pickup", "A pickup order is ready for the customer at its store."
)
ORDER_PICKED_UP = _order("order.picked_up", "The customer collected a pickup order.")
ORDER_CANCELLED = _order(
    "order.cancelled", "An order was cancelled; its stock is released, payment refunded."
)
ORDER_ACTION_NEEDED = _order(
    "order.action_needed",
    "An order waits for a decision by the customer or an agent (its pickup store closed).",
    ActionNeeded,
)
ORDER_CLOSURE_OPTION_CHOSEN = _order(
    "order.closure_option_chosen",
    "After its store closed, an order will ship home, go to another store, or is cancelled.",
    ClosureChosen,
)

SHIPMENT_CREATED = declare(
    "shipment.created",
    context="orders",
    description="Items of an order left with a carrier.",
    data_model=Shipment,
)
SHIPMENT_STATUS = {
    status: declare(
        f"shipment.{status.value}",
        context="orders",
        description=f"A shipment's tracking status became {status.value}.",
        data_model=Shipment,
    )
    for status in TrackingStatus
}


def _return(name: str, description: str) -> EventType:
    return declare(name, context="orders", description=description, data_model=Return)


RETURN_REQUESTED = _return("return.requested", "A customer or agent asked to return items.")
RETURN_APPROVED = _return("return.approved", "A return was accepted.")
RETURN_REJECTED = _return("return.rejected", "A return was refused.")
RETURN_LABEL_CREATED = _return("return.label_created", "A return label was issued.")
RETURN_RECEIVED = _return("return.received", "Returned items arrived back.")
REFUND_ISSUED = declare(
    "refund.issued",
    context="orders",
    description="Money was paid back to the customer.",
    data_model=Refund,
)
