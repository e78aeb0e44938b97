"""What the order APIs take and return."""

from __future__ import annotations

import datetime as dt
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from channelhub.platform.money import MAX_AMOUNT, CurrencyCode, Money
from channelhub.process.catalog.schemas import Sku
from channelhub.process.stores.schemas import Latitude, Longitude, StoreStatus

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")


def _email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError("not an e-mail address")
    return value.lower()


Email = Annotated[
    str,
    Field(max_length=254, description="E-mail address.", examples=["ana@example.com"]),
    AfterValidator(_email),
]
Language = Annotated[
    str,
    Field(
        max_length=16,
        pattern=_LANGUAGE.pattern,
        description="BCP 47 language tag; texts exist in en, pt, es, it and cs (others get en).",
        examples=["pt-PT"],
    ),
]
Amount = Annotated[int, Field(ge=0, le=MAX_AMOUNT, description="Minor units of the currency.")]
Quantity = Annotated[int, Field(ge=1, le=1_000_000, description="Units.")]
Reference = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[^\s\x00-\x1f][^\x00-\x1f]*$"),
]
OrderNumber = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9#][A-Za-z0-9#._/-]*$",
        description="The order number the customer sees, unique in the tenant.",
        examples=["NW-1001"],
    ),
]


class OrderStatus(StrEnum):
    placed = "placed"
    confirmed = "confirmed"
    partially_fulfilled = "partially_fulfilled"
    ready_for_pickup = "ready_for_pickup"
    fulfilled = "fulfilled"
    picked_up = "picked_up"
    delivered = "delivered"
    partially_returned = "partially_returned"
    returned = "returned"
    cancelled = "cancelled"


class PaymentStatus(StrEnum):
    pending = "pending"
    authorized = "authorized"
    paid = "paid"
    partially_refunded = "partially_refunded"
    refunded = "refunded"
    voided = "voided"


class Method(StrEnum):
    ship = "ship"
    pickup = "pickup"


class GroupStatus(StrEnum):
    open = "open"
    """Waiting to be prepared."""
    ready_for_pickup = "ready_for_pickup"
    picked_up = "picked_up"
    partially_shipped = "partially_shipped"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"


class TrackingStatus(StrEnum):
    """One vocabulary for every carrier (the carrier's own code is kept beside it)."""

    pending = "pending"
    info_received = "info_received"
    in_transit = "in_transit"
    out_for_delivery = "out_for_delivery"
    attempt_fail = "attempt_fail"
    available_for_pickup = "available_for_pickup"
    delivered = "delivered"
    exception = "exception"
    expired = "expired"


class ClosureOption(StrEnum):
    ship_home = "ship_home"
    other_store = "other_store"
    cancel = "cancel"


class ClosureFallback(StrEnum):
    ship_home = "ship_home"
    cancel = "cancel"
    none = "none"


class ReturnReason(StrEnum):
    damaged = "damaged"
    wrong_item = "wrong_item"
    not_as_described = "not_as_described"
    too_small = "too_small"
    too_large = "too_large"
    changed_mind = "changed_mind"
    arrived_late = "arrived_late"
    other = "other"


class ReturnStatus(StrEnum):
    requested = "requested"
    approved = "approved"
    rejected = "rejected"
    received = "received"
    cancelled = "cancelled"


# --- input ------------------------------------------------------------------------------


class ExternalRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            pattern=r"^[a-z0-9][a-z0-9_.:-]*$",
            description="Which system: shopify, erp, pos, or a connection id.",
        ),
    ]
    id: Reference = Field(description="The order's id in that system.")


class Customer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    phone: str = Field("", max_length=32, description="Phone number, E.164 preferred.")
    name: str = Field("", max_length=200, description="Full name.")
    language: Language = "en"


class PostalAddress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=200, description="Recipient.")
    line1: str = Field(min_length=1, max_length=200, description="Street and number.")
    line2: str = Field("", max_length=200, description="Additional address line.")
    city: str = Field(min_length=1, max_length=100, description="City.")
    postal_code: str = Field("", max_length=20, description="Postal code.")
    region: str = Field("", max_length=100, description="Region, state or province.")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code.")
    phone: str = Field("", max_length=32, description="Phone for the carrier.")
    latitude: Latitude | None = Field(None, description="For the nearest-location allocation.")
    longitude: Longitude | None = Field(None, description="With latitude.")


class GroupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Method = Field(description="ship (to the shipping address) or pickup (at a store).")
    location: str | None = Field(
        None, max_length=64, description="Pickup store (id or code); required for pickup."
    )
    shipping_fee: Amount = Field(0, description="What the customer pays for this group.")

    @model_validator(mode="after")
    def _pickup_has_store(self) -> GroupRequest:
        if self.method is Method.pickup and self.location is None:
            raise ValueError("a pickup group needs its store (location)")
        if self.method is Method.pickup and self.shipping_fee:
            raise ValueError("a pickup group has no shipping fee")
        return self


class LineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: Quantity
    unit_price: Amount = Field(description="Price of one unit, minor units.")
    discount: Amount = Field(0, description="Discount on the whole line, minor units.")
    title: str | None = Field(None, max_length=300, description="Default: the catalog title.")
    group: int = Field(0, ge=0, description="Index of its fulfilment group in `groups`.")


class OrderCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: OrderNumber
    sales_channel_id: str = Field(description="The channel it was sold in (sch_...).")
    external_ids: list[ExternalRef] = Field(
        default_factory=list,
        max_length=20,
        description="Ids of the order in other systems. Creating an order with an external "
        "id that is already known returns the existing order (200).",
    )
    customer: Customer
    currency: CurrencyCode
    groups: list[GroupRequest] = Field(
        default_factory=lambda: [GroupRequest(method=Method.ship)],
        min_length=1,
        max_length=20,
        description="How lines leave: shipped or collected at a store. Default: one shipment.",
    )
    lines: list[LineRequest] = Field(min_length=1, max_length=500)
    discount_total: Amount = Field(0, description="Order-level discount, minor units.")
    tax_total: Amount = Field(0, description="Tax not included in the prices, minor units.")
    total: Amount | None = Field(
        None, description="If given, must equal lines - discounts + shipping + tax."
    )
    payment_status: PaymentStatus = PaymentStatus.pending
    confirmed: bool = Field(False, description="Accepted already (paid, or payment assured).")
    shipping_address: PostalAddress | None = Field(None, description="Needed to ship.")
    billing_address: PostalAddress | None = None
    notes: str = Field("", max_length=5000, description="Internal notes.")
    placed_at: datetime | None = Field(None, description="When the customer ordered (UTC).")

    @model_validator(mode="after")
    def _consistent(self) -> OrderCreate:
        for index, line in enumerate(self.lines):
            if line.group >= len(self.groups):
                raise ValueError(f"lines.{index}.group: no group {line.group}")
            if line.discount > line.quantity * line.unit_price:
                raise ValueError(f"lines.{index}.discount is larger than the line")
        used = {line.group for line in self.lines}
        if empty := [i for i in range(len(self.groups)) if i not in used]:
            raise ValueError(f"group {empty[0]} has no lines")
        if any(g.method is Method.ship for g in self.groups) and self.shipping_address is None:
            raise ValueError("shipping_address is needed to ship")
        refs = [(r.system, r.id) for r in self.external_ids]
        if len(set(refs)) != len(refs):
            raise ValueError("an external id is listed twice")
        return self


class OrderUpdate(BaseModel):
    """Only the fields present change."""

    model_config = ConfigDict(extra="forbid")

    customer: Customer | None = None
    shipping_address: PostalAddress | None = None
    billing_address: PostalAddress | None = None
    notes: str | None = Field(None, max_length=5000)
    payment_status: PaymentStatus | None = None
    external_ids: list[ExternalRef] | None = Field(
        None, max_length=20, description="Added to the known ids (none is removed)."
    )
    source_updated_at: datetime | None = Field(
        None,
        description="The sending system's update time: an update older than the last one "
        "applied is ignored (answered with the current order).",
    )


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="Why (shown on the timeline).")


class ItemRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: str = Field(description="The order line (oln_...).")
    quantity: Quantity


class ShipmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_id: str = Field(description="The fulfilment group shipped from (ful_...).")
    carrier: str = Field(min_length=1, max_length=64, examples=["ups"])
    service: str = Field("", max_length=100, examples=["Standard"])
    tracking_number: str = Field("", max_length=100)
    tracking_url: str = Field("", max_length=1000, pattern=r"^(https?://\S+)?$")
    estimated_delivery: dt.date | None = None
    location: str | None = Field(
        None, max_length=64, description="The location it left from (id or code)."
    )
    items: list[ItemRequest] | None = Field(
        None, max_length=500, description="What is in it; default: everything left in the group."
    )


class TrackingEventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TrackingStatus
    occurred_at: datetime = Field(description="When the carrier scanned it (UTC).")
    carrier_code: str = Field("", max_length=100, description="The carrier's own status code.")
    carrier_text: str = Field("", max_length=2000, description="The carrier's own words.")
    location: str = Field("", max_length=200, description="Where, as the carrier says.")
    estimated_delivery: dt.date | None = Field(None, description="A new delivery estimate.")


class ClosureChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    option: ClosureOption
    location: str | None = Field(
        None, max_length=64, description="The other store (id or code), for other_store."
    )
    shipping_address: PostalAddress | None = Field(
        None, description="Where to ship, for ship_home (default: the order's address)."
    )

    @model_validator(mode="after")
    def _needs(self) -> ClosureChoice:
        if self.option is ClosureOption.other_store and self.location is None:
            raise ValueError("other_store needs the store (location)")
        return self


class ReturnCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ItemRequest] = Field(min_length=1, max_length=500)
    reason: ReturnReason
    note: str = Field("", max_length=2000, description="The customer's own words.")


class ReturnLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(min_length=1, max_length=64)
    tracking_number: str = Field("", max_length=100)
    url: str = Field(pattern=r"^https?://\S+$", max_length=1000, description="The label.")


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[int, Field(ge=1, le=MAX_AMOUNT)] | None = Field(
        None, description="Minor units; default: everything paid and not yet refunded."
    )
    reason: str = Field(min_length=1, max_length=500)
    return_id: str | None = Field(None, description="The return it pays back, if any.")


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    closure_fallback: ClosureFallback | None = None
    closure_fallback_hours: int | None = Field(None, ge=1, le=24 * 30)
    pickup_radius_km: int | None = Field(None, ge=1, le=1000)
    return_window_days: int | None = Field(None, ge=0, le=365)


# --- output -----------------------------------------------------------------------------


class Line(BaseModel):
    id: str = Field(description="Line id (oln_...).")
    group_id: str = Field(description="Its fulfilment group.")
    sku: str
    title: str
    quantity: int
    unit_price: Money
    discount: Money
    total: Money
    fulfilled_quantity: int = Field(description="Units shipped or handed over.")
    returned_quantity: int = Field(description="Units received back.")


class Group(BaseModel):
    id: str = Field(description="Fulfilment group id (ful_...).")
    method: Method
    location_id: str | None = Field(description="Pickup store, or where it shipped from.")
    status: GroupStatus
    reservation_id: str | None = Field(description="The stock held for it.")
    shipping_fee: Money
    shipping_waived: bool = Field(description="Shipping made free (e.g. after a store closed).")


class TrackingEvent(BaseModel):
    status: TrackingStatus
    occurred_at: datetime
    carrier_code: str
    carrier_text: str
    location: str


class Shipment(BaseModel):
    id: str = Field(description="Shipment id (shp_...).")
    order_id: str
    group_id: str
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    status: TrackingStatus
    carrier_status_code: str
    carrier_status_text: str
    estimated_delivery: dt.date | None
    items: list[ItemRequest]
    events: list[TrackingEvent] = Field(description="Carrier scans, oldest first.")
    created_at: datetime
    delivered_at: datetime | None


