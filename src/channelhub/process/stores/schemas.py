from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator


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
    created_at: datetime = Field(description="When the location was created (UTC).")
    updated_at: datetime = Field(description="When the location last changed (UTC).")
