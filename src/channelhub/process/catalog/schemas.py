from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from channelhub.platform.money import Money

Sku = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        description="Stock keeping unit, unique in the tenant: letters, digits, . _ / -",
        examples=["TENT-2P-GRN"],
    ),
]
Title = Annotated[str, Field(min_length=1, max_length=300, description="Display title.")]
AttributeValue = str | int | Annotated[float, Field(allow_inf_nan=False)] | bool
Attributes = Annotated[
    dict[Annotated[str, Field(min_length=1, max_length=100)], AttributeValue],
    Field(
        max_length=100,
        description="Free-form facts (size, colour, material...): string keys, scalar values.",
        examples=[{"size": "M", "colour": "green"}],
    ),
]


def _present(value: object) -> object:
    """Update fields may be left out, but not set to null (they always have a value)."""
    if value is None:
        raise ValueError("may not be null; leave the field out to keep its value")
    return value


class ProductStatus(StrEnum):
    draft = "draft"
    active = "active"
    archived = "archived"


class VariantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    title: Title
    price: Money = Field(description="Unit price in minor units of its currency.")
    attributes: Attributes = Field(default_factory=dict)


class VariantUpdate(BaseModel):
    """Only the fields present are changed."""

    model_config = ConfigDict(extra="forbid")

    sku: Sku | None = Field(None, description="New SKU, unique in the tenant.")
    title: Title | None = Field(None, description="New display title.")
    price: Money | None = Field(None, description="New unit price.")
    attributes: Attributes | None = Field(None, description="Replaces all attributes.")

    @field_validator("sku", "title", "price", "attributes")
    @classmethod
    def _not_null(cls, value: object) -> object:
        return _present(value)


class Variant(BaseModel):
    id: str = Field(description="Variant id (var_...).")
    sku: str = Field(description="Stock keeping unit, unique in the tenant.")
    title: str = Field(description="Display title.")
    price: Money = Field(description="Unit price.")
    attributes: dict[str, AttributeValue] = Field(description="Free-form facts.")


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    description: str = Field("", max_length=20_000, description="Long description (plain text).")
    status: ProductStatus = Field(ProductStatus.active, description="draft, active or archived.")
    brand_id: str | None = Field(None, description="The brand the product belongs to (brd_...).")
    attributes: Attributes = Field(default_factory=dict)
    variants: list[VariantCreate] = Field(
        min_length=1, max_length=250, description="The sellable variants; at least one."
    )

    @model_validator(mode="after")
    def _unique_skus(self) -> ProductCreate:
        seen: set[str] = set()
        for variant in self.variants:
            if variant.sku in seen:
                raise ValueError(f"SKU {variant.sku!r} appears twice in variants")
            seen.add(variant.sku)
        return self


class ProductUpdate(BaseModel):
    """Only the fields present are changed."""

    model_config = ConfigDict(extra="forbid")

    title: Title | None = Field(None, description="New display title.")
    description: str | None = Field(None, max_length=20_000, description="Long description.")
    status: ProductStatus | None = Field(None, description="draft, active or archived.")
    brand_id: str | None = Field(
        None, description="The brand the product belongs to; null removes it."
    )
    attributes: Attributes | None = Field(None, description="Replaces all attributes.")

    @field_validator("title", "description", "status", "attributes")
    @classmethod
    def _not_null(cls, value: object) -> object:
        return _present(value)


class Product(BaseModel):
    id: str = Field(description="Product id (prd_...).")
    title: str = Field(description="Display title.")
    description: str = Field(description="Long description (plain text).")
    status: ProductStatus = Field(description="draft, active or archived.")
    brand_id: str | None = Field(description="The brand the product belongs to, if any.")
    attributes: dict[str, AttributeValue] = Field(description="Free-form facts.")
    variants: list[Variant] = Field(description="The sellable variants, in display order.")
    version: int = Field(description="Increases with every change; the ETag of the product.")
    created_at: datetime = Field(description="When the product was created (UTC).")
    updated_at: datetime = Field(description="When the product last changed (UTC).")