class Order(BaseModel):
    id: str = Field(description="Order id (ord_...).")
    number: str
    sales_channel_id: str
    status: OrderStatus
    payment_status: PaymentStatus
    action_needed: str | None = Field(
        description="Why the order waits for a decision (store_closed), or null."
    )
    customer: Customer
    currency: str
    subtotal: Money
    shipping_total: Money
    discount_total: Money
    tax_total: Money
    total: Money
    refunded_total: Money
    lines: list[Line]
    groups: list[Group]
    external_ids: list[ExternalRef]
    shipping_address: PostalAddress | None
    billing_address: PostalAddress | None
    notes: str
    cancel_reason: str | None
    placed_at: datetime
    confirmed_at: datetime | None
    cancelled_at: datetime | None
    version: int = Field(description="Increases with every change; the ETag.")
    created_at: datetime
    updated_at: datetime


class TimelineItem(BaseModel):
    id: str
    at: datetime
    kind: str = Field(description="status_changed, notice, choice, shipment, tracking, ...")
    actor: str = Field(description="Who: an API key, customer, or a named job.")
    summary: str
    data: dict[str, Any]


class Return(BaseModel):
    id: str = Field(description="Return id (ret_...).")
    order_id: str
    status: ReturnStatus
    reason: ReturnReason
    note: str
    items: list[ItemRequest]
    label: ReturnLabel | None
    requested_by: str
    created_at: datetime
    received_at: datetime | None


class Refund(BaseModel):
    id: str = Field(description="Refund id (rfd_...).")
    order_id: str
    return_id: str | None
    amount: Money
    reason: str
    created_by: str
    created_at: datetime


class Policy(BaseModel):
    closure_fallback: ClosureFallback = Field(
        description="What happens when nobody chooses after a store closed: ship_home, "
        "cancel (full refund), or none (wait for a person)."
    )
    closure_fallback_hours: int = Field(description="How long the customer has to choose.")
    pickup_radius_km: int = Field(description="How far another pickup store may be.")
    return_window_days: int = Field(description="Days after delivery a return may start.")


class StoreOffer(BaseModel):
    location_id: str
    code: str
    name: str
    distance_km: float | None
    status: StoreStatus


class Action(BaseModel):
    """Something the customer may do now."""

    action: str = Field(
        description="choose_ship_home, choose_other_store, cancel, or start_return."
    )
    label: str = Field(description="Button text in the order's language.")
    stores: list[StoreOffer] | None = Field(
        None, description="For choose_other_store: open stores nearby holding the items."
    )


class ShipmentView(BaseModel):
    id: str
    carrier: str
    service: str
    tracking_number: str
    tracking_url: str
    status: TrackingStatus
    status_text: str = Field(description="The status in the order's language.")
    estimated_delivery: dt.date | None
    events: list[TrackingEventView]


class TrackingEventView(BaseModel):
    status: TrackingStatus
    text: str = Field(description="The status in the order's language.")
    carrier_text: str = Field(description="The carrier's own words.")
    location: str
    occurred_at: datetime


class PickupView(BaseModel):
    location_id: str
    name: str
    address: str = Field(description="One line, as a customer reads it.")
    status: StoreStatus


class CustomerStatus(BaseModel):
    """What every channel tells the customer about an order: rendered, never re-derived."""

    order_id: str
    number: str
    language: str = Field(description="The language of the texts (en, pt, es, it or cs).")
    code: str = Field(
        description="placed, confirmed, action_needed, ready_for_pickup, picked_up, "
        "preparing_shipment, partially_shipped, shipped, out_for_delivery, "
        "delivery_attempt_failed, at_pickup_point, delivery_problem, delivered, "
        "return_requested, return_in_progress, returned, refunded or cancelled."
    )
    headline: str
    next_step: str
    eta: dt.date | None = Field(description="Expected delivery date, if known.")
    eta_text: str | None = Field(description="The ETA as the customer reads it.")
    order_status: OrderStatus
    payment_status: PaymentStatus
    pickup: PickupView | None
    shipments: list[ShipmentView]
    actions: list[Action]
    updated_at: datetime


ShipmentView.model_rebuild()
