"""What the order APIs take and return."""

from __future__ import annotations

import datetime as dt
import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

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
MAX_UNITS = 1_000_000
Quantity = Annotated[int, Field(ge=1, le=MAX_UNITS, description="Units.")]
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
    customer: Customer = Field(description="Who ordered.")
    currency: CurrencyCode
    groups: list[GroupRequest] = Field(
        default_factory=lambda: [GroupRequest(method=Method.ship)],
        min_length=1,
        max_length=20,
        description="How lines leave: shipped or collected at a store. Default: one shipment.",
    )
    lines: list[LineRequest] = Field(
        min_length=1,
        max_length=500,
        description="What is bought; each line names its group (default: the first).",
    )
    discount_total: Amount = Field(0, description="Order-level discount, minor units.")
    tax_total: Amount = Field(0, description="Tax not included in the prices, minor units.")
    total: Amount | None = Field(
        None, description="If given, must equal lines - discounts + shipping + tax."
    )
    payment_status: PaymentStatus = Field(
        PaymentStatus.pending, description="Where the payment stands."
    )
    confirmed: bool = Field(False, description="Accepted already (paid, or payment assured).")
    shipping_address: PostalAddress | None = Field(None, description="Needed to ship.")
    billing_address: PostalAddress | None = Field(None, description="The billing address.")
    notes: str = Field("", max_length=5000, description="Internal notes.")
    placed_at: AwareDatetime | None = Field(
        None, description="When the customer ordered (with a time zone offset)."
    )
    backorder: bool = Field(
        False,
        description="Record the order even when its stock cannot be reserved: the group "
        "then holds nothing and the order is flagged action_needed: stock_short (for orders "
        "that already exist elsewhere, e.g. in a storefront). Default: refuse with 409.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> OrderCreate:
        per_sku: dict[str, int] = {}
        for index, line in enumerate(self.lines):
            if line.group >= len(self.groups):
                raise ValueError(f"lines.{index}.group: no group {line.group}")
            if line.quantity * line.unit_price > MAX_AMOUNT:
                raise ValueError(f"lines.{index}: quantity x unit_price is too large")
            if line.discount > line.quantity * line.unit_price:
                raise ValueError(f"lines.{index}.discount is larger than the line")
            per_sku[line.sku] = per_sku.get(line.sku, 0) + line.quantity
        if any(quantity > MAX_UNITS for quantity in per_sku.values()):
            raise ValueError(f"at most {MAX_UNITS:,} units of one SKU per order")
        amounts = sum(line.quantity * line.unit_price for line in self.lines)
        amounts += sum(g.shipping_fee for g in self.groups) + self.tax_total
        if amounts > MAX_AMOUNT:
            raise ValueError("the order's amounts add up to more than can be stored")
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

    customer: Customer | None = Field(None, description="New contact details and language.")
    shipping_address: PostalAddress | None = Field(
        None, description="New shipping address (refused once items have shipped)."
    )
    billing_address: PostalAddress | None = Field(None, description="New billing address.")
    notes: str | None = Field(None, max_length=5000, description="New internal notes.")
    payment_status: PaymentStatus | None = Field(
        None, description="New payment status (from the payment system)."
    )
    external_ids: list[ExternalRef] | None = Field(
        None, max_length=20, description="Added to the known ids (none is removed)."
    )
    source_updated_at: AwareDatetime | None = Field(
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
    carrier: str = Field(
        min_length=1,
        max_length=64,
        examples=["ups"],
        description="The carrier, e.g. ups, dhl, ctt.",
    )
    service: str = Field(
        "", max_length=100, examples=["Standard"], description="The carrier's service level."
    )
    tracking_number: str = Field("", max_length=100, description="The carrier's tracking number.")
    tracking_url: str = Field(
        "",
        max_length=1000,
        pattern=r"^(https?://\S+)?$",
        description="Where the customer can follow it.",
    )
    estimated_delivery: dt.date | None = Field(None, description="Expected delivery date.")
    location: str | None = Field(
        None, max_length=64, description="The location it left from (id or code)."
    )
    items: list[ItemRequest] | None = Field(
        None,
        min_length=1,
        max_length=500,
        description="What is in it; default: everything left in the group.",
    )


class TrackingEventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: TrackingStatus = Field(description="The scan's status in the normalised vocabulary.")
    occurred_at: AwareDatetime = Field(
        description="When the carrier scanned it (with a time zone offset)."
    )
    carrier_code: str = Field("", max_length=100, description="The carrier's own status code.")
    carrier_text: str = Field("", max_length=2000, description="The carrier's own words.")
    location: str = Field("", max_length=200, description="Where, as the carrier says.")
    estimated_delivery: dt.date | None = Field(None, description="A new delivery estimate.")


class ClosureChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    option: ClosureOption = Field(
        description="ship_home (free delivery home), other_store, or cancel (full refund)."
    )
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

    items: list[ItemRequest] = Field(
        min_length=1, max_length=500, description="Which lines, how many units."
    )
    reason: ReturnReason = Field(description="Why, from the fixed list.")
    note: str = Field("", max_length=2000, description="The customer's own words.")


class ReturnLabel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    carrier: str = Field(min_length=1, max_length=64, description="Carrier of the return.")
    tracking_number: str = Field(
        "", max_length=100, description="Tracking number of the return parcel."
    )
    url: str = Field(pattern=r"^https?://\S+$", max_length=1000, description="The label.")


class RefundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[int, Field(ge=1, le=MAX_AMOUNT)] | None = Field(
        None, description="Minor units; default: everything paid and not yet refunded."
    )
    reason: str = Field(min_length=1, max_length=500, description="Why (goes on the timeline).")
    return_id: str | None = Field(None, description="The return it pays back, if any.")


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    closure_fallback: ClosureFallback | None = Field(None, description="ship_home, cancel or none.")
    closure_fallback_hours: int | None = Field(
        None, ge=1, le=24 * 30, description="Hours the customer has to choose after a closure."
    )
    pickup_radius_km: int | None = Field(
        None, ge=1, le=1000, description="How far another pickup store may be, km."
    )
    return_window_days: int | None = Field(
        None, ge=0, le=365, description="Days after delivery a return may start."
    )


# --- output -----------------------------------------------------------------------------


class Line(BaseModel):
    id: str = Field(description="Line id (oln_...).")
    group_id: str = Field(description="Its fulfilment group.")
    sku: str = Field(description="The SKU.")
    title: str = Field(description="What the customer bought, as shown to them.")
    quantity: int = Field(description="Units ordered.")
    unit_price: Money = Field(description="Price of one unit.")
    discount: Money = Field(description="Discount on the whole line.")
    total: Money = Field(description="quantity x unit_price - discount.")
    fulfilled_quantity: int = Field(description="Units shipped or handed over.")
    returned_quantity: int = Field(description="Units received back.")


class Group(BaseModel):
    id: str = Field(description="Fulfilment group id (ful_...).")
    method: Method = Field(description="ship or pickup.")
    location_id: str | None = Field(description="Pickup store, or where it shipped from.")
    status: GroupStatus = Field(description="Where the group is in its state machine.")
    reservation_id: str | None = Field(description="The stock held for it.")
    shipping_fee: Money = Field(description="What the customer pays to ship this group.")
    shipping_waived: bool = Field(description="Shipping made free (e.g. after a store closed).")


class TrackingEvent(BaseModel):
    status: TrackingStatus = Field(description="Normalised status.")
    occurred_at: AwareDatetime = Field(
        description="When the carrier scanned it (with a time zone offset)."
    )
    carrier_code: str = Field(description="The carrier's own status code.")
    carrier_text: str = Field(description="The carrier's own words.")
    location: str = Field(description="Where, as the carrier says.")


class Shipment(BaseModel):
    id: str = Field(description="Shipment id (shp_...).")
    order_id: str = Field(description="The order.")
    group_id: str = Field(description="The fulfilment group it ships.")
    carrier: str = Field(description="The carrier, e.g. ups.")
    service: str = Field(description="The carrier's service level.")
    tracking_number: str = Field(description="The carrier's tracking number.")
    tracking_url: str = Field(description="Where the customer can follow it.")
    status: TrackingStatus = Field(
        description="Latest tracking status (by the carrier's time), normalised."
    )
    carrier_status_code: str = Field(description="The carrier's own code for that status.")
    carrier_status_text: str = Field(description="The carrier's own words for that status.")
    estimated_delivery: dt.date | None = Field(description="Expected delivery date, if known.")
    items: list[ItemRequest] = Field(description="What is in it.")
    events: list[TrackingEvent] = Field(description="Carrier scans, oldest first.")
    created_at: datetime = Field(description="When it left (UTC).")
    delivered_at: datetime | None = Field(description="When it was delivered (UTC).")


class Order(BaseModel):
    id: str = Field(description="Order id (ord_...).")
    number: str = Field(description="The order number the customer sees.")
    sales_channel_id: str = Field(description="The channel it was sold in.")
    status: OrderStatus = Field(description="Where the order is in its state machine.")
    payment_status: PaymentStatus = Field(description="Where the payment stands.")
    action_needed: str | None = Field(
        description="Why the order waits for a decision (store_closed), or null."
    )
    customer: Customer = Field(description="Who ordered, and in which language to speak to them.")
    currency: str = Field(description="ISO 4217 currency of every amount.")
    subtotal: Money = Field(description="Sum of the line totals.")
    shipping_total: Money = Field(description="Shipping fees of the groups.")
    discount_total: Money = Field(description="Order-level discount.")
    tax_total: Money = Field(description="Tax not included in the prices.")
    total: Money = Field(description="subtotal - discount_total + shipping_total + tax_total.")
    refunded_total: Money = Field(description="Paid back so far.")
    lines: list[Line] = Field(description="What was bought.")
    groups: list[Group] = Field(
        description="How the lines leave: each group ships or is collected at a store."
    )
    external_ids: list[ExternalRef] = Field(description="Ids of the order in other systems.")
    shipping_address: PostalAddress | None = Field(description="Where ship groups go.")
    billing_address: PostalAddress | None = Field(description="The billing address, if given.")
    notes: str = Field(description="Internal notes.")
    cancel_reason: str | None = Field(description="Why it was cancelled, if it was.")
    placed_at: datetime = Field(description="When the customer ordered (UTC).")
    confirmed_at: datetime | None = Field(description="When it was accepted (UTC).")
    cancelled_at: datetime | None = Field(description="When it was cancelled (UTC).")
    version: int = Field(description="Increases with every change; the ETag.")
    created_at: datetime = Field(description="When channelhub recorded it (UTC).")
    updated_at: datetime = Field(description="When it last changed (UTC).")


class TimelineItem(BaseModel):
    id: str = Field(description="Entry id (tle_...).")
    at: datetime = Field(description="When (UTC).")
    kind: str = Field(description="status_changed, notice, choice, shipment, tracking, ...")
    actor: str = Field(description="Who: an API key, customer, or a named job.")
    summary: str = Field(description="What happened, in a line.")
    data: dict[str, Any] = Field(description="The facts of the entry (ids, statuses, reasons).")


class Return(BaseModel):
    id: str = Field(description="Return id (ret_...).")
    order_id: str = Field(description="The order.")
    status: ReturnStatus = Field(
        description="requested, approved, rejected, received or cancelled."
    )
    reason: ReturnReason = Field(description="Why, from the fixed list.")
    note: str = Field(description="The customer's own words.")
    items: list[ItemRequest] = Field(description="Which lines, how many units.")
    label: ReturnLabel | None = Field(description="The return label, once issued.")
    requested_by: str = Field(description="customer, or the API key of the agent.")
    created_at: datetime = Field(description="When it was requested (UTC).")
    received_at: datetime | None = Field(description="When the items arrived back (UTC).")


class Refund(BaseModel):
    id: str = Field(description="Refund id (rfd_...).")
    order_id: str = Field(description="The order.")
    return_id: str | None = Field(description="The return it pays back, if any.")
    amount: Money = Field(description="What was paid back.")
    reason: str = Field(description="Why.")
    created_by: str = Field(description="Who refunded: an API key, customer, or a named job.")
    created_at: datetime = Field(description="When (UTC).")


class Policy(BaseModel):
    closure_fallback: ClosureFallback = Field(
        description="What happens when nobody chooses after a store closed: ship_home, "
        "cancel (full refund), or none (wait for a person)."
    )
    closure_fallback_hours: int = Field(description="How long the customer has to choose.")
    pickup_radius_km: int = Field(description="How far another pickup store may be.")
    return_window_days: int = Field(description="Days after delivery a return may start.")


class StoreOffer(BaseModel):
    location_id: str = Field(description="The store (loc_...).")
    code: str = Field(description="Its code.")
    name: str = Field(description="Its name.")
    distance_km: float | None = Field(
        description="Distance from the closed store, km (null without coordinates)."
    )
    status: StoreStatus = Field(description="Whether it is open now.")


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
    id: str = Field(description="Shipment id (shp_...).")
    carrier: str = Field(description="The carrier.")
    service: str = Field(description="The carrier's service level.")
    tracking_number: str = Field(description="The carrier's tracking number.")
    tracking_url: str = Field(description="Where to follow it.")
    status: TrackingStatus = Field(description="Latest tracking status, normalised.")
    status_text: str = Field(description="The status in the order's language.")
    estimated_delivery: dt.date | None = Field(description="Expected delivery date, if known.")
    events: list[TrackingEventView] = Field(description="Carrier scans, oldest first.")


class TrackingEventView(BaseModel):
    status: TrackingStatus = Field(description="Normalised status.")
    text: str = Field(description="The status in the order's language.")
    carrier_text: str = Field(description="The carrier's own words.")
    location: str = Field(description="Where, as the carrier says.")
    occurred_at: datetime = Field(description="When (UTC).")


class PickupView(BaseModel):
    location_id: str = Field(description="The store (loc_...).")
    name: str = Field(description="The store's name.")
    address: str = Field(description="One line, as a customer reads it.")
    status: StoreStatus = Field(description="Whether it is open now, and why not.")


class CustomerStatus(BaseModel):
    """What every channel tells the customer about an order: rendered, never re-derived."""

    order_id: str = Field(description="The order (ord_...).")
    number: str = Field(description="The order number the customer knows.")
    language: str = Field(description="The language of the texts (en, pt, es, it or cs).")
    code: str = Field(
        description="placed, confirmed, action_needed, ready_for_pickup, picked_up, "
        "preparing_shipment, partially_shipped, shipped, out_for_delivery, "
        "delivery_attempt_failed, at_pickup_point, delivery_problem, delivered, "
        "return_requested, return_in_progress, returned, refunded or cancelled."
    )
    headline: str = Field(description="One sentence saying where the order is, in `language`.")
    next_step: str = Field(
        description="What happens next, or what the customer should do, in `language`."
    )
    eta: dt.date | None = Field(description="Expected delivery date, if known.")
    eta_text: str | None = Field(description="The ETA as the customer reads it.")
    order_status: OrderStatus = Field(description="The order's status in the order state machine.")
    payment_status: PaymentStatus = Field(description="Where the payment stands.")
    pickup: PickupView | None = Field(
        description="The pickup store and whether it is open, for an order still to collect."
    )
    shipments: list[ShipmentView] = Field(
        description="Every shipment with its tracking, oldest first."
    )
    actions: list[Action] = Field(
        description="What the customer may do now (choices after a closure, a return)."
    )
    updated_at: datetime = Field(description="When the order last changed (UTC).")


ShipmentView.model_rebuild()
