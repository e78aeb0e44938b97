from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from channelhub.process.orders.schemas import Email, ExternalRef, Language

MetadataKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")]
MetadataValue = (
    Annotated[str, Field(max_length=500)]
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
    | bool
)
Metadata = dict[MetadataKey, MetadataValue]
MAX_METADATA_KEYS = 50


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
    e-mail, else created."""

    model_config = ConfigDict(extra="forbid")

    external_id: ExternalRef = Field(description="The system's id for the customer.")
    email: Email | None = Field(None, description="E-mail address.")
    phone: str = Field("", max_length=32, description="Phone number.")
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
    phone: str = Field(description="Phone number.")
    name: str = Field(description="Full name.")
    language: str = Field(description="Preferred language, if known.")
    tier: str = Field(description="The customer's tier (vip, gold...), if known.")
    metadata: Metadata = Field(description="Your own facts about the customer.")
    external_ids: list[ExternalRef] = Field(description="Ids of the customer in other systems.")
    erased_at: datetime | None = Field(
        description="When their personal data was erased (GDPR): the e-mail, phone and name "
        "shown are pseudonyms since. Null: not erased."
    )
    created_at: datetime = Field(description="When first seen (UTC).")
    updated_at: datetime = Field(description="When last changed (UTC).")
