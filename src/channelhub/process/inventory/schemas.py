from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from channelhub.process.catalog.schemas import Sku
from channelhub.process.stores.schemas import Latitude, Longitude

Quantity = Annotated[int, Field(ge=0, le=1_000_000_000, description="A count of units, >= 0.")]
LocationRef = Annotated[
    str, Field(min_length=1, max_length=64, description="Location id (loc_...) or code.")
]


class StockUpdate(BaseModel):
    """One change to one SKU at one location. Give ``on_hand`` (absolute) or
    ``on_hand_delta`` (relative), and/or ``safety_stock`` / ``incoming``.

    ``version`` or ``as_of`` identify the source's state: an on-hand update older than the
    last one applied is recorded in the ledger as ignored and changes nothing.
    """

    model_config = ConfigDict(extra="forbid")

    sku: Sku
    location: LocationRef
    on_hand: Quantity | None = Field(None, description="Units physically on hand (absolute).")
    on_hand_delta: int | None = Field(
        None, ge=-1_000_000_000, le=1_000_000_000, description="Change to on hand (+/-)."
    )
    safety_stock: Quantity | None = Field(None, description="Units never offered for sale.")
    incoming: Quantity | None = Field(None, description="Units expected (purchase orders).")
    version: int | None = Field(
        None, ge=0, description="The source's version of this level; higher is newer."
    )
    as_of: AwareDatetime | None = Field(
        None, description="When the source's figure was true (with a time zone offset)."
    )
    reason: str = Field("", max_length=500, description="Why, for the ledger.")

    @model_validator(mode="after")
    def _one_on_hand_form(self) -> StockUpdate:
        if self.on_hand is not None and self.on_hand_delta is not None:
            raise ValueError("give on_hand or on_hand_delta, not both")
        if all(
            v is None for v in (self.on_hand, self.on_hand_delta, self.safety_stock, self.incoming)
        ):
            raise ValueError("give at least one of on_hand, on_hand_delta, safety_stock, incoming")
        return self


class StockUpdateBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    updates: list[StockUpdate] = Field(
        min_length=1, max_length=10_000, description="Applied together, or none of them."
    )
    source: str = Field(
        "api", max_length=100, description="Which system sends these (for the ledger)."
    )


class StockLevel(BaseModel):
    sku: str = Field(description="The SKU.")
    location_id: str = Field(description="The location (loc_...).")
    location_code: str = Field(description="The location's code.")
    on_hand: int = Field(description="Units physically on hand.")
    reserved: int = Field(description="Units held by active reservations.")
    safety_stock: int = Field(description="Units never offered for sale.")
    incoming: int = Field(description="Units expected.")
    available: int = Field(description="Available to promise: on_hand - reserved - safety_stock.")
    updated_at: datetime = Field(description="When the level last changed (UTC).")


class StockUpdateResult(BaseModel):
    applied: int = Field(description="Updates that changed a level.")
    ignored: int = Field(description="Updates older than what is already applied (see ledger).")
    levels: list[StockLevel] = Field(description="The levels touched, as they now are.")


class Movement(BaseModel):
    id: str = Field(description="Ledger entry id (mov_...).")
    sku: str = Field(description="The SKU.")
    location_id: str = Field(description="The location.")
    kind: str = Field(description="set, adjust, settings, reserve, release, expire or commit.")
    applied: bool = Field(description="False when the change was refused as out of date.")
    on_hand_before: int = Field(description="On hand before.")
    on_hand_after: int = Field(description="On hand after.")
    reserved_before: int = Field(description="Reserved before.")
    reserved_after: int = Field(description="Reserved after.")
    safety_stock_before: int = Field(description="Safety stock before.")
    safety_stock_after: int = Field(description="Safety stock after.")
    actor: str = Field(description="The API key (key_...) or system that made the change.")
    reason: str = Field(description="Why, as given, or why the change was ignored.")
    source: str = Field(description="The system the change came from.")
    source_version: int | None = Field(description="The source's version, if given.")
    source_time: datetime | None = Field(description="The source's as-of time, if given.")
    reference: str | None = Field(description="The reservation it belongs to, if any.")
    created_at: datetime = Field(description="When it was recorded (UTC).")


class Fulfilment(StrEnum):
    ship = "ship"
    pickup = "pickup"


class Strategy(StrEnum):
    priority = "priority"
    most_stock = "most_stock"
    nearest = "nearest"


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latitude: Latitude
    longitude: Longitude


class ReservationLineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    quantity: int = Field(ge=1, le=1_000_000, description="Units to hold, at least 1.")


class ReservationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(
        min_length=1,
        max_length=200,
        description="Your idempotency key: the same key and request return the same "
        "reservation; the same key with other lines is refused.",
    )
    reference: str = Field("", max_length=200, description="Your order or cart id.")
    sales_channel_id: str | None = Field(
        None, description="The channel selling (sch_...); needed to ship."
    )
    fulfilment: Fulfilment = Field(Fulfilment.ship, description="ship or pickup.")
    location: LocationRef | None = Field(
        None, description="Hold stock at this location only (required for pickup)."
    )
    strategy: Strategy = Field(
        Strategy.priority,
        description="How to choose locations when shipping: the channel's location "
        "priority, the most stock first, or the nearest to `deliver_to`.",
    )
    deliver_to: Point | None = Field(None, description="Delivery point, for `nearest`.")
    ttl_seconds: int | None = Field(
        900,
        ge=1,
        le=30 * 24 * 3600,
        description="Released automatically after this long; null holds until released "
        "or committed (orders).",
    )
    lines: list[ReservationLineRequest] = Field(
        min_length=1, max_length=500, description="What to hold: all lines or nothing."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ReservationCreate:
        if self.fulfilment is Fulfilment.pickup and self.location is None:
            raise ValueError("pickup needs the pickup location")
        if self.location is None and self.sales_channel_id is None:
            raise ValueError("give sales_channel_id (or a location) to choose stock from")
        if self.strategy is Strategy.nearest and self.deliver_to is None:
            raise ValueError("the nearest strategy needs deliver_to")
        skus = [line.sku for line in self.lines]
        if len(set(skus)) != len(skus):
            raise ValueError("each SKU may appear on one line only")
        return self


class ReservationStatus(StrEnum):
    active = "active"
    released = "released"
    expired = "expired"
    committed = "committed"


class Allocation(BaseModel):
    sku: str = Field(description="The SKU.")
    location_id: str = Field(description="Where the units are held.")
    quantity: int = Field(description="Units held there.")


class Reservation(BaseModel):
    id: str = Field(description="Reservation id (rsv_...).")
    key: str = Field(description="Your idempotency key.")
    reference: str = Field(description="Your order or cart id.")
    sales_channel_id: str | None = Field(description="The selling channel.")
    fulfilment: Fulfilment = Field(description="ship or pickup.")
    status: ReservationStatus = Field(description="active, released, expired or committed.")
    expires_at: datetime | None = Field(description="When an active hold lapses (UTC).")
    allocations: list[Allocation] = Field(description="Where each line's units are held.")
    created_at: datetime = Field(description="When the reservation was made (UTC).")
    updated_at: datetime = Field(description="When its status last changed (UTC).")


class LevelChange(BaseModel):
    """Data of ``inventory.level_changed``."""

    sku: str = Field(description="The SKU.")
    location_id: str = Field(description="The location.")
    kind: str = Field(description="What moved the level (set, reserve, commit...).")
    before: StockFigures = Field(description="Figures before the change.")
    after: StockFigures = Field(description="Figures after the change.")
    reference: str | None = Field(description="The reservation involved, if any.")


class StockFigures(BaseModel):
    on_hand: int = Field(description="Units on hand.")
    reserved: int = Field(description="Units reserved.")
    safety_stock: int = Field(description="Safety stock.")
    available: int = Field(description="Available to promise.")


class AvailabilityChange(BaseModel):
    """Data of ``sku.out_of_stock`` and ``sku.back_in_stock``."""

    sku: str = Field(description="The SKU.")
    scope: str = Field(description="channel (shipping) or pickup_store.")
    sales_channel_id: str | None = Field(description="The channel, for scope channel.")
    location_id: str | None = Field(description="The store, for scope pickup_store.")
    available: int = Field(description="Available to promise now.")


LevelChange.model_rebuild()


class LocationAvailability(BaseModel):
    location_id: str = Field(description="The location.")
    code: str = Field(description="Its code.")
    name: str = Field(description="Its name.")
    kind: str = Field(description="warehouse or store.")
    ships: bool = Field(description="Ships to customers.")
    pickup: bool = Field(description="Offers pickup.")
    available: int = Field(description="Available to promise here.")
    distance_km: float | None = Field(description="Distance from the point asked about.")


class SkuAvailability(BaseModel):
    sku: str = Field(description="The SKU.")
    available_to_ship: int = Field(
        description="Sum of ATP at the channel's active shipping locations."
    )
    locations: list[LocationAvailability] = Field(
        description="Every active location serving the channel, by allocation priority."
    )
    pickup: list[LocationAvailability] = Field(
        description="Pickup stores near the point asked about (nearest first), if one was given."
    )
