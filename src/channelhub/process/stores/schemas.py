from __future__ import annotations

import datetime as dt
import itertools
from datetime import datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone such as Europe/Lisbon") from exc
    return name


TimeZone = Annotated[
    str,
    Field(max_length=64, description="IANA time zone of the location.", examples=["Europe/Lisbon"]),
    AfterValidator(_check_timezone),
]
LocationCode = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Your code for the location, unique in the tenant; ERP and WMS feeds "
        "name locations by it.",
        examples=["WH-LIS"],
    ),
]
Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS 84 latitude, degrees.")]
Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS 84 longitude, degrees.")]


ClockTime = Annotated[
    str,
    Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$",
        description="Local time HH:MM (24:00 is midnight at the end of the day).",
        examples=["09:00"],
    ),
]


class TimeRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    opens: ClockTime
    closes: ClockTime

    @model_validator(mode="after")
    def _in_order(self) -> TimeRange:
        if self.closes <= self.opens:
            raise ValueError(
                "closes must be after opens; split a range that passes midnight in two "
                "(22:00-24:00 and 00:00-02:00 the next day)"
            )
        return self


DayHours = Annotated[
    list[TimeRange],
    Field(default_factory=list, max_length=6, description="Opening ranges; empty: closed."),
]


class WeeklyHours(BaseModel):
    """Opening ranges per weekday, in the store's time zone."""

    model_config = ConfigDict(extra="forbid")

    monday: DayHours
    tuesday: DayHours
    wednesday: DayHours
    thursday: DayHours
    friday: DayHours
    saturday: DayHours
    sunday: DayHours

    @model_validator(mode="after")
    def _no_overlap(self) -> WeeklyHours:
        for day in type(self).model_fields:
            check_ranges(getattr(self, day), day)
        return self


class HoursException(BaseModel):
    """A dated exception: closed all day (a holiday), or other hours that day."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date = Field(description="The local date.")
    closed: bool = Field(False, description="Closed all day.")
    hours: list[TimeRange] = Field(
        default_factory=list, max_length=6, description="That day's ranges, when not closed."
    )
    note: str = Field("", max_length=200, description="Why, e.g. Christmas Day.")

    @model_validator(mode="after")
    def _closed_or_hours(self) -> HoursException:
        if self.closed == bool(self.hours):
            raise ValueError("give either closed: true or that day's hours")
        check_ranges(self.hours, str(self.date))
        return self


def check_ranges(ranges: list[TimeRange], day: str) -> None:
    """Refuse a day whose ranges overlap (ValueError naming ``day``)."""
    ordered = sorted(ranges, key=lambda r: r.opens)
    for earlier, later in itertools.pairwise(ordered):
        if later.opens < earlier.closes:
            raise ValueError(f"opening ranges of {day} overlap")


class OpeningHours(BaseModel):
    """When a store is open: a week of ranges plus dated exceptions."""

    model_config = ConfigDict(extra="forbid")

    weekly: WeeklyHours = Field(description="Opening ranges per weekday.")
    exceptions: list[HoursException] = Field(
        default_factory=list, max_length=400, description="Holidays and special hours."
    )

    @model_validator(mode="after")
    def _one_exception_a_day(self) -> OpeningHours:
        dates = [e.date for e in self.exceptions]
        if len(set(dates)) != len(dates):
            raise ValueError("at most one exception per date")
        return self


class ClosureRequest(BaseModel):
    """Close a store until further notice, or until ``reopens_at``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=1, max_length=500, description="Why, in a few words (shown to agents)."
    )
    reopens_at: AwareDatetime | None = Field(
        None, description="Expected reopening (with a time zone offset); null: not known yet."
    )


