from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from channelhub.process.customers.contacts import normalise_phone
from channelhub.process.customers.segment_rules import CustomerRule
from channelhub.process.orders.schemas import Email, ExternalRef, Language
from channelhub.process.promotions.rules import check_depth

MetadataKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")]
MetadataValue = (
    Annotated[str, Field(max_length=500)]
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
    | bool
)
Metadata = dict[MetadataKey, MetadataValue]
MAX_METADATA_KEYS = 50


def _phone_or_empty(value: str) -> str:
    return normalise_phone(value) if value.strip() else ""


Phone = Annotated[
    str,
    Field(
        max_length=32,
        description="Phone number in international form; stored in E.164 (+351912345678).",
        examples=["+351 912 345 678"],
    ),
    AfterValidator(_phone_or_empty),
]


class MetadataUpdate(BaseModel):
    """Keys to set; a key given as null is removed; other keys stay."""

    model_config = ConfigDict(extra="forbid")

    metadata: dict[MetadataKey, MetadataValue | None] = Field(
        max_length=MAX_METADATA_KEYS,
        description="Your own facts about the customer (loyalty club, birthday month, store "
        "of choice...): strings, numbers or booleans. Promotion rules can match any key as "
        "customer.metadata.<key>.",
    )


class CustomerUpsert(BaseModel):
    """A customer as a system of record sees them: found by its id for them, else by
    e-mail, else by phone, else created."""

    model_config = ConfigDict(extra="forbid")

    external_id: ExternalRef = Field(description="The system's id for the customer.")
    email: Email | None = Field(None, description="E-mail address.")
    phone: Phone = ""
    name: str = Field("", max_length=200, description="Full name.")
    language: Language | None = Field(None, description="Preferred language.")
    tier: str | None = Field(
        None,
        max_length=32,
        pattern=r"^[a-z0-9_-]*$",
        description="The customer's tier as the loyalty or CRM system names it (vip, gold...); "
        "helpdesk routing rules can match it. Absent: unchanged.",
    )
    source_updated_at: AwareDatetime | None = Field(
        None, description="The system's update time; an older update changes nothing."
    )


class Customer(BaseModel):
    id: str = Field(description="Customer id (cus_...).")
    email: str = Field(description="E-mail address.")
    phone: str = Field(description="Phone number in E.164 (+351912345678), if known.")
    name: str = Field(description="Full name.")
    language: str = Field(description="Preferred language, if known.")
    tier: str = Field(description="The customer's tier (vip, gold...), if known.")
    metadata: Metadata = Field(description="Your own facts about the customer.")
    external_ids: list[ExternalRef] = Field(description="Ids of the customer in other systems.")
    segments: list[str] = Field(description="Keys of the segments the customer is in.")
    erased_at: datetime | None = Field(
        description="When their personal data was erased (GDPR): the e-mail, phone and name "
        "shown are pseudonyms since. Null: not erased."
    )
    created_at: datetime = Field(description="When first seen (UTC).")
    updated_at: datetime = Field(description="When last changed (UTC).")


class MetadataType(StrEnum):
    string = "string"
    integer = "integer"
    number = "number"
    boolean = "boolean"
    date = "date"


class MetadataField(BaseModel):
    """One metadata key the tenant describes."""

    model_config = ConfigDict(extra="forbid")

    key: MetadataKey = Field(description="The metadata key.")
    type: MetadataType = Field(
        description="string, integer, number (integer or decimal), boolean, or date "
        "(a string YYYY-MM-DD)."
    )
    description: str = Field("", max_length=500, description="What the key means.")
    required: bool = Field(
        False, description="Every customer written to must have it (it cannot be removed)."
    )
    values: list[MetadataValue] | None = Field(
        None, min_length=1, max_length=200, description="The only values allowed, if listed."
    )


class MetadataSchemaUpdate(BaseModel):
    """The whole schema: replaces the one before."""

    model_config = ConfigDict(extra="forbid")

    fields: list[MetadataField] = Field(
        max_length=MAX_METADATA_KEYS, description="The keys described (each once)."
    )
    additional: bool = Field(
        True, description="Whether keys not described are accepted (false: refused)."
    )


class MetadataSchema(MetadataSchemaUpdate):
    updated_at: datetime | None = Field(description="When last changed (null: never set).")


SegmentKey = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$"),
    Field(
        description="Permanent slug, unique in the tenant (vip, lapsed-runners).", examples=["vip"]
    ),
]


class SegmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: SegmentKey
    name: str = Field(min_length=1, max_length=200, description="Name shown to people.")
    description: str = Field("", max_length=2000, description="What the segment is for.")
    rules: CustomerRule = Field(description="Who is in it: a condition tree over customers.")

    @field_validator("rules")
    @classmethod
    def _not_too_deep(cls, rules: CustomerRule) -> CustomerRule:
        check_depth(rules)
        return rules


class SegmentUpdate(BaseModel):
    """Members given change; the key is permanent."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, min_length=1, max_length=200, description="Name.")
    description: str | None = Field(None, max_length=2000, description="Description.")
    rules: CustomerRule | None = Field(None, description="Who is in it.")

    @field_validator("rules")
    @classmethod
    def _not_too_deep(cls, rules: CustomerRule | None) -> CustomerRule | None:
        check_depth(rules)
        return rules


class Segment(BaseModel):
    id: str = Field(description="Segment id (seg_...).")
    key: str = Field(description="Permanent slug, unique in the tenant.")
    name: str = Field(description="Name shown to people.")
    description: str = Field(description="What the segment is for.")
    rules: CustomerRule = Field(description="Who is in it.")
    members: int = Field(description="How many customers are in it now.")
    created_at: datetime = Field(description="When created (UTC).")
    updated_at: datetime = Field(description="When last changed (UTC).")
