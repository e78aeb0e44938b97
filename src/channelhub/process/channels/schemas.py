from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from channelhub.platform.money import CurrencyCode

Slug = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
        description="URL-safe identifier, unique in the tenant (lowercase, digits, hyphens).",
        examples=["northwind-outdoor"],
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=200, description="Display name.")]


class ChannelKind(StrEnum):
    web = "web"
    mobile_app = "mobile_app"
    marketplace = "marketplace"
    pos = "pos"
    call_center = "call_center"
    other = "other"


class BrandCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    slug: Slug


class Brand(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="Brand id (brd_...).")
    name: str = Field(description="Display name.")
    slug: str = Field(description="URL-safe identifier, unique in the tenant.")
    created_at: datetime = Field(description="When the brand was created (UTC).")


class SalesChannelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brand_id: str = Field(description="The brand this channel sells for (brd_...).")
    name: Name
    slug: Slug
    kind: ChannelKind = Field(description="What kind of channel this is.")
    currency: CurrencyCode


class SalesChannel(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="Sales channel id (sch_...).")
    brand_id: str = Field(description="The brand this channel sells for.")
    name: str = Field(description="Display name.")
    slug: str = Field(description="URL-safe identifier, unique in the tenant.")
    kind: ChannelKind = Field(description="What kind of channel this is.")
    currency: str = Field(description="Default ISO 4217 currency of the channel.")
    created_at: datetime = Field(description="When the channel was created (UTC).")