class StoreStatus(BaseModel):
    """Whether a location is open now, and why not."""

    location_id: str = Field(description="The location (loc_...).")
    code: str = Field(description="Its code.")
    name: str = Field(description="Display name.")
    state: str = Field(
        description="open, closed (outside opening hours), holiday or temporarily_closed."
    )
    open_now: bool = Field(description="Open for customers at this moment.")
    opens_at: datetime | None = Field(
        description="When closed: the next opening (UTC), if known within two weeks."
    )
    closes_at: datetime | None = Field(description="When open: when it closes next (UTC).")
    today: list[TimeRange] = Field(description="Today's opening ranges, local time.")
    timezone: str = Field(description="The store's IANA time zone.")
    closed_reason: str | None = Field(description="Why it is temporarily closed.")
    closed_since: datetime | None = Field(description="Temporarily closed since (UTC).")
    reopens_at: datetime | None = Field(description="Expected reopening (UTC), if known.")


class LocationKind(StrEnum):
    warehouse = "warehouse"
    store = "store"


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line1: str = Field("", max_length=200, description="Street and number.")
    line2: str = Field("", max_length=200, description="Additional address line.")
    city: str = Field("", max_length=100, description="City.")
    postal_code: str = Field("", max_length=20, description="Postal code.")
    region: str = Field("", max_length=100, description="Region, state or province.")
    country: str = Field(
        pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 country code.", examples=["PT"]
    )


class ChannelLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sales_channel_id: str = Field(description="A sales channel this location serves (sch_...).")
    priority: int = Field(
        100, ge=0, le=10_000, description="Allocation order for this channel: lower first."
    )


class LocationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: LocationCode
    name: str = Field(min_length=1, max_length=200, description="Display name.")
    kind: LocationKind = Field(description="warehouse or store.")
    address: Address = Field(description="Postal address.")
    latitude: Latitude | None = Field(None, description="WGS 84 latitude, for distances.")
    longitude: Longitude | None = Field(None, description="WGS 84 longitude, for distances.")
    timezone: TimeZone
    ships: bool = Field(description="Stock here can be shipped to customers.")
    pickup: bool = Field(False, description="Customers can collect orders here.")
    channels: list[ChannelLink] = Field(
        default_factory=list, max_length=100, description="Sales channels this location serves."
    )

    @model_validator(mode="after")
    def _coordinates_together(self) -> LocationCreate:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give latitude and longitude together, or neither")
        return self


class LocationUpdate(BaseModel):
    """Only the fields present are changed; ``channels`` replaces all links."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, description="Display name.")
    address: Address | None = Field(None, description="Postal address.")
    latitude: Latitude | None = Field(None, description="WGS 84 latitude (with longitude).")
    longitude: Longitude | None = Field(None, description="WGS 84 longitude (with latitude).")
    timezone: TimeZone | None = Field(None, description="IANA time zone.")
    ships: bool | None = Field(None, description="Stock here can be shipped to customers.")
    pickup: bool | None = Field(None, description="Customers can collect orders here.")
    active: bool | None = Field(None, description="Inactive locations are never allocated from.")
    channels: list[ChannelLink] | None = Field(
        None, max_length=100, description="Replaces the sales channels this location serves."
    )


class Location(BaseModel):
    id: str = Field(description="Location id (loc_...).")
    code: str = Field(description="Your code for the location, unique in the tenant.")
    name: str = Field(description="Display name.")
    kind: LocationKind = Field(description="warehouse or store.")
    address: Address = Field(description="Postal address.")
    latitude: float | None = Field(description="WGS 84 latitude, if known.")
    longitude: float | None = Field(description="WGS 84 longitude, if known.")
    timezone: str = Field(description="IANA time zone.")
    ships: bool = Field(description="Stock here can be shipped to customers.")
    pickup: bool = Field(description="Customers can collect orders here.")
    active: bool = Field(description="Inactive locations are never allocated from.")
    channels: list[ChannelLink] = Field(description="Sales channels served, by priority.")
    hours: OpeningHours | None = Field(description="Opening hours, if set.")
    closed_reason: str | None = Field(description="Why it is temporarily closed, if it is.")
    closed_since: datetime | None = Field(description="Temporarily closed since (UTC).")
    reopens_at: datetime | None = Field(description="Expected reopening (UTC), if known.")
    created_at: datetime = Field(description="When the location was created (UTC).")
    updated_at: datetime = Field(description="When the location last changed (UTC).")
